// Opening a results database for reading, and naming a sweep in it: shared by the read
// commands (results, report, plot in cli/analysis.ts), \`limolab compare\` and \`limolab timing\`. Kept apart
// from cli/analysis.ts so that compare does not load the report and plot renderers.
import { existsSync } from 'node:fs';
import { NotFoundError, SpecError } from '../common/errors.js';
import { SqliteStore } from '../coordinator/store/sqlite-store.js';
import type { SweepRow } from '../coordinator/store/store.js';
import { parse } from './args.js';

/** Opens an existing results database read-only; a missing file, or one that is not
 *  limolab's, is an error rather than a new empty (or extended) one. */
export function openStore(path: string): SqliteStore {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new NotFoundError(`no results database at ${path}; pass --db FILE (the file \`limolab run\` or \`limolab coordinator --db\` wrote)`);
  }
  return new SqliteStore(path, { readOnly: true });
}

/** The sweep named by id, or the latest one when id is absent or "latest". */
export function resolveSweep(store: SqliteStore, dbPath: string, id: string | undefined): SweepRow {
  if (!id || id === 'latest') {
    const latest = store.listSweeps(1)[0];
    if (!latest) throw new NotFoundError(`${dbPath} holds no sweeps yet; run one with \`limolab run <spec.yaml>\``);
    return latest;
  }
  const row = store.getSweep(id);
  if (row) return row;
  const known = store.listSweeps(10).map((s) => `${s.id} (${s.name})`);
  throw new NotFoundError(`no sweep "${id}" in ${dbPath}; latest sweeps there: ${known.join(', ') || 'none'}`);
}

/** The options of a command that reads one sweep: --db, --sweep, --json, --help. */
export const SWEEP_READ_OPTIONS = { db: { type: 'string' }, sweep: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

/**
 * main() of a command that reads one sweep (`limolab <name> [--db FILE] [--sweep ID] [--json]`):
 * parses the options, opens the database read-only, resolves the sweep, writes what `render`
 * returns and closes the database.
 */
export async function readSweepCommand(argv: string[], name: string, usage: string,
  render: (store: SqliteStore, sweep: SweepRow, json: boolean) => string): Promise<number> {
  const { values: v, positionals: p } = parse(argv, SWEEP_READ_OPTIONS, usage);
  if (v.help) { console.log(usage); return 0; }
  if (p.length) throw new SpecError(`limolab ${name} takes no positional arguments (got ${p.join(' ')}); pass the sweep with --sweep ID\n\n${usage}`);
  const dbPath = v.db ?? 'limolab.db';
  const store = openStore(dbPath);
  try {
    process.stdout.write(render(store, resolveSweep(store, dbPath, v.sweep), v.json ?? false));
    return 0;
  } finally {
    store.close();
  }
}
