// The man pages the .deb ships (scripts/gen-man.mjs, docs/PACKAGING.md): one per command of the
// live command tree, each rendering through man/groff without a warning, with every option.
// Runs without root (the deb install test checks them installed); needs man-db for rendering.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { repoRoot } from '../setup/process.js';

const hasMan = spawnSync('man', ['--version']).status === 0;
let outDir: string;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'mongo-backup-man-'));
  // gen-man reads dist/, which the global setup has just built from the same sources.
  const generated = spawnSync(process.execPath, [join(repoRoot, 'scripts/gen-man.mjs'), outDir], { encoding: 'utf8' });
  expect(generated.status, generated.stderr).toBe(0);
});

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

/** Page names of every command: `mongo-backup`, `mongo-backup-restore`, `mongo-backup-schedule-install`… */
function expectedPages(command: Command, prefix: string[] = []): string[] {
  const path = [...prefix, command.name()];
  const subcommands = command.commands.filter((sub) => sub.name() !== 'help');
  return [path.join('-'), ...subcommands.flatMap((sub) => expectedPages(sub, path))];
}

function render(page: string): { text: string; warnings: string } {
  const result = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', join(outDir, `${page}.1`)], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', MANWIDTH: '120', MANPAGER: 'cat', LANG: 'C.UTF-8' },
  });
  return { text: result.stdout, warnings: result.stderr };
}

it('writes one page per command of the command tree, and no other', async () => {
  const pages = (await readdir(outDir)).map((file) => file.replace(/\.1$/, '')).sort();
  expect(pages).toEqual(expectedPages(buildProgram()).sort());
});

it.skipIf(!hasMan && process.env['CI'] !== 'true')('renders every page without a groff warning, each naming its command and options', () => {
  const program = buildProgram();
  const restore = program.commands.find((command) => command.name() === 'restore')!;
  for (const page of expectedPages(program)) {
    const { text, warnings } = render(page);
    expect(warnings, page).toBe('');
    expect(text, page).toMatch(new RegExp(`^NAME\\n\\s+${page}\\s+-\\s`, 'm'));
  }
  const restorePage = render('mongo-backup-restore').text;
  for (const option of restore.options) expect(restorePage, option.flags).toContain(option.flags);
  expect(render('mongo-backup').text).toMatch(/^COMMANDS\n[\s\S]*mongo-backup-restore\(1\)/m);
});
