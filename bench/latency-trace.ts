// Where a task's latency goes at a fixed number in flight: one coordinator (this process),
// WORKERS (1) worker processes, one nats-server, RUNS sweeps of N no-op tasks with at most
// IN_FLIGHT in flight, after WARMUP (3000) untimed warm-up tasks per worker, as bench:dispatch's
// latency rows. For each run it prints the publish-to-row latency (p50, p99, max), p99 of the
// tasks published in the sweep's first 500 ms and of those after (a fresh sweep's objects are
// still being collected then), the split of slow tasks (over 20 ms) and of the others into
// pickup (publish to worker start) and back (worker finish to row), the coordinator's store
// writes (store.apply: count, p50, p99, max, total, how many took over 5 ms and, with
// TRACE_VCS=1, the voluntary context switches in those, which are waits on the disk; off by
// default, as the two process.resourceUsage() calls a write took 7% of the coordinator's main
// thread), the CPU microseconds per task of the coordinator, the workers and nats-server, and
// how often the results watchdog pulled again. Then the baseline in the same run: Ray with the
// same number in flight (bench/ray_baseline.py --inflight; skipped with a line where .venv has
// no Ray). The load average is printed with each run: figures are comparable only on an idle
// machine.
// Also per run: the coordinator's event-loop delay and its garbage collector's pauses (minor and
// major) during the timed sweep. Task publish times are kept per publish round, not per task (see
// dispatchTimes in common.ts: a map filled as tasks go out cost the coordinator's GC). And the
// five slowest publish rounds, each split into publish to its first task's start, the run span
// and its last finish to its last row, with the coordinator's GC pauses and store writes that
// fell inside it.
// BENCH_PROF=<dir> writes CPU profiles of the coordinator (each timed run) and of the workers.
// MAX_BUNDLE=1 sends every task in a message of its own (the coordinator's --max-bundle).
// Run: npm run bench:trace   (env N=20000 IN_FLIGHT=64 RUNS=3 WARMUP=3000 WORKERS=1 TRACE_VCS=0 MAX_BUNDLE=64)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, constants as perf } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { startNatsServer } from '../common/nats-server.js';
import { startCoordinator } from '../coordinator/main.js';
import type { WriteBatch } from '../coordinator/store/store.js';
import { cpuSecs, dispatchTimes, fullGc, ownCpu, load, pct, rayBaseline, runNoopSweep, spawnWorker, waitForWorkers } from './common.js';

const N = Number(process.env.N ?? 20_000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 64);
const RUNS = Number(process.env.RUNS ?? 3);
/** Untimed tasks first, so that the runs measure the steady state (the hot paths compiled), as bench:dispatch's latency rows. */
const WARMUP = Number(process.env.WARMUP ?? 3000);
const WORKERS = Math.max(1, Number(process.env.WORKERS ?? 1));
const PROF = process.env.BENCH_PROF;

const dir = mkdtempSync(join(tmpdir(), 'limolab-trace-'));
const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
let repulls = 0;
/** MAX_BUNDLE=1: every task in a message of its own (the coordinator's --max-bundle; default 64). */
const MAX_BUNDLE = Number(process.env.MAX_BUNDLE ?? 64);
const c = await startCoordinator({ db: join(dir, 'trace.db'), nats: { url: nats.url }, listen: '127.0.0.1:0', maxInFlight: IN_FLIGHT, maxBundle: MAX_BUNDLE, log: (l) => { if (/pulling again/.test(l)) repulls++; } });
const workers = Array.from({ length: WORKERS }, (_, i) => spawnWorker(nats.url, `trace-${i}`, PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []));
const exited = Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
const stopWorkers = async () => { for (const w of workers) w.kill('SIGTERM'); await exited; };
const cpuNow = () => ({ coord: ownCpu(), workers: workers.reduce((a, w) => a + cpuSecs(w.pid!), 0), nats: cpuSecs(nats.pid) });
try {
  await waitForWorkers(c, WORKERS);
  // Every store write of the coordinator, timed (wall ms, results, task rows, voluntary context switches).
  const store = c.coord.store as { apply(b: WriteBatch): void };
  const apply = store.apply.bind(store);
  let applies: { at: number; ms: number; vcs: number }[] = [];
  const vcs = process.env.TRACE_VCS === '1' ? () => process.resourceUsage().voluntaryContextSwitches : () => 0;
  store.apply = (b: WriteBatch) => {
    const v0 = vcs(), t0 = performance.now();
    try { return apply(b); } finally { applies.push({ at: performance.timeOrigin + t0, ms: performance.now() - t0, vcs: vcs() - v0 }); }
  };
  const published = dispatchTimes(c.coord.scheduler);
  if (WARMUP > 0) await runNoopSweep(c, 'warmup', WARMUP * WORKERS);
  console.log(`latency trace: ${RUNS} run(s) of ${N} no-op tasks, at most ${IN_FLIGHT} in flight, ${WORKERS} worker process(es) (after ${WARMUP} warm-up tasks per worker), at most ${MAX_BUNDLE} task(s) a message`);
  const db = new Database(join(dir, 'trace.db'), { readonly: true });
  for (let run = 1; run <= RUNS; run++) {
    published.clear();
    fullGc();
    applies = [];
    repulls = 0;
    const l0 = load();
    const prof = PROF ? new Session() : null;
    if (prof) { prof.connect(); await prof.post('Profiler.enable'); await prof.post('Profiler.start'); }
    // The coordinator's event loop and garbage collector during the timed sweep only (the forced
    // collection before it is not counted).
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const gcs: { at: number; ms: number; major: boolean }[] = [];
    const gcObs = new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, major: ((e as { detail?: { kind?: number } }).detail?.kind ?? 0) === perf.NODE_PERFORMANCE_GC_MAJOR }); });
    gcObs.observe({ entryTypes: ['gc'] });
    loop.enable();
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const id = await runNoopSweep(c, 'trace', N);
    const cpu1 = cpuNow();
    loop.disable();
    gcObs.disconnect();
    if (prof) {
      const { profile } = await prof.post('Profiler.stop');
      writeFileSync(join(PROF!, `coordinator-${WORKERS}w-run${run}.cpuprofile`), JSON.stringify(profile));
      prof.disconnect();
    }
    const rate = N / ((performance.now() - t0) / 1000);
    const rows = db.prepare('select a.task_id id, a.started_ms s, a.finished_ms f, r.created_ms r from attempts a join results r on r.task_id = a.task_id where a.sweep_id = ?').all(id) as { id: string; s: number; f: number; r: number }[];
    const dispatched = published.map();
    const t = rows.map((x) => ({ d: dispatched.get(x.id)!, ...x })).filter((x) => Number.isFinite(x.d));
    const lat = t.map((x) => x.r - x.d);
    // The first half second of the sweep apart: the tasks just planned are new objects, and the
    // garbage collector copies and promotes them then (pauses of 10-15 ms measured).
    const first = Math.min(...t.map((x) => x.d));
    const early = t.filter((x) => x.d <= first + 500).map((x) => x.r - x.d), late = t.filter((x) => x.d > first + 500).map((x) => x.r - x.d);
    const split = (xs: typeof t) => `pickup p50 ${pct(xs.map((x) => x.s - x.d), 50)} ms, back p50 ${pct(xs.map((x) => x.r - x.f), 50)} ms`;
    const slow = t.filter((x) => x.r - x.d > 20), fast = t.filter((x) => x.r - x.d <= 20);
    const ms = applies.map((a) => a.ms), long = applies.filter((a) => a.ms > 5);
    console.log(`\nrun ${run} (loadavg ${l0} -> ${load()}): publish-to-row p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${Math.max(...lat)} ms over ${t.length} tasks, ${rate.toFixed(0)} tasks/s`);
    console.log(`  published in the sweep's first 500 ms: ${early.length} tasks, p99 ${pct(early, 99)} ms; after: ${late.length} tasks, p99 ${pct(late, 99)} ms`);
    console.log(`  ${slow.length} tasks over 20 ms: ${slow.length ? split(slow) : '-'}; the others: ${split(fast)}`);
    // The slowest publish rounds (the tasks published together; at 64 in flight a bundle): where
    // their time went (publish to the first task's start / first start to last finish / last
    // finish to the last row, ms) and what of the coordinator's fell inside them (its GC pauses
    // and store writes): the p99 is the second or third of these.
    const byRound = new Map<number, typeof t>();
    for (const x of t) { let a = byRound.get(x.d); if (!a) byRound.set(x.d, a = []); a.push(x); }
    const worst = [...byRound].map(([d, xs]) => ({ d, xs, max: Math.max(...xs.map((x) => x.r - x.d)) })).sort((a, b) => b.max - a.max).slice(0, 5);
    console.log('  slowest rounds (+ms from the first publish: tasks, worst ms = to first start / run / to last row; coordinator GC ms, store writes n/ms in it):');
    console.log('    ' + worst.map(({ d, xs, max }) => {
      const s0 = Math.min(...xs.map((x) => x.s)), f1 = Math.max(...xs.map((x) => x.f)), r1 = Math.max(...xs.map((x) => x.r));
      const g = gcs.filter((x) => x.at < r1 && x.at + x.ms > d).reduce((a, x) => a + x.ms, 0);
      const w = applies.filter((x) => x.at < r1 && x.at + x.ms > d);
      return `+${d - first}: ${xs.length}, ${max} = ${s0 - d}/${f1 - s0}/${r1 - f1}; gc ${g.toFixed(1)}, writes ${w.length}/${w.reduce((a, x) => a + x.ms, 0).toFixed(1)}`;
    }).join(' | '));
    console.log(`  store writes: ${ms.length}, p50 ${pct(ms, 50).toFixed(2)} ms, p99 ${pct(ms, 99).toFixed(2)} ms, max ${Math.max(...ms).toFixed(1)} ms, total ${ms.reduce((a, b) => a + b, 0).toFixed(0)} ms; ${long.length} over 5 ms${process.env.TRACE_VCS === '1' ? ` (${long.length ? (long.reduce((a, b) => a + b.vcs, 0) / long.length).toFixed(1) : '-'} voluntary context switches each)` : ''}`);
    const minor = gcs.filter((g) => !g.major).map((g) => g.ms), major = gcs.filter((g) => g.major).map((g) => g.ms);
    console.log(`  coordinator event loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms; GC pauses: ${minor.length} minor (max ${minor.length ? Math.max(...minor).toFixed(1) : '-'} ms, total ${minor.reduce((a, b) => a + b, 0).toFixed(0)} ms), ${major.length} major (max ${major.length ? Math.max(...major).toFixed(1) : '-'} ms)`);
    console.log(`  cpu us/task: coordinator ${((cpu1.coord - cpu0.coord) * 1e6 / N).toFixed(0)}, workers ${((cpu1.workers - cpu0.workers) * 1e6 / N).toFixed(0)}, nats-server ${((cpu1.nats - cpu0.nats) * 1e6 / N).toFixed(0)}`);
    console.log(`  results pull made again by the watchdog: ${repulls} time(s)`);
  }
  db.close();
  // The baseline: Ray with the same number in flight on the same cores (no durable record),
  // once limolab's workers have stopped.
  await stopWorkers();
  const ray = rayBaseline<{ ray: string; tasks_per_s: number; p50_ms: number; p99_ms: number; max_ms: number }>(['--tasks', String(N), '--inflight', String(IN_FLIGHT)]);
  if (ray) console.log(`\nray ${ray.ray} baseline, ${N} no-op tasks, ${IN_FLIGHT} in flight, num_cpus=2 (loadavg ${load()}): submit-to-result p50 ${ray.p50_ms.toFixed(1)} ms, p99 ${ray.p99_ms.toFixed(1)} ms, max ${ray.max_ms.toFixed(1)} ms, ${ray.tasks_per_s.toFixed(0)} tasks/s`);
} finally {
  await stopWorkers();
  await c.stop();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
