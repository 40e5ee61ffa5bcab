// The direction of imports between the layers of src/ (docs/ARCHITECTURE.md#which-way-imports-go):
// commands sit on the engine, the engine on targets, crypto, archive and state; never the other way
// round. A lower layer importing a higher one fails here, naming the file and the import.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const srcRoot = resolve(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/** The area of a file under src/: its top folder (`engine`), or its name for a file at the top (`cli`). */
function areaOf(fileUnderSrc: string): string {
  const [first, ...rest] = fileUnderSrc.split('/');
  return rest.length > 0 ? first! : first!.replace(/\.[jt]s$/, '');
}

/** Relative imports of a source text: static, type-only, side-effect and dynamic ones. */
function relativeImports(source: string): string[] {
  const patterns = [/\bfrom\s+'(\.[^']+)'/g, /\bimport\s*\(\s*'(\.[^']+)'\s*\)/g, /^\s*import\s+'(\.[^']+)'/gm];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]!));
}

interface ImportEdge {
  file: string;
  from: string;
  to: string;
  specifier: string;
}

function importEdges(): ImportEdge[] {
  return sourceFiles(srcRoot).flatMap((full) => {
    const file = relative(srcRoot, full);
    return relativeImports(readFileSync(full, 'utf8')).map((specifier) => {
      const target = relative(srcRoot, resolve(dirname(full), specifier));
      return { file, from: areaOf(file), to: areaOf(target), specifier };
    });
  });
}

/** Areas each area must not import (its own area is always allowed). */
const FORBIDDEN: Record<string, string[]> = {
  // The engine reports progress through events and returns data; commands render it.
  engine: ['cli', 'cli-context', 'commands', 'completion', 'output', 'health', 'schedule'],
  // Health and state hold defaults that config resolves (config imports them), so never config.
  health: ['cli', 'cli-context', 'commands', 'completion', 'engine', 'config'],
  state: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'targets'],
  // The bottom layer: storage, crypto, archive parsing, retention rules, notifiers, schedulers.
  targets: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'schedule', 'notify'],
  crypto: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  archive: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  retention: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  notify: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  schedule: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  // Config resolves every setting, taking each default from the module that owns it (health, state, retention, targets).
  config: ['cli', 'cli-context', 'commands', 'output'],
  // The one key checker and secret-file reader, shared by config and by each target type's key declarations.
  settings: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets', 'crypto', 'archive', 'retention', 'notify', 'schedule', 'completion', 'pitr'],
  // Point-in-time chains and oplog replay decisions: pure logic over manifests and archives.
  pitr: ['cli', 'cli-context', 'commands', 'engine', 'config', 'health', 'output', 'state', 'targets'],
  output: ['cli', 'cli-context', 'commands'],
  completion: ['cli', 'cli-context', 'commands', 'engine', 'config', 'targets'],
};

/** Only the CLI's own files may reach the command layer. */
const COMMAND_LAYER = new Set(['commands', 'cli', 'cli-context']);
const MAY_IMPORT_COMMANDS = new Set(['cli', 'commands']);

describe('import direction in src/', () => {
  const edges = importEdges();

  it('reads the imports of every layer', () => {
    // Guards the reading itself: without edges every rule below would pass vacuously.
    expect(edges.some((e) => e.from === 'engine' && e.to === 'targets')).toBe(true);
    expect(edges.some((e) => e.from === 'targets' && e.specifier.startsWith('./') && e.file === 'targets/registry.ts')).toBe(true);
    expect(relativeImports("import type { A } from '../engine/a.js';\nconst m = await import('./s3.js');\nimport './side.js';")).toEqual(['../engine/a.js', './s3.js', './side.js']);
  });

  it('no layer imports one above it', () => {
    const violations = edges
      .filter((e) => e.from !== e.to && (FORBIDDEN[e.from] ?? []).includes(e.to))
      .map((e) => `src/${e.file} imports ${e.specifier} (${e.from} must not depend on ${e.to})`);
    expect(violations).toEqual([]);
  });

  it('only the CLI reaches the command layer', () => {
    const violations = edges
      .filter((e) => e.from !== e.to && COMMAND_LAYER.has(e.to) && !MAY_IMPORT_COMMANDS.has(e.from))
      .map((e) => `src/${e.file} imports ${e.specifier}`);
    expect(violations).toEqual([]);
  });
});
