// Where a task's own time goes, beside its compute: fetching inputs, storing outputs, building
// ONNX graphs (session creation), starting a runner process. The worker gives each task its own
// accumulator through the TaskContext (ctx.addTime); the runner code below the task adds to it,
// and the worker reports the sums as time.<part>_s metrics, which `limolab timing` subtracts
// from the task's wall time to get compute. Explicit rather than AsyncLocalStorage: on Node 20
// that turns on promise hooks for every promise in the worker, a cost every no-op task paid.

export const TIME_PARTS = ['input', 'output', 'graph_build', 'process_start'] as const;
export type TimePart = (typeof TIME_PARTS)[number];
export const timeMetric = (part: TimePart) => `time.${part}_s`;

/** One task's milliseconds per part. */
export class TaskTiming {
  private ms: Partial<Record<TimePart, number>> | null = null;

  add(part: TimePart, ms: number): void {
    if (!(ms > 0)) return;
    const m = (this.ms ??= {});
    m[part] = (m[part] ?? 0) + ms;
  }

  /** Seconds per part that had any time, in TIME_PARTS order. */
  seconds(): Map<TimePart, number> {
    const out = new Map<TimePart, number>();
    if (this.ms) for (const p of TIME_PARTS) { const v = this.ms[p]; if (v !== undefined) out.set(p, v / 1000); }
    return out;
  }
}

/** Times one awaited step as `part` of a task (add is ctx.addTime, or a TaskTiming's add). */
export async function timed<T>(add: ((part: TimePart, ms: number) => void) | undefined, part: TimePart, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    add?.(part, performance.now() - t0);
  }
}
