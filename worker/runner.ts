// The runner interface: what a worker calls to execute one task. The worker owns the
// transport (NATS), leases, cancellation and result publishing; a runner only computes.
// Runners: `builtin` (diag + the embedded engine's ML kinds), `process` (external command
// speaking JSON lines), `openai` (sampling against an OpenAI-compatible server).
import { LimolabError } from '../common/errors.js';
import type { ArtifactRef, LedgerEntry, Task, TaskKind } from '../gen/limolab/v1/task.js';
import type { TimePart } from '../common/task-timing.js';

/** Reads and writes content-addressed artifacts. Names from messages are never paths. */
export interface ArtifactIO {
  /** Bytes of an input artifact; verifies the sha256 digest before returning. */
  get(ref: ArtifactRef): Promise<Uint8Array>;
  /** Stores bytes under their sha256 digest and returns a reference with the given role. */
  put(role: string, bytes: Uint8Array, mediaType?: string): Promise<ArtifactRef>;
}

export interface TaskContext {
  task: Task;
  /** Aborted when the task is cancelled, times out, or the worker shuts down. */
  signal: AbortSignal;
  artifacts: ArtifactIO;
  /** Threads this task may use (from the worker's slots and the task's cpus). */
  threads: number;
  progress(fraction: number, message?: string): void;
  /** A log line for the attempt: streamed to the coordinator and kept in the tail stored with
   * its result. source: 'runner' (default) or 'stderr' (an external process's stderr). */
  log(line: string, source?: 'runner' | 'stderr'): void;
  metric(name: string, value: number, step?: number): void;
  /** Input artifact by role; throws a clear error when the task has none. */
  input(role: string): ArtifactRef;
  /** Adds ms to one part of the task's own time (reported as time.<part>_s metrics; see
   * common/task-timing.ts). The worker's context has it; a bare context may leave it out. */
  addTime?(part: TimePart, ms: number): void;
}

/** ctx with some members replaced, for running a sub-task through another runner. Not
 * `{ ...ctx }`: the worker's context is a class, whose methods and getters a spread drops. */
export function deriveContext(ctx: TaskContext, over: Partial<Pick<TaskContext, 'task' | 'artifacts' | 'progress' | 'input'>>): TaskContext {
  return {
    task: over.task ?? ctx.task,
    get signal() { return ctx.signal; },
    artifacts: over.artifacts ?? ctx.artifacts,
    threads: ctx.threads,
    progress: over.progress ?? ((fraction, message) => ctx.progress(fraction, message)),
    log: (line, source) => ctx.log(line, source),
    metric: (name, value, step) => ctx.metric(name, value, step),
    input: over.input ?? ((role) => ctx.input(role)),
    addTime: ctx.addTime && ((part, ms) => ctx.addTime!(part, ms)),
  };
}

export interface RunOutput {
  metrics: Record<string, number>;
  ledger: Partial<LedgerEntry>;
  outputs: ArtifactRef[];
  /** Small structured output kept with the result (e.g. sample outputs for inspection). */
  details?: Record<string, unknown>;
}

export interface Runner {
  readonly name: string;
  readonly kinds: readonly TaskKind[];
  /** Whether it takes this task (e.g. only tasks whose model_ref names an external model);
   * absent means every task of its kinds. The worker asks its runners in order. */
  accepts?(task: Task): boolean;
  run(ctx: TaskContext): Promise<RunOutput>;
}

/** Thrown by runners for input that retrying cannot fix (bad spec, corrupt artifact). */
export class BadTaskInputError extends LimolabError {
  override name = 'BadTaskInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown when the task's signal aborted. */
export class TaskCancelledError extends LimolabError {
  override name = 'TaskCancelledError';
}
