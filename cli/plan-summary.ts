// What a sweep spec plans, arm by arm: grid points, seeds, runs (points x seeds) and tasks by
// kind, planned locally with the same planners a coordinator loads. `limolab sweep submit
// --dry-run` prints it above the coordinator's own count (which also knows what it reuses).
import { parseSweepSpec } from '../coordinator/spec.js';
import { planSweep } from '../coordinator/planner.js';
import { defaultPlanners } from '../coordinator/planners/index.js';
import { table } from './format.js';

export interface ArmPlan {
  arm: string; method: string;
  gridPoints: number;            // arm instances (grid points, bases included)
  seeds: number;
  runs: number;                  // grid points x seeds
  tasks: number;                 // distinct tasks the arm's runs need (shared ones counted once per arm)
  shared: number;                // of those, tasks another arm needs too (e.g. the PRETRAIN)
  byKind: Record<string, number>;
  instances: string[];
}

export interface PlanSummary { sweep: string; arms: ArmPlan[]; tasks: number; shared: number }

export async function planSummary(text: string, source: string): Promise<PlanSummary> {
  const spec = parseSweepSpec(text, source);
  const plan = planSweep('dry-run', spec, await defaultPlanners());
  const groupOf = new Map(plan.arms.map((a) => [`${a.arm}|${a.seed}`, a.armGroup]));
  const arms = spec.arms.map((a): ArmPlan => {
    const rows = plan.arms.filter((r) => r.armGroup === a.name);
    const instances = [...new Set(rows.map((r) => r.arm))];
    const seeds = new Set(rows.map((r) => r.seed)).size;
    const mine = plan.tasks.filter((t) => t.arms.some((k) => groupOf.get(k) === a.name));
    const byKind: Record<string, number> = {};
    for (const t of mine) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
    const shared = mine.filter((t) => t.arms.some((k) => groupOf.get(k) !== a.name)).length;
    return { arm: a.name, method: a.method, gridPoints: instances.length, seeds, runs: rows.length, tasks: mine.length, shared, byKind, instances };
  });
  const shared = plan.tasks.filter((t) => new Set(t.arms.map((k) => groupOf.get(k))).size > 1).length;
  return { sweep: spec.name, arms, tasks: plan.tasks.length, shared };
}

const KIND_ORDER = ['pretrain', 'probe', 'curate', 'train', 'rollout', 'eval', 'diag'];

export function formatPlanSummary(p: PlanSummary): string {
  const kinds = KIND_ORDER.filter((k) => p.arms.some((a) => a.byKind[k])).concat(
    [...new Set(p.arms.flatMap((a) => Object.keys(a.byKind)))].filter((k) => !KIND_ORDER.includes(k)).sort());
  const lines = [`sweep ${p.sweep}: ${p.arms.length} arm(s), ${p.arms.reduce((n, a) => n + a.runs, 0)} run(s) (grid points x seeds), ${p.tasks} task(s)`
    + (p.shared ? `, ${p.shared} of them shared by several arms` : ''), ''];
  lines.push(table(['arm', 'method', 'grid_points', 'seeds', 'runs', 'tasks', ...kinds],
    p.arms.map((a) => [a.arm, a.method, a.gridPoints, a.seeds, a.runs, a.tasks, ...kinds.map((k) => a.byKind[k] ?? 0)])));
  const grids = p.arms.filter((a) => a.gridPoints > 1);
  if (grids.length) {
    lines.push('', 'grid points:');
    for (const a of grids) {
      const shown = a.instances.slice(0, 12).join(', ');
      lines.push(`  ${a.arm}: ${shown}${a.instances.length > 12 ? `, and ${a.instances.length - 12} more` : ''}`);
    }
  }
  lines.push('', 'tasks: per arm, a task shared with other arms (e.g. one PRETRAIN per seed) counts in each; the total counts it once');
  return lines.join('\n');
}
