// `limolab sweep watch` (and `sweep submit --watch`): follows a sweep until it ends. Progress
// per phase, running and queued counts, an ETA and a stall warning; arms as they finish.
// A TTY gets a frame redrawn in place, a log one line per change. A coordinator restart
// does not end it: it reconnects. At the end it prints what `limolab run` prints.
import { ConnectionError } from '../common/errors.js';
import type { Sweep, SweepEvent } from '../gen/limolab/v1/coordinator.js';
import type { Table, TableFormat } from '../coordinator/analysis/index.js';
import { DEFAULT_GROUP_BY } from '../coordinator/analysis/query.js';
import { coordinatorResults, printResults } from './analysis.js';
import { Client } from './client.js';
import { bar, table } from './format.js';

type Task = Sweep['tasks'][number];
type Cell = string | number | null;

const TERMINAL = new Set(['succeeded', 'cached', 'failed', 'skipped', 'cancelled']);
const ORDER = ['pretrain', 'curation', 'training', 'rollout', 'evaluation', 'diag'];
/** How long watch keeps trying to reach a coordinator that went away. */
const GIVE_UP_MS = 10 * 60_000;

export interface WatchOptions { json?: boolean; stallS?: number; giveUpMs?: number; wide?: boolean }

export function printSweep(s: Sweep) {
  const c = s.counts!;
  console.log(`sweep ${s.id} (${s.name}): ${s.status}${s.archived ? ' (archived)' : ''}`);
  console.log(`  tasks ${c.total}: ${c.succeeded} succeeded, ${c.cached} reused, ${c.running} running, ${c.queued} queued, ${c.pending} pending, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled`);
}

/** What `limolab run` and `sweep watch` print when a sweep ends: its state, then the table
 * `limolab results` prints for it (flags for arms without results, notes, legend). */
export function printFinal(s: Sweep, results: { table: Table; health: string[] } | null, format: TableFormat = 'text') {
  printSweep(s);
  if (results) printResults(results.table, format, results.health, DEFAULT_GROUP_BY);
}

export function progressLine(s: Sweep): string {
  const c = s.counts!;
  const done = c.succeeded + c.cached + c.failed + c.skipped + c.cancelled;
  return `${bar(c.total ? done / c.total : 1)} ${done}/${c.total} tasks  running ${c.running}  failed ${c.failed}`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function watch(client: Client, id: string, opts: WatchOptions = {}): Promise<number> {
  const json = !!opts.json;
  const stallMs = (opts.stallS ?? 120) * 1000;
  const tty = !json && !!process.stderr.isTTY;
  let last: Sweep | undefined;
  let tasks: Task[] = [];
  const finished = new Map<string, { status: string; rows: Record<string, Cell>[] }>();
  let frameLines = 0;
  let lastPrinted = '';
  let firstSeen: { ms: number; done: number } | undefined;
  let activity = { key: '', ms: Date.now() };
  let stallWarned = false;
  const started = Date.now();

  const counts = () => {
    const c = last?.counts;
    if (!c) return { done: 0, total: 0, running: 0, queued: 0 };
    return { done: c.succeeded + c.cached + c.failed + c.skipped + c.cancelled, total: c.total, running: c.running, queued: c.queued + c.pending };
  };
  const eta = (): string => {
    const { done, total } = counts();
    if (!firstSeen || done <= firstSeen.done || done >= total) return '';
    const rate = (done - firstSeen.done) / (Date.now() - firstSeen.ms);
    return `eta ${duration((total - done) / rate)}`;
  };
  const stalled = (): string => {
    if (!last || last.status !== 'running' || Date.now() - activity.ms < stallMs) return '';
    const { running, queued } = counts();
    return `no progress for ${duration(Date.now() - activity.ms)} (${running} running, ${queued} waiting); \`limolab workers\` shows whether workers are alive, \`limolab logs ${id}\` what the tasks said`;
  };
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
      if (!f.rows.length) rows.push([arm, null, f.status, null, null]);
      for (const r of f.rows) rows.push([arm, r.seed ?? null, f.status, r.acc_id_mean ?? r.acc_id ?? null, r.acc_ood_mean ?? r.acc_ood ?? null]);
    }
    return table(['arm', 'seed', 'status', 'acc_id', 'acc_ood'], rows);
  };
  const frame = (): string[] => {
    if (!last) return [];
    const ps = phases();
    const w = Math.max(5, ...ps.map(([ph]) => ph.length));
    const { running, queued } = counts();
    const out = [`sweep ${last.id} (${last.name}): ${last.status}, ${duration(Date.now() - started)}  running ${running}, waiting ${queued}${eta() ? `, ${eta()}` : ''}`];
    if (!ps.length) out.push(`  ${progressLine(last)}`);
    for (const [ph, c] of ps) out.push(`  ${ph.padEnd(w)} ${bar(c.total ? c.done / c.total : 1, 24)} ${c.done}/${c.total}${c.failed ? `  ${c.failed} failed` : ''}`);
    const st = stalled();
    if (st) out.push(`  warning: ${st}`);
    out.push(`finished arms: ${finished.size}/${last.arms.length}`);
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
  const say = (line: string) => { if (json) { process.stderr.write(`${line}\n`); return; } clearFrame(); process.stderr.write(`${line}\n`); draw(); };
  // A log gets a line only when the progress changed (the ETA alone changing is not news).
  const logLine = () => {
    if (tty || json || !last) return;
    const ps = phases().map(([ph, c]) => `${ph} ${c.done}/${c.total}`).join('  ');
    const { running, queued } = counts();
    const line = `${last.status}  ${ps || progressLine(last)}  running ${running}  waiting ${queued}  finished arms ${finished.size}/${last.arms.length}`;
    if (line === lastPrinted) return;
    lastPrinted = line;
    const e = eta();
    process.stderr.write(`${line}${e ? `  ${e}` : ''}\n`);
  };

  const refresh = async () => {
    const s = await client.call<object, Sweep>('getSweep', { id, includeTasks: true });
    last = s;
    tasks = s.tasks;
    const c = counts();
    firstSeen ??= { ms: Date.now(), done: c.done };
    const key = `${c.done}|${tasks.filter((t) => t.status === 'running').map((t) => `${t.id}:${t.progress.toFixed(2)}`).join(',')}`;
    if (key !== activity.key) { activity = { key, ms: Date.now() }; stallWarned = false; }
    const byArm = new Map<string, Task[]>();
    for (const t of tasks) byArm.set(t.arm, [...(byArm.get(t.arm) ?? []), t]);
    const newly = [...byArm.entries()].filter(([arm, ts]) => !finished.has(arm) && ts.every((t) => TERMINAL.has(t.status)));
    if (newly.length) {
      const res = await client.call<object, { columns: string[]; rows: Record<string, Cell>[] }>('queryResults', { sweep: id, filter: {}, groupBy: [], sort: '', perSeed: true })
        .catch(() => ({ columns: [], rows: [] as Record<string, Cell>[] }));
      for (const [arm, ts] of newly) {
        // A cancelled task is not a failure: an arm cut short by a cancel says so.
        const status = ts.some((t) => t.status === 'failed' || t.status === 'skipped') ? 'failed' : ts.some((t) => t.status === 'cancelled') ? 'cancelled' : 'succeeded';
        finished.set(arm, { status, rows: res.rows.filter((r) => r.arm === arm) });
        if (!tty && !json) {
          const rows = finished.get(arm)!.rows;
          const accs = rows.map((r) => { const a = r.acc_id ?? r.acc_id_mean; return `seed ${r.seed}: acc_id ${typeof a === 'number' ? a.toFixed(3) : '-'}`; }).join(', ');
          process.stderr.write(`arm ${arm} finished (${status})${accs ? `: ${accs}` : ''}\n`);
        }
      }
    }
    const st = stalled();
    if (st && !stallWarned && !tty) { stallWarned = true; process.stderr.write(`warning: ${st}\n`); }
    logLine();
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
    let downSince = 0;
    for (;;) {
      try {
        await client.watch(id, (ev: SweepEvent) => {
          if (ev.sweep) last = { ...ev.sweep, tasks };
          if (json) { console.log(JSON.stringify(ev)); return; }
          if (ev.task?.status === 'failed') say(`task ${ev.task.name} (${ev.task.arm}, seed ${ev.task.seed}) failed: ${ev.task.error}`);
        });
        // The stream also ends when a coordinator shuts down cleanly: only a sweep that
        // ended ends the watch.
        if (last && last.status !== 'running') break;
      } catch (err) {
        if (!Client.transient(err)) throw err;
      }
      downSince ||= Date.now();
      say(`lost the coordinator at ${client.opts.address}; reconnecting (for up to ${duration(opts.giveUpMs ?? GIVE_UP_MS)})`);
      for (;;) {
        await sleep(1000);
        try {
          last = await client.call<object, Sweep>('getSweep', { id, includeTasks: false }, 5000);
          break;
        } catch (err) {
          if (!Client.transient(err)) throw err;
          if (Date.now() - downSince > (opts.giveUpMs ?? GIVE_UP_MS)) {
            throw new ConnectionError(`the coordinator at ${client.opts.address} has been unreachable for ${duration(Date.now() - downSince)}; run \`limolab sweep watch ${id}\` again once it is back`);
          }
        }
      }
      say(`reconnected to the coordinator at ${client.opts.address} after ${duration(Date.now() - downSince)}`);
      downSince = 0;
      if (last.status !== 'running') break;
    }
  } finally {
    if (timer) clearInterval(timer);
    await poll;
    clearFrame();
  }
  if (json) return last?.status === 'succeeded' ? 0 : 1;
  await refresh().catch(() => undefined);
  clearFrame();
  if (!last) return 1;
  const results = await coordinatorResults(client, last, { wide: opts.wide }).catch(() => null);
  printFinal(last, results);
  return last.status === 'succeeded' ? 0 : 1;
}
