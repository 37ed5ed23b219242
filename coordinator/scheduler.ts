// The scheduler: the coordinator's domain core. It keeps the DAG of every running sweep
// in memory (rebuilt from the store at start), publishes tasks whose dependencies are
// met (highest priority first, up to a window of tasks in flight), ingests results in
// batches (stored first, then applied and acked: a result is never acked before it is
// stored), retries failed attempts with backoff, skips dependents of failed tasks,
// enforces attempt deadlines, re-queues the tasks of workers that are gone, and cancels.
// While the disk is full it holds results unacked and dispatches nothing, and resumes
// by itself. It talks to a Store and a Transport interface, never to SQLite or NATS.
import { EventEmitter } from 'node:events';
import { Task, type TaskKind, type ArtifactRef, type TaskEvent, type TaskResult } from '../gen/limolab/v1/task.js';
import { LimolabError, NotFoundError } from '../common/errors.js';
import { newId } from '../common/hash.js';
import { encodeAttempt, outgoingTask } from '../common/wire.js';
import type { DeliveredResult, OutgoingTask, PublishOutcome, Transport } from '../common/transport.js';
import { parseSweepSpec } from './spec.js';
import { planSweep, type PlanLimits, type PlannerRegistry } from './planner.js';
import { emptyLedger, storageTrouble } from './store/sqlite-store.js';
import { TERMINAL, type AttemptRow, type CachedTask, type PhaseGroup, type ResultRecord, type Store, type SweepRow, type SweepStatus, type TaskRow, type TaskStatus, type TaskUpdate, type WriteBatch } from './store/store.js';
import { WorkerRegistry, type WorkerView } from './registry.js';
import { MinHeap } from './heap.js';
import { Plan, nonFinite, refusal } from './ingest.js';
import { promoteYoung } from './promote.js';

export interface SchedulerOptions {
  maxInFlight?: number;      // tasks published but not finished, across sweeps
  /** The most tasks one message may carry (default MAX_BUNDLE; 1: every task alone). Only a phase
   *  whose tasks are measured to run far under a millisecond is bundled: see bundleOf(). */
  maxBundle?: number;
  lostAfterMs?: number;      // heartbeat silence before a worker is marked lost
  /** Grace past a task's timeout_s, and past a lost worker's lease, before the coordinator re-queues it itself (default lostAfterMs). */
  graceMs?: number;
  limits?: Partial<PlanLimits>;
  /** Workers the registry keeps (gone ones are forgotten first); heartbeats beyond are refused. */
  maxWorkers?: number;
  log?: (line: string) => void;
}

interface LiveTask extends TaskRow {
  /** The tasks that wait for this one (shared empty array until one does: most tasks have none). */
  dependents: string[];
  /** Estimated work on the longest chain of dependents that starts here (itself included; see
   *  chainRanks): among ready tasks of equal priority the most work left goes first, so a
   *  sweep's critical path (e.g. an RL arm's rounds, or a long tuning) does not queue behind
   *  work that can run at any time. */
  rank: number;
  waiting: number;           // dependencies not yet succeeded
  progress: number;
  backoffMs: number;
  /** The attempt whose start was reported last ("<task>#<dispatch>.<delivery>"), and when. */
  leaseAttempt?: string;
  leaseStartMs?: number;
  /** Recorded queued, but its message had already left the queue (acked by a worker that
   * never reported back, seen at a publish again): since when. Watched like a running task. */
  takenMs?: number;
  /** Running on a worker that is alive but whose heartbeats (received after this attempt
   *  started) stopped listing it: since the first such heartbeat. */
  unheldSinceMs?: number;
  /** What placement and the watch read of the task's message (needOf): one shared object per
   *  distinct need, so that neither keeps a decoded Task per task. */
  need?: TaskNeed;
}

/** The fields of a task's message that checkPlacement() and watchAttempts() read. */
interface TaskNeed { pool: string; kind: TaskKind; gpus: number; cpus: number; timeoutS: number }
const NEEDS = new Map<string, TaskNeed>();

/** The task's need, from the planned Task where it is still held, else from its stored message
 *  (decoded, read and dropped: a decoded Task kept per task was a third of a sweep's memory,
 *  and checkPlacement() used to keep one for every queued task). */
function needOf(t: LiveTask): TaskNeed {
  if (t.need) return t.need;
  const task = t.task ?? Task.decode(Buffer.from(t.taskProto, 'base64'));
  const gpus = task.resources?.gpus ?? 0, cpus = task.resources?.cpus ?? 0, timeoutS = task.timeoutS || 0;
  const key = `${t.pool}\u0000${task.kind}\u0000${gpus}\u0000${cpus}\u0000${timeoutS}`;
  let need = NEEDS.get(key);
  if (!need) NEEDS.set(key, need = Object.freeze({ pool: t.pool, kind: task.kind, gpus, cpus, timeoutS }));
  return (t.need = need);
}

export type Counts = Record<TaskStatus, number> & { total: number };

/** How long the tasks of one arm instance and phase run: how many succeeded, and a moving mean
 *  of their finished - started (ms, the worker's clock). What bundleOf() decides on. Also the
 *  probe (probeHolds): how many of its tasks went out while their run time was not known, when
 *  the ramp's next step is due (Infinity until the probe's publish) and how many steps it took. */
interface RunTimes { runs: number; runMs: number; probed: number; rampAtMs: number; rampSteps: number }

/** Bundles (several tasks in one message, see TaskBundle in task.proto): at most this many tasks
 *  by default. The tasks of an arm instance's phase are bundled once BUNDLE_AFTER of them
 *  succeeded with a mean run time under BUNDLE_UNDER_MS; a bundle then carries about BUNDLE_BUDGET_MS of that mean, so a worker
 *  holds no bundle long (it runs a bundle's tasks one after another, in one slot). The mean moves
 *  by BUNDLE_EWMA per result: a phase whose tasks turn slow stops being bundled within tens of
 *  results. Measured at 64 in flight, no-op tasks, one worker (bench:trace, 2026-12-04): a message
 *  per task, 250-320 us of CPU a task in all (coordinator, worker, nats-server) and p99 15-24 ms
 *  from publish to row; bundled, 165-195 us and p99 11-13 ms. */
export const MAX_BUNDLE = 64;
/** A submit that plans this many tasks or more promotes them at once (see promote.ts). */
const PROMOTE_FROM = 1000;
const BUNDLE_AFTER = 16, BUNDLE_UNDER_MS = 1, BUNDLE_BUDGET_MS = 2, BUNDLE_EWMA = 1 / 16;
/** The probe: while bundling is on, an arm instance's phase whose run time is not known yet goes
 *  out BUNDLE_AFTER tasks first, each alone, and the rest of its round waits for their results.
 *  From PROBE_MS after the probe's publish, while the run time is still not known, the rest goes
 *  out alone on a ramp (rampStep: 16 more, then twice as many a step, the steps PROBE_MS or more
 *  apart, everything left at step RAMP_STEPS); once it is known, whatever still waits goes at
 *  once, bundled if short. Without the probe a sweep's first round at 64 in flight was 64 lone
 *  messages, 13-39 ms from publish to row against 11-16 ms for the bundled rounds after it:
 *  0.64% of a 10,000-task sweep, inside its slowest 1%. A phase of long tasks has its first 16
 *  out at once, 16 more after PROBE_MS, 32 more after twice that, and all of them at the 11th
 *  step (275 ms on a coordinator not busy meanwhile). The tasks it holds are stored queued with
 *  the probe's (one write a task, counted in flight) and published by releaseProbes, at a submit
 *  and in a pump alike. Until 2026-12-04 the probe's time ran from the first look at the phase:
 *  a submit that took longer than PROBE_MS to plan and store its tasks (10,000 of them: ~100 ms)
 *  had no probe at all. Until 2026-12-05 everything it held went out alone at PROBE_MS: fresh
 *  worker processes return the probe's results 23-85 ms after its publish, and a submit of
 *  20,000 no-op tasks to four of them went as 19,984 lone messages (nats-server 0.8-1.2 CPU s
 *  against 0.3 bundled). */
const PROBE_MS = 25, RAMP_STEPS = 11;

interface LiveSweep {
  row: SweepRow; counts: Counts; taskIds: string[]; pools: Set<string>;
  /** Its queued and running tasks (kept by setStatus), the ones the once-a-second watch and the
   *  placement check look at: O(in flight) per tick, not O(sweep) (a walk over a 100k-task sweep
   *  took 27-59 ms of every second, a pause for everything waiting on it). */
  active: Set<LiveTask>;
  /** Its arm instances, in plan order: set at load (a live sweep's tasks keep their arms). */
  arms: string[];
  /** Per phase: its tasks by status (kept by setStatus, as counts) and the earliest start seen
   *  at a status change (a running task's start may come later: phaseGroups() looks at those). */
  phases: Map<string, { counts: Counts; firstStart: number }>;
  /** Run times by arm instance, then phase (see RunTimes). */
  runTimes: Map<string, Map<string, RunTimes>>;
  /** The workers its stored attempts name, added as they are stored; null for a sweep loaded
   *  after a restart until they are first asked for (read from its attempts then, once). */
  workerIds: Set<string> | null;
}

/** What the views see of a running sweep. row, counts, arms and task() cost the same at any size;
 *  `tasks` is built on each read, O(sweep): a getSweep or a dashboard's summary that walked every
 *  task took 26-35 ms a call on a 100k-task sweep, and a watch asks every 200 ms. */
export class LiveSweepView implements SweepState {
  constructor(private readonly sw: LiveSweep, private readonly all: Map<string, LiveTask>) {}
  get row(): SweepRow { return this.sw.row; }
  /** A copy: the live counts change under a caller that keeps it. */
  get counts(): Counts { return { ...this.sw.counts }; }
  get arms(): readonly string[] { return this.sw.arms; }
  /** Every task, in plan order (O(sweep) on each read). */
  get tasks(): LiveTask[] { return this.sw.taskIds.map((i) => this.all.get(i)!); }
  get size(): number { return this.sw.taskIds.length; }
  /** Tasks start..end-1 in plan order (a page: O(page)). */
  slice(start: number, end: number): LiveTask[] { return this.sw.taskIds.slice(start, end).map((i) => this.all.get(i)!); }
  /** Its tasks by phase and status, with the running ones' summed progress and each phase's
   *  first start: O(phases + tasks in flight), not O(sweep) (the dashboard asks every 300 ms). */
  phaseGroups(): PhaseGroup[] {
    const progress = new Map<string, number>(), start = new Map<string, number>();
    for (const t of this.sw.active) {
      if (t.status === 'running') progress.set(t.phase, (progress.get(t.phase) ?? 0) + Math.min(1, Math.max(0, t.progress || 0)));
      if (t.startedMs && t.startedMs < (start.get(t.phase) ?? Infinity)) start.set(t.phase, t.startedMs);
    }
    const out: PhaseGroup[] = [];
    for (const [phase, { counts, firstStart }] of this.sw.phases) {
      const first = Math.min(firstStart, start.get(phase) ?? Infinity);
      for (const status of TASK_STATUSES) {
        const n = counts[status];
        if (n > 0) out.push({ phase, status, n, progress: status === 'running' ? progress.get(phase) ?? 0 : 0, firstStart: Number.isFinite(first) ? first : null });
      }
    }
    return out;
  }
  /** The workers its attempts name so far: kept in memory as attempts are stored, rather than
   *  found by a scan of every sweep's attempts (50 ms at a million rows; asked once a second
   *  while anyone watches the sweep). `fromStore` reads them once for a sweep loaded after a restart. */
  workerIds(fromStore: (sweepId: string) => string[]): ReadonlySet<string> {
    return this.sw.workerIds ??= new Set(fromStore(this.sw.row.id));
  }
  /** One of its tasks by id, or undefined. */
  task(id: string): LiveTask | undefined {
    const t = this.all.get(id);
    return t?.sweepId === this.sw.row.id ? t : undefined;
  }
}

/** A sweep as the views read it without its tasks, at a cost that does not grow with it: a
 *  running sweep's LiveSweepView, or one of the last to end as it closed (sweepState()). */
export interface SweepState {
  readonly row: SweepRow;
  /** A copy. */
  readonly counts: Counts;
  readonly arms: readonly string[];
  phaseGroups(): PhaseGroup[];
}

/** An ended sweep as it was when it closed: what its readers (watchers, dashboards) ask for as
 *  it ends, answered from memory rather than by reading its task rows. */
class EndedSweep implements SweepState {
  constructor(readonly row: SweepRow, private readonly final: Counts, readonly arms: readonly string[], private readonly phases: readonly PhaseGroup[]) {}
  get counts(): Counts { return { ...this.final }; }
  phaseGroups(): PhaseGroup[] { return [...this.phases]; }
}
/** How many ended sweeps are kept so (the newest). */
const ENDED_KEPT = 64;

/** The RunTimes of `t`'s arm instance and phase in a sweep's `runTimes`, made on first use. */
function runTimesOf(runTimes: LiveSweep['runTimes'], t: { arm: string; phase: string }): RunTimes {
  let byPhase = runTimes.get(t.arm);
  if (!byPhase) runTimes.set(t.arm, byPhase = new Map());
  let rt = byPhase.get(t.phase);
  if (!rt) byPhase.set(t.phase, rt = { runs: 0, runMs: 0, probed: 0, rampAtMs: Infinity, rampSteps: 0 });
  return rt;
}

/** How many more of the tasks a probe holds go out alone at the ramp's `step`-th step (1, 2,
 *  ...), while their phase's run time is still not known: BUNDLE_AFTER, then twice as many each
 *  step (16, 32, 64, ...); every one left at step RAMP_STEPS. */
function rampStep(step: number): number {
  return step >= RAMP_STEPS ? Infinity : BUNDLE_AFTER * 2 ** (step - 1);
}

/** Whether a task of `rt`'s phase may go out now, alone: its run time is known, or the probe
 *  has room for it (then it is counted in), or the ramp is over. Else it waits for the next
 *  step of the ramp (releaseProbes), behind those already waiting. */
function probeAdmits(rt: RunTimes): boolean {
  if (rt.runs >= BUNDLE_AFTER || rt.rampSteps >= RAMP_STEPS) return true;
  if (rt.probed < BUNDLE_AFTER) { rt.probed++; return true; }
  return false;
}

/** How long a result's task ran, in ms: its ledger's wall_s where the worker gave one (to the
 *  microsecond), else finished - started (whole milliseconds on the worker's clock). Bundles are
 *  sized from it, for tasks that run well under a millisecond: from the whole milliseconds, a
 *  no-op task ran 0 or 1 ms depending on where the clock ticked, and the mean of a sweep's first
 *  results (0.03-0.4 ms) put 5 to 64 tasks in a message from one run to the next (bench:dispatch,
 *  500 tasks in 8 to 100 messages). */
function runMsOf(r: TaskResult): number | null {
  const wallS = r.ledger?.wallS;
  if (wallS !== undefined && Number.isFinite(wallS) && wallS >= 0) return wallS * 1000;
  return r.startedMs && r.finishedMs >= r.startedMs ? r.finishedMs - r.startedMs : null;
}

/** One more successful task of `t`'s arm instance and phase, that ran `ms`. */
function ranFor(sw: LiveSweep, t: LiveTask, ms: number): void {
  const rt = runTimesOf(sw.runTimes, t);
  if (rt.runs === 0) rt.runMs = ms; else rt.runMs += BUNDLE_EWMA * (ms - rt.runMs);
  rt.runs++;
}

export interface SweepChange { sweepId: string; task?: LiveTask; message?: string }

/** A write the store could not make for a reason outside the data (disk full): since when, and why. */
export interface StorageProblem { why: string; sinceMs: number; detail: string }

/** Per task: its own estimated work plus the largest rank among the tasks that depend on it,
 *  i.e. the estimated work on the longest chain of dependents that starts there (itself
 *  included). A task's work is its planner's cost estimate (Task.cost_estimate); a task
 *  without one counts as 1, so a sweep without estimates (diag) ranks by chain length in
 *  tasks. Iterative: chains can be long. */
export function chainRanks(tasks: readonly { id: string; deps: readonly { task: string }[]; cost?: number }[]): Map<string, number> {
  return byId(tasks, chainRankArray(tasks));
}

function byId(tasks: readonly { id: string }[], r: Float64Array): Map<string, number> {
  const rank = new Map<string, number>();
  for (let i = 0; i < tasks.length; i++) rank.set(tasks[i]!.id, r[i]!);
  return rank;
}

/** chainRanks() by position in `tasks`: what submit() and load() use (a map of a sweep's ids
 *  cost ~2.5 us a task, most of the ranking of a sweep without dependencies). */
function chainRankArray(tasks: readonly { id: string; deps: readonly { task: string }[]; cost?: number }[]): Float64Array {
  const n = tasks.length;
  const r = new Float64Array(n);
  // No dependencies at all (e.g. a diag sweep): each task's rank is its own work.
  if (tasks.every((t) => !t.deps.length)) {
    for (let i = 0; i < n; i++) r[i] = work(tasks[i]!.cost);
    return r;
  }
  // Positions instead of ids; a dependency outside the list is ignored. The tasks are put in
  // an order where every task comes after its dependencies (the plan's own order needs no
  // reordering), then one backward pass adds each task's work to its dependents' best rank.
  const at = new Map<string, number>();
  for (let i = 0; i < n; i++) at.set(tasks[i]!.id, i);
  const after: (number[] | undefined)[] = new Array(n);
  const waiting = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    for (const d of tasks[i]!.deps) {
      const j = at.get(d.task);
      if (j === undefined) continue;
      (after[j] ??= []).push(i);
      waiting[i]!++;
    }
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (waiting[i] === 0) order.push(i);
  for (let q = 0; q < order.length; q++) for (const k of after[order[q]!] ?? []) if (--waiting[k]! === 0) order.push(k);
  for (let q = order.length - 1; q >= 0; q--) {
    const i = order[q]!;
    let m = 0;
    for (const k of after[i] ?? []) if (r[k]! > m) m = r[k]!;
    r[i] = work(tasks[i]!.cost) + m;
  }
  return r;
}

/** A task's work in a rank: its cost estimate, or 1 without a usable one. */
function work(cost: number | undefined): number {
  return cost !== undefined && Number.isFinite(cost) && cost > 0 ? cost : 1;
}

/** The ranks the ready queue uses for a sweep's tasks (chainRanks over the planners' cost
 *  estimates): from the planned Task where the row has it, else from its stored message (a
 *  row loaded after a restart; only unfinished tasks need a rank). */
export function taskRanks(tasks: readonly TaskRow[]): Map<string, number> {
  return byId(tasks, taskRankArray(tasks));
}

/** taskRanks() by position in `tasks`. */
function taskRankArray(tasks: readonly TaskRow[]): Float64Array {
  return chainRankArray(tasks.map((t) => ({ id: t.id, deps: t.deps, cost: plannedCost(t) })));
}

function plannedCost(t: TaskRow): number | undefined {
  if (t.task) return t.task.costEstimate;
  if (t.status !== 'pending' && t.status !== 'queued' && t.status !== 'running') return undefined;
  try { return Task.decode(Buffer.from(t.taskProto, 'base64')).costEstimate; } catch { return undefined; }
}

/** LiveTask.dependents of a task nothing waits for (never pushed to: load() gives a task its own array first). */
const NO_DEPENDENTS: string[] = [];
const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'cached'];
const emptyCounts = (): Counts => ({ total: 0, pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, cached: 0 });

function updateOf(t: TaskRow): TaskUpdate {
  return { id: t.id, status: t.status, dispatches: t.dispatches, nextDispatchMs: t.nextDispatchMs, workerId: t.workerId, startedMs: t.startedMs, finishedMs: t.finishedMs, error: t.error, reusedFrom: t.reusedFrom };
}

export class Scheduler extends EventEmitter {
  private tasks = new Map<string, LiveTask>();
  private sweeps = new Map<string, LiveSweep>();
  /** The last ENDED_KEPT sweeps to end, oldest first (see EndedSweep). */
  private ended = new Map<string, EndedSweep>();
  private ready = new MinHeap<string>();
  /** Pending tasks waiting out a retry delay, by when they are due (tick() takes the due ones;
   *  an entry whose task has moved on since is dropped when it comes up). */
  private delayed = new MinHeap<LiveTask>();
  /** Queued tasks whose publish failed, with the dispatch it was for: they stay queued (the
   *  message may have been stored though its ack was lost) and tick() publishes the same
   *  attempt again once `republishAt` is reached; the delay doubles while publishes fail. */
  private unpublished = new Map<LiveTask, number>();
  private republishAt = 0;
  private republishDelayMs = 1000;
  private seq = 0;
  private inFlight = 0;
  private timers: NodeJS.Timeout[] = [];
  private closers: { close(): unknown }[] = [];
  private pumping = false;
  private pumpAgain = false;
  /** A pump at the earliest ramp step due of a probe that holds tasks back (see probeHolds). */
  private probeTimer: NodeJS.Timeout | undefined;
  private probeWakeMs = Infinity;
  /** Tasks stored queued (in flight) that wait for their phase's probe, by the phase's RunTimes,
   *  with the dispatch they were stored under: published by releaseProbes() once it ends. */
  private probeHeld = new Map<RunTimes, [LiveTask, number][]>();
  /** Probes admitted but not yet published: their time starts at the next publish (publishQueued). */
  private probesToStart = new Set<RunTimes>();
  private stopping = false;
  private startedMs = Date.now();
  private refused = 0;
  private superseded = 0;
  private storage: StorageProblem | null = null;
  private storageLoggedMs = 0;
  readonly registry: WorkerRegistry;
  private maxInFlight: number;
  private maxBundle: number;
  private lostAfterMs: number;
  private graceMs: number;
  private limits: Partial<PlanLimits>;
  private log: (line: string) => void;

  constructor(private store: Store, private transport: Transport, private planners: PlannerRegistry, opts: SchedulerOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.maxInFlight = opts.maxInFlight ?? 20_000;
    this.maxBundle = Math.max(1, Math.floor(opts.maxBundle ?? MAX_BUNDLE));
    this.lostAfterMs = opts.lostAfterMs ?? 10_000;
    this.graceMs = opts.graceMs ?? this.lostAfterMs;
    this.limits = opts.limits ?? {};
    this.log = opts.log ?? ((l) => console.error(l));
    this.registry = new WorkerRegistry(this.lostAfterMs, store.listWorkers(), opts.maxWorkers ?? 1000, this.log);
  }

  /** Loads running sweeps from the store and starts consuming results and events. */
  async start(): Promise<void> {
    this.startedMs = Date.now();
    for (const sw of this.store.activeSweeps()) this.load(sw);
    if (this.tasks.size >= PROMOTE_FROM) promoteYoung();
    // Tasks recorded as queued may not have reached JetStream before a crash: publish
    // them again. The msg-id dedup window and idempotent ingestion absorb doubles.
    const requeue = [...this.tasks.values()].filter((t) => t.status === 'queued');
    if (requeue.length) {
      this.log(`coordinator: resuming ${this.sweeps.size} sweep(s); re-publishing ${requeue.length} queued task(s)`);
      await this.publishQueued(requeue);
    }
    this.closers.push(this.transport.consumeResults((b) => this.onResults(b), (e) => this.log(`coordinator: rejected a result message: ${e.message}`), { expecting: () => this.inFlight > 0 }));
    this.closers.push(this.transport.subscribeEvents((e) => this.onEvent(e), (e) => this.log(`coordinator: rejected an event message: ${e.message}`)));
    this.closers.push(this.transport.subscribeHeartbeats((hb) => this.registry.heartbeat(hb)));
    this.timers.push(setInterval(() => this.tick(), 250));
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.probeTimer);
    for (const c of this.closers) await c.close();
    // Starts reported since the last tick are written too: a task left recorded as queued
    // while a worker holds it would, after a restart, wait for a message that is gone.
    if (!this.storage) this.saveStarted();
    this.saveWorkers();
  }

  /** Tasks recorded queued whose message a worker has already taken off the queue and acked
   * without reporting: nothing is queued for them. Their result may still be on its way; if
   * none comes, watchAttempts() dispatches them again like a gone worker's. */
  private taken(ids: string[]): void {
    const now = Date.now();
    const tasks = ids.map((id) => this.tasks.get(id)).filter((t): t is LiveTask => t?.status === 'queued');
    for (const t of tasks) t.takenMs = now;
    if (tasks.length) this.log(`coordinator: ${tasks.length} queued task(s) had already been taken off the queue and acked by a worker (${tasks.slice(0, 3).map((t) => t.id).join(', ')}${tasks.length > 3 ? ', ...' : ''}); their results may be waiting in the result stream: waiting for them, else dispatching the tasks again`);
  }

  // ---------------------------------------------------------------- storage trouble

  /** The store refused a write for a reason outside the data: say so (once, then every 30 s) and hold. */
  private storageFailed(why: string, err: unknown, holding: string): void {
    const now = Date.now();
    const first = !this.storage;
    this.storage ??= { why, sinceMs: now, detail: (err as Error).message };
    this.storage.why = why;
    this.storage.detail = (err as Error).message;
    if (first || now - this.storageLoggedMs > 30_000) {
      this.storageLoggedMs = now;
      this.log(`coordinator: ${why}: cannot write the results database (${(err as Error).message}); ${holding}, dispatching nothing; retrying until it can write again`);
      if (first) this.emit('storage', this.storage);
    }
  }

  private storageOk(): void {
    if (!this.storage) return;
    this.log(`coordinator: the results database is writable again after ${Math.round((Date.now() - this.storage.sinceMs) / 1000)} s (${this.storage.why}); resuming`);
    this.storage = null;
    this.emit('storage', null);
  }

  /** The current storage problem (e.g. disk full), or null. */
  get storageProblem(): StorageProblem | null { return this.storage; }

  /** Runs a write; on a storage problem logs it and returns false, anything else throws. */
  private tryWrite(b: WriteBatch, holding: string): boolean {
    try {
      this.store.apply(b);
      return true;
    } catch (err) {
      const why = storageTrouble(err);
      if (!why) throw err;
      this.storageFailed(why, err, holding);
      return false;
    }
  }

  // ---------------------------------------------------------------- submission

  /** Outputs of the earlier tasks a submit of this spec would reuse (planning only, nothing stored). */
  cacheHits(specText: string, source = 'sweep spec'): ArtifactRef[] {
    const spec = parseSweepSpec(specText, source);
    // Diagnostics are never reused: no need to plan them twice.
    if (!spec.cache || spec.arms.every((a) => a.method === 'diag')) return [];
    const out: ArtifactRef[] = [];
    planSweep('check', spec, this.planners, (k) => {
      const c = this.store.findCached(k);
      if (c) out.push(...c.outputs);
      return c;
    }, Date.now(), this.limits);
    return out;
  }

  submit(specText: string, source = 'sweep spec', dryRun = false, missingOutputs?: Set<string>): { sweep: SweepRow; planned: number; reused: number; recomputed: string[] } {
    const spec = parseSweepSpec(specText, source);
    const id = newId(spec.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24));
    const now = Date.now();
    const recomputed: string[] = [];
    // The cache never hands out a task whose outputs are gone: that task runs again.
    const findCached = (k: string): CachedTask | null => {
      const c = this.store.findCached(k);
      if (c && missingOutputs && c.outputs.some((o) => missingOutputs.has(o.digest))) { recomputed.push(c.taskId); return null; }
      return c;
    };
    const plan = planSweep(id, spec, this.planners, findCached, now, this.limits);
    const row: SweepRow = { id, name: spec.name, status: 'running', priority: spec.priority, specText, specJson: JSON.stringify(spec), createdMs: now, finishedMs: null, error: null };
    if (dryRun) return { sweep: row, planned: plan.tasks.length, reused: plan.cached.size, recomputed };
    if (this.storage) throw new LimolabError(`the coordinator cannot write its results database (${this.storage.why} since ${new Date(this.storage.sinceMs).toISOString()}); nothing was submitted: free space, then submit again`);
    // Tasks that can go out at once are written already queued: one write per task instead
    // of an insert and an update. Only when nothing else waits, so priorities still hold.
    const first: string[] = [];
    const held: [RunTimes, TaskRow][] = [];
    // The new sweep's run times, with the probe's counts (probeHolds): load() takes them over.
    const runTimes: LiveSweep['runTimes'] = new Map();
    const ranks = taskRankArray(plan.tasks);
    if (this.ready.size === 0) {
      let room = this.maxInFlight - this.inFlight;
      // Longest chain of dependents first, as the ready queue orders them (stable sort: plan order within a rank).
      const candidates = room < plan.tasks.length ? plan.tasks.map((_, i) => i).sort((a, b) => ranks[b]! - ranks[a]!).map((i) => plan.tasks[i]!) : plan.tasks;
      // With bundling on, an arm instance's phase sends its probe first (see PROBE_MS); the rest
      // of this round is stored queued too and published when the probe ends (releaseProbes).
      for (const t of candidates) {
        if (room <= 0) break;
        if (t.status !== 'pending' || t.deps.length !== 0) continue;
        t.status = 'queued'; t.dispatches = 1; room--;
        const rt = this.probeHolds(runTimes, t);
        if (rt) held.push([rt, t]); else first.push(t.id);
      }
    }
    try {
      this.store.createSweep(row, plan.arms, plan.tasks, plan.cached);
    } catch (err) {
      const why = storageTrouble(err);
      if (!why) throw err;
      this.storageFailed(why, err, 'refusing new sweeps');
      throw new LimolabError(`cannot record sweep ${spec.name}: ${why} (${(err as Error).message}); nothing was submitted: free space, then submit again`, { cause: err });
    }
    this.load(row, plan.tasks, ranks, runTimes);
    // The planned tasks to the old generation now, not in pauses of the sweep's first moments (promote.ts).
    if (plan.tasks.length >= PROMOTE_FROM) promoteYoung();
    // load() took the rows over as the live tasks.
    for (const [rt, t] of held) this.hold(rt, t as LiveTask);
    if (first.length) void this.publishQueued(first.map((id) => this.tasks.get(id)!));
    if (recomputed.length) this.log(`coordinator: sweep ${id}: ${recomputed.length} earlier task(s) not reused because their outputs are gone (${recomputed.slice(0, 3).join(', ')}${recomputed.length > 3 ? ', ...' : ''}); computing them again`);
    this.log(`coordinator: sweep ${id} (${spec.name}) planned ${plan.tasks.length} task(s), ${plan.cached.size} reused`);
    this.checkDone(id);
    this.pump();
    return { sweep: row, planned: plan.tasks.length, reused: plan.cached.size, recomputed };
  }

  /** planRanks: taskRankArray(planned), by position. */
  private load(row: SweepRow, planned?: TaskRow[], planRanks?: Float64Array, runTimes: LiveSweep['runTimes'] = new Map()): void {
    const rows = planned ?? this.store.sweepTasks(row.id);
    const backoff = (JSON.parse(row.specJson) as { defaults?: { backoff_ms?: number } }).defaults?.backoff_ms ?? 1000;
    // Just planned: no attempts yet. Read back after a restart: its attempts are in the store.
    const sw: LiveSweep = { row, counts: emptyCounts(), taskIds: [], pools: new Set(), active: new Set(), arms: [], phases: new Map(), runTimes, workerIds: planned ? new Set() : null };
    this.sweeps.set(row.id, sw);
    this.ended.delete(row.id);   // running again (a sweep retry)
    const arms = new Set<string>();
    for (const r of rows) {
      // The rows are this call's own (just planned, or just read): taken over rather than copied.
      const t = r as LiveTask;
      t.dependents = NO_DEPENDENTS; t.rank = 1; t.waiting = 0; t.progress = 0; t.backoffMs = backoff;
      // A task recorded running when this coordinator started: its lease clock starts now.
      if (t.status === 'running') t.leaseStartMs = Date.now();
      this.tasks.set(t.id, t);
      sw.taskIds.push(t.id);
      arms.add(t.arm);
      sw.pools.add(t.pool);
      sw.counts.total++;
      sw.counts[t.status]++;
      let ph = sw.phases.get(t.phase);
      if (!ph) sw.phases.set(t.phase, ph = { counts: emptyCounts(), firstStart: Infinity });
      ph.counts.total++;
      ph.counts[t.status]++;
      if (t.startedMs && t.startedMs < ph.firstStart) ph.firstStart = t.startedMs;
      if (t.status === 'queued' || t.status === 'running') { this.inFlight++; sw.active.add(t); }
    }
    sw.arms = [...arms];
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      for (const d of t.deps) {
        const dep = this.tasks.get(d.task);
        if (!dep) continue;
        if (dep.dependents === NO_DEPENDENTS) dep.dependents = [];
        dep.dependents.push(t.id);
        if (dep.status !== 'succeeded' && dep.status !== 'cached') t.waiting++;
      }
    }
    const ranks = planRanks ?? taskRankArray(sw.taskIds.map((id) => this.tasks.get(id)!));
    for (let i = 0; i < sw.taskIds.length; i++) {
      const t = this.tasks.get(sw.taskIds[i]!)!;
      t.rank = ranks[i]!;
      // A task without inputs goes out as its stored bytes (outgoing()): the decoded Task the
      // planner made (five objects a task, a third of a sweep's memory) is not kept for it;
      // what placement and the watch need of it is (needOf), while it is at hand.
      if (!t.deps.length && t.task) { needOf(t); t.task = undefined; }
    }
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      if (t.status === 'pending' && t.waiting === 0) this.enqueue(t);
    }
  }

  private enqueue(t: LiveTask): void {
    if (t.nextDispatchMs && t.nextDispatchMs > Date.now()) { this.delayed.push(t, t.nextDispatchMs, this.seq++); return; } // tick() enqueues it when due
    // Priority first; within a priority the longest chain of dependents, then first in, first out.
    this.ready.push(t.id, -Math.max(-1e9, Math.min(1e9, t.priority)) * 1e6 - Math.min(t.rank, 999_999), this.seq++);
  }

  // ---------------------------------------------------------------- dispatch

  private pump(): void {
    if (this.probeHeld.size) this.releaseProbes(Date.now());
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
          // Stored first: a task is queued in memory only once its row says so.
          const rows = batch.map((t) => ({ ...updateOf(t), status: 'queued' as const, dispatches: t.dispatches + 1, nextDispatchMs: null }));
          // While the disk is full this write is also the probe: tick() calls pump() again.
          if (!this.tryWrite({ tasks: rows }, `${batch.length} task(s) not dispatched`)) {
            for (const t of batch) this.enqueue(t);
            break;
          }
          this.storageOk();
          const out: LiveTask[] = [];
          for (const t of batch) {
            t.dispatches++;
            t.nextDispatchMs = null;
            t.leaseAttempt = undefined;
            t.takenMs = undefined;
            t.unheldSinceMs = undefined;
            this.setStatus(t, 'queued');
            const sw = this.sweeps.get(t.sweepId);
            const rt = sw && this.probeHolds(sw.runTimes, t);
            if (rt) this.hold(rt, t); else out.push(t);
          }
          // Not awaited: the next batch (results that came in meanwhile) goes out without
          // waiting for this one's acks; the rows already say queued either way.
          if (out.length) void this.publishQueued(out);
        } while (!this.storage && (this.pumpAgain || (this.ready.size > 0 && this.inFlight < this.maxInFlight)));
      } finally {
        this.pumping = false;
      }
    })();
  }

  /** The RunTimes whose probe `t` must wait for (stored queued, see hold()), or null when it goes
   *  out now: bundling is off, its phase's run time is known, the ramp is over, or the probe has
   *  room for it (probeAdmits: then it is counted in, and the probe's time starts at its publish). */
  private probeHolds(runTimes: LiveSweep['runTimes'], t: { arm: string; phase: string }): RunTimes | null {
    if (this.maxBundle <= 1) return null;
    const rt = runTimesOf(runTimes, t);
    if (!probeAdmits(rt)) return rt;
    if (rt.rampAtMs === Infinity && rt.runs < BUNDLE_AFTER) this.probesToStart.add(rt);
    return null;
  }

  /** `t`, stored queued, waits for `rt`'s probe: a pump comes at the ramp's next step. */
  private hold(rt: RunTimes, t: LiveTask): void {
    let ts = this.probeHeld.get(rt);
    if (!ts) this.probeHeld.set(rt, ts = []);
    ts.push([t, t.dispatches]);
    this.pumpAt(rt.rampAtMs);   // none yet while the probe waits for its publish (then publishQueued sets it)
  }

  /** Publishes the tasks held behind a probe: all of them once their phase's run time is known
   *  (bundled where bundleOf() allows), else, when the ramp's next step is due, that step's
   *  share (alone), keeping a pump at the step after it for the rest. One step per PROBE_MS at
   *  most, counted from the last one: a coordinator that was busy for a while (its timer late)
   *  does not let several steps out at once, before it has read the results that came meanwhile.
   *  Those cancelled, ended or dispatched again meanwhile are dropped. */
  private releaseProbes(now: number): void {
    if (this.stopping) return;   // stored queued: the next coordinator publishes them (start())
    for (const [rt, ts] of this.probeHeld) {
      let n = ts.length;
      if (rt.runs < BUNDLE_AFTER) {
        // Not known yet: the ramp's next step, when due; the rest waits for the step after it
        // or for the run time.
        if (now < rt.rampAtMs) { this.pumpAt(rt.rampAtMs); continue; }
        n = Math.min(n, rampStep(++rt.rampSteps));
        rt.rampAtMs = now + PROBE_MS;
        if (n < ts.length) this.pumpAt(rt.rampAtMs);
      }
      const all = n >= ts.length;
      if (all) this.probeHeld.delete(rt);
      const out = (all ? ts : ts.splice(0, n)).filter(([t, dispatch]) => this.stillQueued(t, dispatch)).map(([t]) => t);
      if (out.length) void this.publishQueued(out);
    }
  }

  /** Whether `t` is still the live task, queued under the same dispatch (not cancelled, ended or re-dispatched). */
  private stillQueued(t: LiveTask, dispatch: number): boolean {
    return this.tasks.get(t.id) === t && t.status === 'queued' && t.dispatches === dispatch;
  }

  /** One timer for the earliest ramp step to come: a pump then (a later one is set by that pump). */
  private pumpAt(ms: number): void {
    if (ms >= this.probeWakeMs || this.stopping) return;
    clearTimeout(this.probeTimer);
    this.probeWakeMs = ms;
    this.probeTimer = setTimeout(() => { this.probeWakeMs = Infinity; this.probeTimer = undefined; this.pump(); }, Math.max(0, ms - Date.now()));
  }

  /** Publishes tasks already marked queued (and counted in flight). Those whose publish
   * fails stay queued, with the same attempt: a message whose ack was lost may have been
   * stored and taken by a worker, whose result must still count, so the task cannot go
   * back to pending and come out again under another attempt. tick() publishes them again
   * (JetStream's de-duplication by task id and attempt keeps a stored one from being
   * queued twice). */
  private async publishQueued(batch: LiveTask[]): Promise<void> {
    const ts = Date.now();
    if (this.probesToStart.size) {
      // The probes admitted since the last publish go out now: their time starts here, not at
      // the plan or the store write before it (which for 10,000 tasks took longer than PROBE_MS).
      for (const rt of this.probesToStart) rt.rampAtMs = ts + PROBE_MS;
      this.probesToStart.clear();
      if (this.probeHeld.size) this.pumpAt(ts + PROBE_MS);
    }
    let out: PublishOutcome;
    try {
      out = await this.transport.publishTasks(batch.map((t) => this.outgoing(t)));
    } catch (err) {
      out = { taken: [], unpublished: batch.map((t) => t.id), error: err as Error };
    }
    this.taken(out.taken);
    if (!out.unpublished.length) {
      this.republishDelayMs = 1000;
      if (this.listenerCount('dispatched')) this.emit('dispatched', batch.map((t) => t.id), ts);
      return;
    }
    const failed = new Set(out.unpublished);
    let n = 0;
    for (const t of batch) {
      if (!failed.has(t.id) || this.tasks.get(t.id) !== t || t.status !== 'queued') continue;   // moved on meanwhile (a result, a cancel)
      this.unpublished.set(t, t.dispatches);
      n++;
    }
    if (!n) return;
    const delay = this.republishDelayMs;
    this.republishAt = Date.now() + delay;
    this.republishDelayMs = Math.min(delay * 2, 30_000);
    this.log(`coordinator: publishing ${n} of ${batch.length} task(s) failed (${out.error?.message ?? 'no reason given'}); they stay queued and are published again in ${delay / 1000} s (one JetStream did store is not queued twice)`);
  }

  /** tick(): the queued tasks whose publish failed, once their delay is over, published again
   *  with the attempt they had (those cancelled, finished or re-dispatched since are dropped). */
  private republish(now: number): void {
    if (!this.unpublished.size || now < this.republishAt || this.stopping) return;
    const batch: LiveTask[] = [];
    for (const [t, dispatch] of this.unpublished) if (this.stillQueued(t, dispatch)) batch.push(t);
    this.unpublished.clear();
    if (batch.length) void this.publishQueued(batch);
  }

  /** The task's message as it goes out under this dispatch's attempt number. A task without
   * inputs goes as the planned message stored, with the attempt appended (a later value of a
   * protobuf field replaces an earlier one), instead of being encoded again; one with inputs
   * gets the outputs of its dependencies, as they are now, and is encoded. */
  private outgoing(t: LiveTask): OutgoingTask {
    const bundle = this.maxBundle > 1 ? this.bundleOf(t) : 1;
    if (!t.deps.length) return { id: t.id, sweepId: t.sweepId, attempt: t.dispatches, pool: t.pool, data: withAttempt(t.taskProto, t.dispatches), bundle };
    const task: Task = t.task ? { ...t.task } : Task.decode(Buffer.from(t.taskProto, 'base64'));
    task.attempt = t.dispatches;
    const outs = this.store.outputsOf(t.deps.map((d) => d.task));
    const inputs: ArtifactRef[] = [];
    for (const d of t.deps) for (const o of outs.get(d.task) ?? []) if (o.role === d.role) inputs.push(o);
    task.inputs = inputs;
    return { ...outgoingTask(task), bundle };
  }

  /** How many tasks `t` may share a message with: 1 until the tasks of its arm instance and
   *  phase are known to be short (BUNDLE_AFTER successes, mean under BUNDLE_UNDER_MS), then
   *  about BUNDLE_BUDGET_MS of them, at most maxBundle. */
  private bundleOf(t: LiveTask): number {
    const rt = this.sweeps.get(t.sweepId)?.runTimes.get(t.arm)?.get(t.phase);
    if (!rt || rt.runs < BUNDLE_AFTER || !(rt.runMs < BUNDLE_UNDER_MS)) return 1;
    return Math.max(1, Math.min(this.maxBundle, Math.floor(BUNDLE_BUDGET_MS / Math.max(rt.runMs, BUNDLE_BUDGET_MS / MAX_BUNDLE))));
  }

  // ---------------------------------------------------------------- results

  /**
   * Ingests a batch of results: screened, planned against the live state without changing
   * it, stored in one transaction, and only then applied to memory and acked. A result
   * the store refuses is retried alone so it cannot take its batch down; while the disk
   * is full nothing is acked and the batch is retried with backoff until space returns.
   */
  private async onResults(batch: DeliveredResult[]): Promise<void> {
    let live = this.screen(batch);
    for (let delay = 250; live.length; delay = Math.min(delay * 2, 5000)) {
      try {
        live = this.ingest(live);
        if (!live.length) break;
      } catch (err) {
        const why = storageTrouble(err);
        if (!why) throw err;
        this.storageFailed(why, err, `holding ${live.length} result(s) unacked`);
      }
      if (this.stopping) return; // unacked: JetStream gives them to the next coordinator
      for (const d of live) d.working?.();
      await new Promise((r) => setTimeout(r, delay));
    }
    this.storageOk();
    this.pump();
  }

  /** Refuses results that name no attempt this coordinator dispatched: no rows, a log line. */
  private screen(batch: DeliveredResult[]): DeliveredResult[] {
    const unknown = batch.filter((d) => !this.tasks.has(d.result.taskId)).map((d) => d.result.taskId);
    const stored = unknown.length ? this.store.taskStates(unknown) : new Map();
    const ok: DeliveredResult[] = [];
    for (const d of batch) {
      const r = d.result;
      const t = this.tasks.get(r.taskId);
      const why = refusal(r, t ? { sweepId: t.sweepId, dispatches: t.dispatches, startedAttempt: t.leaseAttempt, startedBy: t.workerId } : stored.get(r.taskId));
      if (!why) { ok.push(d); continue; }
      this.refused++;
      if (this.refused <= 20 || this.refused % 1000 === 0) this.log(`coordinator: refused a result from worker ${r.workerId.slice(0, 60) || '(none)'} (${this.refused} so far): ${why}`);
      // A task this database does not hold may be another coordinator's (a second
      // database on the same NATS): leave it in the stream, do not eat it. Anything
      // else is forged or garbled: drop it.
      if (!t && !stored.has(r.taskId) && d.nak) d.nak(300_000);
      else if (d.term) d.term(why); else d.ack();
    }
    return ok;
  }

  /** Stores and applies `batch`; returns the results still to do (after a storage error mid-way). */
  private ingest(batch: DeliveredResult[]): DeliveredResult[] {
    try {
      this.ingestTogether(batch);
      return [];
    } catch (err) {
      if (storageTrouble(err) || batch.length === 1) throw err;
    }
    // One result broke the transaction: store each alone, so only that one is refused.
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      try {
        this.ingestTogether([d]);
      } catch (err) {
        if (storageTrouble(err)) { if (i === 0) throw err; return batch.slice(i); }
        const why = `result could not be stored: ${(err as Error).message}`;
        this.log(`coordinator: task ${d.result.taskId} attempt ${d.result.attemptId}: ${why}`);
        this.ingestTogether([d], () => ({ ...d.result, metrics: [], outputs: [], details: undefined, ledger: undefined, error: { message: why, code: 'bad_output', retryable: false, logTail: [] } }));
      }
    }
    return [];
  }

  /** Stores a batch of results in one transaction. `resultOf` replaces what a delivery says
   *  (a result that could not be stored goes in as a failure of its attempt). */
  private ingestTogether(batch: DeliveredResult[], resultOf = (d: DeliveredResult) => d.result): void {
    const plan = new Plan(this.tasks);
    const attempts: AttemptRow[] = [];
    const results: ResultRecord[] = [];
    const touched = new Set<string>();
    const logs: string[] = [];
    for (const d of batch) {
      let r = resultOf(d);
      const bad = r.error ? null : nonFinite(r);
      if (bad) r = { ...r, metrics: [], outputs: [], ledger: undefined, details: undefined, error: { message: bad, code: 'bad_output', retryable: false, logTail: [] } };
      const [dispatch, delivery] = [r.attempt || 1, r.delivery || 1];
      const err = r.error;
      attempts.push({
        id: r.attemptId, taskId: r.taskId, sweepId: r.sweepId, dispatch, delivery, workerId: r.workerId || null,
        status: err ? (err.code === 'cancelled' ? 'cancelled' : 'failed') : 'succeeded',
        startedMs: r.startedMs || null, finishedMs: r.finishedMs || Date.now(), error: err?.message ?? null, errorCode: err?.code ?? null,
      });
      const t = this.tasks.get(r.taskId);
      // A late or doubled result (its task already ended, or an attempt since replaced): the attempt is kept, nothing else changes.
      if (!t || TERMINAL.has(plan.status(t))) continue;
      const old = superseded(r, t, plan.status(t));
      if (old) { this.superseded++; if (this.superseded <= 20 || this.superseded % 1000 === 0) logs.push(`coordinator: task ${t.name} (${t.id}): ignored the ${err ? (err.code === 'cancelled' ? 'cancel' : 'failure') : 'result'} of attempt ${r.attemptId}: ${old}`); continue; }
      touched.add(t.sweepId);
      const sw = this.sweeps.get(t.sweepId);
      const finishedMs = r.finishedMs || Date.now();
      if (!err) {
        results.push(toResultRecord(r, t.phase));
        if (sw) { const ms = runMsOf(r); if (ms !== null) ranFor(sw, t, ms); }
        plan.set(t, { status: 'succeeded', workerId: r.workerId || t.workerId, startedMs: t.startedMs ?? (r.startedMs || null), finishedMs, error: null });
      } else if (sw?.row.status === 'cancelled') {
        plan.set(t, { status: 'cancelled', error: err.message, finishedMs });
      } else if (err.code === 'cancelled') {
        // Nobody here asked for it (a sweep cancel ends the sweep first): a stray or
        // forged cancel. It is not a success; what needs its output cannot run.
        const why = `cancelled by worker ${r.workerId} without a cancel from this coordinator (${err.message})`;
        plan.set(t, { status: 'cancelled', error: why, finishedMs });
        plan.skipDependents(t, why);
        logs.push(`coordinator: task ${t.name} (${t.id}) ${why}`);
      } else if (err.retryable !== false && t.dispatches <= t.maxRetries) {
        const delay = Math.min(60_000, t.backoffMs * 2 ** (t.dispatches - 1));
        plan.set(t, { status: 'pending', error: err.message, nextDispatchMs: Date.now() + delay });
        logs.push(`coordinator: task ${t.name} (${t.id}) attempt ${t.dispatches} failed: ${err.message}; retry ${t.dispatches}/${t.maxRetries} in ${delay} ms`);
      } else {
        plan.set(t, { status: 'failed', error: err.message, finishedMs });
        plan.skipDependents(t, `dependency ${t.name} (${t.id}) failed: ${err.message}`);
        logs.push(`coordinator: task ${t.name} (${t.id}) failed after ${t.dispatches} attempt(s): ${err.message}`);
      }
    }
    this.store.apply({ attempts, results, tasks: plan.updates() });
    this.attemptsStored(attempts);
    // Stored: now memory follows, then the acks, once the commit is on the disk (--db-sync).
    const changed = this.commit(plan);
    this.store.afterDurable(() => { for (const d of batch) d.ack(); });   // a method call: a transport's delivered result may be a class
    for (const l of logs) this.log(l);
    for (const t of changed) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
    for (const id of touched) this.checkDone(id);
  }

  /** Applies a stored plan to the live tasks: counts, in-flight, dependents' readiness. */
  private commit(plan: Plan<LiveTask>): LiveTask[] {
    const changed: LiveTask[] = [];
    for (const [t, u] of plan.entries()) {
      Object.assign(t, u.fields);
      if (u.status === 'pending') { t.leaseAttempt = undefined; t.takenMs = undefined; t.unheldSinceMs = undefined; }
      this.setStatus(t, u.status);
      if (TERMINAL.has(u.status)) t.finishedMs ??= Date.now();
      changed.push(t);
      if (u.status === 'succeeded') {
        for (const id of t.dependents) {
          const d = this.tasks.get(id)!;
          if (--d.waiting === 0 && d.status === 'pending') this.enqueue(d);
        }
      } else if (u.status === 'pending') {
        this.enqueue(t);
      }
    }
    return changed;
  }

  /** Every status change of a live task goes through here: its sweep's counts and active set,
   *  and the coordinator's in-flight count (queued or running), follow it. */
  private setStatus(t: LiveTask, s: TaskStatus): void {
    const was = t.status === 'queued' || t.status === 'running', is = s === 'queued' || s === 'running';
    if (was !== is) this.inFlight += is ? 1 : -1;
    const sw = this.sweeps.get(t.sweepId);
    if (sw) {
      sw.counts[t.status]--; sw.counts[s]++;
      const ph = sw.phases.get(t.phase)!;
      ph.counts[t.status]--; ph.counts[s]++;
      if (t.startedMs && t.startedMs < ph.firstStart) ph.firstStart = t.startedMs;
      if (is) sw.active.add(t); else sw.active.delete(t);
    }
    t.status = s;
  }

  private checkDone(sweepId: string): void {
    const sw = this.sweeps.get(sweepId);
    if (!sw || sw.row.status !== 'running') return;
    const c = sw.counts;
    if (c.pending + c.queued + c.running > 0) return;
    // Cancelled tasks in a sweep nobody cancelled are not a success either.
    const bad = c.failed + c.cancelled;
    const parts = [c.failed && `${c.failed} task(s) failed`, c.cancelled && `${c.cancelled} cancelled without a sweep cancel`, `${c.skipped} skipped`].filter(Boolean);
    this.closeSweep(sw, bad > 0 ? 'failed' : 'succeeded', bad > 0 ? parts.join(', ') : null);
  }

  private closeSweep(sw: LiveSweep, status: SweepStatus, error: string | null): boolean {
    const finishedMs = Date.now();
    // Stored first; if the disk is full the sweep stays open and tick() closes it later.
    if (!this.tryWrite({ sweeps: [{ id: sw.row.id, status, finishedMs, error }] }, `sweep ${sw.row.id} not yet closed`)) return false;
    sw.row = { ...sw.row, status, finishedMs, error };
    this.log(`coordinator: sweep ${sw.row.id} ${status}${error ? `: ${error}` : ''}`);
    this.emit('change', { sweepId: sw.row.id, message: `sweep ${status}` } satisfies SweepChange);
    // Finished sweeps leave memory; the store answers for them from now on, but for a summary
    // of the last ones to end (their counts no longer change).
    this.ended.set(sw.row.id, new EndedSweep(sw.row, { ...sw.counts }, sw.arms, new LiveSweepView(sw, this.tasks).phaseGroups()));
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value!);
    for (const id of sw.taskIds) this.tasks.delete(id);
    this.sweeps.delete(sw.row.id);
    // With the workers its attempts named (null: not known in memory, after a restart).
    this.emit('closed', sw.row, sw.workerIds ? [...sw.workerIds] : null);
    return true;
  }

  // ---------------------------------------------------------------- events, time

  private startedBatch: AttemptRow[] = [];
  private startedTasks: LiveTask[] = [];
  private lostBatch: NonNullable<WriteBatch['lostAttempts']> = [];

  private onEvent(ev: TaskEvent): void {
    const t = this.tasks.get(ev.taskId);
    if (!ev.event) return;
    if (ev.event.$case === 'started') {
      if (!t) return; // not a task of a running sweep: no rows for it
      const [dispatch] = ev.attemptId.split('#')[1]?.split('.').map(Number) ?? [1];
      const delivery = ev.event.value.delivery;
      if (ev.attemptId !== `${t.id}#${dispatch}.${delivery}` || !(dispatch! >= 1) || dispatch! > t.dispatches) return;
      this.startedBatch.push({ id: ev.attemptId, taskId: ev.taskId, sweepId: ev.sweepId, dispatch: dispatch || 1, delivery, workerId: ev.workerId, status: 'running', startedMs: Number(ev.tsMs) || Date.now(), finishedMs: null, error: null, errorCode: null });
      if (delivery > 1) this.lostBatch.push({ taskId: ev.taskId, dispatch: dispatch || 1, beforeDelivery: delivery, error: `lease expired; redelivered to ${ev.workerId}` });
      if (t.error?.startsWith('waiting:')) t.error = null;
      if (dispatch === t.dispatches && (t.status === 'queued' || t.status === 'running')) {
        if (t.status === 'queued') { this.setStatus(t, 'running'); t.startedMs ??= Number(ev.tsMs) || Date.now(); }
        t.workerId = ev.workerId;
        t.leaseAttempt = ev.attemptId;
        t.leaseStartMs = Date.now();
        t.unheldSinceMs = undefined;
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
    // Answers by pool and need: a sweep's thousands of queued tasks ask a handful of questions.
    const fitsBy = new Map<TaskNeed, boolean>();
    for (const sw of this.sweeps.values()) {
      if (!sw.counts.queued) continue;
      for (const t of sw.active) {
        if (t.status !== 'queued' || t.error?.startsWith('waiting:')) continue;
        const need = needOf(t);
        let fits = fitsBy.get(need);
        if (fits === undefined) {
          fits = live.some((w) => w.info.pool === need.pool && w.info.kinds.includes(need.kind) && need.gpus <= w.info.gpus.length && need.cpus <= w.info.cpus);
          fitsBy.set(need, fits);
        }
        if (fits) continue;
        const pool = live.filter((w) => w.info.pool === t.pool);
        t.error = `waiting: no live worker in pool "${t.pool}" can run it (kind ${t.kind}, ${need.gpus} GPU(s), ${need.cpus} CPU(s)); `
          + (pool.length ? `pool workers: ${pool.map((w) => `${w.info.id} (${w.info.gpus.length} GPU(s), ${w.info.cpus} CPUs)`).join(', ')}` : 'start one with `limolab worker --pool ' + t.pool + '`');
        flagged.push(t);
      }
    }
    for (const t of flagged.slice(0, 5)) this.log(`coordinator: task ${t.name} (${t.id}) ${t.error}`);
    if (flagged.length > 5) this.log(`coordinator: ... and ${flagged.length - 5} more task(s) no worker can run`);
    this.lastFitCheck = now;
    return flagged;
  }

  private lastWatch = 0;

  /**
   * Running attempts that will never report: past their task's timeout_s (plus grace),
   * or held by a worker that has been silent for longer than a lease would last (after a
   * coordinator restart too: the clock starts when this coordinator did). JetStream
   * redelivers a dead worker's task by itself; this catches what it cannot (the message
   * is gone, or its holder hangs while extending the lease). Also an attempt whose worker
   * is alive but no longer holds it (its heartbeats stop listing the task, which a worker does
   * only once the result is stored) while no result came for as long as a lost worker's would
   * take: the result message was lost on the way (refused as corrupt, or rolled back with the
   * database after its ack), and without this the task would wait forever unless it had a
   * timeout_s. The attempt is given up and the task goes out again as a new dispatch; the old
   * attempt's result, if it ever comes, is ignored as late.
   */
  private watchAttempts(now: number): void {
    const GONE_FLOOR_MS = 30_000;
    const plan = new Plan(this.tasks);
    const logs: string[] = [];
    const stop: { worker: string; task: string }[] = [];
    const leaseMs = this.transport.ackWaitMs;
    /** The tasks each live worker's last heartbeat listed, made once per worker per watch. */
    const held = new Map<WorkerView, Set<string>>();
    for (const sw of this.sweeps.values()) {
      if (!sw.counts.running && !sw.counts.queued) continue;
      for (const t of sw.active) {
        const taken = t.status === 'queued' && t.takenMs !== undefined;
        if (!taken && (t.status !== 'running' || t.leaseStartMs === undefined)) continue;
        const since = taken ? t.takenMs! : t.leaseStartMs!;
        const timeoutMs = needOf(t).timeoutS * 1000;
        const w = t.workerId && !taken ? this.registry.get(t.workerId) : undefined;
        const gone = !w || w.state === 'lost' || w.state === 'stopped';
        const silentMs = now - Math.max(w?.lastSeenMs ?? 0, this.startedMs, since);
        // A heartbeat received after the start (same connection as the start event, so sent
        // after it) that does not list the task: the worker has let it go.
        if (!gone && w && w.lastSeenMs > since) {
          let holds = held.get(w);
          if (!holds) held.set(w, holds = new Set(w.running));
          if (holds.has(t.id)) t.unheldSinceMs = undefined;
          else t.unheldSinceMs ??= w.lastSeenMs;
        }
        const unheldMs = !gone && t.unheldSinceMs !== undefined ? now - t.unheldSinceMs : 0;
        let why: string | null = null;
        let lostResult = false;
        if (timeoutMs > 0 && now - since > timeoutMs + this.graceMs) why = `timed out: running ${Math.round((now - since) / 1000)} s, over its timeout_s ${timeoutMs / 1000} (enforced by the coordinator)`;
        // JetStream hands a dead worker's unacked task to the next worker that fetches, which
        // can be a worker still starting up: give it two leases and at least 30 s before
        // concluding the message is gone, or the task runs twice (one result row either way).
        else if (gone && silentMs > Math.max(GONE_FLOOR_MS, this.lostAfterMs + 2 * leaseMs + this.graceMs)) {
          why = taken ? `was taken off the queue by a worker that never reported, and no result came in ${Math.round(silentMs / 1000)} s`
            : `its worker ${t.workerId ?? '(unknown)'} is gone (no heartbeat for ${Math.round(silentMs / 1000)} s) and the task did not come back`;
        }
        else if (unheldMs > this.lostAfterMs + 2 * leaseMs + this.graceMs) {
          why = `its worker ${t.workerId} is alive but has not held it for ${Math.round(unheldMs / 1000)} s (its heartbeats stopped listing it) and no result came in: the result was lost on the way`;
          lostResult = true;
        }
        if (!why) continue;
        if (t.workerId && !gone && !lostResult) stop.push({ worker: t.workerId, task: t.id });
        const retry = t.dispatches <= t.maxRetries || gone || lostResult;   // a vanished worker or result is not the task's failure
        if (retry) {
          plan.set(t, { status: 'pending', error: why, nextDispatchMs: null });
          logs.push(`coordinator: task ${t.name} (${t.id}) attempt ${t.dispatches} ${why}; dispatching it again`);
        } else {
          plan.set(t, { status: 'failed', error: why, finishedMs: now });
          plan.skipDependents(t, `dependency ${t.name} (${t.id}) failed: ${why}`);
          logs.push(`coordinator: task ${t.name} (${t.id}) ${why}; no retries left`);
        }
      }
    }
    if (!plan.size) return;
    const attempts: AttemptRow[] = [];
    for (const [t] of plan.entries()) {
      if (t.leaseAttempt && t.status === 'running') {
        attempts.push({ id: t.leaseAttempt, taskId: t.id, sweepId: t.sweepId, dispatch: t.dispatches, delivery: Number(t.leaseAttempt.split('.').pop()) || 1, workerId: t.workerId, status: 'lost', startedMs: null, finishedMs: now, error: t.error, errorCode: 'timeout' });
      }
    }
    if (!this.tryWrite({ tasks: plan.updates(), attempts }, 'stuck attempts not re-queued yet')) return;
    this.attemptsStored(attempts);
    const changed = this.commit(plan);
    for (const l of logs) this.log(l);
    for (const s of stop) void this.transport.control(s.worker, { op: { $case: 'cancelTask', value: s.task } }, 2000).catch(() => {});
    for (const t of changed) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
    for (const sw of new Set(changed.map((t) => t.sweepId))) this.checkDone(sw);
  }

  private saveWorkers(): void {
    const rows = this.registry.takeDirty();
    const evicted = this.registry.takeEvicted();
    if (!rows.length && !evicted.length) return;
    try {
      this.store.forgetWorkers(evicted);
      this.store.upsertWorkers(rows);
    } catch (err) {
      const why = storageTrouble(err);
      if (!why) throw err;
      this.registry.redirty(rows.map((r) => r.id));
      this.storageFailed(why, err, 'worker states not saved');
    }
  }

  /** Stored attempts' workers join their (running) sweep's set. */
  private attemptsStored(attempts: readonly AttemptRow[]): void {
    for (const a of attempts) if (a.workerId) this.sweeps.get(a.sweepId)?.workerIds?.add(a.workerId);
  }

  /** Writes the attempt starts reported since the last call. */
  private saveStarted(): void {
    if (!this.startedBatch.length && !this.lostBatch.length) return;
    const tasks = this.startedTasks.filter((t) => !TERMINAL.has(t.status));
    // Started events only annotate: kept for the next tick if the disk is full.
    if (this.tryWrite({ attempts: this.startedBatch, lostAttempts: this.lostBatch, tasks: tasks.map(updateOf) }, 'attempt starts not saved')) {
      this.attemptsStored(this.startedBatch);
      for (const t of tasks) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
      this.startedBatch = []; this.startedTasks = []; this.lostBatch = [];
    }
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastFitCheck > 5000) {
      const flagged = this.checkPlacement(now);
      if (flagged.length && this.tryWrite({ tasks: flagged.map(updateOf) }, 'placement notes not saved')) {
        for (const t of flagged) this.emit('change', { sweepId: t.sweepId, task: t } satisfies SweepChange);
      }
    }
    this.saveStarted();
    this.republish(now);
    let due = false;
    // Retries whose delay is over: O(due), not a walk over every task of every sweep (at
    // 20k tasks that walk took ~5 ms of every 250 ms tick, a pause for whatever waited on it).
    while ((this.delayed.peekKey() ?? Infinity) <= now) {
      const t = this.delayed.pop()!;
      if (this.tasks.get(t.id) === t && t.status === 'pending' && t.waiting === 0 && t.nextDispatchMs && t.nextDispatchMs <= now) {
        t.nextDispatchMs = null;
        this.enqueue(t);
        due = true;
      }
    }
    for (const lost of this.registry.sweepLost(now)) {
      this.log(`coordinator: worker ${lost.id} missed its heartbeats; marked lost (its ${lost.running.length} task(s) return after their lease)`);
      this.emit('worker-lost', lost.id);
    }
    this.saveWorkers();
    if (now - this.lastWatch >= 1000 && !this.storage) {
      this.lastWatch = now;
      this.watchAttempts(now);
      // A sweep whose close could not be stored (disk full) closes now.
      for (const id of [...this.sweeps.keys()]) this.checkDone(id);
    }
    if (due || (this.ready.size && !this.pumping)) this.pump();
  }

  // ---------------------------------------------------------------- control

  async cancel(sweepId: string): Promise<SweepRow> {
    const sw = this.sweeps.get(sweepId);
    if (!sw) {
      const row = this.store.getSweep(sweepId);
      if (!row) throw new NotFoundError(`no sweep ${sweepId}; \`limolab sweep list\` shows the sweeps`);
      return row; // already finished
    }
    const plan = new Plan(this.tasks);
    const now = Date.now();
    for (const id of sw.taskIds) {
      const t = this.tasks.get(id)!;
      if (!TERMINAL.has(t.status)) plan.set(t, { status: 'cancelled', error: 'cancelled', finishedMs: now });
    }
    const finishedMs = Date.now();
    try {
      this.store.apply({ tasks: plan.updates(), sweeps: [{ id: sweepId, status: 'cancelled', finishedMs, error: 'cancelled by request' }] });
    } catch (err) {
      const why = storageTrouble(err);
      if (!why) throw err;
      this.storageFailed(why, err, 'a cancel refused');
      throw new LimolabError(`cannot cancel sweep ${sweepId}: ${why}; nothing was changed: free space, then cancel again`, { cause: err });
    }
    sw.row = { ...sw.row, status: 'cancelled' };
    const changed = this.commit(plan);
    await this.transport.control('all', { op: { $case: 'cancelSweep', value: sweepId } }).catch(() => {});
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

  liveSweep(id: string): LiveSweepView | null {
    const sw = this.sweeps.get(id);
    return sw ? new LiveSweepView(sw, this.tasks) : null;
  }

  /** A running sweep, or one of the last to end, without its tasks; undefined: ask the store. */
  sweepState(id: string): SweepState | undefined {
    return this.liveSweep(id) ?? this.ended.get(id);
  }

  /** Drops an ended sweep's summary (the sweep was deleted). */
  forgetEnded(id: string): void { this.ended.delete(id); }

  get inFlightCount() { return this.inFlight; }
}

/**
 * Why a result no longer speaks for its task, or null when it is for the attempt now out:
 * an earlier dispatch; a dispatch given up since (the task waits to go out again: retried,
 * re-queued by the coordinator, or reopened by a sweep retry); or an earlier delivery of
 * the current dispatch (its lease ran out and another worker started it). Such a result,
 * e.g. the cancel of an aborted attempt arriving after a retry, must not end the task.
 */
export function superseded(r: TaskResult, t: { dispatches: number; leaseAttempt?: string }, status: TaskStatus): string | null {
  const dispatch = r.attempt || 1;
  if (dispatch < t.dispatches) return `dispatch ${dispatch} was superseded by dispatch ${t.dispatches}`;
  if (status !== 'queued' && status !== 'running') return `dispatch ${dispatch} was given up (the task is ${status}, to be dispatched again)`;
  const leased = t.leaseAttempt ? Number(t.leaseAttempt.split('.').pop()) : 0;
  if (t.leaseAttempt?.startsWith(`${r.taskId}#${dispatch}.`) && (r.delivery || 1) < leased) return `delivery ${r.delivery || 1} was superseded by ${t.leaseAttempt} (its lease ran out)`;
  return null;
}

/** Base64 Task bytes with this dispatch's attempt appended (encodeAttempt). */
export function withAttempt(taskProto: string, attempt: number): Uint8Array {
  return Buffer.concat([Buffer.from(taskProto, 'base64'), encodeAttempt(attempt)]);
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
