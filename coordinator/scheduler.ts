// The scheduler: the coordinator's domain core. It keeps the DAG of every running sweep
// in memory (rebuilt from the store at start), publishes tasks whose dependencies are
// met (highest priority first, up to a window of tasks in flight), ingests results in
// batches (one transaction, then acks: a result is never acked before it is stored),
// retries failed attempts with backoff, skips dependents of failed tasks, and cancels.
// It talks to a Store and a Transport interface, never to SQLite or NATS directly.
import { EventEmitter } from 'node:events';
import { Task, type ArtifactRef, type TaskEvent, type TaskResult } from '../gen/limolab/v1/task.js';
import { NotFoundError } from '../common/errors.js';
import { newId } from '../common/hash.js';
import type { DeliveredResult, Transport } from '../common/transport.js';
import { parseSweepSpec } from './spec.js';
import { planSweep, type PlannerRegistry } from './planner.js';
import { emptyLedger } from './store/sqlite-store.js';
import { TERMINAL, type AttemptRow, type ResultRecord, type Store, type SweepRow, type SweepStatus, type TaskRow, type TaskStatus, type WriteBatch } from './store/store.js';
import { WorkerRegistry } from './registry.js';
import { MinHeap } from './heap.js';

export interface SchedulerOptions {
  maxInFlight?: number;      // tasks published but not finished, across sweeps
  lostAfterMs?: number;      // heartbeat silence before a worker is marked lost
  log?: (line: string) => void;
}

interface LiveTask extends TaskRow {
  dependents: string[];
  waiting: number;           // dependencies not yet succeeded
  progress: number;
  backoffMs: number;
}

export type Counts = Record<TaskStatus, number> & { total: number };
interface LiveSweep { row: SweepRow; counts: Counts; taskIds: string[]; pools: Set<string> }

export interface SweepChange { sweepId: string; task?: LiveTask; message?: string }

const emptyCounts = (): Counts => ({ total: 0, pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, cached: 0 });

export class Scheduler extends EventEmitter {
  private tasks = new Map<string, LiveTask>();
  private sweeps = new Map<string, LiveSweep>();
  private ready = new MinHeap<string>();
  private seq = 0;
  private inFlight = 0;
  private timers: NodeJS.Timeout[] = [];
  private closers: { close(): unknown }[] = [];
  private pumping = false;
  private pumpAgain = false;
  readonly registry: WorkerRegistry;
  private maxInFlight: number;
  private log: (line: string) => void;

  constructor(private store: Store, private transport: Transport, private planners: PlannerRegistry, opts: SchedulerOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.maxInFlight = opts.maxInFlight ?? 20_000;
    this.log = opts.log ?? ((l) => console.error(l));
    this.registry = new WorkerRegistry(opts.lostAfterMs ?? 10_000, store.listWorkers());
  }

  /** Loads running sweeps from the store and starts consuming results and events. */
  async start(): Promise<void> {
    for (const sw of this.store.activeSweeps()) this.load(sw);
    // Tasks recorded as queued may not have reached JetStream before a crash: publish
    // them again. The msg-id dedup window and idempotent ingestion absorb doubles.
    const requeue = [...this.tasks.values()].filter((t) => t.status === 'queued');
    if (requeue.length) {
      this.log(`coordinator: resuming ${this.sweeps.size} sweep(s); re-publishing ${requeue.length} queued task(s)`);
      await this.transport.publishTasks(requeue.map((t) => this.buildTask(t)));
    }
    this.closers.push(this.transport.consumeResults((b) => this.onResults(b), (e) => this.log(`coordinator: rejected a result message: ${e.message}`)));
    this.closers.push(this.transport.subscribeEvents((e) => this.onEvent(e), (e) => this.log(`coordinator: rejected an event message: ${e.message}`)));
    this.closers.push(this.transport.subscribeHeartbeats((hb) => this.registry.heartbeat(hb)));
    this.timers.push(setInterval(() => this.tick(), 250));
    this.pump();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const c of this.closers) await c.close();
    this.store.upsertWorkers(this.registry.takeDirty());
  }

  // ---------------------------------------------------------------- submission

  submit(specText: string, source = 'sweep spec', dryRun = false): { sweep: SweepRow; planned: number; reused: number } {
    const spec = parseSweepSpec(specText, source);
    const id = newId(spec.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24));
    const now = Date.now();
    const plan = planSweep(id, spec, this.planners, (k) => this.store.findCached(k), now);
    const row: SweepRow = { id, name: spec.name, status: 'running', priority: spec.priority, specText, specJson: JSON.stringify(spec), createdMs: now, finishedMs: null, error: null };
    if (dryRun) return { sweep: row, planned: plan.tasks.length, reused: plan.cached.size };
    // Tasks that can go out at once are written already queued: one write per task instead
    // of an insert and an update. Only when nothing else waits, so priorities still hold.
    const first: string[] = [];
    if (this.ready.size === 0) {
      let room = this.maxInFlight - this.inFlight;
      for (const t of plan.tasks) {
        if (room <= 0) break;
        if (t.status === 'pending' && t.deps.length === 0) { t.status = 'queued'; t.dispatches = 1; first.push(t.id); room--; }
      }
    }
    this.store.createSweep(row, plan.arms, plan.tasks, plan.cached);
    this.load(row, plan.tasks);
    if (first.length) void this.publishQueued(first.map((id) => this.tasks.get(id)!));
    this.log(`coordinator: sweep ${id} (${spec.name}) planned ${plan.tasks.length} task(s), ${plan.cached.size} reused`);
    this.checkDone(id);
    this.pump();
    return { sweep: row, planned: plan.tasks.length, reused: plan.cached.size };
  }

  private load(row: SweepRow, planned?: TaskRow[]): void {
    const rows = planned ?? this.store.sweepTasks(row.id);
    const backoff = (JSON.parse(row.specJson) as { defaults?: { backoff_ms?: number } }).defaults?.backoff_ms ?? 1000;
    const sw: LiveSweep = { row, counts: emptyCounts(), taskIds: [], pools: new Set() };
    this.sweeps.set(row.id, sw);
    for (const r of rows) {
      const t: LiveTask = { ...r, dependents: [], waiting: 0, progress: 0, backoffMs: backoff };
      this.tasks.set(t.id, t);
      sw.taskIds.push(t.id);
      sw.pools.add(t.pool);
      sw.counts.total++;
      sw.counts[t.status]++;
      if (t.status === 'queued' || t.status === 'running') this.inFlight++;
    }
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      for (const d of t.deps) {
        const dep = this.tasks.get(d.task);
        if (!dep) continue;
        dep.dependents.push(t.id);
        if (dep.status !== 'succeeded' && dep.status !== 'cached') t.waiting++;
      }
    }
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      if (t.status === 'pending' && t.waiting === 0) this.enqueue(t);
    }
  }

  private enqueue(t: LiveTask): void {
    if (t.nextDispatchMs && t.nextDispatchMs > Date.now()) return; // tick() enqueues it when due
    this.ready.push(t.id, -t.priority, this.seq++);
  }

  // ---------------------------------------------------------------- dispatch

  private pump(): void {
    if (this.pumping) { this.pumpAgain = true; return; }
    this.pumping = true;
    void (async () => {
      try {
        do {
          this.pumpAgain = false;
          const batch: LiveTask[] = [];
          while (this.inFlight + batch.length < this.maxInFlight && this.ready.size) {
            const t = this.tasks.get(this.ready.pop()!);
            if (!t || t.status !== 'pending' || t.waiting > 0) continue;
            batch.push(t);
          }
          if (!batch.length) break;
          for (const t of batch) {
            t.dispatches++;
            t.nextDispatchMs = null;
            this.setStatus(t, 'queued');
          }
          this.inFlight += batch.length;
          this.store.apply({ tasks: batch });
          await this.publishQueued(batch);
        } while (this.pumpAgain || (this.ready.size > 0 && this.inFlight < this.maxInFlight));
      } finally {
        this.pumping = false;
      }
    })();
  }

  /** Publishes tasks already marked queued (and counted in flight); on failure they go
   * back to pending and the next tick tries again. */
  private async publishQueued(batch: LiveTask[]): Promise<void> {
    try {
      const ts = Date.now();
      await this.transport.publishTasks(batch.map((t) => this.buildTask(t)));
      if (this.listenerCount('dispatched')) this.emit('dispatched', batch.map((t) => t.id), ts);
    } catch (err) {
      this.log(`coordinator: publishing ${batch.length} task(s) failed (${(err as Error).message}); retrying`);
      for (const t of batch) { t.dispatches--; this.setStatus(t, 'pending'); t.nextDispatchMs = Date.now() + 1000; }
      this.inFlight -= batch.length;
      this.store.apply({ tasks: batch });
    }
  }

  private buildTask(t: LiveTask): Task {
    const task: Task = t.task ? { ...t.task } : Task.decode(Buffer.from(t.taskProto, 'base64'));
    task.attempt = t.dispatches;
    if (t.deps.length) {
      const outs = this.store.outputsOf(t.deps.map((d) => d.task));
      const inputs: ArtifactRef[] = [];
      for (const d of t.deps) for (const o of outs.get(d.task) ?? []) if (o.role === d.role) inputs.push(o);
      task.inputs = inputs;
    }
    return task;
  }

  // ---------------------------------------------------------------- results

  private async onResults(batch: DeliveredResult[]): Promise<void> {
    const w: Required<Pick<WriteBatch, 'attempts' | 'results' | 'tasks'>> & WriteBatch = { attempts: [], results: [], tasks: [], sweeps: [] };
    const touched = new Set<string>();
    const changed: LiveTask[] = [];
    for (const { result: r } of batch) {
      const [dispatch, delivery] = [r.attempt || 1, r.delivery || 1];
      const err = r.error;
      w.attempts.push({
        id: r.attemptId, taskId: r.taskId, sweepId: r.sweepId, dispatch, delivery, workerId: r.workerId || null,
        status: err ? (err.code === 'cancelled' ? 'cancelled' : 'failed') : 'succeeded',
        startedMs: r.startedMs || null, finishedMs: r.finishedMs || Date.now(), error: err?.message ?? null, errorCode: err?.code ?? null,
      } satisfies AttemptRow);
      const t = this.tasks.get(r.taskId);
      if (!t || TERMINAL.has(t.status)) continue;  // a late or doubled result: the attempt is kept, nothing else changes
      touched.add(t.sweepId);
      if (!err) {
        w.results.push(toResultRecord(r, t.phase));
        t.workerId = r.workerId || t.workerId;
        t.startedMs ??= r.startedMs || null;
        t.finishedMs = r.finishedMs || Date.now();
        t.error = null;
        this.finish(t, 'succeeded', changed);
        for (const id of t.dependents) {
          const d = this.tasks.get(id)!;
          if (--d.waiting === 0 && d.status === 'pending') this.enqueue(d);
        }
      } else if (err.code === 'cancelled' || this.sweeps.get(t.sweepId)?.row.status === 'cancelled') {
        t.error = err.message;
        this.finish(t, 'cancelled', changed);
      } else if (err.retryable !== false && t.dispatches <= t.maxRetries) {
        const delay = Math.min(60_000, t.backoffMs * 2 ** (t.dispatches - 1));
        t.error = err.message;
        t.nextDispatchMs = Date.now() + delay;
        this.inFlight--;
        this.setStatus(t, 'pending');
        changed.push(t);
        this.log(`coordinator: task ${t.name} (${t.id}) attempt ${t.dispatches} failed: ${err.message}; retry ${t.dispatches}/${t.maxRetries} in ${delay} ms`);
      } else {
        t.error = err.message;
        t.finishedMs = r.finishedMs || Date.now();
        this.finish(t, 'failed', changed);
        this.log(`coordinator: task ${t.name} (${t.id}) failed after ${t.dispatches} attempt(s): ${err.message}`);
        this.skipDependents(t, changed);
      }
    }
    w.tasks = changed;
    this.store.apply(w);
    for (const { ack } of batch) ack();
    for (const t of changed) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
    for (const id of touched) this.checkDone(id);
    this.pump();
  }

  private finish(t: LiveTask, status: TaskStatus, changed: LiveTask[]): void {
    if (t.status === 'queued' || t.status === 'running') this.inFlight--;
    t.finishedMs ??= Date.now();
    this.setStatus(t, status);
    changed.push(t);
  }

  private skipDependents(t: LiveTask, changed: LiveTask[]): void {
    const stack = [...t.dependents];
    while (stack.length) {
      const d = this.tasks.get(stack.pop()!)!;
      if (TERMINAL.has(d.status)) continue;
      d.error = `skipped: dependency ${t.name} (${t.id}) failed: ${t.error}`;
      this.finish(d, 'skipped', changed);
      stack.push(...d.dependents);
    }
  }

  private setStatus(t: LiveTask, s: TaskStatus): void {
    const sw = this.sweeps.get(t.sweepId);
    if (sw) { sw.counts[t.status]--; sw.counts[s]++; }
    t.status = s;
  }

  private checkDone(sweepId: string): void {
    const sw = this.sweeps.get(sweepId);
    if (!sw || sw.row.status !== 'running') return;
    const c = sw.counts;
    if (c.pending + c.queued + c.running > 0) return;
    const status: SweepStatus = c.failed > 0 ? 'failed' : 'succeeded';
    this.closeSweep(sw, status, c.failed > 0 ? `${c.failed} task(s) failed, ${c.skipped} skipped` : null);
  }

  private closeSweep(sw: LiveSweep, status: SweepStatus, error: string | null): void {
    sw.row = { ...sw.row, status, finishedMs: Date.now(), error };
    this.store.apply({ sweeps: [{ id: sw.row.id, status, finishedMs: sw.row.finishedMs, error }] });
    this.log(`coordinator: sweep ${sw.row.id} ${status}${error ? `: ${error}` : ''}`);
    this.emit('change', { sweepId: sw.row.id, message: `sweep ${status}` } satisfies SweepChange);
    // Finished sweeps leave memory; the store answers for them from now on.
    for (const id of sw.taskIds) this.tasks.delete(id);
    this.sweeps.delete(sw.row.id);
    this.emit('closed', sw.row);
  }

  // ---------------------------------------------------------------- events, time

  private startedBatch: AttemptRow[] = [];
  private startedTasks: LiveTask[] = [];
  private lostBatch: NonNullable<WriteBatch['lostAttempts']> = [];

  private onEvent(ev: TaskEvent): void {
    const t = this.tasks.get(ev.taskId);
    if (!ev.event) return;
    if (ev.event.$case === 'started') {
      const [dispatch] = ev.attemptId.split('#')[1]?.split('.').map(Number) ?? [1];
      const delivery = ev.event.value.delivery;
      this.startedBatch.push({ id: ev.attemptId, taskId: ev.taskId, sweepId: ev.sweepId, dispatch: dispatch || 1, delivery, workerId: ev.workerId, status: 'running', startedMs: Number(ev.tsMs) || Date.now(), finishedMs: null, error: null, errorCode: null });
      if (delivery > 1) this.lostBatch.push({ taskId: ev.taskId, dispatch: dispatch || 1, beforeDelivery: delivery, error: `lease expired; redelivered to ${ev.workerId}` });
      if (t?.error?.startsWith('waiting:')) t.error = null;
      if (t && t.status === 'queued') {
        this.setStatus(t, 'running');
        t.workerId = ev.workerId;
        t.startedMs ??= Number(ev.tsMs) || Date.now();
        this.startedTasks.push(t);
      } else if (t && t.status === 'running') {
        t.workerId = ev.workerId;
        this.startedTasks.push(t);
      }
    } else if (ev.event.$case === 'progress' && t) {
      t.progress = ev.event.value.fraction;
    }
    if (t) this.emit('event', ev);
  }

  private lastFitCheck = 0;

  /** Queued tasks that no live worker of their pool can run (kind, GPUs, CPUs) would wait
   * forever, given back by every worker: say so on the task and in the log. */
  private checkPlacement(now: number): LiveTask[] {
    const live = this.registry.list().map(([, w]) => w);
    if (!live.length) return [];
    const flagged: LiveTask[] = [];
    for (const sw of this.sweeps.values()) {
      if (!sw.counts.queued) continue;
      for (const id of sw.taskIds) {
        const t = this.tasks.get(id)!;
        if (t.status !== 'queued' || t.error?.startsWith('waiting:')) continue;
        const task = (t.task ??= Task.decode(Buffer.from(t.taskProto, 'base64')));
        const need = task.resources;
        const pool = live.filter((w) => w.info.pool === t.pool);
        const fits = pool.some((w) => w.info.kinds.includes(task.kind) && (need?.gpus ?? 0) <= w.info.gpus.length && (need?.cpus ?? 0) <= w.info.cpus);
        if (fits) continue;
        t.error = `waiting: no live worker in pool "${t.pool}" can run it (kind ${t.kind}, ${need?.gpus ?? 0} GPU(s), ${need?.cpus ?? 0} CPU(s)); `
          + (pool.length ? `pool workers: ${pool.map((w) => `${w.info.id} (${w.info.gpus.length} GPU(s), ${w.info.cpus} CPUs)`).join(', ')}` : 'start one with `limolab worker --pool ' + t.pool + '`');
        flagged.push(t);
      }
    }
    for (const t of flagged.slice(0, 5)) this.log(`coordinator: task ${t.name} (${t.id}) ${t.error}`);
    if (flagged.length > 5) this.log(`coordinator: ... and ${flagged.length - 5} more task(s) no worker can run`);
    this.lastFitCheck = now;
    return flagged;
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastFitCheck > 5000) {
      const flagged = this.checkPlacement(now);
      if (flagged.length) {
        this.store.apply({ tasks: flagged });
        for (const t of flagged) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
      }
    }
    if (this.startedBatch.length || this.lostBatch.length) {
      const tasks = this.startedTasks.filter((t) => !TERMINAL.has(t.status));
      this.store.apply({ attempts: this.startedBatch, lostAttempts: this.lostBatch, tasks });
      for (const t of tasks) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
      this.startedBatch = []; this.startedTasks = []; this.lostBatch = [];
    }
    let due = false;
    for (const sw of this.sweeps.values()) {
      if (!sw.counts.pending) continue;
      for (const id of sw.taskIds) {
        const t = this.tasks.get(id)!;
        if (t.status === 'pending' && t.waiting === 0 && t.nextDispatchMs && t.nextDispatchMs <= now) {
          t.nextDispatchMs = null;
          this.enqueue(t);
          due = true;
        }
      }
    }
    for (const lost of this.registry.sweepLost(now)) {
      this.log(`coordinator: worker ${lost.id} missed its heartbeats; marked lost (its ${lost.running.length} task(s) return after their lease)`);
      this.emit('worker-lost', lost.id);
    }
    this.store.upsertWorkers(this.registry.takeDirty());
    if (due) this.pump();
  }

  // ---------------------------------------------------------------- control

  async cancel(sweepId: string): Promise<SweepRow> {
    const sw = this.sweeps.get(sweepId);
    if (!sw) {
      const row = this.store.getSweep(sweepId);
      if (!row) throw new NotFoundError(`no sweep ${sweepId}; \`limolab sweep list\` shows the sweeps`);
      return row; // already finished
    }
    sw.row = { ...sw.row, status: 'cancelled' };
    const changed: LiveTask[] = [];
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      if (!TERMINAL.has(t.status)) { t.error = 'cancelled'; this.finish(t, 'cancelled', changed); }
    }
    this.store.apply({ tasks: changed });
    await this.transport.control('all', { op: { $case: 'cancelSweep', value: sweepId } });
    const purged = await this.transport.purgeSweepTasks(sweepId, [...sw.pools]).catch(() => 0);
    this.log(`coordinator: sweep ${sweepId} cancelled; ${purged} queued message(s) purged, running tasks told to stop`);
    for (const t of changed) this.emit('change', { sweepId, task: t } satisfies SweepChange);
    this.closeSweep(sw, 'cancelled', 'cancelled by request');
    this.pump();
    return sw.row;
  }

  /** Retry (issue 13; coordinator/admin.ts): the store already holds these tasks as pending
   * with the given retry budgets. A finished sweep is loaded again from the store; a live
   * one takes the tasks back in memory (a queued or running one leaves the in-flight count). */
  reopen(sweepId: string, budgets: Map<string, number>): void {
    const sw = this.sweeps.get(sweepId);
    if (!sw) {
      const row = this.store.getSweep(sweepId);
      if (!row) throw new NotFoundError(`no sweep ${sweepId}; \`limolab sweep list\` shows the sweeps`);
      this.load(row);
      this.emit('change', { sweepId, message: 'sweep retried' } satisfies SweepChange);
      this.pump();
      return;
    }
    const reopened: LiveTask[] = [];
    for (const [id, maxRetries] of budgets) {
      const t = this.tasks.get(id);
      if (!t || t.sweepId !== sweepId) continue;
      if (t.status === 'queued' || t.status === 'running') this.inFlight--;
      Object.assign(t, { maxRetries, workerId: null, nextDispatchMs: null, startedMs: null, finishedMs: null, error: null, leaseAttempt: undefined });
      this.setStatus(t, 'pending');
      reopened.push(t);
    }
    for (const t of reopened) {
      t.waiting = t.deps.filter((d) => { const s = this.tasks.get(d.task)?.status; return s !== undefined && s !== 'succeeded' && s !== 'cached'; }).length;
    }
    for (const t of reopened) {
      if (t.waiting === 0) this.enqueue(t);
      this.emit('change', { sweepId, task: t } satisfies SweepChange);
    }
    this.pump();
  }

  // ---------------------------------------------------------------- views

  liveSweep(id: string): { row: SweepRow; counts: Counts; tasks: LiveTask[] } | null {
    const sw = this.sweeps.get(id);
    if (!sw) return null;
    return { row: sw.row, counts: { ...sw.counts }, tasks: sw.taskIds.map((i) => this.tasks.get(i)!) };
  }

  get inFlightCount() { return this.inFlight; }
}

function toResultRecord(r: TaskResult, phase: string): ResultRecord {
  return {
    taskId: r.taskId, sweepId: r.sweepId, attemptId: r.attemptId, phase, outputs: r.outputs, details: r.details,
    metrics: r.metrics, ledger: { ...emptyLedger(), ...(r.ledger ?? {}) }, reused: false, createdMs: Date.now(),
  };
}

export function countsOf(tasks: { status: TaskStatus }[]): Counts {
  const c = emptyCounts();
  for (const t of tasks) { c.total++; c[t.status]++; }
  return c;
}
