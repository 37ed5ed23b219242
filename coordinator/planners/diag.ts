// The diagnostic method: tasks that sleep, echo or fail on purpose, so the execution
// plane is tested and benchmarked without any ML. Params: op (sleep|echo|fail),
// sleep_ms, message, fail_times (0 = always), output_bytes, tasks (independent chains),
// stages (chain length; stage i consumes stage i-1's output), fail_stage (only that
// stage uses op "fail"; others sleep).
import { z } from 'zod';
import { DiagSpec_Op, TaskKind } from '../../gen/limolab/v1/task.js';
import { formatZodIssues } from '../spec.js';
import type { MethodPlanner, PlanArgs, PlannedTask } from '../planner.js';

const Params = z.strictObject({
  op: z.enum(['sleep', 'echo', 'fail']).default('sleep'),
  sleep_ms: z.number().int().min(0).max(86_400_000).default(0),
  message: z.string().default(''),
  fail_times: z.number().int().min(0).default(0),
  output_bytes: z.number().int().min(0).max(64 * 1024 * 1024).default(0),
  tasks: z.number().int().min(1).max(1_000_000).default(1),
  stages: z.number().int().min(1).max(100).default(1),
  fail_stage: z.number().int().min(1).optional(),
});

const OPS = { sleep: DiagSpec_Op.OP_SLEEP, echo: DiagSpec_Op.OP_ECHO, fail: DiagSpec_Op.OP_FAIL };

export const diagPlanner: MethodPlanner = {
  method: 'diag',
  validate({ params }: PlanArgs) {
    const r = Params.safeParse(params);
    return r.success ? [] : formatZodIssues(r.error.issues, ['params'], Params);
  },
  estimate({ params }: PlanArgs): number {
    const r = Params.safeParse(params);
    return r.success ? r.data.tasks * r.data.stages : 0;
  },
  plan({ params }: PlanArgs): PlannedTask[] {
    const p = Params.parse(params);
    const out: PlannedTask[] = [];
    for (let i = 0; i < p.tasks; i++) {
      for (let s = 1; s <= p.stages; s++) {
        const failing = p.fail_stage === undefined ? p.op === 'fail' : p.fail_stage === s;
        const op = failing ? OPS.fail : p.op === 'fail' ? OPS.sleep : OPS[p.op];
        out.push({
          key: `t${i}.s${s}`, name: p.stages > 1 ? `diag ${i} stage ${s}` : `diag ${i}`, kind: TaskKind.TASK_KIND_DIAG, phase: 'diag',
          spec: { $case: 'diag', value: { op, sleepMs: p.sleep_ms, message: p.message, failTimes: failing ? p.fail_times : 0, outputBytes: p.output_bytes } },
          deps: s > 1 ? [{ key: `t${i}.s${s - 1}`, role: 'data' }] : [],
          cacheable: false,
          evaluates: s === p.stages && i === p.tasks - 1,
          // Seconds: what a sleep asks for, plus a millisecond for the rest.
          cost: 0.001 + (op === OPS.sleep ? p.sleep_ms / 1000 : 0),
        });
      }
    }
    return out;
  },
};
