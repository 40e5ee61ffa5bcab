#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function, and how the main
// thread's wall time splits into busy and idle. Usage: node profile-summary.mjs FILE [TOP]
import { readFileSync } from 'node:fs';

const [file, topText = '20'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist|src)\//, '$1/').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + (deltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self.entries()].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
console.log(`${file}\nsampled ${(total / 1e6).toFixed(2)} s, main thread idle ${((idle / total) * 100).toFixed(0)}%`);
for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(topText))) {
  console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(6)} s  ${name}`);
}
