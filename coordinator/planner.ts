// The sweep planner: spec -> a DAG of tasks. Each arm's grid points and seeds go through
// the arm method's planner (diag, sft, rl, icl, base ...), which returns tasks with local
// dependencies. Cache keys are a Merkle hash of (kind, spec, seed, model, dependencies'
// keys), so identical tasks in a sweep merge into one (e.g. one PRETRAIN per seed shared
// by every arm) and ones already computed by an earlier sweep are reused.
import { Task, TaskKind } from '../gen/limolab/v1/task.js';
import { SpecError } from '../common/errors.js';
import { configHash } from '../common/hash.js';
import { encodeTask } from '../common/wire.js';
import { didYouMean } from './analysis/errors.js';
import { capIssues, expandGrid, instanceName, type ArmSpec, type Resources, type SweepSpec } from './spec.js';
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
  /** Estimated work (the ML planners: seconds on one CPU), for the ready queue's order only:
   *  the chain with the most estimated work left goes first. Absent: 1 unit. */
  cost?: number;
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
  /** How many tasks plan(args) returns, computed without planning (for limits). */
  estimate?(args: PlanArgs): number;
}

/** Bounds a sweep must stay within; checked arithmetically before anything is expanded. */
export interface PlanLimits {
  maxTasks: number;          // tasks per sweep
  maxArmInstances: number;   // grid points x seeds, over all arms
  maxTaskBytes: number;      // an encoded Task (what one NATS message carries)
}

/** Base64 characters of all of a sweep's planned Task messages together (~192 MiB). */
const MAX_SWEEP_PROTO_CHARS = 256 * 1024 * 1024;

export const DEFAULT_LIMITS: PlanLimits = { maxTasks: 100_000, maxArmInstances: 10_000, maxTaskBytes: 1024 * 1024 - 64 * 1024 };

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

/** Problems with the sweep's size, found by arithmetic on the spec (nothing is expanded). */
export function sizeProblems(spec: SweepSpec, registry: PlannerRegistry, limits: PlanLimits): string[] {
  const problems: string[] = [];
  let instances = 0;
  const counts = spec.arms.map((arm) => {
    const bases = arm.params.base === undefined ? registry.get(arm.method)?.bases?.(spec.base)?.length || 1 : 1;
    const points = bases * Object.values(arm.params).reduce<number>((n, v) => n * (Array.isArray(v) ? v.length : 1), 1);
    const n = points * (arm.seeds ?? spec.seeds).length;
    instances += n;
    return { arm, points, seeds: (arm.seeds ?? spec.seeds).length, n };
  });
  if (instances > limits.maxArmInstances) {
    problems.push(`the sweep has ${instances} arm instances (grid points x seeds: ${counts.map((c) => `${c.arm.name} ${c.points} x ${c.seeds}`).join(', ')}); at most ${limits.maxArmInstances}: split it into several sweeps or use fewer grid values`);
    return problems;
  }
  let tasks = 0;
  for (const { arm, seeds } of counts) {
    const planner = registry.get(arm.method);
    if (!planner?.estimate) continue;
    for (const point of expandGrid(arm.params)) {
      const n = planner.estimate({ params: point, base: spec.base, seed: 0, arm: arm.name });
      if (Number.isFinite(n)) tasks += n * seeds;
    }
  }
  if (tasks > limits.maxTasks) problems.push(`the sweep would plan ${tasks} tasks; this coordinator takes at most ${limits.maxTasks} per sweep (its --max-tasks): split it or lower tasks/stages/seeds`);
  return problems;
}

export function planSweep(
  sweepId: string, spec: SweepSpec, registry: PlannerRegistry,
  findCached: (cacheKey: string) => CachedTask | null = () => null, now = Date.now(), limitsIn: Partial<PlanLimits> = {},
): Plan {
  const limits = { ...DEFAULT_LIMITS, ...limitsIn };
  const size = sizeProblems(spec, registry, limits);
  if (size.length) throw new SpecError('the sweep is too large; nothing was submitted', size);
  const problems: string[] = [];
  let tooMany = false;
  let bytes = 0;
  const arms: ArmRow[] = [];
  const byKey = new Map<string, TaskRow>();
  const order: TaskRow[] = [];

  spec.arms.forEach((arm, ai) => {
    const planner = registry.get(arm.method);
    if (!planner) {
      const near = didYouMean(arm.method, registry.methods());
      problems.push(`arms[${ai}].method: unknown method "${arm.method}"${near ? ` (did you mean "${near}"?)` : ''}; known: ${registry.methods().join(', ')}`);
      return;
    }
    const baseNames = planner.bases?.(spec.base) ?? [];
    const gridArm = baseNames.length > 0 && arm.params.base === undefined ? { ...arm, params: { ...arm.params, base: baseNames } } : arm;
    for (const point of expandGrid(gridArm.params)) {
      const inst = instanceName(gridArm, point);
      for (const seed of arm.seeds ?? spec.seeds) {
        if (tooMany) return;
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
        if (order.length + planned.length > limits.maxTasks * 2) {
          // Planners without an estimate are counted as they go (before merging shared tasks).
          tooMany = true;
          problems.push(`the sweep plans more than ${limits.maxTasks} tasks; this coordinator takes at most ${limits.maxTasks} per sweep (its --max-tasks): split it`);
          return;
        }
        for (const p of planned) {
          const row = toRow(sweepId, spec, arm, inst, seed, p, local, now, order.length);
          bytes += row.taskProto.length;
          if (bytes > MAX_SWEEP_PROTO_CHARS) {
            problems.push(`the sweep's tasks add up to over ${MAX_SWEEP_PROTO_CHARS / 4 * 3 / 1048576 | 0} MiB of task messages; make params like message smaller or split the sweep`);
            tooMany = true;
            return;
          }
          if (row.taskProto.length * 0.75 > limits.maxTaskBytes) {
            problems.push(`arms[${ai}] (${arm.name}) task "${p.name}" encodes to ${Math.round(row.taskProto.length * 0.75)} bytes; a task message is at most ${limits.maxTaskBytes} bytes (the NATS max_payload less room for inputs): make params like message smaller`);
            tooMany = true;
            return;
          }
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
  if (!problems.length && order.length > limits.maxTasks) problems.push(`the sweep plans ${order.length} tasks; this coordinator takes at most ${limits.maxTasks} per sweep (its --max-tasks): split it`);
  if (problems.length) throw new SpecError('the sweep cannot be planned; nothing was submitted', capIssues(problems));

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

/** Base64 of the encoder's bytes without copying them into a Buffer first. */
function base64(u8: Uint8Array): string {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64');
}

function toRow(sweepId: string, spec: SweepSpec, arm: ArmSpec, inst: string, armSeed: number, p: PlannedTask, local: Map<string, TaskRow>, now: number, ordinal: number): TaskRow {
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
  // The sweep id, then the task's place in the plan (base 36, fixed width), then a piece of
  // its cache key: ids sort in plan order, which is about the order results come back in, so
  // each batch of results adds to the right-hand end of every index keyed by task id (tasks,
  // attempts, results, ledger, metrics) instead of to a random page each: at 64 tasks in
  // flight a commit of ~40 results wrote ~2.4 MB with hash-ordered ids (one 16 KiB page per
  // row and index) and stalled in write-back for 20-70 ms.
  const id = `${sweepId}.${ordinal.toString(36).padStart(6, '0')}${cacheKey.replace('nocache:', '').slice(0, 10)}`;
  const task: Task = Task.fromPartial({
    id, sweepId, arm: inst, kind: p.kind, phase: p.phase, seed,
    resources: { cpus: resources.cpus, gpus: resources.gpus, memoryMb: resources.memory_mb, pool: resources.pool },
    timeoutS: arm.timeout_s ?? spec.defaults.timeout_s, cacheKey, modelRef: p.modelRef,
    costEstimate: p.cost !== undefined && Number.isFinite(p.cost) && p.cost > 0 ? p.cost : 0,
  });
  task.spec = p.spec;
  return {
    id, sweepId, arm: inst, seed: armSeed, name: p.name, kind: KIND_NAMES[p.kind] ?? 'unknown', phase: p.phase, pool: resources.pool,
    status: 'pending', priority: arm.priority ?? spec.priority, taskProto: base64(encodeTask(task)),
    deps: deps.map(({ task: t, role }) => ({ task: t, role })), cacheKey, maxRetries: arm.retries ?? spec.defaults.retries,
    dispatches: 0, nextDispatchMs: null, workerId: null, createdMs: now, startedMs: null, finishedMs: null, error: null, reusedFrom: null, arms: [],
    task,
  };
}
