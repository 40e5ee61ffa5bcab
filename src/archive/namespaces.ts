/**
 * Namespace selection and renaming, with mongorestore's own syntax: `--nsInclude`/`--nsExclude`
 * take `*` wildcards; `--nsFrom`/`--nsTo` take `$name$` variables (e.g. `shop.$c$` → `shop_copy.$c$`).
 * Computed here too, so restore can refuse non-empty destinations and check counts afterwards.
 */
import { usageError } from '../errors.js';

export interface NamespaceOptions {
  include: string[];
  exclude: string[];
  from?: string;
  to?: string;
}

export interface PlannedNamespace {
  source: string;
  destination: string;
  documents: number;
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^{}()|[\]\\]/g, '\\$&');
}

function wildcardRegex(pattern: string): RegExp {
  return new RegExp(`^${escapeRegex(pattern).replace(/\*/g, '.*').replace(/\$/g, '\\$')}$`);
}

interface RenameRule {
  matcher: RegExp;
  names: string[];
  to: string;
}

function renameRule(from: string, to: string): RenameRule {
  const names: string[] = [];
  let source = '';
  const parts = from.split('$');
  if (parts.length % 2 === 0) throw usageError(`--nsFrom "${from}" has an unmatched $`, 'variables look like $name$, e.g. --nsFrom "shop.$c$" --nsTo "copy.$c$"');
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      names.push(part);
      source += '(.*?)';
    } else source += escapeRegex(part);
  });
  for (const m of to.matchAll(/\$([^$]*)\$/g)) {
    if (!names.includes(m[1]!)) throw usageError(`--nsTo uses $${m[1]}$, which --nsFrom does not define`);
  }
  return { matcher: new RegExp(`^${source}$`), names, to };
}

/** Namespaces that only the server manages; restore neither refuses on them nor counts them. */
export function isSystemNamespace(ns: string): boolean {
  if (!ns.includes('.')) return true; // the oplog ("oplog") and similar
  const [db, ...rest] = ns.split('.');
  const coll = rest.join('.');
  if (db === 'admin' || db === 'config' || db === 'local') return true;
  return coll.startsWith('system.') && !coll.startsWith('system.buckets.');
}

/**
 * The selection as a function: where a namespace goes, or undefined when it is left out. Shared by
 * the restore plan and by the stages that filter and rename a replayed oplog (docs/PITR.md).
 */
export interface NamespaceSelector {
  /** No filter and no rename: every namespace goes where it came from. */
  readonly identity: boolean;
  map(namespace: string): string | undefined;
  /**
   * Whether some namespace of `db` may be selected (conservative: true when unsure), for oplog
   * commands that touch a whole database (dropDatabase).
   */
  mayTouchDatabase(db: string): boolean;
}

export function namespaceSelector(options: NamespaceOptions): NamespaceSelector {
  if ((options.from === undefined) !== (options.to === undefined)) throw usageError('--ns-from and --ns-to go together');
  const include = options.include.map(wildcardRegex);
  const exclude = options.exclude.map(wildcardRegex);
  const rule = options.from !== undefined && options.to !== undefined ? renameRule(options.from, options.to) : undefined;
  const databaseOf = (pattern: string): string => pattern.split('.')[0]!;
  return {
    identity: include.length === 0 && exclude.length === 0 && rule === undefined,
    map(source) {
      if (include.length > 0 && !include.some((r) => r.test(source))) return undefined;
      if (exclude.some((r) => r.test(source))) return undefined;
      const m = rule?.matcher.exec(source);
      if (!rule || !m) return source;
      return rule.to.replace(/\$([^$]*)\$/g, (_all, name: string) => m[rule.names.indexOf(name) + 1] ?? '');
    },
    mayTouchDatabase(db) {
      if (options.exclude.some((p) => p === '*' || p === '*.*' || p === `${db}.*`)) return false;
      if (options.include.length === 0) return true;
      return options.include.some((p) => databaseOf(p).includes('*') || databaseOf(p) === db);
    },
  };
}

export function planNamespaces(namespaces: Record<string, number>, options: NamespaceOptions): PlannedNamespace[] {
  const selector = namespaceSelector(options);
  const plan: PlannedNamespace[] = [];
  for (const [source, documents] of Object.entries(namespaces)) {
    const destination = selector.map(source);
    if (destination !== undefined) plan.push({ source, destination, documents });
  }
  return plan;
}

/** mongorestore arguments for the same selection. */
export function namespaceArgs(options: NamespaceOptions): string[] {
  return [
    ...options.include.map((p) => `--nsInclude=${p}`),
    ...options.exclude.map((p) => `--nsExclude=${p}`),
    ...(options.from !== undefined ? [`--nsFrom=${options.from}`] : []),
    ...(options.to !== undefined ? [`--nsTo=${options.to}`] : []),
  ];
}
