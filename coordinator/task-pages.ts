// ListTasks: a sweep's tasks a page at a time, so that a client never needs one message with
// every task of a large sweep. Tokens are opaque to clients: the sweep id and an offset into
// the sweep's task order (insertion order, the same in memory and in SQLite). A running
// sweep's page is a slice of the scheduler's in-memory tasks; a finished one's is one
// LIMIT/OFFSET query (not every row decoded per page).
import type { ListTasksRequest, ListTasksResponse } from '../gen/limolab/v1/coordinator.js';
import { SpecError } from '../common/errors.js';
import { summary, type Coordinator } from './coordinator.js';
import type { SqliteStore } from './store/sqlite-store.js';
import type { TaskRow } from './store/store.js';

export const DEFAULT_TASK_PAGE = 1000;
export const MAX_TASK_PAGE = 5000;

export function encodePageToken(sweepId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ s: sweepId, o: offset })).toString('base64url');
}

export function decodePageToken(token: string, sweepId: string): number {
  if (!token) return 0;
  let t: { s?: unknown; o?: unknown };
  try { t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof t; } catch { t = {}; }
  if (t.s !== sweepId || typeof t.o !== 'number' || !Number.isInteger(t.o) || t.o < 0) {
    throw new SpecError(`page_token is not a token this coordinator gave for sweep ${sweepId}; start again without one`);
  }
  return t.o;
}

export function listTaskPage(coord: Coordinator, req: ListTasksRequest): ListTasksResponse {
  const size = req.pageSize === 0 ? DEFAULT_TASK_PAGE : Math.min(req.pageSize, MAX_TASK_PAGE);
  const offset = decodePageToken(req.pageToken, req.sweepId);
  const live = coord.scheduler.liveSweep(req.sweepId);
  let rows: TaskRow[];
  let total: number;
  const sqlite = (coord.store as Partial<SqliteStore>).sqlite;
  if (live) {
    rows = live.slice(offset, offset + size);
    total = live.size;
  } else if (sqlite) {
    coord.getSweep(req.sweepId, false); // NOT_FOUND for a wrong id
    total = (sqlite.prepare('select count(*) n from tasks where sweep_id = ?').get(req.sweepId) as { n: number }).n;
    rows = sqlite.prepare(`select id, arm, seed, name, kind, phase, status, dispatches, worker_id workerId, error from tasks
      where sweep_id = ? order by rowid limit ? offset ?`).all(req.sweepId, size, offset) as TaskRow[];
  } else {
    const all = coord.getSweep(req.sweepId, true).tasks;
    const tasks = all.slice(offset, offset + size);
    return { tasks, nextPageToken: offset + tasks.length < all.length ? encodePageToken(req.sweepId, offset + tasks.length) : '', total: all.length };
  }
  const next = offset + rows.length;
  return { tasks: rows.map(summary), nextPageToken: next < total ? encodePageToken(req.sweepId, next) : '', total };
}
