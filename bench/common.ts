// What the dispatch benchmarks share: percentiles, the load average as printed, worker
// processes and the wait for them, a sweep of no-op tasks run to its end on a coordinator
// started in this process, and the Ray baseline.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { startCoordinator } from '../coordinator/main.js';

/** The p-th percentile (nearest rank) of xs; NaN for none. */
export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** The median of xs (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The 1, 5 and 15 minute load averages, as every benchmark prints them. */
export const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** A full garbage collection of this process, before a timed run: what earlier runs left (their
 *  coordinators' 20k-task sweeps, this benchmark's own maps of them) is otherwise collected
 *  during the next run. Measured: 247 MB of heap in the latency rows of bench:dispatch, with
 *  scavenges of 20-39 ms on it, pauses that land on the run's p99. */
export function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const BIN = join(import.meta.dirname, '..', 'bin', 'limolab.js');

/** A `limolab worker` process on natsUrl with BENCH_SLOTS (256) slots, its output dropped;
 *  nodeArgs, then the space-separated WORKER_NODE_ARGS, go to node before the script (e.g.
 *  --cpu-prof; WORKER_NODE_ARGS to try V8 flags on the workers alone: --min-semi-space-size=16
 *  --max-semi-space-size=32 changed nothing, 4 workers, 2026-12-04). */
export function spawnWorker(natsUrl: string, id: string, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, ...(process.env.WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean), BIN, 'worker', '--nats', natsUrl, '--slots', process.env.BENCH_SLOTS ?? '256', '--id', id], { stdio: 'ignore' });
}

/** Resolves once the coordinator has seen n workers. */
export async function waitForWorkers(c: Awaited<ReturnType<typeof startCoordinator>>, n: number): Promise<void> {
  while (c.coord.listWorkers().length < n) await new Promise((r) => setTimeout(r, 100));
}

/** Submits a sweep of n no-op diag tasks and resolves with its id once it has closed. */
export async function runNoopSweep(c: Awaited<ReturnType<typeof startCoordinator>>, name: string, n: number): Promise<string> {
  let id = '';
  const closed = new Promise<void>((resolve) => {
    const on = (row: { id: string }) => { if (row.id === id) { c.coord.scheduler.off('closed', on); resolve(); } };
    c.coord.scheduler.on('closed', on);
  });
  id = c.coord.submit(`name: ${name}\narms: [{name: noop, method: diag, params: {tasks: ${n}}}]`).sweep!.id;
  await closed;
  return id;
}

/** bench/ray_baseline.py with `args` on the project venv's python, on the same 2 cores (Ray keeps
 *  no durable record of a task): its JSON line, or null after one printed line where Ray is
 *  absent or fails. */
export function rayBaseline<T>(args: string[]): T | null {
  const root = join(import.meta.dirname, '..'), py = process.env.LIMOLAB_RAY_PYTHON ?? join(root, '.venv', 'bin', 'python');
  const hint = 'python3 -m venv .venv && .venv/bin/pip install --no-index --find-links /opt/wheels --find-links /opt/pypi-more/files --find-links /opt/pypi/files ray';
  if (!existsSync(py) || spawnSync(py, ['-c', 'import ray'], { stdio: 'ignore' }).status !== 0) { console.log(`ray baseline skipped: no python with ray at ${py} (build it with: ${hint})`); return null; }
  const r = spawnSync(py, [join(root, 'bench', 'ray_baseline.py'), ...args, '--cpus', '2'], { encoding: 'utf8', timeout: 600_000 });
  const last = (r.stdout ?? '').trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('{')) { console.log(`ray baseline failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.signal} (on a busy machine Ray's raylet can time out waiting for its dashboard agent; rerun when load average is below the core count)`); return null; }
  return JSON.parse(last) as T;
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 where there is none). */
export function cpuSecs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;   // utime, stime in clock ticks (USER_HZ 100)
  } catch { return 0; }
}
export const ownCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/** Task id to publish time, from publish rounds (dispatchTimes().rounds(), or a child coordinator's). */
export function roundsToMap(rounds: readonly { ids: string[]; ts: number }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rounds) for (const id of r.ids) m.set(id, r.ts);
  return m;
}

/** When each task was published, from the scheduler's 'dispatched' events. The events' id arrays
 *  are kept as they come (one per publish round) and the map from task id to time is built only
 *  when asked: a Map entry and a heap number per task, made as tasks go out, would be kept alive in
 *  the coordinator's heap (this bench's process) and copied by every young-generation GC of the
 *  run, a cost the coordinator alone would not have. */
export function dispatchTimes(scheduler: { on(ev: 'dispatched', fn: (ids: string[], ts: number) => void): unknown }) {
  let rounds: { ids: string[]; ts: number }[] = [];
  scheduler.on('dispatched', (ids, ts) => { rounds.push({ ids, ts }); });
  return {
    /** Task id to publish time (ms), of what was published since the last clear(). */
    map(): Map<string, number> { return roundsToMap(rounds); },
    /** The publish rounds since the last clear(), as they came: task ids and the time (ms). */
    rounds(): { ids: string[]; ts: number }[] { return rounds; },
    clear(): void { rounds = []; },
  };
}
