// Where a task's own time goes, beside its compute: fetching inputs, storing outputs, building
// ONNX graphs (session creation), starting a runner process. The worker runs each task inside
// its own accumulator (AsyncLocalStorage, so concurrent tasks on one worker keep theirs apart);
// code anywhere below the task adds to it, and the worker reports the sums as time.<part>_s
// metrics, which `limolab timing` subtracts from the task's wall time to get compute.
import { AsyncLocalStorage } from 'node:async_hooks';

export const TIME_PARTS = ['input', 'output', 'graph_build', 'process_start'] as const;
export type TimePart = (typeof TIME_PARTS)[number];
export const timeMetric = (part: TimePart) => `time.${part}_s`;

const current = new AsyncLocalStorage<Map<TimePart, number>>();

/** Runs fn with a fresh accumulator; returns what fn returned and the seconds per part. */
export async function withTaskTiming<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: Map<TimePart, number> }> {
  const ms = new Map<TimePart, number>();
  const value = await current.run(ms, fn);
  return { value, seconds: new Map([...ms].map(([k, v]) => [k, v / 1000])) };
}

/** Adds ms to the running task's part (no-op outside a task). */
export function addTaskTime(part: TimePart, ms: number): void {
  const m = current.getStore();
  if (m && ms > 0) m.set(part, (m.get(part) ?? 0) + ms);
}

/** Times one awaited step as `part` of the running task. */
export async function timed<T>(part: TimePart, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    addTaskTime(part, performance.now() - t0);
  }
}
