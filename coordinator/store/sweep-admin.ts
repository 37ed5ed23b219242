// The store side of sweep administration (issue 13): tags, note and provenance of a sweep,
// archive and delete, reopening a sweep's tasks for a retry, per-attempt log lines, task
// lookup by id prefix, and the artifacts tasks wrote and read. Plain prepared statements on
// the SqliteStore's connection; each write is one transaction.
import type Database from 'better-sqlite3';
import type { ArtifactRef, LogLine } from '../../gen/limolab/v1/task.js';
import type { Provenance } from '../provenance.js';
import type { AttemptRow, SweepRow } from './store.js';

export interface SweepMeta { tags: string[]; note: string; provenance: Provenance | null; workerHosts: string[] | null; archived: boolean }
export interface StoredLogLine { attemptId: string; taskId: string; tsMs: number; source: string; line: string }
export interface LogAttempt extends AttemptRow { host: string | null; lines: StoredLogLine[] }

/** Lines longer than this are cut: a log tail is for reading, not for data. */
export const MAX_LOG_LINE = 1000;

export class SweepAdminStore {
  constructor(private readonly db: Database.Database) {}

  setMeta(id: string, m: { tags: string[]; note: string; provenance: Provenance }): void {
    this.db.prepare('update sweeps set tags_json = ?, note = ?, provenance_json = ? where id = ?')
      .run(JSON.stringify(m.tags), m.note || null, JSON.stringify(m.provenance), id);
  }

  meta(id: string): SweepMeta | null {
    const r = this.db.prepare('select tags_json, note, provenance_json, worker_hosts_json, archived from sweeps where id = ?').get(id) as MetaDb | undefined;
    return r ? metaFromDb(r) : null;
  }

  /** Sweeps newest first; archived ones only with includeArchived; `tag` keeps those carrying it. */
  listSweeps(o: { limit: number; status?: string; includeArchived?: boolean; tag?: string }): (SweepRow & { meta: SweepMeta })[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (o.status) { where.push('status = ?'); args.push(o.status); }
    if (!o.includeArchived) where.push('archived = 0');
    if (o.tag) { where.push('exists (select 1 from json_each(sweeps.tags_json) where value = ?)'); args.push(o.tag); }
    const rows = this.db.prepare(`select id, name, status, priority, spec_text, spec_json, created_ms, finished_ms, error,
      tags_json, note, provenance_json, worker_hosts_json, archived from sweeps ${where.length ? `where ${where.join(' and ')}` : ''}
      order by created_ms desc limit ?`).all(...args, o.limit) as (MetaDb & Record<string, unknown>)[];
    return rows.map((r) => ({
      id: r.id as string, name: r.name as string, status: r.status as SweepRow['status'], priority: r.priority as number, specText: r.spec_text as string,
      specJson: r.spec_json as string, createdMs: r.created_ms as number, finishedMs: r.finished_ms as number | null, error: r.error as string | null, meta: metaFromDb(r),
    }));
  }

  setArchived(id: string, archived: boolean): boolean {
    return this.db.prepare('update sweeps set archived = ? where id = ?').run(archived ? 1 : 0, id).changes > 0;
  }

  /** Hosts of the workers that ran a sweep's attempts: the ones recorded at its end, else
   * from its attempts and the workers table (a worker id not seen there counts as its host). */
  workerHosts(sweepId: string): string[] {
    const stored = this.meta(sweepId)?.workerHosts;
    if (stored) return stored;
    return this.hostsOf(this.attemptWorkers(sweepId));
  }

  /** The workers a sweep's attempts name: a scan of every sweep's attempts (attempts has no
   *  sweep index, which every attempt would pay for), so the scheduler keeps a running sweep's. */
  attemptWorkers(sweepId: string): string[] {
    return this.db.prepare('select distinct worker_id from attempts where sweep_id = ? and worker_id is not null').pluck().all(sweepId) as string[];
  }

  /** The hosts of these workers, by the workers table (the id itself for a worker it no longer
   *  has), distinct and sorted. */
  hostsOf(workerIds: readonly string[]): string[] {
    if (!workerIds.length) return [];
    return this.db.prepare(`select distinct coalesce(w.host, j.value) from json_each(?) j left join workers w on w.id = j.value order by 1`)
      .pluck().all(JSON.stringify(workerIds)) as string[];
  }

  /** Stores the sweep's worker hosts (of `workerIds`, the workers its attempts named, where the
   *  caller kept them; else found from its attempts). */
  recordWorkerHosts(sweepId: string, workerIds: readonly string[] | null = null): void {
    this.db.prepare('update sweeps set worker_hosts_json = null where id = ?').run(sweepId);
    const hosts = workerIds ? this.hostsOf(workerIds) : this.workerHosts(sweepId);
    this.db.prepare('update sweeps set worker_hosts_json = ? where id = ?').run(JSON.stringify(hosts), sweepId);
  }

  /** Deletes every row of a sweep (its artifacts rows only when no other sweep's result names
   * the digest). Returns the number of tasks deleted. The caller checks it is not running. */
  deleteSweep(id: string): number {
    const d = this.db;
    return d.transaction(() => {
      const tasks = `(select id from tasks where sweep_id = @id)`;
      d.prepare(`delete from artifacts where task_id in ${tasks} and not exists (
        select 1 from results r where r.sweep_id != @id and instr(r.outputs_json, artifacts.digest) > 0)`).run({ id });
      d.prepare(`delete from metrics where task_id in ${tasks}`).run({ id });
      // results and ledger have no sweep_id index: their rows are found through tasks.
      for (const t of ['results', 'ledger']) d.prepare(`delete from ${t} where task_id in ${tasks}`).run({ id });
      for (const t of ['task_logs', 'attempts', 'arms']) d.prepare(`delete from ${t} where sweep_id = @id`).run({ id });
      const n = d.prepare('delete from tasks where sweep_id = @id').run({ id }).changes;
      d.prepare('delete from sweeps where id = @id').run({ id });
      return n;
    })();
  }

  /** Sets tasks back to pending with a fresh retry budget and the sweep back to running, in one transaction. */
  reopen(sweepId: string, tasks: { id: string; maxRetries: number }[]): void {
    const task = this.db.prepare(`update tasks set status = 'pending', max_retries = @maxRetries, next_dispatch_ms = null, worker_id = null,
      started_ms = null, finished_ms = null, error = null where id = @id and sweep_id = @sweepId`);
    this.db.transaction(() => {
      for (const t of tasks) task.run({ ...t, sweepId });
      this.db.prepare(`update sweeps set status = 'running', finished_ms = null, error = null, worker_hosts_json = null where id = ?`).run(sweepId);
    })();
  }

  /** Stores attempts' log lines; a line already stored (a redelivered result) is kept as it was. */
  insertLogs(rows: { attemptId: string; taskId: string; sweepId: string; lines: LogLine[] }[]): void {
    const ins = this.db.prepare(`insert into task_logs (attempt_id, seq, task_id, sweep_id, ts_ms, source, line)
      values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing`);
    this.db.transaction(() => {
      for (const r of rows) r.lines.forEach((l, i) => ins.run(r.attemptId, i, r.taskId, r.sweepId, l.tsMs || Date.now(), l.source || 'runner', l.line.slice(0, MAX_LOG_LINE)));
    })();
  }

  /** Stores the stepped metrics (a loss curve) of the attempts whose result is the task's
   *  stored result; other attempts' points are dropped. Returns the tasks stored. */
  insertCurves(rows: { taskId: string; attemptId: string; points: { name: string; step: number; value: number }[] }[]): string[] {
    const winner = this.db.prepare('select attempt_id from results where task_id = ?').pluck();
    const ins = this.db.prepare('insert into metrics (task_id, name, value, step) values (?, ?, ?, ?) on conflict do nothing');
    return this.db.transaction(() => {
      const done: string[] = [];
      for (const r of rows) {
        if (winner.get(r.taskId) !== r.attemptId) continue;
        for (const p of r.points) ins.run(r.taskId, p.name, p.value, p.step);
        done.push(r.taskId);
      }
      return done;
    })();
  }

  /** Attempts of the given tasks with their stored lines (the last `tail` per attempt when tail > 0). */
  logs(taskIds: string[], tail = 0): LogAttempt[] {
    const out: LogAttempt[] = [];
    const attempts = this.db.prepare(`select a.id, a.task_id taskId, a.sweep_id sweepId, a.dispatch, a.delivery, a.worker_id workerId, a.status,
      a.started_ms startedMs, a.finished_ms finishedMs, a.error, a.error_code errorCode, w.host
      from attempts a left join workers w on w.id = a.worker_id where a.task_id = ? order by a.dispatch, a.delivery`);
    const lines = this.db.prepare(`select attempt_id attemptId, task_id taskId, ts_ms tsMs, source, line from task_logs where attempt_id = ?
      order by seq ${tail > 0 ? 'desc limit ?' : ''}`);
    for (const id of taskIds) {
      for (const a of attempts.all(id) as (AttemptRow & { host: string | null })[]) {
        const ls = (tail > 0 ? lines.all(a.id, tail).reverse() : lines.all(a.id)) as StoredLogLine[];
        out.push({ ...a, lines: ls });
      }
    }
    return out;
  }

  /** A task by id, or by a prefix of its id that names exactly one task. */
  findTask(idOrPrefix: string): { id: string; sweepId: string } | 'ambiguous' | null {
    const exact = this.db.prepare('select id, sweep_id sweepId from tasks where id = ?').get(idOrPrefix) as { id: string; sweepId: string } | undefined;
    if (exact) return exact;
    if (idOrPrefix.length < 6) return null;
    const hits = this.db.prepare("select id, sweep_id sweepId from tasks where id >= ? and id < ? || char(1114111) limit 2").all(idOrPrefix, idOrPrefix) as { id: string; sweepId: string }[];
    return hits.length === 1 ? hits[0]! : hits.length > 1 ? 'ambiguous' : null;
  }

  /** Task names by id (for worker views). */
  taskNames(ids: string[]): Map<string, string> {
    const out = new Map<string, string>();
    const q = this.db.prepare('select name from tasks where id = ?').pluck();
    for (const id of ids) { const n = q.get(id) as string | undefined; if (n !== undefined) out.set(id, n); }
    return out;
  }

  /** Output artifacts of succeeded (or reused) tasks, by task id. */
  outputs(taskIds: string[]): Map<string, ArtifactRef[]> {
    const q = this.db.prepare('select outputs_json from results where task_id = ?').pluck();
    const out = new Map<string, ArtifactRef[]>();
    for (const id of taskIds) { const j = q.get(id) as string | undefined; if (j) out.set(id, JSON.parse(j) as ArtifactRef[]); }
    return out;
  }
}

interface MetaDb { tags_json: string; note: string | null; provenance_json: string | null; worker_hosts_json: string | null; archived: number }

function metaFromDb(r: MetaDb): SweepMeta {
  return {
    tags: JSON.parse(r.tags_json || '[]') as string[], note: r.note ?? '', archived: r.archived === 1,
    provenance: r.provenance_json ? (JSON.parse(r.provenance_json) as Provenance) : null,
    workerHosts: r.worker_hosts_json ? (JSON.parse(r.worker_hosts_json) as string[]) : null,
  };
}

