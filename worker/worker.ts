// A worker: pulls tasks its runners can run from its pool's JetStream consumer, runs up
// to `slots` at once, keeps each task's lease alive with in-progress acks, publishes a
// result (durably) and only then acks the task. It heartbeats, answers control requests
// (drain, cancel) and, when draining, finishes what it has and takes nothing more.
import { randomBytes } from 'node:crypto';
import { Heartbeat, TaskKind, WorkerState, type ControlReply, type ControlRequest, type LogLine, type Task, type TaskEvent, type TaskResult, type WorkerInfo } from '../gen/limolab/v1/task.js';
import type { DeliveredTask, Transport } from '../common/transport.js';
import { detectGpus, detectHost } from './capabilities.js';
import { BadTaskInputError, TaskCancelledError, type ArtifactIO, type Runner, type RunOutput, type TaskContext } from './runner.js';
import { TaskTiming, timed, timeMetric, type TimePart } from '../common/task-timing.js';
import { kindName } from '../common/wire.js';

export interface WorkerOptions {
  id?: string;
  pool?: string;
  slots?: number;               // tasks at once
  runners: Runner[];
  heartbeatMs?: number;
  pullExpiresMs?: number;
  log?: (line: string) => void;
  gpus?: ReturnType<typeof detectGpus>;
}

interface Running {
  dt: DeliveredTask; attemptId: string; reason?: 'cancelled' | 'timeout' | 'shutdown'; tail: LogLine[]; tailBytes: number;
  startedMs: number;
  /** The runner has returned (or thrown): no start announce from here on. The lease is still
   *  renewed until the result is stored and the task acked (or given up on). */
  settled: boolean;
  /** When (performance.now()) its start is announced unless it has settled by then. */
  announceAt: number;
  /** Made when the runner first asks for its signal (an AbortController costs more than a no-op task). */
  ac?: AbortController;
  aborted: boolean;
  onAbort?: () => void;
  /** One of a bundle's tasks: not counted in the slots (its bundle is). */
  bundled: boolean;
}

function abortRun(r: Running): void {
  if (r.aborted) return;
  r.aborted = true;
  r.ac?.abort();
  r.onAbort?.();
}

function signalOf(r: Running): AbortSignal {
  if (!r.ac) { r.ac = new AbortController(); if (r.aborted) r.ac.abort(); }
  return r.ac.signal;
}

/** The log tail a result carries: the last lines of the attempt, bounded so that a batch of
 * results stays far below NATS's 1 MiB message limit. */
const TAIL_LINES = 50;
const TAIL_BYTES = 16 * 1024;
const LINE_CHARS = 1000;

function keepLine(rec: Running, source: string, text: string): void {
  const line = text.length > LINE_CHARS ? `${text.slice(0, LINE_CHARS - 3)}...` : text;
  rec.tail.push({ tsMs: Date.now(), source, line });
  rec.tailBytes += line.length;
  while (rec.tail.length > TAIL_LINES || rec.tailBytes > TAIL_BYTES) rec.tailBytes -= rec.tail.shift()!.line.length;
}

/** A task that finishes within this long reports its start with its result instead: one
 * message and two SQLite writes fewer per task on the dispatch path. */
const ANNOUNCE_MS = 20;

/** A worker asks for at most this many messages at once, and while bundles come, holds at most
 *  this many (running or asked for), whatever its slots. A bundle is about 2 ms of
 *  sub-millisecond tasks run one after another (see BUNDLE_BUDGET_MS in coordinator/scheduler.ts),
 *  so a few keep the worker busy across a pull's round trip; a slot per bundle let a worker with
 *  256 slots take 16,384 of a sweep's tasks at once, ahead of the other workers, and collect
 *  their garbage. Measured before this limit
 *  (bench:dispatch throughput rows, one worker, 05:29-05:33 on 2026-12-05): --slots 8 ran
 *  11.5-13.0k tasks/s with the worker using 0.60-0.71 CPU s, --slots 256 9.4-11.0k and 1.21-1.37 s. */
const BUNDLES_AHEAD = 8;

export class Worker {
  readonly id: string;
  readonly pool: string;
  readonly slots: number;
  private running = new Map<string, Running>();
  private outstanding = 0;
  /** Bundles being run (each takes one slot, see runBundle), and how many of `running` are their tasks. */
  private bundles = 0;
  private bundledRunning = 0;
  /** The last message taken was a bundle: pulls keep to BUNDLES_AHEAD until a lone task comes. */
  private bundling = false;
  private draining = false;
  private aborting = false;
  private stopped = false;
  private completed = 0;
  private failed = 0;
  private timers: NodeJS.Timeout[] = [];
  private closers: { close(): unknown }[] = [];
  private cancelledSweeps = new Set<string>();
  private byKind = new Map<TaskKind, Runner[]>();
  private info: WorkerInfo;
  private log: (line: string) => void;
  private slotFreed: (() => void) | null = null;
  /** Running tasks waiting for their start announce, in start order (so due times ascend). */
  private announceQ: Running[] = [];
  private announceTimer: NodeJS.Timeout | null = null;
  private readonly leaseMs: number;
  private drained!: Promise<void>;
  private resolveDrained!: () => void;

  constructor(private transport: Transport, private opts: WorkerOptions) {
    const host = detectHost();
    this.pool = opts.pool ?? 'default';
    this.slots = opts.slots ?? 1;
    this.id = opts.id ?? `${host.host.replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}-${randomBytes(2).toString('hex')}`;
    this.log = opts.log ?? ((l) => console.error(l));
    for (const r of opts.runners) for (const k of r.kinds) this.byKind.set(k, [...(this.byKind.get(k) ?? []), r]);
    this.info = {
      id: this.id, host: host.host, pool: this.pool, cpus: host.cpus, memoryMb: host.memoryMb, gpus: opts.gpus ?? detectGpus(),
      runners: [...new Set(opts.runners.map((r) => r.name))], kinds: [...this.byKind.keys()], slots: this.slots,
      version: '0.1.0', startedMs: Date.now(), pid: process.pid,
    };
    this.drained = new Promise((r) => { this.resolveDrained = r; });
    this.leaseMs = Math.max(500, Math.floor(this.transport.ackWaitMs / 3));
  }

  /** Starts heartbeats, control and the pull loop; resolves when it has drained and stopped. */
  async run(): Promise<void> {
    this.heartbeat();
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs ?? 2000));
    this.timers.push(setInterval(() => this.renewLeases(), this.leaseMs / 2));
    this.closers.push(this.transport.serveControl(this.id, (req) => this.control(req)));
    this.log(`worker ${this.id}: pool ${this.pool}, ${this.slots} slot(s), kinds ${this.info.kinds.map(kindName).join(', ')}`);
    void this.pullLoop();
    await this.drained;
    await this.shutdown();
  }

  /** Finish running tasks, take no more, then stop. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.log(`worker ${this.id}: draining (${this.running.size} task(s) to finish)`);
    this.heartbeat();
    this.slotFreed?.();
    if (this.idle()) this.resolveDrained();
  }

  /** Nothing running, no bundle under way, no pull waiting for messages. */
  private idle(): boolean { return this.running.size === 0 && this.bundles === 0 && this.outstanding === 0; }

  /** Stop now: running tasks are aborted and given back for another worker. */
  abort(): void {
    this.aborting = true;
    for (const r of this.running.values()) { r.reason = 'shutdown'; abortRun(r); }
    this.drain();
  }

  private async shutdown() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    this.publishHeartbeat(WorkerState.WORKER_STATE_STOPPED);
    for (const c of this.closers) await c.close();
    this.log(`worker ${this.id}: stopped (${this.completed} completed, ${this.failed} failed)`);
  }

  private async pullLoop() {
    const expires = this.opts.pullExpiresMs ?? 5000;
    // Several fetches may be open at once: a slot that frees up is offered again at once
    // instead of waiting for an open fetch to expire. Small top-ups are batched.
    const minBatch = Math.max(1, Math.min(BUNDLES_AHEAD, Math.floor(this.slots / 8)));
    while (!this.draining) {
      // At most BUNDLES_AHEAD messages asked for at once (any of them may be a bundle), and while
      // bundles come, at most that many held: lone tasks still fill every slot, a pull at a time.
      const room = this.slots - (this.running.size - this.bundledRunning) - this.bundles;
      const free = Math.min(room, this.bundling ? BUNDLES_AHEAD - this.bundles : BUNDLES_AHEAD) - this.outstanding;
      if (free <= 0 || (free < minBatch && this.outstanding > 0)) {
        await new Promise<void>((r) => { this.slotFreed = r; });
        this.slotFreed = null;
        continue;
      }
      this.outstanding += free;
      void this.transport.pullTasks(this.pool, free, expires, (dt) => { this.outstanding--; this.bundling = false; void this.handle(dt); },
        (err) => this.log(`worker ${this.id}: dropped a malformed task message: ${err.message}`),
        (dts) => { this.outstanding--; this.bundling = true; void this.runBundle(dts); })
        .then((received) => { this.outstanding -= free - received; })
        .catch(async (err) => {
          this.outstanding -= free;
          if (!this.draining) {
            this.log(`worker ${this.id}: pulling tasks failed: ${(err as Error).message}; retrying in 1 s`);
            await new Promise((r) => setTimeout(r, 1000));
          }
        })
        .finally(() => {
          if (this.outstanding < 0) this.outstanding = 0;
          this.freed();
        });
    }
    if (this.idle()) this.resolveDrained();
  }

  /**
   * A bundle: several short tasks in one message (the coordinator bundles only tasks measured
   * to run far under a millisecond). It takes one slot, and its tasks run one after another;
   * each result is published as its task ends, without waiting for the previous one's ack. A
   * bundle taken is finished even while draining; on abort its tasks not yet started are given
   * back, and with them the message, so the whole bundle comes again (the results already
   * stored count once).
   */
  private async runBundle(dts: DeliveredTask[]): Promise<void> {
    this.bundles++;
    const settling: Promise<void>[] = [];
    try {
      for (const dt of dts) {
        if (this.aborting) { dt.nak(0); continue; }
        await new Promise<void>((ran) => { settling.push(this.handle(dt, ran).finally(ran)); });
      }
      await Promise.all(settling);
    } finally {
      this.bundles--;
      this.freed();
    }
  }

  /** Runs a task and publishes its result. `ran`, for a bundle's task: called once the task has
   *  run (or was turned away), before its result is published; the task is not counted in the
   *  slots (its bundle is). */
  private async handle(dt: DeliveredTask, ran?: () => void): Promise<void> {
    const task = dt.task;
    if (this.draining && !ran) { dt.nak(0); return this.freed(); }
    if (this.cancelledSweeps.has(task.sweepId)) {
      // Reported, not just dropped: a task that silently left the queue would leave the
      // coordinator waiting for it (and a stray cancel must not look like a success).
      const r = this.result(task, `${task.id}#${task.attempt || 1}.${dt.delivery}`, dt.delivery, Date.now());
      r.error = { message: 'its sweep was cancelled (a cancel_sweep control message reached this worker)', code: 'cancelled', retryable: false, logTail: [] };
      r.finishedMs = Date.now();
      try { await this.publishWithRetry(r); dt.term('sweep cancelled'); } catch { dt.nak(1000); }
      return this.freed();
    }
    const runner = this.byKind.get(task.kind)?.find((r) => !r.accepts || r.accepts(task));
    const need = task.resources;
    const why = !runner ? `no runner for ${TaskKind[task.kind]}${task.modelRef ? ` with model_ref ${JSON.stringify(task.modelRef).slice(0, 80)}` : ''}`
      : need && need.gpus > this.info.gpus.length ? `needs ${need.gpus} GPU(s), this worker has ${this.info.gpus.length}`
      : need && need.cpus > this.info.cpus ? `needs ${need.cpus} CPUs, this worker has ${this.info.cpus}` : null;
    if (why) {
      this.log(`worker ${this.id}: giving back task ${task.id}: ${why}`);
      dt.nak(2000);
      return this.freed();
    }
    const attemptId = `${task.id}#${task.attempt || 1}.${dt.delivery}`;
    const startedMs = Date.now(), t0 = performance.now();
    const rec: Running = { dt, attemptId, tail: [], tailBytes: 0, aborted: false, startedMs, settled: false, announceAt: 0, bundled: !!ran };
    // (A second delivery of a task still running here replaces the first in the map.)
    if (this.running.get(task.id)?.bundled) this.bundledRunning--;
    this.running.set(task.id, rec);
    if (rec.bundled) this.bundledRunning++;
    // A redelivered task announces its start at once (the next turn), a first delivery after ANNOUNCE_MS.
    const announce = dt.delivery > 1 ? setTimeout(() => this.announce(rec), 0) : (this.queueAnnounce(rec), undefined);
    const timeout = task.timeoutS > 0 ? setTimeout(() => { rec.reason = 'timeout'; abortRun(rec); }, task.timeoutS * 1000) : undefined;
    const ctx = new WorkerTaskContext(task, rec, this.transport, this.id);
    let result: TaskResult;
    try {
      // A runner that is slow to notice the abort must not hold up the cancel: the abort
      // rejects at once, and the runner's own work stops when it next checks its signal.
      const out = await new Promise<RunOutput>((resolve, reject) => {
        rec.onAbort = () => reject(new TaskCancelledError('aborted'));
        if (rec.aborted) rec.onAbort();
        runner!.run(ctx).then(resolve, reject);
      });
      result = this.result(task, attemptId, dt.delivery, startedMs);
      const metrics = result.metrics;
      for (const name in out.metrics) metrics.push({ name, value: out.metrics[name]!, step: 0 });
      if (ctx.timing) for (const [part, s] of ctx.timing.seconds()) metrics.push({ name: timeMetric(part), value: s, step: 0 });
      // wallS to the microsecond (not Date.now()'s millisecond): the coordinator sizes bundles of
      // sub-millisecond tasks from it (ranFor in scheduler.ts).
      result.ledger = { flops: 0, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS: (performance.now() - t0) / 1000, deviceKind: 'cpu', deviceS: 0, params: 0, curatedExamples: 0, ...out.ledger };
      result.outputs = out.outputs;
      result.details = out.details;
      this.completed++;
      this.log(`worker ${this.id}: ${describe(task)} attempt ${attemptId} succeeded in ${((Date.now() - startedMs) / 1000).toFixed(2)} s`);
    } catch (err) {
      if (rec.reason === 'shutdown') {
        // Another worker takes it over; this attempt leaves no result.
        rec.settled = true; clearTimeout(timeout); clearTimeout(announce);
        this.unrun(task.id, rec);
        dt.nak(0);
        return this.freed();
      }
      result = this.result(task, attemptId, dt.delivery, startedMs);
      const cancelled = rec.reason === 'cancelled' || (err instanceof TaskCancelledError && rec.reason !== 'timeout');
      const code = cancelled ? 'cancelled' : rec.reason === 'timeout' ? 'timeout' : err instanceof BadTaskInputError ? 'bad_input' : 'failed';
      const message = rec.reason === 'timeout' ? `timed out after ${task.timeoutS} s` : (err as Error)?.message ?? String(err);
      result.error = { message, code, retryable: code === 'failed' || code === 'timeout', logTail: (err as { logTail?: string[] })?.logTail ?? [] };
      // A cancelled task did not fail: it is not counted as failed.
      if (!cancelled) this.failed++;
      const line = `${describe(task)} attempt ${attemptId} ${code} after ${((Date.now() - startedMs) / 1000).toFixed(2)} s: ${message.split('\n')[0]}`;
      keepLine(rec, 'worker', `worker ${this.id}: ${line}`);
      this.log(`worker ${this.id}: ${line}`);
    } finally {
      rec.settled = true;
      clearTimeout(timeout);
      clearTimeout(announce);
    }
    result.finishedMs = Date.now();
    result.log = rec.tail;
    ran?.();
    try {
      await this.publishWithRetry(result);
      await dt.ack();
    } catch (err) {
      // Unacked, the task returns after its lease and runs again; ingestion is idempotent.
      this.log(`worker ${this.id}: could not publish the result of ${task.id}: ${(err as Error).message}; it will be redelivered`);
    }
    this.unrun(task.id, rec);
    this.freed();
  }

  /** `rec` leaves the running tasks, unless another delivery of its task has replaced it there. */
  private unrun(taskId: string, rec: Running): void {
    if (this.running.get(taskId) !== rec) return;
    this.running.delete(taskId);
    if (rec.bundled) this.bundledRunning--;
  }

  private freed() {
    this.slotFreed?.();
    if (this.draining && this.idle()) this.resolveDrained();
  }

  private async publishWithRetry(r: TaskResult) {
    for (let i = 0; ; i++) {
      try { return await this.transport.publishResult(r); } catch (err) {
        if (i >= 5) throw err;
        await new Promise((res) => setTimeout(res, 200 * 2 ** i));
      }
    }
  }

  private result(task: Task, attemptId: string, delivery: number, startedMs: number): TaskResult {
    return { taskId: task.id, sweepId: task.sweepId, attemptId, workerId: this.id, attempt: task.attempt || 1, delivery, startedMs, finishedMs: 0, metrics: [], outputs: [], ledger: undefined, error: undefined, details: undefined, log: [] };
  }

  /** One timer for all running tasks' leases, every half lease period: a task is renewed on
   * each tick once it has run most of a tick (a task that ends sooner never is), so its first
   * renewal comes within one period of its start and the next ones half a period apart. A
   * task whose result is still being published is renewed too: this worker holds it until the
   * result is stored, and a lease that ran out meanwhile would run it a second time. */
  private renewLeases() {
    const old = Date.now() - 0.9 * (this.leaseMs / 2);
    for (const r of this.running.values()) if (r.startedMs <= old) r.dt.working();
  }

  private announce(rec: Running) {
    if (!rec.settled) this.event(rec.dt.task, rec.attemptId, { $case: 'started', value: { delivery: rec.dt.delivery } });
  }

  /** One timer for the start announces: they share a delay, so the queue is in due order. */
  private queueAnnounce(rec: Running) {
    rec.announceAt = performance.now() + ANNOUNCE_MS;
    this.announceQ.push(rec);
    this.announceTimer ??= setTimeout(() => this.announceDue(), ANNOUNCE_MS);
  }

  private announceDue() {
    this.announceTimer = null;
    const q = this.announceQ, now = performance.now();
    let i = 0;
    for (; i < q.length && q[i]!.announceAt <= now; i++) this.announce(q[i]!);
    q.splice(0, i);
    if (q.length && !this.stopped) this.announceTimer = setTimeout(() => this.announceDue(), Math.max(1, Math.ceil(q[0]!.announceAt - now)));
  }

  private event(task: Task, attemptId: string, event: TaskEvent['event']) {
    publishEvent(this.transport, this.id, task, attemptId, event);
  }

  private async control(req: ControlRequest): Promise<ControlReply> {
    const op = req.op;
    if (!op) return { ok: false, message: 'empty control request' };
    if (op.$case === 'drainWorker') {
      if (op.value !== this.id) return { ok: false, message: `this is worker ${this.id}` };
      this.drain();
      return { ok: true, message: `draining; ${this.running.size} task(s) to finish` };
    }
    const match = (r: Running) => (op.$case === 'cancelSweep' ? r.dt.task.sweepId === op.value : r.dt.task.id === op.value);
    if (op.$case === 'resumeSweep') {
      this.cancelledSweeps.delete(op.value);
      return { ok: true, message: `sweep ${op.value} may run again` };
    }
    if (op.$case === 'cancelSweep') {
      this.cancelledSweeps.add(op.value);
      setTimeout(() => this.cancelledSweeps.delete(op.value), 10 * 60_000).unref();
    }
    let n = 0;
    for (const r of this.running.values()) if (match(r)) { r.reason = 'cancelled'; abortRun(r); n++; }
    return { ok: true, message: `cancelled ${n} running task(s)` };
  }

  private heartbeat() { if (!this.stopped) this.publishHeartbeat(this.draining ? WorkerState.WORKER_STATE_DRAINING : this.running.size ? WorkerState.WORKER_STATE_BUSY : WorkerState.WORKER_STATE_IDLE); }

  private publishHeartbeat(state: WorkerState) {
    const hb: Heartbeat = { info: this.info, state, running: [...this.running.keys()], tsMs: Date.now(), completed: this.completed, failed: this.failed };
    try { this.transport.publishHeartbeat(hb); } catch { /* the next one may get through */ }
  }
}

function publishEvent(transport: Transport, workerId: string, task: Task, attemptId: string, event: TaskEvent['event']) {
  try {
    transport.publishEvent({ taskId: task.id, sweepId: task.sweepId, attemptId, workerId, tsMs: Date.now(), event });
  } catch { /* events are best-effort */ }
}

/** What a runner sees of its task: a class rather than an object of closures, since a worker
 * makes one per task and no-op tasks come by the thousand a second. */
class WorkerTaskContext implements TaskContext {
  readonly threads: number;
  /** Made on the first addTime. */
  timing: TaskTiming | null = null;
  private lastProgress = 0;
  private io: ArtifactIO | null = null;

  constructor(readonly task: Task, private readonly rec: Running, private readonly transport: Transport, private readonly workerId: string) {
    this.threads = Math.max(1, Math.round(task.resources?.cpus || 1));
  }

  get signal(): AbortSignal { return signalOf(this.rec); }

  get artifacts(): ArtifactIO {
    if (!this.io) {
      const store = this.transport.artifacts, add = (part: TimePart, ms: number) => this.addTime(part, ms);
      this.io = {
        get: (ref) => timed(add, 'input', () => store.get(ref)),
        put: (role, bytes, mediaType) => timed(add, 'output', () => store.put(bytes, { role, mediaType })),
      };
    }
    return this.io;
  }

  addTime(part: TimePart, ms: number): void {
    (this.timing ??= new TaskTiming()).add(part, ms);
  }

  progress(fraction: number, message?: string): void {
    const now = Date.now();
    if (now - this.lastProgress < 250 && fraction < 1) return;
    this.lastProgress = now;
    this.event({ $case: 'progress', value: { fraction, message: message ?? '' } });
  }

  log(line: string, source: 'runner' | 'stderr' = 'runner'): void {
    keepLine(this.rec, source, line);
    this.event({ $case: 'log', value: line });
  }

  metric(name: string, value: number, step = 0): void {
    this.event({ $case: 'metric', value: { name, value, step } });
  }

  input(role: string) {
    const task = this.task;
    const ref = task.inputs.find((i) => i.role === role);
    if (!ref) throw new BadTaskInputError(`task ${task.id} has no input artifact with role "${role}" (it has: ${task.inputs.map((i) => i.role).join(', ') || 'none'})`);
    return ref;
  }

  private event(event: TaskEvent['event']) {
    publishEvent(this.transport, this.workerId, this.task, this.rec.attemptId, event);
  }
}

/** A task as the worker's log names it: id, kind, arm and seed (the worker has no task names). */
function describe(task: Task): string {
  return `task ${task.id} (${kindName(task.kind)}, ${task.arm || '-'}, seed ${task.seed})`;
}
