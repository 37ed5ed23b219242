// SqliteStore: the Store on one SQLite file through drizzle-orm and better-sqlite3.
// WAL mode; committed migrations applied at open (idempotent); hot writes through
// prepared statements with placeholders, one transaction per WriteBatch.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import * as s from './schema.js';
import type { ArtifactRef, LedgerEntry, Metric } from '../../gen/limolab/v1/task.js';
import type { ArmRow, AttemptRow, CachedTask, PhaseGroup, ResultRecord, Store, SweepRow, TaskRow, WorkerRow, WriteBatch } from './store.js';
import { LimolabError } from '../../common/errors.js';
import { Checkpointer } from './checkpointer.js';

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** An existing results file, read-only; refuses a file without limolab's tables. */
function openReadOnly(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const tables = new Set(db.prepare(`select name from sqlite_master where type = 'table'`).pluck().all() as string[]);
    const missing = ['sweeps', 'arms', 'tasks', 'ledger', 'metrics'].filter((t) => !tables.has(t));
    if (missing.length) throw new Error(`it has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}: not a limolab results database`);
    return db;
  } catch (err) {
    db?.close();
    throw new LimolabError(`cannot read ${path}: ${(err as Error).message}; pass --db with the file \`limolab run\` or \`limolab coordinator --db\` wrote`, { cause: err });
  }
}

const PAGE_SIZE = 16384;

export class SqliteStore implements Store {
  readonly sqlite: Database.Database;
  readonly db: BetterSQLite3Database<typeof s>;
  private stmts: Record<'updateTask' | 'upsertAttempt' | 'loseAttempts' | 'insertResult' | 'insertLedger' | 'insertMetric' | 'insertArtifact' | 'updateSweep', Database.Statement>;

  private checkpointer: Checkpointer | null = null;

  private readonly durable: boolean;
  /** The WAL flush: fs.fdatasync (a test replaces it to slow a flush down or make it fail). */
  private walSync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void = fdatasync;
  private walFd: number | null = null;
  private flushing = false;
  private closed = false;
  /** Waiting for the next flush (those of the flush under way wait in its closure). */
  private waiting: (() => void)[] = [];
  /** WAL flushes done, and those that failed (their acks were dropped: JetStream redelivers). */
  walFlushes = 0;
  walFlushErrors = 0;
  onWalFlushError: (err: Error) => void = () => {};

  /** readOnly: open an existing file without creating, migrating or writing anything (the
   *  read commands); a file without limolab's tables is refused rather than extended.
   *  backgroundCheckpoints: WAL checkpoints on a thread of their own (the coordinator).
   *  sync: when a commit counts as stored. 'full' (the default): once it is on the disk, so a
   *  result acked after afterDurable() survives a power cut or an OS crash. The commit itself
   *  runs with SQLite's synchronous=NORMAL (no fsync on the event loop); afterDurable() then
   *  waits for an fdatasync of the WAL, on libuv's thread pool, that began after the commit:
   *  one such flush covers every commit made before it began (a group commit). 'normal': a
   *  commit survives a crash of any process, but the last ones before a power cut can roll
   *  back (SQLite flushes the WAL only at checkpoints), after their results were acked. */
  constructor(readonly path: string, opts: { readOnly?: boolean; backgroundCheckpoints?: boolean; sync?: DbSync } = {}) {
    this.durable = !opts.readOnly && opts.sync !== 'normal' && path !== ':memory:';
    if (opts.readOnly) {
      this.sqlite = openReadOnly(path);
      this.db = drizzle(this.sqlite, { schema: s });
    } else {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      try {
        this.sqlite = new Database(path);
        // 16 KiB pages for a new file (an existing one keeps its size): fewer, larger pages cut
        // the B-tree work per row. Measured with hash-ordered task ids (apply of 20k no-op
        // results, 600 a transaction): ~20% less CPU than 4 KiB pages, 1-2 KiB pages 1.5-2.3x
        // more; with ids in plan order (planner.ts), the coordinator's CPU for 20k tasks in bulk
        // was 2.3 s against 3.0 s with 4 KiB pages.
        this.sqlite.pragma(`page_size = ${PAGE_SIZE}`);
        this.sqlite.pragma('journal_mode = WAL');
        this.sqlite.pragma('synchronous = NORMAL');   // durability: afterDurable()
        this.sqlite.pragma('busy_timeout = 5000');
        this.db = drizzle(this.sqlite, { schema: s });
        migrate(this.db, { migrationsFolder: MIGRATIONS });
        if (opts.backgroundCheckpoints && path !== ':memory:') {
          // Checkpoints happen on a thread of their own; SQLite's own (in the commit) only past ~16 MB of WAL.
          this.sqlite.pragma(`wal_autocheckpoint = ${Math.round(16 * 2 ** 20 / (this.sqlite.pragma('page_size', { simple: true }) as number))}`);
          this.checkpointer = new Checkpointer(path);
        }
      } catch (err) {
        throw new LimolabError(`cannot open the results database ${path}: ${(err as Error).message}; check the path is writable and not another program's file (pass --db to choose another)`, { cause: err });
      }
    }
    // The dispatch path commits thousands of rows a second: these statements are plain
    // better-sqlite3 prepared statements (drizzle's wrapper costs ~2x per row here); the
    // schema and migrations stay drizzle's, and the column names are checked by the tests.
    const q = (sql: string) => this.sqlite.prepare(sql);
    this.stmts = {
      // Positional parameters on the per-task statements: binding by name costs a lookup per value.
      updateTask: q(`update tasks set status = ?, dispatches = ?, next_dispatch_ms = ?, worker_id = ?,
        started_ms = ?, finished_ms = ?, error = ?, reused_from = ? where id = ?`),
      // A late "started" event never reopens an attempt that already ended.
      upsertAttempt: q(`insert into attempts (id, task_id, sweep_id, dispatch, delivery, worker_id, status, started_ms, finished_ms, error, error_code)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        on conflict (id) do update set worker_id = coalesce(excluded.worker_id, attempts.worker_id),
          status = case when attempts.status in ('succeeded','failed','cancelled') and excluded.status = 'running' then attempts.status else excluded.status end,
          started_ms = coalesce(attempts.started_ms, excluded.started_ms), finished_ms = coalesce(excluded.finished_ms, attempts.finished_ms),
          error = coalesce(excluded.error, attempts.error), error_code = coalesce(excluded.error_code, attempts.error_code)`),
      loseAttempts: q(`update attempts set status = 'lost', error = @error, finished_ms = @now
        where task_id = @taskId and dispatch = @dispatch and delivery < @before and status = 'running'`),
      insertResult: q(`insert into results (task_id, sweep_id, attempt_id, outputs_json, details_json, created_ms)
        values (?, ?, ?, ?, ?, ?) on conflict do nothing`),
      insertLedger: q(`insert into ledger (task_id, sweep_id, phase, flops, tokens_prompt, tokens_generated, tokens_trained, wall_s, device_kind, device_s, params, curated_examples, reused)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing`),
      insertMetric: q('insert into metrics (task_id, name, value, step) values (?, ?, ?, ?) on conflict do nothing'),
      insertArtifact: q(`insert into artifacts (digest, size, uri, media_type, role, task_id, created_ms)
        values (@digest, @size, @uri, @mediaType, @role, @taskId, @createdMs) on conflict do nothing`),
      updateSweep: q('update sweeps set status = @status, finished_ms = @finishedMs, error = @error where id = @id'),
    };
  }

  createSweep(sweep: SweepRow, arms: ArmRow[], tasks: TaskRow[], cached: Map<string, CachedTask>): void {
    this.sqlite.transaction(() => {
      this.db.insert(s.sweeps).values(sweep).run();
      const arm = this.sqlite.prepare(`insert into arms (sweep_id, arm, arm_group, method, seed, params_json, eval_task_id)
        values (@sweepId, @arm, @armGroup, @method, @seed, @paramsJson, @evalTaskId)`);
      for (const a of arms) arm.run({ sweepId: a.sweepId, arm: a.arm, armGroup: a.armGroup, method: a.method, seed: a.seed, paramsJson: JSON.stringify(a.params), evalTaskId: a.evalTaskId });
      // Raw prepared inserts: a sweep can plan tens of thousands of tasks.
      const task = this.sqlite.prepare(`insert into tasks (id, sweep_id, arm, seed, name, kind, phase, pool, status, priority, task_proto, deps_json, cache_key,
        max_retries, dispatches, next_dispatch_ms, worker_id, created_ms, started_ms, finished_ms, error, reused_from, arms_json)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      // Positional: named parameters would need an object per task, and a sweep can plan tens of thousands.
      for (const t of tasks) {
        task.run(t.id, t.sweepId, t.arm, t.seed, t.name, t.kind, t.phase, t.pool, t.status, t.priority, t.taskProto, JSON.stringify(t.deps), t.cacheKey,
          t.maxRetries, t.dispatches, t.nextDispatchMs, t.workerId, t.createdMs, t.startedMs, t.finishedMs, t.error, t.reusedFrom, JSON.stringify(t.arms));
      }
    })();
    const now = Date.now();
    const results: ResultRecord[] = [];
    for (const t of tasks) {
      const c = cached.get(t.id);
      if (c) results.push({ taskId: t.id, sweepId: t.sweepId, attemptId: `cached:${c.taskId}`, phase: t.phase, outputs: c.outputs, details: c.details, metrics: c.metrics, ledger: c.ledger ?? emptyLedger(), reused: true, createdMs: now });
    }
    if (results.length) this.apply({ results });
  }

  getSweep(id: string): SweepRow | null {
    return (this.db.select().from(s.sweeps).where(eq(s.sweeps.id, id)).get() as SweepRow | undefined) ?? null;
  }

  listSweeps(limit: number, status?: string): SweepRow[] {
    const q = this.db.select().from(s.sweeps);
    return (status ? q.where(eq(s.sweeps.status, status)) : q).orderBy(desc(s.sweeps.createdMs)).limit(limit).all() as SweepRow[];
  }

  activeSweeps(): SweepRow[] {
    return this.db.select().from(s.sweeps).where(eq(s.sweeps.status, 'running')).all() as SweepRow[];
  }

  sweepTasks(sweepId: string): TaskRow[] {
    return this.db.select().from(s.tasks).where(eq(s.tasks.sweepId, sweepId)).all().map(taskFromDb);
  }

  taskCounts(sweepId: string): Partial<Record<TaskRow['status'], number>> {
    const rows = this.db.select({ status: s.tasks.status, n: sql<number>`count(*)` }).from(s.tasks).where(eq(s.tasks.sweepId, sweepId)).groupBy(s.tasks.status).all();
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  phaseCounts(sweepId: string): PhaseGroup[] {
    return this.sqlite.prepare(`select phase, status, count(*) n, 0 progress, min(started_ms) firstStart from tasks where sweep_id = ? group by phase, status`)
      .all(sweepId) as PhaseGroup[];
  }

  sweepArmNames(sweepId: string): string[] {
    // First appearance in plan order (rowid), as the tasks come back from sweepTasks.
    return this.sqlite.prepare('select arm from tasks where sweep_id = ? group by arm order by min(rowid)').pluck().all(sweepId) as string[];
  }

  sweepArms(sweepId: string): ArmRow[] {
    return this.db.select().from(s.arms).where(eq(s.arms.sweepId, sweepId)).all()
      .map(({ paramsJson, ...a }) => ({ ...a, params: JSON.parse(paramsJson) as Record<string, unknown> }));
  }

  apply(b: WriteBatch): void {
    const st = this.stmts;
    const now = Date.now();
    this.sqlite.transaction(() => {
      for (const a of b.attempts ?? []) st.upsertAttempt.run(a.id, a.taskId, a.sweepId, a.dispatch, a.delivery, a.workerId, a.status, a.startedMs, a.finishedMs, a.error, a.errorCode);
      for (const l of b.lostAttempts ?? []) st.loseAttempts.run({ taskId: l.taskId, dispatch: l.dispatch, before: l.beforeDelivery, error: l.error, now });
      for (const r of b.results ?? []) {
        const ins = st.insertResult.run(r.taskId, r.sweepId, r.attemptId, r.outputs.length ? JSON.stringify(r.outputs) : '[]', r.details ? JSON.stringify(r.details) : null, r.createdMs);
        if (ins.changes === 0) continue; // a redelivered task's second result: the first one stands
        const L = r.ledger;
        st.insertLedger.run(r.taskId, r.sweepId, r.phase, L.flops, L.tokensPrompt, L.tokensGenerated, L.tokensTrained, L.wallS, L.deviceKind || 'cpu', L.deviceS, L.params, L.curatedExamples, r.reused ? 1 : 0);
        for (const m of r.metrics) st.insertMetric.run(r.taskId, m.name, m.value, m.step);
        for (const o of r.outputs) st.insertArtifact.run({ digest: o.digest, size: o.size, uri: o.uri, mediaType: o.mediaType, role: o.role, taskId: r.taskId, createdMs: r.createdMs });
      }
      for (const t of b.tasks ?? []) st.updateTask.run(t.status, t.dispatches, t.nextDispatchMs, t.workerId, t.startedMs, t.finishedMs, t.error, t.reusedFrom, t.id);
      for (const sw of b.sweeps ?? []) st.updateSweep.run({ id: sw.id, status: sw.status, finishedMs: sw.finishedMs, error: sw.error ?? null });
    })();
  }

  outputsOf(taskIds: string[]): Map<string, ArtifactRef[]> {
    const out = new Map<string, ArtifactRef[]>();
    for (let i = 0; i < taskIds.length; i += 500) {
      const rows = this.db.select({ taskId: s.results.taskId, outputsJson: s.results.outputsJson }).from(s.results).where(inArray(s.results.taskId, taskIds.slice(i, i + 500))).all();
      for (const r of rows) out.set(r.taskId, JSON.parse(r.outputsJson) as ArtifactRef[]);
    }
    return out;
  }

  findCached(cacheKey: string): CachedTask | null {
    const row = this.db.select({ taskId: s.tasks.id, outputsJson: s.results.outputsJson, detailsJson: s.results.detailsJson })
      .from(s.tasks).innerJoin(s.results, eq(s.results.taskId, s.tasks.id))
      .where(and(eq(s.tasks.cacheKey, cacheKey), inArray(s.tasks.status, ['succeeded', 'cached']))).limit(1).get();
    if (!row) return null;
    const l = this.db.select().from(s.ledger).where(eq(s.ledger.taskId, row.taskId)).get();
    const ms = this.db.select().from(s.metrics).where(eq(s.metrics.taskId, row.taskId)).all();
    return {
      taskId: row.taskId,
      outputs: JSON.parse(row.outputsJson) as ArtifactRef[],
      details: row.detailsJson ? JSON.parse(row.detailsJson) : undefined,
      ledger: l ? { flops: l.flops, tokensPrompt: l.tokensPrompt, tokensGenerated: l.tokensGenerated, tokensTrained: l.tokensTrained, wallS: l.wallS, deviceKind: l.deviceKind, deviceS: l.deviceS, params: l.params, curatedExamples: l.curatedExamples } : null,
      metrics: ms.map((m): Metric => ({ name: m.name, value: m.value, step: m.step })),
    };
  }

  taskStates(taskIds: string[]): Map<string, { sweepId: string; status: TaskRow['status']; dispatches: number }> {
    const out = new Map<string, { sweepId: string; status: TaskRow['status']; dispatches: number }>();
    for (let i = 0; i < taskIds.length; i += 500) {
      const rows = this.db.select({ id: s.tasks.id, sweepId: s.tasks.sweepId, status: s.tasks.status, dispatches: s.tasks.dispatches })
        .from(s.tasks).where(inArray(s.tasks.id, taskIds.slice(i, i + 500))).all();
      for (const r of rows) out.set(r.id, { sweepId: r.sweepId, status: r.status as TaskRow['status'], dispatches: r.dispatches });
    }
    return out;
  }

  attemptsOf(taskId: string): AttemptRow[] {
    return this.db.select().from(s.attempts).where(eq(s.attempts.taskId, taskId)).all() as AttemptRow[];
  }

  resultCount(sweepId: string): number {
    // Through tasks: results has no sweep_id index (see schema.ts).
    return this.db.select({ n: sql<number>`count(*)` }).from(s.results)
      .where(inArray(s.results.taskId, this.db.select({ id: s.tasks.id }).from(s.tasks).where(eq(s.tasks.sweepId, sweepId)))).get()?.n ?? 0;
  }

  upsertWorkers(rows: WorkerRow[]): void {
    if (!rows.length) return;
    this.db.transaction((tx) => {
      for (const w of rows) {
        const v = { id: w.id, host: w.host, pool: w.pool, infoJson: JSON.stringify(w.info), state: w.state, runningJson: JSON.stringify(w.running), firstSeenMs: w.firstSeenMs, lastSeenMs: w.lastSeenMs, completed: w.completed, failed: w.failed };
        tx.insert(s.workers).values(v).onConflictDoUpdate({ target: s.workers.id, set: { ...v, firstSeenMs: undefined } }).run();
      }
    });
  }

  forgetWorkers(ids: string[]): void {
    if (!ids.length) return;
    this.db.transaction((tx) => { for (let i = 0; i < ids.length; i += 500) tx.delete(s.workers).where(inArray(s.workers.id, ids.slice(i, i + 500))).run(); });
  }

  listWorkers(): WorkerRow[] {
    return this.db.select().from(s.workers).all().map(({ infoJson, runningJson, ...w }) => ({ ...w, info: JSON.parse(infoJson), running: JSON.parse(runningJson) as string[] }));
  }

  afterDurable(fn: () => void): void {
    if (!this.durable) { fn(); return; }
    if (this.closed) return;
    this.waiting.push(fn);
    if (!this.flushing) this.flushWal();
  }

  private flushWal(): void {
    const fns = this.waiting;
    this.waiting = [];
    let fd: number;
    try {
      fd = this.walFd ??= openSync(`${this.path}-wal`, 'r+');
    } catch (err) {
      // No WAL file: nothing was committed through it (a commit always leaves one in WAL mode).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { for (const f of fns) f(); return; }
      this.walFlushFailed(err as Error, fns.length);
      return;
    }
    this.flushing = true;
    this.walSync(fd, (err) => {
      this.flushing = false;
      if (this.closed) { closeSync(fd); return; }   // closed meanwhile: nothing to ack on
      if (err) this.walFlushFailed(err, fns.length);
      else { this.walFlushes++; for (const f of fns) f(); }
      if (this.waiting.length) this.flushWal();
    });
  }

  /** A flush that failed: its commits may not be on the disk, so their results are not acked
   *  (JetStream delivers them again after the ack wait; storing them again changes nothing). */
  private walFlushFailed(err: Error, n: number): void {
    this.walFlushErrors++;
    this.onWalFlushError(new Error(`flushing the results database's WAL to the disk failed (${err.message}); ${n} batch(es) of results left unacked, to be delivered again`));
  }

  close(): void {
    this.closed = true;
    this.checkpointer?.stop();
    this.sqlite.close();
    // A flush under way closes its descriptor when it ends (closing it now could hand the
    // number to another file before the flush runs).
    if (this.walFd !== null && !this.flushing) closeSync(this.walFd);
    this.walFd = null;
  }
}

/** SqliteStore's `sync` option: see its constructor. */
export type DbSync = 'normal' | 'full';
export const DB_SYNC_MODES: readonly DbSync[] = ['normal', 'full'];

/**
 * Why a write failed, when the cause is the storage and not the data: the disk (or the
 * database's page limit) is full, the file cannot be written, or another process holds
 * it. Such a write succeeds later unchanged, so the caller keeps it and retries; any
 * other error (a constraint) belongs to the rows written and retrying cannot fix it.
 */
export function storageTrouble(err: unknown): string | null {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (code === 'SQLITE_FULL') return 'disk full';
  if (code.startsWith('SQLITE_IOERR')) return `disk write error (${code})`;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_')) return `database busy (${code})`;
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOMEM') return `database not writable (${code})`;
  return null;
}

export function emptyLedger(): LedgerEntry {
  return { flops: 0, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS: 0, deviceKind: 'cpu', deviceS: 0, params: 0, curatedExamples: 0 };
}

function taskFromDb(r: typeof s.tasks.$inferSelect): TaskRow {
  const { depsJson, armsJson, ...rest } = r;
  return { ...rest, status: rest.status as TaskRow['status'], deps: JSON.parse(depsJson), arms: JSON.parse(armsJson) };
}
