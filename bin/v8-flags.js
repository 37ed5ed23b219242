// V8 flags for every limolab process, set before anything else runs.
//
// --no-allocation-site-pretenuring: V8 watches which allocation sites' objects survive young
// collections and, past a threshold, allocates that site's objects straight in the old
// generation. A worker crossed it while starting, and from then on its per-task objects were
// not freed young: V8's sampling heap profiler (objects not collected by a young collection)
// showed the decoded tasks, their records and their results, which live a few milliseconds.
// Measured on a worker at 64 tasks in flight (bench:dispatch latency row, 1 worker,
// --trace-gc-nvp, 2026-12-05): with pretenuring, a young collection every ~100 ms promoted
// ~1.4 MB and paused 7-14 ms; without, 1-16 KB and mostly 1.4-4 ms.
// In bench:dispatch's latency rows (two runs of three each way, alternated, 04:06-04:12) the
// workers used 27-37 us a task against 39-46 (one worker) and 47-53 against 62-82 (four).
// The coordinator, whose live tasks do live long, showed no clear change either way.
// LIMOLAB_V8_PRETENURING=1 keeps V8's default (for comparisons).
import { setFlagsFromString } from 'node:v8';

if (process.env.LIMOLAB_V8_PRETENURING !== '1') setFlagsFromString('--no-allocation-site-pretenuring');
