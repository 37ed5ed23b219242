// Schedule benchmark: how long a sweep takes on W single-slot workers under the coordinator's
// ready-queue orders, replayed with the task times measured in a finished run of the same spec
// (its ledger's wall_s per arm|seed|task name, plus OVERHEAD seconds of messaging per task).
// Orders: chain length in tasks (the order before cost estimates), estimated work (the
// planners' Task.cost_estimate, what the coordinator uses), and the measured work itself (the
// best this list scheduler can do). A greedy list schedule: a free worker takes the
// highest-ranked ready task (plan order breaks ties), like the coordinator's ready heap.
// Run: npx limolab run experiments/quick.yaml --db /tmp/q.db
//      npm run bench:schedule -- experiments/quick.yaml /tmp/q.db 2,4,8 [OVERHEAD=0.05]
import { readFileSync } from 'node:fs';
import { load } from './common.js';
import Database from 'better-sqlite3';
import { planSweep } from '../coordinator/planner.js';
import { defaultPlanners } from '../coordinator/planners/index.js';
import { parseSweepSpec } from '../coordinator/spec.js';
import { chainRanks, taskRanks } from '../coordinator/scheduler.js';
const [specPath, dbPath, WS = '2,4,8', OVER = '0.05'] = process.argv.slice(2);
if (!specPath || !dbPath) { console.error('usage: npm run bench:schedule -- SPEC.yaml RUN.db [WORKERS=2,4,8] [OVERHEAD_S=0.05]'); process.exit(2); }
const reg = await defaultPlanners();
const plan = planSweep('s', parseSweepSpec(readFileSync(specPath!, 'utf8'), 'x'), reg);
const db = new Database(dbPath!, { readonly: true });
const measured = new Map<string, number>();
for (const r of db.prepare('select t.arm, t.seed, t.name, l.wall_s from tasks t join ledger l on l.task_id = t.id').all() as { arm: string; seed: number; name: string; wall_s: number }[]) measured.set(`${r.arm}|${r.seed}|${r.name}`, r.wall_s + Number(OVER));
const dur = new Map(plan.tasks.map((t) => [t.id, measured.get(`${t.arm}|${t.seed}|${t.name}`) ?? (console.error('no time for', t.arm, t.name), 0.1)]));
function simulate(rank: Map<string, number>, W: number): number {
  const waiting = new Map(plan.tasks.map((t) => [t.id, t.deps.length]));
  const dependents = new Map<string, string[]>(plan.tasks.map((t) => [t.id, []]));
  for (const t of plan.tasks) for (const d of t.deps) dependents.get(d.task)!.push(t.id);
  const order = new Map(plan.tasks.map((t, i) => [t.id, i]));
  let ready = plan.tasks.filter((t) => t.deps.length === 0).map((t) => t.id);
  const free = Array.from({ length: W }, () => 0);
  const running: { id: string; end: number }[] = [];
  let now = 0;
  for (;;) {
    ready.sort((a, b) => rank.get(b)! - rank.get(a)! || order.get(a)! - order.get(b)!);
    for (let w = 0; w < free.length; w++) if (free[w]! <= now && ready.length) { const id = ready.shift()!; free[w] = now + dur.get(id)!; running.push({ id, end: free[w]! }); }
    if (!running.length) return now;
    running.sort((a, b) => a.end - b.end);
    const done = running.shift()!;
    now = done.end;
    for (const d of dependents.get(done.id)!) if (waiting.set(d, waiting.get(d)! - 1).get(d) === 0) ready.push(d);
  }
}
const count = chainRanks(plan.tasks);
const work = taskRanks(plan.tasks);
const truth = chainRanks(plan.tasks.map((t) => ({ id: t.id, deps: t.deps, cost: dur.get(t.id) })));
const total = [...dur.values()].reduce((a, b) => a + b, 0);
const critical = Math.max(...truth.values());
console.log(`${plan.tasks.length} tasks, ${total.toFixed(1)} s of measured work, longest chain ${critical.toFixed(1)} s (${dbPath})`);
console.log(`a replay of the run's recorded task times: nothing is timed on this machine now (loadavg ${load()}); the recorded times carry the load of the run itself`);
console.log('workers  by tasks in chain  by estimated work  by measured work   (simulated wall s)');
for (const W of WS.split(',').map(Number)) {
  console.log(`${String(W).padStart(7)}  ${simulate(count, W).toFixed(1).padStart(16)}  ${simulate(work, W).toFixed(1).padStart(17)}  ${simulate(truth, W).toFixed(1).padStart(16)}`);
}
