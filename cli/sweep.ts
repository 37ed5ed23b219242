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
        if (v.watch && !v["dry-run"]) return await watch(client, r.sweep.id, !!v.json);
        return 0;
      }
      case 'status': {
        const s = await client.call<object, Sweep>('getSweep', { id: need(), includeTasks: !!v.tasks });
        if (v.json) { console.log(JSON.stringify(s)); return 0; }
        printSweep(s);
        if (v.tasks) console.log('\n' + table(['task', 'arm', 'phase', 'status', 'attempts', 'worker', 'error'], s.tasks.map((t) => [t.name, t.arm, t.phase, t.status, t.attempts, t.workerId, t.error.slice(0, 60)])));
        return s.status === 'failed' ? 1 : 0;
      }
      case "watch": return await watch(client, need(), !!v.json);
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
  // Progress per phase from the sweep's tasks (getSweep with tasks, polled every second) and a
  // table of finished arms (every task of the arm terminal) with their per-seed results from
  // QueryResults. A TTY gets a frame redrawn in place; a log gets a line every 5 s and one
  // line per arm as it finishes. The final state goes to stdout. --json streams the events.
  // The caller's client: main() awaits watch before its finally closes it.
  type Task = Sweep['tasks'][number];
  type Cell = string | number | null;
  const TERMINAL = new Set(['succeeded', 'cached', 'failed', 'skipped', 'cancelled']);
  const ORDER = ['pretrain', 'curation', 'training', 'rollout', 'evaluation', 'diag'];
  const tty = !json && !!process.stderr.isTTY;
  let last: Sweep | undefined;
  let tasks: Task[] = [];
  const finished = new Map<string, { status: string; rows: Record<string, Cell>[] }>();
  let frameLines = 0;
  let lastLine = 0;
  const started = Date.now();

  const phases = () => {
    const by = new Map<string, { done: number; total: number; failed: number }>();
    for (const t of tasks) {
      const p = by.get(t.phase) ?? { done: 0, total: 0, failed: 0 };
      p.total++;
      if (TERMINAL.has(t.status)) p.done++;
      if (t.status === 'failed') p.failed++;
      by.set(t.phase, p);
    }
    const rank = (ph: string) => (ORDER.includes(ph) ? ORDER.indexOf(ph) : ORDER.length);
    return [...by.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  };
  const armsTable = () => {
    const rows: Cell[][] = [];
    for (const [arm, f] of [...finished.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      if (!f.rows.length) rows.push([arm, null, f.status, null, null, null, null]);
      for (const r of f.rows) rows.push([arm, r.seed ?? null, f.status, r.acc_id_mean ?? null, r.acc_ood_mean ?? null, r.flops ?? null, r.device_s ?? null]);
    }
    return table(['arm', 'seed', 'status', 'acc_id', 'acc_ood', 'flops', 'device_s'], rows);
  };
  const frame = (): string[] => {
    if (!last) return [];
    const ps = phases();
    const w = Math.max(5, ...ps.map(([ph]) => ph.length));
    const out = [`sweep ${last.id} (${last.name}): ${last.status}, ${Math.round((Date.now() - started) / 1000)}s`];
    if (!ps.length) out.push(`  ${progressLine(last)}`);
    for (const [ph, c] of ps) out.push(`  ${ph.padEnd(w)} ${bar(c.total ? c.done / c.total : 1, 24)} ${c.done}/${c.total}${c.failed ? `  ${c.failed} failed` : ''}`);
    const armCount = last.arms.length;
    out.push(`finished arms: ${finished.size}/${armCount}`);
    if (finished.size) out.push(...armsTable().split('\n').map((l) => `  ${l}`));
    return out;
  };
  const clearFrame = () => { if (tty && frameLines) process.stderr.write(`\x1b[${frameLines}F\x1b[J`); frameLines = 0; };
  const draw = () => {
    if (!tty) return;
    clearFrame();
    const lines = frame();
    process.stderr.write(lines.map((l) => `${l}\n`).join(''));
    frameLines = lines.length;
  };
  const say = (line: string) => { clearFrame(); process.stderr.write(`${line}\n`); draw(); };
  const logLine = () => {
    if (tty || !last) return;
    const ps = phases().map(([ph, c]) => `${ph} ${c.done}/${c.total}`).join('  ');
    process.stderr.write(`${last.status}  ${ps || progressLine(last)}  finished arms ${finished.size}/${last.arms.length}\n`);
    lastLine = Date.now();
  };

  const refresh = async () => {
    const s = await client.call<object, Sweep>('getSweep', { id, includeTasks: true });
    last = s;
    tasks = s.tasks;
    const byArm = new Map<string, Task[]>();
    for (const t of tasks) byArm.set(t.arm, [...(byArm.get(t.arm) ?? []), t]);
    const newly = [...byArm.entries()].filter(([arm, ts]) => !finished.has(arm) && ts.every((t) => TERMINAL.has(t.status)));
    if (newly.length) {
      const res = await client.call<object, { columns: string[]; rows: Record<string, Cell>[] }>('queryResults', { sweep: id, filter: {}, groupBy: [], sort: '', perSeed: true })
        .catch(() => ({ columns: [], rows: [] as Record<string, Cell>[] }));
      for (const [arm, ts] of newly) {
        const status = ts.some((t) => t.status === 'failed' || t.status === 'skipped' || t.status === 'cancelled') ? 'failed' : 'succeeded';
        finished.set(arm, { status, rows: res.rows.filter((r) => r.arm === arm) });
        if (!tty) {
          const rows = finished.get(arm)!.rows;
          const accs = rows.map((r) => `seed ${r.seed}: acc_id ${typeof r.acc_id_mean === 'number' ? r.acc_id_mean.toFixed(3) : '-'}`).join(', ');
          process.stderr.write(`arm ${arm} finished (${status})${accs ? `: ${accs}` : ''}\n`);
        }
      }
    }
    if (!tty && Date.now() - lastLine >= 5000) logLine();
    draw();
  };

  let polling = json;
  let poll: Promise<void> = json ? Promise.resolve() : refresh().catch(() => undefined).finally(() => { polling = true; });
  const timer = json ? undefined : setInterval(() => {
    if (!polling) return;
    polling = false;
    poll = refresh().catch(() => undefined).finally(() => { polling = true; });
  }, 1000);
  try {
    await client.watch(id, (ev: SweepEvent) => {
      if (ev.sweep) last = { ...ev.sweep, tasks };
      if (json) { console.log(JSON.stringify(ev)); return; }
      if (ev.task?.status === 'failed') say(`task ${ev.task.name} (${ev.task.arm}) failed: ${ev.task.error}`);
    });
  } catch (err) {
    if (timer) clearInterval(timer);
    await poll;
    clearFrame();
    throw err;
  } finally {
    if (timer) clearInterval(timer);
    await poll;
  }
  if (json) return last?.status === 'succeeded' ? 0 : 1;
  await refresh().catch(() => undefined);
  clearFrame();
  if (!last) return 1;
  printSweep(last);
  const w = Math.max(5, ...phases().map(([ph]) => ph.length));
  for (const [ph, c] of phases()) console.log(`  ${ph.padEnd(w)} ${c.done}/${c.total}${c.failed ? `  ${c.failed} failed` : ''}`);
  if (finished.size) console.log(`\n${armsTable()}`);
  return last.status === 'succeeded' ? 0 : 1;
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
