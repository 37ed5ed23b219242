// The store interface the scheduler, server and analysis depend on; SqliteStore
// implements it. Writes come as batches (one SQLite transaction each) because the
// dispatch path commits thousands of state changes a second.
import type { ArtifactRef, LedgerEntry, Metric, Task } from '../../gen/limolab/v1/task.js';

export type TaskStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'cached';
export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'cached']);
export type SweepStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Dep { task: string; role: string }

/** n tasks of one phase and status: progress is the sum of the running ones' reported progress,
 *  firstStart the earliest start among them (null: none started). */
export interface PhaseGroup { phase: string; status: TaskStatus; n: number; progress: number; firstStart: number | null }

export interface TaskRow {
  id: string; sweepId: string; arm: string; seed: number; name: string; kind: string; phase: string; pool: string;
  status: TaskStatus; priority: number; taskProto: string; deps: Dep[]; cacheKey: string; maxRetries: number;
  dispatches: number; nextDispatchMs: number | null; workerId: string | null; createdMs: number;
  startedMs: number | null; finishedMs: number | null; error: string | null; reusedFrom: string | null;
  arms: string[];   // "<arm>|<seed>" keys charged for this task
  /** The planned Task, kept in memory after planning so dispatch need not decode taskProto. */
  task?: Task;
}

export interface SweepRow {
  id: string; name: string; status: SweepStatus; priority: number; specText: string; specJson: string;
  createdMs: number; finishedMs: number | null; error: string | null;
}

export interface ArmRow { sweepId: string; arm: string; armGroup: string; method: string; seed: number; params: Record<string, unknown>; evalTaskId: string | null }

export interface AttemptRow {
  id: string; taskId: string; sweepId: string; dispatch: number; delivery: number; workerId: string | null;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost'; startedMs: number | null; finishedMs: number | null;
  error: string | null; errorCode: string | null;
}

export interface ResultRecord {
  taskId: string; sweepId: string; attemptId: string; phase: string; outputs: ArtifactRef[];
  details?: Record<string, unknown>; metrics: Metric[]; ledger: LedgerEntry; reused: boolean; createdMs: number;
}

export interface WorkerRow {
  id: string; host: string; pool: string; info: unknown; state: string; running: string[];
  firstSeenMs: number; lastSeenMs: number; completed: number; failed: number;
}


/** The mutable fields of a task that a WriteBatch writes. */
export type TaskUpdate = Pick<TaskRow, 'id' | 'status' | 'dispatches' | 'nextDispatchMs' | 'workerId' | 'startedMs' | 'finishedMs' | 'error' | 'reusedFrom'>;

/** Everything one scheduler step changes, written atomically. */
export interface WriteBatch {
  sweeps?: { id: string; status: SweepStatus; finishedMs: number | null; error?: string | null }[];
  tasks?: TaskUpdate[];             // mutable fields written: status, dispatches, next dispatch, worker, times, error
  attempts?: AttemptRow[];          // upserted by id
  lostAttempts?: { taskId: string; beforeDelivery: number; dispatch: number; error: string }[];
  results?: ResultRecord[];         // inserted once per task; later ones ignored
}

export interface CachedTask { taskId: string; outputs: ArtifactRef[]; ledger: LedgerEntry | null; metrics: Metric[]; details?: Record<string, unknown> }

export interface Store {
  createSweep(sweep: SweepRow, arms: ArmRow[], tasks: TaskRow[], cached: Map<string, CachedTask>): void;
  getSweep(id: string): SweepRow | null;
  listSweeps(limit: number, status?: string): SweepRow[];
  sweepTasks(sweepId: string): TaskRow[];
  /** Tasks of a sweep by status, counted in SQL. */
  taskCounts(sweepId: string): Partial<Record<TaskStatus, number>>;
  /** A sweep's tasks counted by phase and status, with the first start of each group (progress 0:
   *  the store keeps no running task's progress). */
  phaseCounts(sweepId: string): PhaseGroup[];
  /** The distinct arm instances of a sweep's tasks, in plan order (without reading the tasks). */
  sweepArmNames(sweepId: string): string[];
  sweepArms(sweepId: string): ArmRow[];
  activeSweeps(): SweepRow[];
  apply(batch: WriteBatch): void;
  /** Calls fn once every commit made so far is on the disk (the results it stored may then be
   *  acked); at once where the store does not wait for the disk (--db-sync normal, memory). */
  afterDurable(fn: () => void): void;
  /** Output artifacts of succeeded tasks, by task id. */
  outputsOf(taskIds: string[]): Map<string, ArtifactRef[]>;
  findCached(cacheKey: string): CachedTask | null;
  attemptsOf(taskId: string): AttemptRow[];
  /** Sweep, status and dispatch count of these tasks (those that exist), in one query. */
  taskStates(taskIds: string[]): Map<string, { sweepId: string; status: TaskStatus; dispatches: number }>;
  resultCount(sweepId: string): number;
  upsertWorkers(rows: WorkerRow[]): void;
  listWorkers(): WorkerRow[];
  forgetWorkers(ids: string[]): void;
  close(): void;
}
