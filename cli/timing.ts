// `limolab timing`: where a sweep's wall time went, read from the SQLite file (read-only).
// Per phase: tasks, time on a worker (attempt start to finish, retries included), of which in
// the task's own code (the ledger's wall_s), split by the worker's time.* metrics into input
// fetch and output store, graph build, runner process start and compute; the rest around it
// (messaging, retries), and queue wait (ready, i.e. every
// dependency done, to the first attempt's start). Then the critical path: the chain of tasks,
// each the latest-finishing dependency of the next, that ends with the sweep's last task;
// its phases say what bounds the wall time, and how much of it was waiting.
import { NotFoundError } from '../common/errors.js';
import { formatTable, type Table } from '../coordinator/analysis/index.js';
import { timeMetric } from '../common/task-timing.js';
import { readSweepCommand } from './results-db.js';

const USAGE = `Usage: limolab timing [options]

Where a sweep's wall time went, per phase and along its critical path:
  run_s        time on a worker: first attempt's start to last attempt's end, retries included
  in_task_s    of which inside the task's code (the ledger's wall_s), split into:
    io_s         fetching input artifacts and storing outputs
    graph_s      building ONNX graphs and their onnxruntime sessions
    start_s      starting a runner process (interpreter and imports, up to its first line)
    compute_s    the rest: loading weights, training, sampling, scoring
  around_s     the rest of run_s: messaging between worker and coordinator, retries
  wait_s       queue wait: from ready (every dependency done) to the first attempt's start
  critical     the chain of tasks that ends last, each after its latest dependency: the
               phases that bound the sweep's wall time
Tasks reused from an earlier sweep take no time and are left out.
  --db FILE        the SQLite file (default ./limolab.db), opened read-only
  --sweep ID       the sweep, or "latest" (default)
  --json           the figures as JSON on stdout
  -h, --help       this text`;

interface TaskTime {
  id: string; name: string; phase: string; deps: string[];
  readyMs: number; startMs: number | null; endMs: number | null; runS: number; inTaskS: number; waitS: number;
  ioS: number; graphS: number; startS: number;
}

export interface PhaseTime {
  phase: string; tasks: number; run_s: number; in_task_s: number; io_s: number; graph_s: number; start_s: number; compute_s: number;
  around_s: number; wait_s: number; wait_max_s: number; share: number;
}
export interface Timing {
  sweep: string; wall_s: number; workers: number; busy_s: number; utilisation: number;
  phases: PhaseTime[];
  critical: { tasks: number; run_s: number; wait_s: number; by_phase: { phase: string; tasks: number; run_s: number; wait_s: number }[]; path: { name: string; phase: string; wait_s: number; run_s: number }[] };
}

/** The timing breakdown of one sweep from its tasks, attempts and ledger rows. */
export function sweepTiming(db: import('better-sqlite3').Database, sweepId: string, createdMs: number): Timing {
  const tasks = db.prepare(`select t.id, t.name, t.phase, t.deps_json, t.started_ms, t.finished_ms, t.reused_from,
      l.wall_s as in_task, a.first_start, a.last_end, m.io, m.graph, m.start
    from tasks t left join ledger l on l.task_id = t.id and l.reused = 0
      left join (select task_id, min(started_ms) as first_start, max(finished_ms) as last_end
                 from attempts where sweep_id = ? group by task_id) a on a.task_id = t.id
      left join (select task_id,
                   sum(case when name in ('${timeMetric('input')}', '${timeMetric('output')}') then value else 0 end) as io,
                   sum(case when name = '${timeMetric('graph_build')}' then value else 0 end) as graph,
                   sum(case when name = '${timeMetric('process_start')}' then value else 0 end) as start
                 from metrics where name like 'time.%' and task_id in (select id from tasks where sweep_id = ?) group by task_id) m on m.task_id = t.id
    where t.sweep_id = ?`).all(sweepId, sweepId, sweepId) as {
    id: string; name: string; phase: string; deps_json: string; started_ms: number | null; finished_ms: number | null;
    reused_from: string | null; in_task: number | null; first_start: number | null; last_end: number | null;
    io: number | null; graph: number | null; start: number | null;
  }[];
  const byId = new Map<string, TaskTime>();
  const end = (t: (typeof tasks)[number]) => t.reused_from ? createdMs : (t.last_end ?? t.finished_ms);
  const endById = new Map(tasks.map((t) => [t.id, end(t)]));
  for (const t of tasks) {
    const deps = (JSON.parse(t.deps_json) as { task: string }[]).map((d) => d.task);
    const readyMs = Math.max(createdMs, ...deps.map((d) => endById.get(d) ?? createdMs));
    const startMs = t.reused_from ? null : (t.first_start ?? t.started_ms);
    const endMs = end(t);
    const runS = startMs !== null && endMs !== null && !t.reused_from ? Math.max(0, endMs - startMs) / 1000 : 0;
    byId.set(t.id, {
      id: t.id, name: t.name, phase: t.phase, deps, readyMs, startMs, endMs, runS,
      inTaskS: Math.min(runS, t.in_task ?? 0), waitS: startMs !== null ? Math.max(0, startMs - readyMs) / 1000 : 0,
      ioS: t.reused_from ? 0 : t.io ?? 0, graphS: t.reused_from ? 0 : t.graph ?? 0, startS: t.reused_from ? 0 : t.start ?? 0,
    });
  }
  const ran = [...byId.values()].filter((t) => t.startMs !== null && t.endMs !== null);
  if (!ran.length) throw new NotFoundError(`sweep ${sweepId} has no task that ran yet; wait for it with \`limolab sweep watch ${sweepId}\``);
  const wallS = (Math.max(...ran.map((t) => t.endMs!)) - createdMs) / 1000;
  const busyS = ran.reduce((a, t) => a + t.runS, 0);
  const workers = new Set(db.prepare('select distinct worker_id from attempts where sweep_id = ? and worker_id is not null').pluck().all(sweepId)).size;

  const order = ['pretrain', 'curation', 'tuning', 'training', 'rollout', 'evaluation'];
  const phaseNames = [...new Set(ran.map((t) => t.phase))].sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const phases = phaseNames.map((phase) => {
    const xs = ran.filter((t) => t.phase === phase);
    const sum = (f: (t: TaskTime) => number) => xs.reduce((a, t) => a + f(t), 0);
    const run = sum((t) => t.runS), inTask = sum((t) => t.inTaskS);
    const io = sum((t) => t.ioS), graph = sum((t) => t.graphS), start = sum((t) => t.startS);
    return { phase, tasks: xs.length, run_s: run, in_task_s: inTask, io_s: io, graph_s: graph, start_s: start,
      compute_s: Math.max(0, inTask - io - graph - start), around_s: run - inTask, wait_s: sum((t) => t.waitS) / xs.length,
      wait_max_s: Math.max(...xs.map((t) => t.waitS)), share: busyS > 0 ? run / busyS : 0 };
  });

  // Critical path: from the last task to finish, back through each task's latest-ending dependency.
  const path: TaskTime[] = [];
  let cur: TaskTime | undefined = ran.reduce((a, b) => (b.endMs! > a.endMs! ? b : a));
  while (cur) {
    path.unshift(cur);
    const deps: TaskTime[] = cur.deps.map((d) => byId.get(d)).filter((d): d is TaskTime => d !== undefined && d.endMs !== null && d.startMs !== null);
    cur = deps.length ? deps.reduce((a, b) => (b.endMs! > a.endMs! ? b : a)) : undefined;
  }
  const byPhase = new Map<string, { phase: string; tasks: number; run_s: number; wait_s: number }>();
  for (const t of path) {
    const p = byPhase.get(t.phase) ?? { phase: t.phase, tasks: 0, run_s: 0, wait_s: 0 };
    p.tasks++; p.run_s += t.runS; p.wait_s += t.waitS;
    byPhase.set(t.phase, p);
  }
  return {
    sweep: sweepId, wall_s: wallS, workers, busy_s: busyS, utilisation: workers > 0 && wallS > 0 ? busyS / (wallS * workers) : 0,
    phases,
    critical: {
      tasks: path.length, run_s: path.reduce((a, t) => a + t.runS, 0), wait_s: path.reduce((a, t) => a + t.waitS, 0),
      by_phase: [...byPhase.values()], path: path.map((t) => ({ name: t.name, phase: t.phase, wait_s: t.waitS, run_s: t.runS })),
    },
  };
}

export function main(argv: string[]): Promise<number> {
  return readSweepCommand(argv, 'timing', USAGE, (store, sweep, json) => {
    const t = sweepTiming(store.sqlite, sweep.id, sweep.createdMs);
    return json ? JSON.stringify(t, null, 2) + '\n' : render(sweep.name, t);
  });
}

const s1 = (x: number) => x.toFixed(1);
function render(name: string, t: Timing): string {
  const phases: Table = {
    columns: [
      { key: 'phase', label: 'phase', format: 'text' }, { key: 'tasks', label: 'tasks', format: 'int' },
      { key: 'run_s', label: 'run_s', format: 'number' }, { key: 'in_task_s', label: 'in_task_s', format: 'number' },
      { key: 'io_s', label: 'io_s', format: 'number' }, { key: 'graph_s', label: 'graph_s', format: 'number' },
      { key: 'start_s', label: 'start_s', format: 'number' }, { key: 'compute_s', label: 'compute_s', format: 'number' },
      { key: 'around_s', label: 'around_s', format: 'number' }, { key: 'wait_s', label: 'wait_s (mean)', format: 'number' },
      { key: 'wait_max_s', label: 'wait_max_s', format: 'number' }, { key: 'share', label: 'share of run', format: 'text' },
    ],
    rows: t.phases.map((p) => ({ ...p, run_s: +s1(p.run_s), in_task_s: +s1(p.in_task_s), io_s: +s1(p.io_s), graph_s: +s1(p.graph_s),
      start_s: +s1(p.start_s), compute_s: +s1(p.compute_s), around_s: +s1(p.around_s), wait_s: +s1(p.wait_s), wait_max_s: +s1(p.wait_max_s), share: `${(100 * p.share).toFixed(0)}%` })),
  };
  const crit = t.critical.by_phase.map((p) => `${p.phase} ${s1(p.run_s)} s (${p.tasks} task${p.tasks === 1 ? '' : 's'})`).join(', ');
  return `Sweep ${t.sweep} (${name}): ${s1(t.wall_s)} s wall, ${t.workers} worker(s) busy ${s1(t.busy_s)} s (${(100 * t.utilisation).toFixed(0)}% of wall x workers)\n\n`
    + `Per phase (seconds)\n${formatTable(phases, 'text')}\n`
    + `Critical path: ${t.critical.tasks} tasks, ${s1(t.critical.run_s)} s running + ${s1(t.critical.wait_s)} s waiting in the queue`
    + ` (${(100 * (t.critical.run_s + t.critical.wait_s) / Math.max(t.wall_s, 1e-9)).toFixed(0)}% of the wall time)\n  ${crit}\n`;
}
