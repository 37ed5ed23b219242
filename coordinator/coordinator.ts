// The coordinator: the scheduler, the store and the transport put together, plus the
// read side (sweep views, workers, results) that the gRPC service and the CLI share.
import { TaskKind, type WorkerInfo } from '../gen/limolab/v1/task.js';
import type { GetTaskLogsResponse, Sweep, SweepEvent, TaskArtifact, TaskCounts, TaskSummary, WorkerStatus } from '../gen/limolab/v1/coordinator.js';
import { LimolabError, NotFoundError } from '../common/errors.js';
import type { Transport } from '../common/transport.js';
import { Scheduler, countsOf, type Counts, type SweepChange } from './scheduler.js';
import type { Store, SweepRow, TaskRow } from './store/store.js';
import type { PlannerRegistry } from './planner.js';

const KIND_BY_NAME: Record<string, TaskKind> = {
  diag: TaskKind.TASK_KIND_DIAG, pretrain: TaskKind.TASK_KIND_PRETRAIN, curate: TaskKind.TASK_KIND_CURATE,
  train: TaskKind.TASK_KIND_TRAIN, rollout: TaskKind.TASK_KIND_ROLLOUT, eval: TaskKind.TASK_KIND_EVAL, probe: TaskKind.TASK_KIND_PROBE,
};

export interface CoordinatorOptions { maxInFlight?: number; lostAfterMs?: number; log?: (line: string) => void }

export class Coordinator {
  readonly scheduler: Scheduler;

  constructor(readonly store: Store, readonly transport: Transport, planners: PlannerRegistry, opts: CoordinatorOptions = {}) {
    this.scheduler = new Scheduler(store, transport, planners, opts);
  }

  start() { return this.scheduler.start(); }
  async stop() { await this.scheduler.stop(); }

  submit(specText: string, source?: string, dryRun = false) {
    const r = this.scheduler.submit(specText, source, dryRun);
    return { sweep: dryRun ? this.toSweep(r.sweep, countsOf([]), []) : this.getSweep(r.sweep.id, false), planned: r.planned, reused: r.reused };
  }

  getSweep(id: string, includeTasks = false): Sweep {
    const live = this.scheduler.liveSweep(id);
    if (live) return this.toSweep(live.row, live.counts, includeTasks ? live.tasks : [], live.tasks);
    const row = this.store.getSweep(id);
    if (!row) throw new NotFoundError(`no sweep with id ${id}; \`limolab sweep list\` shows the sweeps`);
    const tasks = this.store.sweepTasks(id);
    return this.toSweep(row, countsOf(tasks), includeTasks ? tasks : [], tasks);
  }

  listSweeps(limit = 50, status?: string): Sweep[] {
    return this.store.listSweeps(limit, status).map((r) => {
      const live = this.scheduler.liveSweep(r.id);
      return this.toSweep(live?.row ?? r, live ? live.counts : countsFrom(this.store.taskCounts(r.id)), []);
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
    return this.scheduler.registry.list(includeLost).map(([, w]) => ({
      info: w.info as WorkerInfo, state: w.state, running: w.running, runningNames: w.running, lastSeenMs: w.lastSeenMs, completed: w.completed, failed: w.failed,
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

  /** Sets a sweep's failed, skipped, cancelled and stuck tasks to run again; succeeded tasks stay. */
  async retrySweep(sweepId: string): Promise<{ requeued: number }> {
    throw new LimolabError(`retry of ${sweepId} is not implemented yet`);
  }

  archiveSweep(id: string, archived = true): Sweep {
    throw new LimolabError(`archive of ${id} (${archived}) is not implemented yet`);
  }

  deleteSweep(id: string): number {
    throw new LimolabError(`delete of ${id} is not implemented yet`);
  }

  taskLogs(id: string, opts: { failedOnly?: boolean; tail?: number } = {}): GetTaskLogsResponse {
    throw new LimolabError(`logs of ${id} (${JSON.stringify(opts)}) are not implemented yet`);
  }

  artifacts(id: string): TaskArtifact[] {
    throw new LimolabError(`artifacts of ${id} are not implemented yet`);
  }

  private toSweep(row: SweepRow, c: Counts, tasks: (TaskRow & { progress?: number })[], all: TaskRow[] = tasks): Sweep {
    const counts: TaskCounts = { total: c.total, pending: c.pending, queued: c.queued, running: c.running, succeeded: c.succeeded, failed: c.failed, skipped: c.skipped, cancelled: c.cancelled, cached: c.cached };
    return {
      id: row.id, name: row.name, status: row.status, createdMs: row.createdMs, finishedMs: row.finishedMs ?? 0, counts,
      tasks: tasks.map(summary), spec: row.specText, arms: [...new Set(all.map((t) => t.arm))],
      tags: [], note: '', archived: false, error: row.error ?? '',
    };
  }
}

function countsFrom(by: Partial<Record<string, number>>): Counts {
  const c = countsOf([]);
  for (const [k, n] of Object.entries(by)) { (c as Record<string, number>)[k] = n ?? 0; c.total += n ?? 0; }
  return c;
}

function summary(t: TaskRow & { progress?: number }): TaskSummary {
  return {
    id: t.id, arm: t.arm, kind: KIND_BY_NAME[t.kind] ?? TaskKind.TASK_KIND_UNSPECIFIED, phase: t.phase, status: t.status,
    attempts: t.dispatches, workerId: t.workerId ?? '', error: t.error ?? '', progress: t.status === 'succeeded' ? 1 : t.progress ?? 0, name: t.name, seed: t.seed,
  };
}
