// The sweep planner: spec -> a DAG of tasks. Each arm's grid points and seeds go through
// the arm method's planner (diag, sft, rl, icl, base ...), which returns tasks with local
// dependencies. Cache keys are a Merkle hash of (kind, spec, seed, model, dependencies'
// keys), so identical tasks in a sweep merge into one (e.g. one PRETRAIN per seed shared
// by every arm) and ones already computed by an earlier sweep are reused.
import { Task, TaskKind } from '../gen/limolab/v1/task.js';
import { SpecError } from '../common/errors.js';
import { configHash } from '../common/hash.js';
import { expandGrid, instanceName, type ArmSpec, type Resources, type SweepSpec } from './spec.js';
import type { ArmRow, CachedTask, TaskRow } from './store/store.js';

export interface PlannedTask {
  key: string;                       // unique within one arm instance and seed
  name: string;
  kind: TaskKind;
  phase: string;
  spec: NonNullable<Task['spec']>;
  deps?: { key: string; role: string }[];
  resources?: Partial<Resources>;
  seed?: number;                     // defaults to the arm seed
  modelRef?: Record<string, unknown>;
  /** The task whose metrics are the arm's accuracy. */
  evaluates?: boolean;
  /** false for tasks that must run every time (diagnostics). */
  cacheable?: boolean;
}

export interface PlanArgs { params: Record<string, string | number | boolean>; base: Record<string, unknown>; seed: number; arm: string }

export interface MethodPlanner {
  readonly method: string;
  /** Checks one grid point's params (and the base config); returns problems as "path: message". */
  validate(args: PlanArgs): string[];
  plan(args: PlanArgs): PlannedTask[];
  /** Names of the bases the sweep's `base` block defines (a grid axis): every arm of this
   *  method runs on each unless its params name one. Empty or absent: no base axis. */
  bases?(base: Record<string, unknown>): string[];
}

export class PlannerRegistry {
  private planners = new Map<string, MethodPlanner>();
  register(p: MethodPlanner): this { this.planners.set(p.method, p); return this; }
  get(method: string): MethodPlanner | undefined { return this.planners.get(method); }
  methods(): string[] { return [...this.planners.keys()].sort(); }
}

export interface Plan { arms: ArmRow[]; tasks: TaskRow[]; cached: Map<string, CachedTask> }

export const KIND_NAMES: Record<number, string> = {
  [TaskKind.TASK_KIND_DIAG]: 'diag', [TaskKind.TASK_KIND_PRETRAIN]: 'pretrain', [TaskKind.TASK_KIND_CURATE]: 'curate',
  [TaskKind.TASK_KIND_TRAIN]: 'train', [TaskKind.TASK_KIND_ROLLOUT]: 'rollout', [TaskKind.TASK_KIND_EVAL]: 'eval', [TaskKind.TASK_KIND_PROBE]: 'probe',
};

export function planSweep(
  sweepId: string, spec: SweepSpec, registry: PlannerRegistry,
  findCached: (cacheKey: string) => CachedTask | null = () => null, now = Date.now(),
): Plan {
  const problems: string[] = [];
  const arms: ArmRow[] = [];
  const byKey = new Map<string, TaskRow>();
  const order: TaskRow[] = [];

  spec.arms.forEach((arm, ai) => {
    const planner = registry.get(arm.method);
    if (!planner) {
      problems.push(`arms[${ai}].method: unknown method "${arm.method}"; known: ${registry.methods().join(', ')}`);
      return;
    }
    const baseNames = planner.bases?.(spec.base) ?? [];
    const gridArm = baseNames.length > 0 && arm.params.base === undefined ? { ...arm, params: { ...arm.params, base: baseNames } } : arm;
    for (const point of expandGrid(gridArm.params)) {
      const inst = instanceName(gridArm, point);
      for (const seed of arm.seeds ?? spec.seeds) {
        const args: PlanArgs = { params: point, base: spec.base, seed, arm: inst };
        const errs = planner.validate(args);
        if (errs.length) {
          for (const e of errs) problems.push(`arms[${ai}] (${arm.name}) ${e}`);
          return;
        }
        let planned: PlannedTask[];
        try {
          planned = planner.plan(args);
        } catch (err) {
          problems.push(`arms[${ai}] (${arm.name}): ${(err as Error).message}`);
          return;
        }
        const local = new Map<string, TaskRow>();
        let evalId: string | null = null;
        for (const p of planned) {
          const row = toRow(sweepId, spec, arm, inst, seed, p, local, now);
          const existing = byKey.get(row.cacheKey);
          const chosen = existing ?? row;
          if (!existing) { byKey.set(row.cacheKey, row); order.push(row); }
          const armKey = `${inst}|${seed}`;
          if (!chosen.arms.includes(armKey)) chosen.arms.push(armKey);
          local.set(p.key, chosen);
          if (p.evaluates) evalId = chosen.id;
        }
        arms.push({ sweepId, arm: inst, armGroup: arm.name, method: arm.method, seed, params: point, evalTaskId: evalId });
      }
    }
  });
  if (problems.length) throw new SpecError('the sweep cannot be planned; nothing was submitted', problems);

  const cached = new Map<string, CachedTask>();
  if (spec.cache) {
    for (const t of order) {
      if (t.cacheKey.startsWith('nocache:')) continue;
      const c = findCached(t.cacheKey);
      if (c) { cached.set(t.id, c); t.status = 'cached'; t.reusedFrom = c.taskId; t.finishedMs = now; }
    }
  }
  return { arms, tasks: order, cached };
}

function toRow(sweepId: string, spec: SweepSpec, arm: ArmSpec, inst: string, armSeed: number, p: PlannedTask, local: Map<string, TaskRow>, now: number): TaskRow {
  const deps = (p.deps ?? []).map((d) => {
    const dep = local.get(d.key);
    if (!dep) throw new Error(`planner bug: task "${p.key}" depends on "${d.key}", which is not planned before it`);
    return { task: dep.id, role: d.role, cacheKey: dep.cacheKey };
  });
  const seed = p.seed ?? armSeed;
  const resources = { ...spec.defaults.resources, ...(arm.resources ?? {}), ...(p.resources ?? {}) };
  const cacheable = p.cacheable !== false;
  // Non-cacheable tasks (diagnostics) are unique by where they stand in the sweep; hashing
  // their content too would cost a second hash per task for nothing.
  const cacheKey = cacheable
    ? configHash(p.kind, Task.toJSON({ ...Task.fromPartial({}), spec: p.spec }), seed, p.modelRef ?? null, deps.map((d) => [d.role, d.cacheKey]))
    : `nocache:${configHash(sweepId, inst, armSeed, p.key, deps.map((d) => d.cacheKey))}`;
  const id = `${sweepId}.${cacheKey.replace('nocache:', '').slice(0, 20)}`;
  const task: Task = Task.fromPartial({
    id, sweepId, arm: inst, kind: p.kind, phase: p.phase, seed,
    resources: { cpus: resources.cpus, gpus: resources.gpus, memoryMb: resources.memory_mb, pool: resources.pool },
    timeoutS: arm.timeout_s ?? spec.defaults.timeout_s, cacheKey, modelRef: p.modelRef,
  });
  task.spec = p.spec;
  return {
    id, sweepId, arm: inst, seed: armSeed, name: p.name, kind: KIND_NAMES[p.kind] ?? 'unknown', phase: p.phase, pool: resources.pool,
    status: 'pending', priority: arm.priority ?? spec.priority, taskProto: Buffer.from(Task.encode(task).finish()).toString('base64'),
    deps: deps.map(({ task: t, role }) => ({ task: t, role })), cacheKey, maxRetries: arm.retries ?? spec.defaults.retries,
    dispatches: 0, nextDispatchMs: null, workerId: null, createdMs: now, startedMs: null, finishedMs: null, error: null, reusedFrom: null, arms: [],
    task,
  };
}
