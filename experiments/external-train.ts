// Planners that TRAIN an external Hugging Face model (base.model_ref kind "hf", run by the
// worker's hf runner and runners/torch), next to external-eval / external-rollout:
//   external-sft: TRAIN(sft on params.dataset, full or LoRA) -> EVAL
//   external-rl:  [ROLLOUT x shards -> TRAIN(on the verified samples)] x rounds -> EVAL
// Each TRAIN's checkpoint (a tar of the saved model) feeds the next task as its `checkpoint`
// input; EVAL is the same task external-eval plans, on that checkpoint. See docs/external-models.md.
import { z } from 'zod';
import { TaskKind } from '../gen/limolab/v1/task.js';
import { formatZodIssues } from '../coordinator/spec.js';
import type { MethodPlanner, PlanArgs, PlannedTask } from '../coordinator/planner.js';
import { DatasetPath } from '../worker/runners/model-ref.js';
import { ExternalBaseSchema, externalPlanners } from './external.js';

// Arm params are flat (lists expand as a grid), so LoRA is lora_r (0: full fine-tune) + lora_alpha.
const TrainKnobs = {
  model: z.string().optional().describe('which of base.models this arm uses'),
  epochs: z.number().int().min(1).default(1),
  lr: z.number().positive().default(1e-4),
  batch_size: z.number().int().min(1).default(8),
  lora_r: z.number().int().min(0).default(0).describe('LoRA rank; 0 trains every weight'),
  lora_alpha: z.number().positive().default(16),
  max_len: z.number().int().min(2).default(1024),
  max_steps: z.number().int().min(0).default(0),
};
const SftParams = z.strictObject({
  ...TrainKnobs,
  dataset: DatasetPath.describe('LIMO-format file with problem + solution, read on the worker'),
  n: z.number().int().min(1).optional().describe('first n records of dataset'),
});
const RlParams = z.strictObject({
  ...TrainKnobs,
  rounds: z.number().int().min(1).max(50).default(1),
  prompts: z.number().int().min(1).default(64).describe('problems sampled per round (split over shards)'),
  k: z.number().int().min(1).default(4),
  shards: z.number().int().min(1).max(64).default(1),
  temperature: z.number().min(0).default(1),
  max_per_prompt: z.number().int().min(0).default(4).describe('verified samples trained per problem (0: all)'),
});
type Knobs = z.output<z.ZodObject<typeof TrainKnobs>>;
type Base = z.output<typeof ExternalBaseSchema>;

function check(schema: z.ZodType, args: PlanArgs, needPool: boolean): string[] {
  const problems: string[] = [];
  const b = ExternalBaseSchema.safeParse(args.base);
  if (!b.success) return formatZodIssues(b.error.issues, ['base'], ExternalBaseSchema);
  const ref = b.data.model_ref ?? b.data.models?.[String((args.params as { model?: unknown }).model)];
  if (!b.data.model_ref && !b.data.models) problems.push('base.model_ref: an external training arm needs {kind: hf, path, params}');
  else if (ref && ref.kind !== 'hf') problems.push(`base.model_ref.kind: training needs a local Hugging Face model (kind: hf); "${ref.kind}" models are served elsewhere and cannot be trained here`);
  if (needPool && !b.data.pool) problems.push('base.pool: external-rl samples its problems from a LIMO-format pool on the worker, e.g. pool: /data/limo/train.jsonl');
  // model selection and the eval block: the same rules as external-eval
  problems.push(...externalPlanners[0]!.validate({ ...args, params: { ...(args.params.model !== undefined ? { model: args.params.model } : {}) } }).filter((p) => !problems.includes(p)));
  const p = schema.safeParse(args.params);
  if (!p.success) problems.push(...formatZodIssues(p.error.issues, ['params'], schema));
  return problems;
}

function modelRefOf(args: PlanArgs): Record<string, unknown> {
  const base = args.base as { model_ref?: Record<string, unknown>; models?: Record<string, Record<string, unknown>> };
  const ref = base.model_ref ?? base.models?.[String(args.params.model)];
  if (!ref) throw new Error('no model_ref for this arm (planner bug: validate should have said so)');
  return ref;
}

function trainTask(key: string, modelRef: Record<string, unknown>, p: Knobs, method: 'sft' | 'rft', deps: { key: string; role: string }[], data: Record<string, unknown>, maxPerPrompt = 0): PlannedTask {
  return {
    key, name: key.replace(/\./g, ' '), kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', modelRef, deps,
    spec: { $case: 'train', value: { method, epochs: p.epochs, lr: p.lr, batchSize: p.batch_size, maxPerPrompt, options: {
      ...data, max_len: p.max_len, max_steps: p.max_steps, ...(p.lora_r > 0 ? { lora: { r: p.lora_r, alpha: p.lora_alpha } } : {}),
    } } },
  };
}

function sampling(s: Base['rollout']): Record<string, unknown> {
  return { max_tokens: s.max_tokens, ...(s.top_p !== undefined ? { top_p: s.top_p } : {}), ...(s.stop !== undefined ? { stop: s.stop } : {}), ...(s.template !== undefined ? { template: s.template } : {}) };
}

/** external-eval's EVAL task, on the checkpoint `from`. */
function evalOn(args: PlanArgs, from: string): PlannedTask {
  const plain = externalPlanners[0]!.plan({ ...args, params: args.params.model !== undefined ? { model: args.params.model } : {} })[0]!;
  return { ...plain, deps: [{ key: from, role: 'checkpoint' }] };
}

export const externalTrainPlanners: MethodPlanner[] = [
  {
    method: 'external-sft',
    validate: (args) => check(SftParams, args, false),
    plan: (args) => {
      const p = SftParams.parse(args.params);
      const train = trainTask('train.sft', modelRefOf(args), p, 'sft', [], { dataset: p.dataset, ...(p.n !== undefined ? { limit: p.n } : {}) });
      return [train, evalOn(args, train.key)];
    },
  },
  {
    method: 'external-rl',
    validate: (args) => check(RlParams, args, true),
    plan: (args) => {
      const b = ExternalBaseSchema.parse(args.base);
      const p = RlParams.parse(args.params);
      const modelRef = modelRefOf(args);
      const tasks: PlannedTask[] = [];
      let policy: string | null = null;
      for (let r = 1; r <= p.rounds; r++) {
        const shards: string[] = [];
        for (let s = 0; s < p.shards; s++) {
          const key = `rollout.r${r}.s${s}`;
          shards.push(key);
          tasks.push({
            key, name: `rollout r${r} s${s + 1}/${p.shards}`, kind: TaskKind.TASK_KIND_ROLLOUT, phase: 'rollout', modelRef,
            deps: policy ? [{ key: policy, role: 'checkpoint' }] : [],
            spec: { $case: 'rollout', value: { shard: s, numShards: p.shards, prompts: p.prompts, k: p.k, temperature: p.temperature, maxTokens: b.rollout.max_tokens, round: r,
              domain: undefined, options: { pool: b.pool!, ...sampling(b.rollout) } } },
          });
        }
        const deps = [...(policy ? [{ key: policy, role: 'checkpoint' }] : []), ...shards.map((key) => ({ key, role: 'rollouts' }))];
        const train = trainTask(`train.rft.r${r}`, modelRef, p, 'rft', deps, {}, p.max_per_prompt);
        tasks.push(train);
        policy = train.key;
      }
      tasks.push(evalOn(args, policy!));
      return tasks;
    },
  },
];
