// Result screening for the scheduler's ingest: whether a result message may touch the
// store at all (it names an attempt this coordinator dispatched, to the worker that
// started it) and whether its numbers can be stored (finite metrics and ledger). Pure
// functions over the scheduler's view of a task, unit-testable without NATS or SQLite.
import type { TaskResult } from '../gen/limolab/v1/task.js';
import { TERMINAL, type TaskStatus, type TaskUpdate } from './store/store.js';

/** What the coordinator knows of the task a result names. */
export interface TaskView {
  sweepId: string;
  dispatches: number;          // attempts dispatched so far (the current one is this number)
  /** "<task>#<dispatch>.<delivery>" of the attempt whose start was reported, and by whom. */
  startedAttempt?: string;
  startedBy?: string | null;
}

/** JetStream redelivers without limit; beyond this a delivery number is not believable. */
export const MAX_DELIVERY = 10_000;

/**
 * Why a result must be refused without creating any row, or null when it names an attempt
 * this coordinator dispatched. `task` is undefined when no such task exists.
 */
export function refusal(r: TaskResult, task: TaskView | undefined): string | null {
  if (!task) return `no task ${r.taskId.slice(0, 80)} in this database`;
  if (r.sweepId !== task.sweepId) return `task ${r.taskId} belongs to sweep ${task.sweepId}, not ${r.sweepId.slice(0, 80)}`;
  const attempt = r.attempt || 1;
  const delivery = r.delivery || 1;
  if (attempt > task.dispatches) return `attempt ${attempt} of task ${r.taskId} was never dispatched (${task.dispatches} so far)`;
  if (delivery > MAX_DELIVERY) return `delivery ${delivery} of task ${r.taskId} is not believable`;
  if (r.attemptId !== `${r.taskId}#${attempt}.${delivery}`) return `attempt id ${r.attemptId.slice(0, 80)} does not match task ${r.taskId}, attempt ${attempt}, delivery ${delivery}`;
  if (!r.workerId) return `result for ${r.attemptId} names no worker`;
  if (task.startedAttempt === r.attemptId && task.startedBy && task.startedBy !== r.workerId) {
    return `attempt ${r.attemptId} was leased to worker ${task.startedBy}, not ${r.workerId.slice(0, 80)}`;
  }
  return null;
}

/**
 * Why a successful result's numbers cannot be stored (a NaN or infinite metric or ledger
 * figure), or null. SQLite turns NaN into NULL, which the schema refuses; storing it as
 * anything else would put a made-up number into the analysis.
 */
export function nonFinite(r: TaskResult): string | null {
  const bad: string[] = [];
  for (const m of r.metrics) if (!Number.isFinite(m.value)) bad.push(`metric ${m.name}${m.step ? ` (step ${m.step})` : ''} = ${m.value}`);
  const L = r.ledger;
  // for-in, not Object.entries: this runs for every result, and entries allocated an array per field (~0.7 KB a result).
  if (L) for (const k in L) { const v = (L as unknown as Record<string, unknown>)[k]; if (typeof v === 'number' && !Number.isFinite(v)) bad.push(`ledger ${k} = ${v}`); }
  if (!bad.length) return null;
  const shown = bad.slice(0, 5).join(', ') + (bad.length > 5 ? ` and ${bad.length - 5} more` : '');
  return `result refused: ${shown}; only finite numbers are stored. A NaN or infinite loss usually means training diverged: lower the learning rate`;
}

/** The fields of a live task a plan changes, and the tasks it reaches through `dependents`. */
export interface PlanTask extends TaskUpdate { dependents: string[] }

/**
 * Changes to live tasks, decided before anything is stored and applied only after: the
 * rows to write come from here, and the live tasks stay as they were if the write fails.
 */
export class Plan<T extends PlanTask> {
  private changes = new Map<T, { status: TaskStatus; fields: Partial<TaskUpdate> }>();
  constructor(private tasks: Map<string, T>) {}

  /** The task's status with this plan applied. */
  status(t: T): TaskStatus { return this.changes.get(t)?.status ?? t.status; }

  set(t: T, u: Partial<TaskUpdate> & { status: TaskStatus }): void {
    const prev = this.changes.get(t);
    const { status, ...fields } = u;
    this.changes.set(t, { status, fields: { ...prev?.fields, ...fields } });
  }

  /** Every task downstream of `t` that has not ended is skipped, with the reason. */
  skipDependents(t: T, reason: string): void {
    const stack = [...t.dependents];
    const now = Date.now();
    while (stack.length) {
      const d = this.tasks.get(stack.pop()!);
      if (!d || TERMINAL.has(this.status(d))) continue;
      this.set(d, { status: 'skipped', error: `skipped: ${reason}`, finishedMs: now });
      stack.push(...d.dependents);
    }
  }

  get size() { return this.changes.size; }
  entries() { return this.changes.entries(); }

  updates(): TaskUpdate[] {
    const out: TaskUpdate[] = [];
    for (const [t, { status, fields }] of this.changes) {
      out.push({
        id: t.id, status, dispatches: fields.dispatches ?? t.dispatches,
        nextDispatchMs: fields.nextDispatchMs !== undefined ? fields.nextDispatchMs : t.nextDispatchMs,
        workerId: fields.workerId !== undefined ? fields.workerId : t.workerId,
        startedMs: fields.startedMs !== undefined ? fields.startedMs : t.startedMs,
        finishedMs: fields.finishedMs !== undefined ? fields.finishedMs : TERMINAL.has(status) ? (t.finishedMs ?? Date.now()) : t.finishedMs,
        error: fields.error !== undefined ? fields.error : t.error,
        reusedFrom: t.reusedFrom,
      });
    }
    return out;
  }
}
