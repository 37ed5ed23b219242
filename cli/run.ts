// `limolab run <spec>`: the embedded default. Starts a nats-server on loopback (when one
// is installed), the coordinator with a SQLite file, N local worker processes; submits
// the sweep, shows a progress bar and prints the results table at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpecError } from '../common/errors.js';
import { findNatsServer, startNatsServer } from '../common/nats-server.js';
import { MemoryTransport } from '../common/memory-transport.js';
import { startWorker } from '../worker/main.js';
import { parseSweepSpec } from '../coordinator/spec.js';
import { planSweep } from '../coordinator/planner.js';
import { defaultPlanners } from '../coordinator/planners/index.js';
import { startCoordinator } from '../coordinator/main.js';
import { lockFile } from '../coordinator/store/db-lock.js';
import { checkMeta } from '../coordinator/admin.js';
import { DEFAULT_GROUP_BY } from '../coordinator/analysis/query.js';
import { dbResults, printResults, tableFormat } from './analysis.js';
import { int, parse } from './args.js';
import { printSweep, progressLine } from './sweep.js';
import { TaskKind } from '../gen/limolab/v1/task.js';

const UI_DEFAULT = '127.0.0.1:8470';
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'limolab.js');

const USAGE = `Usage: limolab run <spec.yaml> [options]

Runs a sweep on this machine and prints its results table.
  --workers N        local worker processes (default 2)
  --slots N          tasks at once per worker (default 1)
  --db FILE          SQLite file (default ./limolab.db; results accumulate across runs)
  --workdir DIR      nats-server store (the artifacts cached tasks reuse; keep it with the
                     database) and logs (default ./.limolab); one run per workdir and database
  --listen HOST:PORT also serve the coordinator's gRPC API while it runs (default 127.0.0.1:0)
  --ui [HOST:PORT]   serve the web dashboard while it runs and print its URL (default
                     127.0.0.1:8470; port 0 picks a free one)
  --format F         results table format: table, csv or json (default table); the
                     table is what \`limolab results\` prints for the sweep, legend included
  --wide             every results column (as \`limolab results --wide\`)
  --tag T            label the sweep (repeatable; \`limolab sweep list --tag T\` finds it)
  --note TEXT        a line saying why it was run (shown by \`limolab sweep status\`)
  --json             print the final sweep state and the results as JSON
  --in-process       no nats-server: coordinator and workers in this process over an
                     in-process transport (the default when nats-server is not installed)
  --runner-cmd "CMD ARGS"  give every local worker this external runner (as limolab worker
                     --runner-cmd), e.g. for kind: hf models: "python3 runners/torch/limolab_torch_runner.py"
  --runner-kinds K,K task kinds it runs (default train,rollout,eval)
Binds to loopback only.`;

export async function main(argv: string[]): Promise<number> {
  // --ui takes an optional HOST:PORT, which parseArgs cannot express: fill in the default.
  argv = argv.flatMap((a, i) => (a === '--ui' && !/^[^-].*:\d+$/.test(argv[i + 1] ?? '') ? ['--ui', UI_DEFAULT] : [a]));
  const { values: v, positionals: p } = parse(argv, {
    ui: { type: 'string' }, workers: { type: 'string' }, slots: { type: 'string' }, db: { type: 'string' }, workdir: { type: 'string' }, listen: { type: 'string' },
    format: { type: 'string' }, wide: { type: 'boolean' }, json: { type: 'boolean' }, 'in-process': { type: 'boolean' }, tag: { type: 'string', multiple: true }, note: { type: 'string' }, 'runner-cmd': { type: 'string' }, 'runner-kinds': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (!p[0]) throw new SpecError(`limolab run needs a sweep spec file, e.g. experiments/quick.yaml\n\n${USAGE}`);
  const specPath = p[0];
  let text: string;
  try { text = readFileSync(specPath, 'utf8'); } catch (e) { throw new SpecError(`cannot read sweep spec ${specPath}: ${(e as Error).message}`); }
  // Fail before starting anything (no nats-server, no workers): the spec's shape, then its
  // methods, params and base, planned with the planners the coordinator will load.
  planSweep('check', parseSweepSpec(text, specPath), await defaultPlanners());
  const format = tableFormat(v.format);
  checkMeta({ tags: v.tag, note: v.note });
  if (v.ui && !/^(127\.[\d.]+|localhost|\[::1\]):\d+$/.test(v.ui)) throw new SpecError(`--ui ${v.ui}: limolab run serves its dashboard on loopback only (e.g. 127.0.0.1:8470); to serve one to a network, run \`limolab coordinator --http HOST:PORT --token T\``);
  const nWorkers = int(v.workers, 'workers', 2);
  const workdir = resolve(v.workdir ?? '.limolab');
  mkdirSync(workdir, { recursive: true });
  const say = (l: string) => { if (!v.json) process.stderr.write(`${l}\n`); };

  const slots = int(v.slots, 'slots', 1);
  // One run per database and per workdir at a time: two would each keep their own view of
  // the same sweeps (progress going backwards, one reporting success with tasks queued).
  const dbPath = v.db ?? 'limolab.db';
  const dbLock = lockFile(dbPath, 'limolab run');
  let dirLock: ReturnType<typeof lockFile>;
  try { dirLock = lockFile(join(workdir, 'run'), 'limolab run'); } catch (e) { dbLock.release(); throw e; }
  const unlock = () => { dirLock.release(); dbLock.release(); };
  const inProcess = !!v['in-process'] || !findNatsServer();
  const coordLog: string[] = [];
  const log = (l: string) => { coordLog.push(l); if (process.env.LIMOLAB_DEBUG) say(l); };
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  let memory: MemoryTransport | undefined;
  const workers: ChildProcess[] = [];
  const inProc: Awaited<ReturnType<typeof startWorker>>[] = [];
  let coord: Awaited<ReturnType<typeof startCoordinator>>;
  // A small publish window (every slot, plus two queued ahead): ready tasks wait in the
  // coordinator, where the longest chain of dependents goes first, instead of in the queue's
  // first-in-first-out order, so a long chain (an RL arm's rounds) is not left for last.
  const maxInFlight = nWorkers * slots + 2;
  // Taken before anything starts: Ctrl-C during start-up must still stop the nats-server
  // and workers this run starts (Node's default would exit and leave them running).
  let interrupted = false;
  const ac = new AbortController();
  const onInt = () => { interrupted = true; ac.abort(); };
  process.once('SIGINT', onInt);
  const failedStart = () => { process.off('SIGINT', onInt); unlock(); };
  if (!inProcess) {
    // The JetStream store (and its object store of checkpoints and datasets) lives in the
    // workdir and is kept: the artifacts the database's cached tasks point at persist with it.
    nats = await startNatsServer({ storeDir: join(workdir, 'nats'), logFile: join(workdir, 'nats-server.log') }).catch((e) => { failedStart(); throw e; });
    coord = await startCoordinator({ db: dbPath, dbLocked: true, nats: { url: nats.url }, listen: v.listen ?? '127.0.0.1:0', http: v.ui, ackWaitMs: 30_000, lostAfterMs: 10_000, maxInFlight, log })
      .catch(async (e) => { await nats!.stop({ removeStore: false }); failedStart(); throw e; });
    say(`limolab: nats-server ${nats.url}, coordinator ${coord.grpc.address}, database ${v.db ?? 'limolab.db'}, ${nWorkers} worker process(es)`);
    for (let i = 0; i < nWorkers; i++) {
      const runnerArgs = v['runner-cmd'] ? ['--runner-cmd', v['runner-cmd'], ...(v['runner-kinds'] ? ['--runner-kinds', v['runner-kinds']] : [])] : [];
      const child = spawn(process.execPath, [BIN, 'worker', '--nats', nats.url, '--slots', String(slots), '--id', `local-${i + 1}`, ...runnerArgs], {
        stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NATS_URL: nats.url },
      });
      child.stderr!.on('data', (d: Buffer) => { if (process.env.LIMOLAB_DEBUG) process.stderr.write(`[worker ${i + 1}] ${d}`); });
      workers.push(child);
    }
  } else {
    // Same coordinator and workers over an in-process transport: one event loop, so
    // CPU-heavy tasks run one after another whatever --workers says.
    memory = new MemoryTransport({ ackWaitMs: 30_000, artifactDir: join(workdir, 'artifacts') });
    coord = await startCoordinator({ db: dbPath, dbLocked: true, transport: memory, listen: v.listen ?? '127.0.0.1:0', http: v.ui, lostAfterMs: 10_000, maxInFlight, log })
      .catch(async (e) => { await memory!.close(); failedStart(); throw e; });
    say(`limolab: ${v['in-process'] ? '' : 'nats-server not found; '}running in-process (coordinator ${coord.grpc.address}, database ${v.db ?? 'limolab.db'}, ${nWorkers} in-process worker(s))`);
    const processRunner = v['runner-cmd'] ? { command: v['runner-cmd'].split(' ').filter(Boolean), kinds: runnerKinds(v['runner-kinds']) } : undefined;
    for (let i = 0; i < nWorkers; i++) inProc.push(await startWorker({ transport: memory, id: `local-${i + 1}`, slots, processRunner, log: (l) => { if (process.env.LIMOLAB_DEBUG) say(l); } }));
  }
  if (coord.http) process.stderr.write(`limolab: dashboard at ${coord.http.url} (while this run lasts)\n`);
  let code = 1;
  try {
    if (interrupted) { say('limolab: interrupted while starting; nothing was submitted'); return code; }
    const sub = await coord.coord.submitVerified(text, specPath, false, { tags: v.tag ?? [], note: v.note ?? '' });
    say(`limolab: sweep ${sub.sweep.id}: ${sub.planned} task(s), ${sub.reused} reused from earlier runs`
      + (sub.recomputed ? `; ${sub.recomputed} earlier task(s) computed again because their outputs are gone (was ${join(workdir, 'nats')} removed?)` : ''));
    const tty = process.stderr.isTTY && !v.json;
    let lastLine = 0;
    await coord.coord.watch(sub.sweep.id, (ev) => {
      if (!ev.sweep || v.json) return;
      if (ev.task?.status === 'failed') process.stderr.write(`${tty ? '\r\x1b[K' : ''}task ${ev.task.name} (${ev.task.arm}) failed: ${ev.task.error}\n`);
      const now = Date.now();
      if (tty) process.stderr.write(`\r\x1b[K${progressLine(ev.sweep)}`);
      else if (now - lastLine > 5000 || ev.sweep.status !== 'running') { lastLine = now; process.stderr.write(`${progressLine(ev.sweep)}\n`); }
    }, ac.signal);
    if (tty) process.stderr.write('\n');
    if (interrupted) {
      await coord.coord.cancel(sub.sweep.id);
      say('limolab: interrupted; sweep cancelled');
    }
    const final = coord.coord.getSweep(sub.sweep.id);
    // The table `limolab results` prints for this sweep (same rows, columns, flags, legend).
    const { table: results, health } = dbResults(coord.store, coord.store.getSweep(sub.sweep.id)!, { wide: !!v.wide });
    if (v.json) {
      console.log(JSON.stringify({ sweep: final, results: results.rows, notes: [...health.map((l) => `warning: ${l}`), ...(results.notes ?? [])] }));
    } else {
      printSweep(final);
      printResults(results, format, health, DEFAULT_GROUP_BY);
      if (final.status === 'failed') for (const l of coordLog.filter((x) => x.includes('failed')).slice(-5)) say(l);
    }
    code = final.status === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', onInt);
    for (const w of workers) w.kill('SIGTERM');
    const killer = setTimeout(() => { for (const w of workers) w.kill('SIGKILL'); }, 5000);
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    clearTimeout(killer);
    await coord.stop();
    for (const w of inProc) w.worker.abort();
    await memory?.close();
    await Promise.all(inProc.map((w) => w.done.catch(() => {})));
    await nats?.stop({ removeStore: false });
    unlock();
  }
  return code;
}

/** --runner-kinds for in-process workers (child workers parse it themselves). */
function runnerKinds(list: string | undefined): TaskKind[] {
  const KINDS: Record<string, TaskKind> = { pretrain: TaskKind.TASK_KIND_PRETRAIN, curate: TaskKind.TASK_KIND_CURATE, train: TaskKind.TASK_KIND_TRAIN, rollout: TaskKind.TASK_KIND_ROLLOUT, eval: TaskKind.TASK_KIND_EVAL };
  return (list ?? 'train,rollout,eval').split(',').map((k) => {
    const kind = KINDS[k.trim()];
    if (kind === undefined) throw new SpecError(`--runner-kinds: unknown kind "${k}"; use ${Object.keys(KINDS).join(', ')}`);
    return kind;
  });
}
