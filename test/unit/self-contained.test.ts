// The repository stands on its own (docs/TESTBED.md, "Test data"): no tracked file refers to a path
// beside the clone, and the tests that read test/fixtures/ pass in a copy of the clone placed in an
// empty directory, as after `git clone` on a fresh machine.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturesDir, repoRoot } from './archive-fixtures.js';

const execFileAsync = promisify(execFile);
const selfPath = 'test/unit/self-contained.test.ts';
const samplesPath = 'test/fixtures/self-contained/path-samples.txt';

/** What the static scan covers: everything a test, script, benchmark, doc, config or CI step reads. */
const scannedDirs = ['src/', 'test/', 'scripts/', 'bench/', 'docs/', '.ci/', 'bin/'];
const scannedFiles = ['package.json', 'vitest.config.ts', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.test.json', 'README.md', 'backuprc.example.yaml'];

/** Text that names something beside the clone or on the build machine. */
const outsidePatterns: ReadonlyArray<{ why: string; pattern: RegExp }> = [
  { why: 'the shared folder beside the clone', pattern: /\.\.[\\/]+shared\b|['"]\.\.['"]\s*,\s*['"]shared\b|\bshared[\\/]+(?:testdata|[S]PEC\.md)\b/ },
  { why: 'an absolute path of the build machine', pattern: /(?<![\w.~$-])\/work\// },
  { why: 'the parent of the repository root', pattern: /\b\w*root\w*\s*,\s*['"]\.\.['"]|\bdirname\(\s*\w*root\w*\s*\)|\$\{?\w*root\w*\}?\/\.\.(?:[\\/"'\s]|$)/im },
];

/** Quoted strings and Markdown link targets that start by going up (`../`). */
const upwardPaths = [/(['"`])((?:\.\.\/)+[^'"`\s]*)\1/g, /\]\(((?:\.\.\/)+[^)\s]*)\)/g];

/** Why `text` (the content of `file`, relative to the repository) reaches outside the repository. */
function outsideReferences(file: string, text: string): string[] {
  const found = outsidePatterns.filter(({ pattern }) => pattern.test(text)).map(({ why, pattern }) => `${why}: ${text.match(pattern)?.[0]}`);
  for (const upward of upwardPaths) {
    for (const match of text.matchAll(upward)) {
      const relative = match[2] ?? match[1]!;
      const target = path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), relative));
      if (target.startsWith('..')) found.push(`a relative path out of the repository: ${relative}`);
    }
  }
  return found;
}

async function gitFiles(...args: string[]): Promise<string[]> {
  const { stdout } = await execFileAsync('git', ['ls-files', '-z', ...args], { cwd: repoRoot, maxBuffer: 16 << 20 });
  return stdout.split('\0').filter((file) => file !== '' && existsSync(path.join(repoRoot, file)));
}

/**
 * Every file below the repository that its .gitignore does not exclude: the repository's files in
 * an unpacked source archive, which has no .git (only the simple patterns used there: `name`,
 * `dir/`, `a/b/`, `*.ext`).
 */
async function filesNotIgnored(): Promise<string[]> {
  const patterns = (await readFile(path.join(repoRoot, '.gitignore'), 'utf8')).split('\n').map((line) => line.trim());
  const ignored = (file: string): boolean =>
    patterns.some((pattern) => {
      const name = pattern.replace(/^\/|\/$/g, '');
      if (name === '' || name.startsWith('#')) return false;
      if (name.startsWith('*.')) return file.endsWith(name.slice(1));
      return name.includes('/') ? file === name || file.startsWith(`${name}/`) : file.split('/').includes(name);
    });
  const entries = await readdir(repoRoot, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => path.relative(repoRoot, path.join(entry.parentPath, entry.name)));
  return files.filter((file) => file !== '.git' && !file.startsWith('.git/') && !ignored(file)).sort();
}

/** The repository's files as they are in the working tree: git's tracked files, or without .git, those .gitignore keeps. */
async function trackedFiles(): Promise<string[]> {
  return existsSync(path.join(repoRoot, '.git')) ? gitFiles() : filesNotIgnored();
}

function isScanned(file: string): boolean {
  return file !== samplesPath && (scannedFiles.includes(file) || scannedDirs.some((dir) => file.startsWith(dir)));
}

async function readText(file: string): Promise<string | undefined> {
  const bytes = await readFile(path.join(repoRoot, file));
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

async function samples(kind: 'caught' | 'fine'): Promise<string[]> {
  const lines = (await readFile(path.join(repoRoot, samplesPath), 'utf8')).split('\n');
  // `{up}` stands for `..` in the file, so that no grep for paths outside the clone (the repository's
  // own pre-stop check among them) finds the samples themselves.
  return lines.filter((line) => line.startsWith(`${kind}: `)).map((line) => line.slice(kind.length + 2).replaceAll('{up}', '..'));
}

/** Copies the tracked files (working-tree content) into `<fresh temp dir>/mongo-backup`, with node_modules linked. */
async function copyClone(files: string[]): Promise<{ clone: string; remove: () => Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'mongo-backup-clone-'));
  const clone = path.join(parent, 'mongo-backup');
  for (const file of files) {
    await mkdir(path.dirname(path.join(clone, file)), { recursive: true });
    await copyFile(path.join(repoRoot, file), path.join(clone, file));
  }
  await symlink(await realpath(path.join(repoRoot, 'node_modules')), path.join(clone, 'node_modules'));
  return { clone, remove: () => rm(parent, { recursive: true, force: true }) };
}

interface VitestJsonReport {
  success: boolean;
  numPassedTests: number;
  numFailedTests: number;
  testResults: Array<{ name: string; status: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

/** Runs vitest in `clone` on `testFiles` without peers, the way `npm test` would there. */
async function runVitestIn(clone: string, testFiles: string[]): Promise<VitestJsonReport> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')));
  const reportFile = '.vitest-results.json'; // where vitest.config.ts has the JSON reporter write (.ci/run reads it too)
  const run = await execFileAsync(
    process.execPath,
    [path.join(clone, 'node_modules/vitest/vitest.mjs'), 'run', ...testFiles, '--reporter=json'],
    { cwd: clone, env: { ...env, MONGO_BACKUP_TEST_PEERS: 'none' }, maxBuffer: 64 << 20, timeout: 150_000 },
  ).catch((error: unknown) => error as { stdout?: string; stderr?: string }); // a failing run still writes its report
  const report = await readFile(path.join(clone, reportFile), 'utf8').catch(() => {
    throw new Error(`vitest in the copy wrote no report:\n${run.stdout ?? ''}${run.stderr ?? ''}`);
  });
  return JSON.parse(report) as VitestJsonReport;
}

function failures(report: VitestJsonReport): string[] {
  return report.testResults.flatMap((file) =>
    file.assertionResults.filter((test) => test.status === 'failed').map((test) => `${test.fullName}: ${test.failureMessages.join('\n')}`),
  );
}

describe('the repository stands on its own', () => {
  it('reports every sample path that leaves the repository, and none of the legitimate ones', async () => {
    const caught = await samples('caught');
    const fine = await samples('fine');
    expect(caught.length).toBeGreaterThan(0);
    expect(fine.length).toBeGreaterThan(0);
    expect(caught.filter((line) => outsideReferences('test/unit/sample.ts', line).length === 0)).toEqual([]);
    expect(fine.filter((line) => outsideReferences('test/unit/sample.ts', line).length > 0)).toEqual([]);
    // Every rule earns its place: each catches at least one sample.
    for (const { why, pattern } of outsidePatterns) expect(caught.some((line) => pattern.test(line)), why).toBe(true);
  });

  it.runIf(existsSync(path.join(repoRoot, '.git')))('without .git (a source archive), the files .gitignore keeps are the ones git would list', async () => {
    const gitWouldList = [...(await gitFiles()), ...(await gitFiles('--others', '--exclude-standard'))].sort();
    expect(await filesNotIgnored()).toEqual(gitWouldList);
  });

  it('no tracked source, test, script, benchmark, doc, config or CI file refers to a path outside the repository', async () => {
    const scanned = (await trackedFiles()).filter(isScanned);
    expect(scanned).toContain(selfPath);
    expect(scanned).toContain('vitest.config.ts');
    const offenders: string[] = [];
    for (const file of scanned) {
      const text = await readText(file);
      if (text !== undefined) offenders.push(...outsideReferences(file, text).map((why) => `${file}: ${why}`));
    }
    expect(offenders).toEqual([]);
  });

  it('the tests that read test/fixtures/ pass in a copy of the clone with nothing beside it', { timeout: 180_000 }, async () => {
    const files = await trackedFiles();
    const fixturesPrefix = `${path.relative(repoRoot, fixturesDir)}/`;
    expect(files.some((file) => file.startsWith(fixturesPrefix))).toBe(true);
    const readers: string[] = [];
    for (const file of files.filter((name) => name.endsWith('.test.ts') && name !== selfPath)) {
      if (/\b(?:realArchivesDir|fixturesDir)\b|test\/fixtures\//.test((await readText(file)) ?? '')) readers.push(file);
    }
    expect(readers).toContain('test/unit/archive-inspector.test.ts');

    const { clone, remove } = await copyClone(files);
    try {
      const report = await runVitestIn(clone, readers);
      expect(failures(report)).toEqual([]);
      expect(report.success).toBe(true);
      expect(report.numPassedTests).toBeGreaterThan(0);
      const passedFiles = report.testResults.filter((file) => file.status === 'passed').map((file) => path.relative(clone, file.name));
      expect(passedFiles.sort()).toEqual([...readers].sort());
    } finally {
      await remove();
    }
  });
});
