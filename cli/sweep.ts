// `limolab sweep submit|status|watch|cancel|list` and `limolab workers [drain ID]`:
// clients of a running coordinator.
import { readFileSync } from 'node:fs';
import { SpecError } from '../common/errors.js';
import type { Sweep, SweepEvent, WorkerStatus } from '../gen/limolab/v1/coordinator.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, parse } from './args.js';
import { Client } from './client.js';
import { ago, bar, table } from './format.js';

const USAGE = `Usage: limolab sweep <submit|status|watch|cancel|list> [args] [options]
  submit <spec.yaml> [--dry-run] [--watch]
  status <id> [--tasks]
  watch <id>
  cancel <id>
  list [--limit N] [--status running|succeeded|failed|cancelled]
${CLIENT_HELP}`;

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...CLIENT_OPTIONS, 'dry-run': { type: 'boolean' }, watch: { type: 'boolean' }, tasks: { type: 'boolean' }, limit: { type: 'string' }, status: { type: 'string' } }, USAGE);
  if (v.help || !p[0]) { console.log(USAGE); return v.help ? 0 : 2; }
  const client = new Client(clientFrom(v));
  try {
    const [sub, arg] = p;
    const need = () => { if (!arg) throw new SpecError(`sweep ${sub} needs an argument\n\n${USAGE}`); return arg; };
    switch (sub) {
      case 'submit': {
        const path = need();
        let text: string;
        try { text = readFileSync(path, 'utf8'); } catch (e) { throw new SpecError(`cannot read ${path}: ${(e as Error).message}`); }
        const r = await client.call<object, { sweep: Sweep; tasksPlanned: number; tasksReused: number }>('submitSweep', { spec: text, specPath: path, dryRun: !!v['dry-run'] });
        if (v.json) console.log(JSON.stringify(r));
        else console.log(v['dry-run'] ? `valid: ${r.tasksPlanned} task(s) would be planned, ${r.tasksReused} reused` : `submitted sweep ${r.sweep.id}: ${r.tasksPlanned} task(s), ${r.tasksReused} reused`);
        if (v.watch && !v['dry-run']) return watch(client, r.sweep.id, !!v.json);
        return 0;
      }
      case 'status': {
        const s = await client.call<object, Sweep>('getSweep', { id: need(), includeTasks: !!v.tasks });
        if (v.json) { console.log(JSON.stringify(s)); return 0; }
        printSweep(s);
        if (v.tasks) console.log('\n' + table(['task', 'arm', 'phase', 'status', 'attempts', 'worker', 'error'], s.tasks.map((t) => [t.name, t.arm, t.phase, t.status, t.attempts, t.workerId, t.error.slice(0, 60)])));
        return s.status === 'failed' ? 1 : 0;
      }
      case 'watch': return watch(client, need(), !!v.json);
      case 'cancel': {
        const s = await client.call<object, Sweep>('cancelSweep', { id: need() });
        if (v.json) console.log(JSON.stringify(s)); else printSweep(s);
        return 0;
      }
      case 'list': {
        const r = await client.call<object, { sweeps: Sweep[] }>('listSweeps', { limit: Number(v.limit ?? 20), status: v.status ?? '' });
        if (v.json) { console.log(JSON.stringify(r.sweeps)); return 0; }
        console.log(table(['id', 'name', 'status', 'tasks', 'done', 'failed', 'created'], r.sweeps.map((s) => [s.id, s.name, s.status, s.counts?.total ?? 0, (s.counts?.succeeded ?? 0) + (s.counts?.cached ?? 0), s.counts?.failed ?? 0, ago(s.createdMs)])));
        return 0;
      }
      default: throw new SpecError(`unknown sweep subcommand "${sub}"\n\n${USAGE}`);
    }
  } finally {
    client.close();
  }
}

export function printSweep(s: Sweep) {
  const c = s.counts!;
  console.log(`sweep ${s.id} (${s.name}): ${s.status}`);
  console.log(`  tasks ${c.total}: ${c.succeeded} succeeded, ${c.cached} reused, ${c.running} running, ${c.queued} queued, ${c.pending} pending, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled`);
}

export function progressLine(s: Sweep): string {
  const c = s.counts!;
  const done = c.succeeded + c.cached + c.failed + c.skipped + c.cancelled;
  return `${bar(c.total ? done / c.total : 1)} ${done}/${c.total} tasks  running ${c.running}  failed ${c.failed}`;
}

async function watch(client: Client, id: string, json: boolean): Promise<number> {
  let last: Sweep | undefined;
  const tty = process.stderr.isTTY;
  await client.watch(id, (ev: SweepEvent) => {
    last = ev.sweep;
    if (json) { console.log(JSON.stringify(ev)); return; }
    if (ev.task && ['succeeded', 'failed', 'skipped'].includes(ev.task.status) && !tty) return;
    if (ev.task?.status === 'failed') process.stderr.write(`${tty ? '\r\x1b[K' : ''}task ${ev.task.name} (${ev.task.arm}) failed: ${ev.task.error}\n`);
    if (last) process.stderr.write(tty ? `\r\x1b[K${progressLine(last)}` : `${progressLine(last)}\n`);
  });
  if (tty) process.stderr.write('\n');
  if (last && !json) printSweep(last);
  return last?.status === 'succeeded' ? 0 : 1;
}

const WORKERS_USAGE = `Usage: limolab workers [drain <id>] [--all]
  (no args)      workers with state (idle, busy, draining, lost) and current task
  drain <id>     let its current task finish, then take no more
  --all          include lost and stopped workers
${CLIENT_HELP}`;

export async function workersMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...CLIENT_OPTIONS, all: { type: 'boolean' } }, WORKERS_USAGE);
  if (v.help) { console.log(WORKERS_USAGE); return 0; }
  const client = new Client(clientFrom(v));
  try {
    if (p[0] === 'drain') {
      if (!p[1]) throw new SpecError(`workers drain needs a worker id\n\n${WORKERS_USAGE}`);
      const w = await client.call<object, WorkerStatus>('drainWorker', { id: p[1] });
      console.log(v.json ? JSON.stringify(w) : `worker ${p[1]}: draining (${w.running.length} running task(s) will finish)`);
      return 0;
    }
    if (p[0]) throw new SpecError(`unknown workers subcommand "${p[0]}"\n\n${WORKERS_USAGE}`);
    const r = await client.call<object, { workers: WorkerStatus[] }>('listWorkers', { includeLost: !!v.all });
    if (v.json) { console.log(JSON.stringify(r.workers)); return 0; }
    if (!r.workers.length) { console.log('no workers; start one with `limolab worker --nats nats://HOST:4222`'); return 0; }
    console.log(table(['id', 'pool', 'state', 'cpus', 'gpus', 'mem_mb', 'running', 'done', 'failed', 'last seen'],
      r.workers.map((w) => [w.info!.id, w.info!.pool, w.state, w.info!.cpus, w.info!.gpus.length, w.info!.memoryMb, w.running.join(' ') || '-', w.completed, w.failed, ago(w.lastSeenMs)])));
    return 0;
  } finally {
    client.close();
  }
}
