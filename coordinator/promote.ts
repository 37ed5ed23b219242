// Promotes what was just allocated to V8's old generation at a moment of the coordinator's
// choosing. A sweep's planned tasks (~1 KB each, kept for the sweep's life) are born in the
// young generation; left alone, they are copied and promoted by the young-generation
// collections of the sweep's first few hundred milliseconds, each a pause for every task in
// flight. Measured (bench:trace, 10,000 no-op tasks, 64 in flight, one worker, 2026-12-04): those
// collections paused the event loop 9-15 ms each in the first 100 ms of a sweep, and the rounds of
// tasks they held up made the run's p99 (30 ms against 12-14 in runs without them). Two young
// collections right after planning, while submit holds the event loop anyway and before any task
// of the sweep is published, promote the tasks at once: 4-19 ms more per 10,000-task submit.
//
// The collections are V8's gc extension, which Node exposes only with --expose-gc; the flag is
// set when first needed (v8.setFlagsFromString) and the function taken from a fresh context. Where
// that fails (another runtime, a Node that refuses the flag late), nothing is done.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gcFn: GcFn | null | undefined;

function gc(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  try {
    const existing = (globalThis as { gc?: GcFn }).gc;
    if (typeof existing === 'function') return (gcFn = existing);
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    gcFn = typeof f === 'function' ? (f as GcFn) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Runs two young-generation collections (an object that survives two is promoted); false where
 *  the runtime offers none. */
export function promoteYoung(): boolean {
  const f = gc();
  if (!f) return false;
  try {
    f({ type: 'minor' });
    f({ type: 'minor' });
    return true;
  } catch {
    return false;
  }
}
