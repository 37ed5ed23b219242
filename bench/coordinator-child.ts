// bench:dispatch's coordinator, in a process of its own as `limolab coordinator` runs: the
// benchmark's own work (its maps of publish times, the dashboard rows' SSE clients parsing
// events, a dozen earlier runs' coordinators and their garbage) stays out of the process
// measured. Started by CoordinatorChild (below) through bin/limolab-tsx.js with an IPC channel;
// the parent sends one command at a time and gets one reply each:
//   {cmd: 'workers', n}          resolves once the coordinator has seen n workers
//   {cmd: 'sweep', name, n, timed}  a sweep of n no-op tasks to its end; timed: the seconds it
//                                took, the coordinator's CPU seconds over it, and each publish round's
//                                task ids and time (after a full GC first, and a CPU profile of the
//                                sweep into BENCH_PROF where set)
//   {cmd: 'stop'}                stops the coordinator; the process then exits
// The coordinator's options come in LIMOLAB_BENCH_COORDINATOR (JSON: startCoordinator's config,
// without log). Its log lines are dropped (BENCH_COORD_LOG=1 prints them to stderr, with the
// time), except that a results pull made again by its watchdog is counted and reported with the
// next timed sweep.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { startCoordinator } from '../coordinator/main.js';
import { dispatchTimes, fullGc, ownCpu, runNoopSweep, waitForWorkers } from './common.js';

type Cmd = { cmd: 'workers'; n: number } | { cmd: 'sweep'; name: string; n: number; timed: boolean } | { cmd: 'stop' };
export interface TimedSweep { sweepId: string; secs: number; cpu: number; repulls: number; rounds: { ids: string[]; ts: number }[] }

if (process.send && process.env.LIMOLAB_BENCH_COORDINATOR) {
  const cfg = JSON.parse(process.env.LIMOLAB_BENCH_COORDINATOR) as Parameters<typeof startCoordinator>[0];
  let repulls = 0;
  const c = await startCoordinator({ ...cfg, log: (l: string) => { if (/pulling again/.test(l)) repulls++; if (process.env.BENCH_COORD_LOG) console.error(`[coordinator ${new Date().toISOString().slice(11, 23)}] ${l}`); } });
  const send = (m: unknown) => process.send!(m);
  // One listener for the process's life, cleared before each timed sweep (one per timed sweep
  // would stay registered, each keeping every later round).
  const published = dispatchTimes(c.coord.scheduler);
  let profiles = 0;
  process.on('message', (m: Cmd) => {
    void (async () => {
      if (m.cmd === 'workers') { await waitForWorkers(c, m.n); send({ ok: true }); return; }
      if (m.cmd === 'stop') { await c.stop(); process.send!({ ok: true }, () => process.exit(0)); return; }
      if (!m.timed) { send({ sweepId: await runNoopSweep(c, m.name, m.n) }); return; }
      published.clear();
      fullGc();
      const prof = process.env.BENCH_PROF ? new Session() : null;
      if (prof) { prof.connect(); await prof.post('Profiler.enable'); await prof.post('Profiler.start'); }
      repulls = 0;
      const cpu0 = ownCpu(), t0 = performance.now();
      const sweepId = await runNoopSweep(c, m.name, m.n);
      const secs = (performance.now() - t0) / 1000, cpu = ownCpu() - cpu0;
      if (prof) {
        const { profile } = await prof.post('Profiler.stop');
        writeFileSync(join(process.env.BENCH_PROF!, `coordinator-${process.pid}-${++profiles}.cpuprofile`), JSON.stringify(profile));
        prof.disconnect();
      }
      send({ sweepId, secs, cpu, repulls, rounds: published.rounds() } satisfies TimedSweep);
    })().catch((err: Error) => send({ error: err.stack ?? err.message }));
  });
  send({ ready: true, http: c.http?.url ?? null });
}

/** A coordinator in a child process (this file), driven over IPC. */
export class CoordinatorChild {
  readonly proc: ChildProcess;
  http: string | null = null;
  private replies: ((m: Record<string, unknown>) => void)[] = [];

  private constructor(cfg: Omit<Parameters<typeof startCoordinator>[0], 'log'>) {
    const bin = join(import.meta.dirname, '..', 'bin', 'limolab-tsx.js');
    this.proc = fork(bin, [join(import.meta.dirname, 'coordinator-child.ts')], {
      // COORD_NODE_ARGS: space-separated flags for node (V8's among them) in the coordinator's process alone.
      execArgv: [...process.execArgv, ...(process.env.COORD_NODE_ARGS ?? '').split(' ').filter(Boolean)],
      env: { ...process.env, LIMOLAB_BENCH_COORDINATOR: JSON.stringify(cfg) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Record<string, unknown>) => this.replies.shift()?.(m));
  }

  static async start(cfg: Omit<Parameters<typeof startCoordinator>[0], 'log'>): Promise<CoordinatorChild> {
    const c = new CoordinatorChild(cfg);
    const ready = await c.next();
    c.http = ready.http as string | null;
    return c;
  }

  get pid(): number { return this.proc.pid!; }

  /** The next message from the child; rejects when the child exits first or reports an error. */
  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const exited = (code: number | null, sig: string | null) => reject(new Error(`the benchmark's coordinator process exited (${sig ?? `status ${code}`})`));
      this.proc.once('exit', exited);
      this.replies.push((m) => {
        this.proc.off('exit', exited);
        if (typeof m.error === 'string') reject(new Error(`the benchmark's coordinator process: ${m.error}`)); else resolve(m);
      });
    });
  }

  private ask(cmd: Cmd): Promise<Record<string, unknown>> {
    const reply = this.next();
    this.proc.send(cmd);
    return reply;
  }

  async waitForWorkers(n: number): Promise<void> { await this.ask({ cmd: 'workers', n }); }
  async sweep(name: string, n: number): Promise<string> { return (await this.ask({ cmd: 'sweep', name, n, timed: false })).sweepId as string; }
  async timedSweep(name: string, n: number): Promise<TimedSweep> { return (await this.ask({ cmd: 'sweep', name, n, timed: true })) as unknown as TimedSweep; }

  /** Stops the coordinator and waits for its process to end (killed if it has not within 10 s). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.ask({ cmd: 'stop' }).catch(() => {});
    await exited;
    clearTimeout(kill);
  }
}
