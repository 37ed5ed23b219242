// Scheduler tick benchmark: how long the coordinator's 250 ms housekeeping tick (retries due,
// lost workers, the once-a-second attempt watch, the 5-second placement check) holds its event
// loop while one sweep runs at 64 in flight, for sweeps of each size in SIZES. The tick's work
// should follow what is in flight, not the sweep's size: the sizes are each other's baseline in
// the same run. Measured 2026-12-04 on a 2-core machine, 100k-task sweep: before the watch and
// the placement check walked only queued and running tasks, ticks up to 102 ms (325 ms of
// ticks in 8 s, against 13 ms and 42 ms for a 20k-task sweep); after, up to 7.5-21 ms (18-41 ms
// in 8 s; the longest ones vary from run to run, a garbage collection can land in a tick).
// Run: npm run bench:tick   (env SIZES=20000,100000 SECONDS=8)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../common/nats-server.js';
import { startCoordinator } from '../coordinator/main.js';
import { load, pct, spawnWorker, waitForWorkers } from './common.js';

const SIZES = (process.env.SIZES ?? '20000,100000').split(',').map(Number);
const SECONDS = Number(process.env.SECONDS ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'limolab-tick-'));
const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
try {
  console.log(`tick benchmark: one sweep of no-op tasks at a time, 64 in flight, 1 worker, ${SECONDS} s each (loadavg ${load()})`);
  console.log('sweep tasks  ticks  p50 ms  p99 ms  max ms  total ms');
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
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      await c.coord.cancel(id);
      console.log(`${String(n).padStart(11)}  ${String(ms.length).padStart(5)}  ${pct(ms, 50).toFixed(2).padStart(6)}  ${pct(ms, 99).toFixed(2).padStart(6)}  ${Math.max(...ms).toFixed(1).padStart(6)}  ${ms.reduce((a, b) => a + b, 0).toFixed(0).padStart(8)}`);
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
