// Loaded with --import into the CLI under test: on exit, writes the process's own peak RSS (KiB)
// and CPU time (user + system seconds, all its threads) as JSON to BENCH_RSS_FILE (getrusage
// RUSAGE_SELF: children such as the fake mongodump are not counted).
// With BENCH_MEMORY_TRACE=FILE it also appends a line per 500 ms: rss, V8 heap, external, array buffers (MiB).
import { appendFileSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.BENCH_RSS_FILE;
if (file && /mongo-backup$/.test(process.argv[1] ?? '')) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssKiB: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 }));
  });
  const trace = process.env.BENCH_MEMORY_TRACE;
  if (trace) {
    const mib = (n) => (n / 1048576).toFixed(0);
    const started = Date.now();
    setInterval(() => {
      const m = process.memoryUsage();
      appendFileSync(trace, `${Date.now() - started} ms rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} spaces ${getHeapSpaceStatistics().map((s) => `${s.space_name}=${mib(s.space_size)}`).join(' ')}\n`);
    }, 500).unref();
  }
}
