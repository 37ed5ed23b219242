// Opening a results database for reading, and naming a sweep in it: shared by the read
// commands (results, report, plot in cli/analysis.ts) and \`limolab compare\`. Kept apart
// from cli/analysis.ts so that compare does not load the report and plot renderers.
import { existsSync } from 'node:fs';
import { NotFoundError } from '../common/errors.js';
import { SqliteStore } from '../coordinator/store/sqlite-store.js';
import type { SweepRow } from '../coordinator/store/store.js';

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
