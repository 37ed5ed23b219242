// Scheduler tick benchmark: how long the coordinator's 250 ms housekeeping tick (retries due,
// lost workers, the once-a-second attempt watch, the 5-second placement check) holds its event
// loop while one sweep runs at 64 in flight, for sweeps of each size in SIZES. The tick's work
// should follow what is in flight, not the sweep's size: the sizes are each other's baseline in
// the same run. Measured 2026-12-04 on a 2-core machine, 100k-task sweep: before the watch and
// the placement check walked only queued and running tasks, ticks up to 102 ms (325 ms of
// ticks in 8 s, against 13 ms and 42 ms for a 20k-task sweep); after, up to 7.5-21 ms (18-41 ms
// in 8 s; the longest ones vary from run to run, a garbage collection can land in a tick).
// Each row also gives what a sweep's size costs its readers: the time of one GetSweep
// (coord.getSweep, median of 20 calls) while it runs (1 s in; '-' if it has ended by then), just
// after it ended (the scheduler keeps a summary of the last 64 to end) and as an older sweep (its
// summary dropped: counted in SQLite), and the event loop's delay (p99, max, from 1 s in to the end) with
// one watcher on the sweep all along (coord.watch, as `limolab run` follows its sweep; it reads the sweep
// every 200 ms). Measured 2026-12-04, load 1.7-1.9, 20k / 100k tasks: before getSweep stopped
// reading every task (12:43 UTC), running 2.8 / 19.9 ms, ended 330 / 1,962 ms, loop delay with a
// watcher p99 5.0 / 27.3 ms, max 373 / 59 ms (the 373: the watcher's last read, of every task row
// in SQLite, as the 20k sweep ended); after (13:29 UTC), running and ended under 0.01 ms, older
// 11 / 84 ms, loop delay p99 5.4 / 11.0 ms, max 14 / 21 ms.
// Run: npm run bench:tick   (env SIZES=20000,100000 SECONDS=8)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startNatsServer } from '../common/nats-server.js';
import { startCoordinator } from '../coordinator/main.js';
import { load, pct, spawnWorker, waitForWorkers } from './common.js';

const SIZES = (process.env.SIZES ?? '20000,100000').split(',').map(Number);
const SECONDS = Number(process.env.SECONDS ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'limolab-tick-'));
const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
try {
  console.log(`tick benchmark: one sweep of no-op tasks at a time, 64 in flight, 1 worker, ${SECONDS} s each (loadavg ${load()})`);
  console.log('sweep tasks  ticks  p50 ms  p99 ms  max ms  total ms  getSweep ms: running  ended  older  loop delay p99 ms  max ms');
  for (const [i, n] of SIZES.entries()) {
    const c = await startCoordinator({ db: join(dir, `tick-${i}.db`), nats: { url: nats.url }, listen: '127.0.0.1:0', maxInFlight: 64, log: () => {} });
    const w = spawnWorker(nats.url, `tick-${i}`);
    try {
      await waitForWorkers(c, 1);
      const s = c.coord.scheduler as unknown as { tick(): void };
      const tick = s.tick.bind(s);
      const ms: number[] = [];
      s.tick = () => { const t0 = performance.now(); try { tick(); } finally { ms.push(performance.now() - t0); } };
      const id = c.coord.submit(`name: tick\narms: [{name: noop, method: diag, params: {tasks: ${n}}}]`).sweep!.id;
      const ac = new AbortController();
      const watching = c.coord.watch(id, () => {}, ac.signal);
      const getSweepMs = () => {
        const calls: number[] = [];
        for (let k = 0; k < 20; k++) { const t0 = performance.now(); c.coord.getSweep(id); calls.push(performance.now() - t0); }
        return pct(calls, 50);
      };
      await new Promise((r) => setTimeout(r, 1000));
      const running = c.coord.scheduler.liveSweep(id) ? getSweepMs().toFixed(2) : '-';
      // The loop's delay from here on: not the 20 calls just made.
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      await new Promise((r) => setTimeout(r, SECONDS * 1000 - 1000));
      loop.disable();
      ac.abort();
      await watching;
      await c.coord.cancel(id);
      const ended = getSweepMs().toFixed(2);
      c.coord.scheduler.forgetEnded(id);   // as an older sweep, not among the last to end: read from SQLite
      const older = getSweepMs().toFixed(2);
      console.log(`${String(n).padStart(11)}  ${String(ms.length).padStart(5)}  ${pct(ms, 50).toFixed(2).padStart(6)}  ${pct(ms, 99).toFixed(2).padStart(6)}  ${Math.max(...ms).toFixed(1).padStart(6)}  ${ms.reduce((a, b) => a + b, 0).toFixed(0).padStart(8)}  ${running.padStart(21)}  ${ended.padStart(5)}  ${older.padStart(5)}  ${(loop.percentile(99) / 1e6).toFixed(1).padStart(17)}  ${(loop.max / 1e6).toFixed(1).padStart(6)}`);
    } finally {
      w.kill('SIGTERM');
      await new Promise((r) => w.once('exit', r));
      await c.stop();
    }
  }
  console.log(`(loadavg ${load()})`);
} finally {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
