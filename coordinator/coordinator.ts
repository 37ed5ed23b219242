// The coordinator: the scheduler, the store and the transport put together, plus the
// read side (sweep views, workers, results) that the gRPC service and the CLI share.
import { provenance } from './provenance.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TaskKind, type ArtifactRef, type WorkerInfo } from '../gen/limolab/v1/task.js';
import { DIGEST_RE } from '../common/hash.js';
import type { GetTaskLogsResponse, Sweep, SweepEvent, TaskArtifact, TaskCounts, TaskSummary, WorkerStatus } from '../gen/limolab/v1/coordinator.js';
import { LimolabError, NotFoundError } from '../common/errors.js';
import type { Transport } from '../common/transport.js';
import { Scheduler, countsOf, type Counts, type SchedulerOptions, type SweepChange } from './scheduler.js';
import type { Store, SweepRow, TaskRow } from './store/store.js';
import type { PlannerRegistry } from './planner.js';
import type { SqliteStore } from './store/sqlite-store.js';
import { SweepAdmin, checkMeta, type SubmitMeta } from './admin.js';

const KIND_BY_NAME: Record<string, TaskKind> = {
  diag: TaskKind.TASK_KIND_DIAG, pretrain: TaskKind.TASK_KIND_PRETRAIN, curate: TaskKind.TASK_KIND_CURATE,
  train: TaskKind.TASK_KIND_TRAIN, rollout: TaskKind.TASK_KIND_ROLLOUT, eval: TaskKind.TASK_KIND_EVAL, probe: TaskKind.TASK_KIND_PROBE,
};

export interface CoordinatorOptions extends SchedulerOptions {
  /** Where artifacts over the object store's size live (file:// refs), to check cached outputs still exist. */
  artifactDir?: string;
}

export class Coordinator {
  readonly scheduler: Scheduler;
  readonly admin: SweepAdmin;

  private artifactDir?: string;

  constructor(readonly store: Store, readonly transport: Transport, planners: PlannerRegistry, opts: CoordinatorOptions = {}) {
    this.artifactDir = opts.artifactDir;
    this.admin = new SweepAdmin(store, (store as SqliteStore).sqlite, () => this.scheduler, transport, summary, opts.log ?? ((l) => console.error(l)));
    this.scheduler = new Scheduler(store, this.admin.capture(transport), planners, opts);
    this.scheduler.on('closed', (row: SweepRow, workerIds: string[] | null) => this.admin.closed(row.id, workerIds));
  }

  start() {
    provenance(); // read once per process (two git child processes): at start, not inside the first submit
    return this.scheduler.start();
  }
  async stop() { await this.scheduler.stop(); }

  /**
   * submit(), after checking that the outputs of every task the cache would reuse still
   * exist: a task whose outputs are gone is computed again (and the log says so).
   */
  async submitVerified(specText: string, source?: string, dryRun = false, meta: SubmitMeta = {}) {
    const missing = new Set<string>();
    for (const ref of this.scheduler.cacheHits(specText, source)) {
      if (!(await outputExists(this.transport, ref, this.artifactDir))) missing.add(ref.digest);
    }
    return this.submit(specText, source, dryRun, meta, missing);
  }

  submit(specText: string, source?: string, dryRun = false, meta: SubmitMeta = {}, missingOutputs?: Set<string>) {
    const m = checkMeta(meta);
    const r = this.scheduler.submit(specText, source, dryRun, missingOutputs);
    if (!dryRun) this.admin.submitted(r.sweep.id, m);
    return { sweep: dryRun ? this.toSweep(r.sweep, countsOf([]), []) : this.getSweep(r.sweep.id, false), planned: r.planned, reused: r.reused, recomputed: r.recomputed.length };
  }

  getSweep(id: string, includeTasks = false): Sweep {
    const live = includeTasks ? this.scheduler.liveSweep(id) : null;
    if (live) return this.toSweep(live.row, live.counts, live.tasks, live.arms);
    const state = includeTasks ? undefined : this.scheduler.sweepState(id);
    if (state) return this.toSweep(state.row, state.counts, [], state.arms);
    const row = this.store.getSweep(id);
    if (!row) throw new NotFoundError(`no sweep with id ${id}; \`limolab sweep list\` shows the sweeps`);
    // Without its tasks: counts and arms from SQL, not from every task row read and parsed
    // (365 ms a call for a finished 20k-task sweep, measured 2026-12-04).
    if (!includeTasks) return this.toSweep(row, countsFrom(this.store.taskCounts(id)), [], this.store.sweepArmNames(id));
    const tasks = this.store.sweepTasks(id);
    return this.toSweep(row, countsOf(tasks), tasks, armsOf(tasks));
  }

  listSweeps(limit = 50, status?: string, opts: { includeArchived?: boolean; tag?: string } = {}): Sweep[] {
    return this.admin.db.listSweeps({ limit, status, ...opts }).map(({ meta, ...r }) => {
      const live = this.scheduler.liveSweep(r.id);
      return this.toSweep(live?.row ?? r, live ? live.counts : countsFrom(this.store.taskCounts(r.id)), [], undefined, meta);
    });
  }

  async cancel(id: string): Promise<Sweep> {
    await this.scheduler.cancel(id);
    return this.getSweep(id);
  }

  /** Calls `send` with the sweep's state now and after each change, until it ends or `signal` aborts. */
  watch(id: string, send: (ev: SweepEvent) => void, signal: AbortSignal): Promise<void> {
    const first = this.getSweep(id);
    send({ tsMs: Date.now(), sweep: first, task: undefined, message: 'state' });
    if (first.status !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      let pending: TaskSummary[] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        timer = undefined;
        const sweep = this.getSweep(id);
        // At thousands of tasks a second, a watcher gets the state every 200 ms and
        // the individual tasks only while they are few.
        if (pending.length <= 50) for (const t of pending) send({ tsMs: Date.now(), sweep, task: t, message: '' });
        else send({ tsMs: Date.now(), sweep, task: undefined, message: `${pending.length} task updates` });
        pending = [];
        if (sweep.status !== 'running') done();
      };
      const onChange = (c: SweepChange) => {
        if (c.sweepId !== id) return;
        if (c.task) pending.push(summary(c.task));
        timer ??= setTimeout(flush, c.task ? 200 : 0);
      };
      const onClosed = (row: SweepRow) => { if (row.id === id) { clearTimeout(timer); flush(); } };
      const done = () => {
        this.scheduler.off('change', onChange);
        this.scheduler.off('closed', onClosed);
        clearTimeout(timer);
        resolve();
      };
      this.scheduler.on('change', onChange);
      this.scheduler.on('closed', onClosed);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  listWorkers(includeLost = false): WorkerStatus[] {
    const workers = this.scheduler.registry.list(includeLost);
    const names = this.admin.db.taskNames(workers.flatMap(([, w]) => w.running));
    return workers.map(([, w]) => ({
      info: w.info as WorkerInfo, state: w.state, running: w.running, runningNames: w.running.map((id) => names.get(id) ?? id),
      lastSeenMs: w.lastSeenMs, completed: w.completed, failed: w.failed,
    }));
  }

  async drainWorker(id: string): Promise<WorkerStatus> {
    const w = this.scheduler.registry.get(id);
    if (!w) throw new NotFoundError(`no worker with id ${id}; \`limolab workers\` lists them`);
    const reply = await this.transport.control(id, { op: { $case: 'drainWorker', value: id } }).catch((err) => {
      throw new NotFoundError(`worker ${id} did not answer the drain request (${(err as Error).message}); it may be gone`);
    });
    if (reply && !reply.ok) throw new NotFoundError(`worker ${id} refused to drain: ${reply.message}`);
    w.state = 'draining';
    return { info: w.info, state: 'draining', running: w.running, runningNames: w.running, lastSeenMs: w.lastSeenMs, completed: w.completed, failed: w.failed };
  }

  // ---------------------------------------------------------------- sweep administration (issue 13)

  /** Sets a sweep's failed, skipped and cancelled tasks, and tasks stuck on a worker that is
   * gone, to run again with a fresh retry budget; succeeded and reused tasks stay as they are.
   * A finished sweep runs again. Resolves with how many tasks were set to run. */
  retrySweep(sweepId: string): Promise<{ requeued: number }> {
    return this.admin.retry(sweepId);
  }

  archiveSweep(id: string, archived = true): Sweep {
    this.admin.archive(id, archived);
    return this.getSweep(id);
  }

  /** Deletes a sweep that is not running; returns how many tasks it had. */
  deleteSweep(id: string): number {
    return this.admin.delete(id);
  }

  taskLogs(id: string, opts: { failedOnly?: boolean; tail?: number } = {}): GetTaskLogsResponse {
    return this.admin.logs(id, opts);
  }

  artifacts(id: string): TaskArtifact[] {
    return this.admin.artifacts(id);
  }

  /** For a running sweep while the database cannot be written (e.g. disk full): say so. */
  private storageNote(row: SweepRow): string {
    const p = this.scheduler.storageProblem;
    if (!p || row.status !== 'running') return '';
    return `coordinator: ${p.why} since ${new Date(p.sinceMs).toISOString()}: results are held unacked and nothing is dispatched until the database can be written again (it resumes by itself)`;
  }

  /** arms: the sweep's arm instances; by default those of `tasks`. */
  private toSweep(row: SweepRow, c: Counts, tasks: (TaskRow & { progress?: number })[], arms: readonly string[] = armsOf(tasks), meta?: Parameters<SweepAdmin['sweepFields']>[1]): Sweep {
    const counts: TaskCounts = { total: c.total, pending: c.pending, queued: c.queued, running: c.running, succeeded: c.succeeded, failed: c.failed, skipped: c.skipped, cancelled: c.cancelled, cached: c.cached };
    return {
      id: row.id, name: row.name, status: row.status, createdMs: row.createdMs, finishedMs: row.finishedMs ?? 0, counts,
      tasks: tasks.map(summary), spec: row.specText, arms: [...arms],
      error: row.error ?? this.storageNote(row), ...this.admin.sweepFields(row.id, meta),
    };
  }
}

async function outputExists(transport: Transport, ref: ArtifactRef, artifactDir?: string): Promise<boolean> {
  if (!DIGEST_RE.test(ref.digest)) return false;
  // Files live in the artifact directory under their digest; the uri's path is not trusted.
  if (ref.uri.startsWith('file://') && artifactDir && transport.kind === 'nats') return existsSync(join(artifactDir, ref.digest));
  return transport.artifacts.has(ref.digest).catch(() => false);
}

/** The distinct arm instances of `tasks`, in their order. */
function armsOf(tasks: readonly TaskRow[]): string[] {
  return [...new Set(tasks.map((t) => t.arm))];
}

function countsFrom(by: Partial<Record<string, number>>): Counts {
  const c = countsOf([]);
  for (const [k, n] of Object.entries(by)) { (c as Record<string, number>)[k] = n ?? 0; c.total += n ?? 0; }
  return c;
}

export function summary(t: TaskRow & { progress?: number }): TaskSummary {
  return {
    id: t.id, arm: t.arm, kind: KIND_BY_NAME[t.kind] ?? TaskKind.TASK_KIND_UNSPECIFIED, phase: t.phase, status: t.status,
    attempts: t.dispatches, workerId: t.workerId ?? '', error: t.error ?? '', progress: t.status === 'succeeded' ? 1 : t.progress ?? 0, name: t.name, seed: t.seed,
  };
}
