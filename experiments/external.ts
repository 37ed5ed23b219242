// Planners for sweeps over an EXTERNAL model, named in the sweep's `base.model_ref` in place
// of the built-in one:
//   external-eval:    EVAL of base.model_ref on base.datasets
//   external-rollout: [ROLLOUT x shards] x rounds over base.pool, plus the same EVAL
// model_ref kinds:
//   openai: a served model behind /v1/completions or /v1/chat/completions (vLLM, SGLang,
//           llama.cpp server, Ollama); run by the worker's built-in openai runner.
//   hf:     a local Hugging Face checkpoint directory on the worker; run by an external
//           process runner (runners/torch) on a worker started with --runner-cmd.
// The planner only sets each task's model_ref (part of every cache key) and its spec; the
// worker picks the runner that accepts it. See docs/external-models.md.
import { z } from 'zod';
import { TaskKind } from '../gen/limolab/v1/task.js';
import { formatZodIssues } from '../coordinator/spec.js';
import type { MethodPlanner, PlanArgs, PlannedTask } from '../coordinator/planner.js';
import { DatasetPath, OpenAIModelRefSchema } from '../worker/runners/model-ref.js';

export const HfModelRefSchema = z.strictObject({
  kind: z.literal('hf'),
  path: z.string({ error: 'path is required: a local Hugging Face model directory on the worker' }).min(1, 'path is a local Hugging Face model directory on the worker (config.json, *.safetensors, tokenizer)'),
  params: z.number({ error: 'params is required: the declared parameter count (e.g. 1.5e9), recorded in the ledger' }).positive('params is the declared parameter count (e.g. 1.5e9); it is recorded in the ledger'),
  template: z.string().optional(),
  device_kind: z.string().min(1).optional(),
  // How the worker's torch runner loads and samples it (runners/torch/README.md); part of every
  // task's cache key, as each changes what is computed.
  dtype: z.enum(['float32', 'bfloat16', 'float16']).optional()
    .describe('the weights and activations of every task on this model (TRAIN, EVAL, ROLLOUT); default float32'),
  engine: z.enum(['hf', 'vllm']).optional().describe('what samples it: hf (transformers generate, the default) or vllm (installed beside the runner)'),
  batch_rows: z.number().int().min(1).optional().describe('sample rows per generate call; default the worker\'s $LIMOLAB_SAMPLE_BATCH_ROWS, else 256'),
  batch_tokens: z.number().int().min(1).optional()
    .describe('rows x (longest prompt + max_tokens) per generate call, a bound on the KV cache; default $LIMOLAB_SAMPLE_BATCH_TOKENS, else 131072'),
});

export const ModelRefSchema = z.discriminatedUnion('kind', [OpenAIModelRefSchema, HfModelRefSchema], {
  error: (iss) => (iss.code === 'invalid_union' ? 'model_ref.kind must be "openai" (a served OpenAI-compatible endpoint) or "hf" (a local Hugging Face checkpoint)' : undefined),
});
export type ModelRef = z.output<typeof ModelRefSchema>;

const Sampling = {
  max_tokens: z.number().int().min(1).default(1024),
  top_p: z.number().gt(0).max(1).optional(),
  stop: z.array(z.string()).optional(),
  template: z.string().optional(),
};

/** The sweep's `base:` block for external methods. */
export const ExternalBaseSchema = z.strictObject({
  model_ref: ModelRefSchema.optional().describe('the model every arm uses; or name several under models and pick one per arm with params.model'),
  models: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a model name uses letters, digits, _ . -'), ModelRefSchema).optional()
    .describe('named model_refs; an arm picks one with params.model (a grid: model: [a, b])'),
  datasets: z.array(z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a dataset name uses letters, digits, _ . - (it becomes part of metric names)'),
    path: DatasetPath.describe('LIMO-format eval file, read on the worker'),
    limit: z.number().int().min(1).optional(),
  })).min(1, 'name at least one evaluation set: datasets: [{name: math500, path: /data/limo-eval/math500.jsonl}]'),
  pool: DatasetPath.optional().describe('LIMO-format problem pool for external-rollout, read on the worker'),
  eval: z.strictObject({
    n_samples: z.number().int().min(1).default(1), k: z.array(z.number().int().min(1)).default([]), temperature: z.number().min(0).default(0),
    keep_outputs: z.number().int().min(0).default(4), ...Sampling,
  }).prefault({}),
  rollout: z.strictObject({ ...Sampling }).prefault({}),
});
type ExternalBase = z.output<typeof ExternalBaseSchema>;

const modelParam = z.string().optional().describe('which of base.models this arm uses');
const EvalParams = z.strictObject({ model: modelParam });
const RolloutParams = z.strictObject({
  model: modelParam,
  prompts: z.number().int().min(1).default(64).describe('problems sampled per round (split over shards)'),
  k: z.number().int().min(1).default(4).describe('samples per problem'),
  shards: z.number().int().min(1).max(64).default(2),
  rounds: z.number().int().min(1).max(50).default(1).describe('rounds draw different problems (no training between them: the model is external)'),
  temperature: z.number().min(0).default(1),
});

const PHASE = { rollout: 'rollout', eval: 'evaluation' } as const;

function check(schema: z.ZodType, args: PlanArgs, needPool: boolean): string[] {
  const problems: string[] = [];
  const b = ExternalBaseSchema.safeParse(args.base);
  if (!b.success) problems.push(...formatZodIssues(b.error.issues, ['base'], ExternalBaseSchema));
  else {
    const e = b.data.eval;
    for (const k of e.k) if (k > e.n_samples) problems.push(`base.eval.k: pass@${k} needs n_samples >= ${k} (n_samples is ${e.n_samples})`);
    if (e.n_samples > 1 && e.temperature === 0) problems.push('base.eval.temperature: n_samples > 1 at temperature 0 draws identical samples; set a temperature (e.g. 0.6)');
    const picked = (args.params as { model?: unknown }).model;
    if (b.data.model_ref && b.data.models) problems.push('base: give either model_ref (one model) or models (named, picked by params.model), not both');
    else if (!b.data.model_ref && !b.data.models) problems.push('base.model_ref: model_ref is required: {kind: openai, base_url, model, params} or {kind: hf, path, params} (or name several under base.models)');
    else if (b.data.models && picked === undefined) problems.push(`params.model: base.models names several models; pick one per arm: model: ${Object.keys(b.data.models)[0] ?? 'name'} (or a list for a grid)`);
    else if (b.data.models && !(String(picked) in b.data.models)) problems.push(`params.model: "${String(picked)}" is not in base.models (${Object.keys(b.data.models).join(', ')})`);
    else if (b.data.model_ref && picked !== undefined) problems.push('params.model: picks from base.models, but this sweep has base.model_ref; drop params.model or use base.models');
    if (needPool && !b.data.pool) problems.push('base.pool: external-rollout needs a LIMO-format problem pool on the worker, e.g. pool: /data/limo/train.jsonl');
  }
  const p = schema.safeParse(args.params);
  if (!p.success) problems.push(...formatZodIssues(p.error.issues, ['params'], schema));
  return problems;
}

/** The model_ref carried by the task, as the user wrote it (defaults are the runner's), so
 * the cache key changes exactly when the model does. */
function modelRefOf(args: PlanArgs): Record<string, unknown> {
  const base = args.base as { model_ref?: Record<string, unknown>; models?: Record<string, Record<string, unknown>> };
  const picked = (args.params as { model?: unknown }).model;
  const ref = base.model_ref ?? base.models?.[String(picked)];
  if (!ref) throw new Error('no model_ref for this arm (planner bug: validate should have said so)');
  return ref;
}

function samplingOptions(s: ExternalBase['rollout'] | ExternalBase['eval']): Record<string, unknown> {
  return {
    max_tokens: s.max_tokens,
    ...(s.top_p !== undefined ? { top_p: s.top_p } : {}),
    ...(s.stop !== undefined ? { stop: s.stop } : {}),
    ...(s.template !== undefined ? { template: s.template } : {}),
  };
}

function evalTask(b: ExternalBase, modelRef: Record<string, unknown>): PlannedTask {
  const e = b.eval;
  return {
    key: 'eval', name: `eval ${b.datasets.map((d) => d.name).join(',')}`, kind: TaskKind.TASK_KIND_EVAL, phase: PHASE.eval, evaluates: true, modelRef,
    spec: { $case: 'eval', value: {
      splits: b.datasets.map((d) => d.name), nSamples: e.n_samples, k: e.k, temperature: e.temperature, keepOutputs: e.keep_outputs, mode: 'model', shots: 0,
      domain: undefined, options: { datasets: b.datasets.map((d) => ({ name: d.name, path: d.path, ...(d.limit !== undefined ? { limit: d.limit } : {}) })), ...samplingOptions(e) },
    } },
  };
}

export const externalPlanners: MethodPlanner[] = [
  {
    method: 'external-eval',
    validate: (args) => check(EvalParams, args, false),
    plan: (args) => {
      const b = ExternalBaseSchema.parse(args.base);
      EvalParams.parse(args.params);
      return [evalTask(b, modelRefOf(args))];
    },
  },
  {
    method: 'external-rollout',
    validate: (args) => check(RolloutParams, args, true),
    plan: (args) => {
      const b = ExternalBaseSchema.parse(args.base);
      const p = RolloutParams.parse(args.params);
      const modelRef = modelRefOf(args);
      const tasks: PlannedTask[] = [];
      for (let r = 1; r <= p.rounds; r++) {
        for (let s = 0; s < p.shards; s++) {
          tasks.push({
            key: `rollout.r${r}.s${s}`, name: `rollout r${r} s${s + 1}/${p.shards}`, kind: TaskKind.TASK_KIND_ROLLOUT, phase: PHASE.rollout, modelRef,
            spec: { $case: 'rollout', value: {
              shard: s, numShards: p.shards, prompts: p.prompts, k: p.k, temperature: p.temperature, maxTokens: b.rollout.max_tokens, round: r,
              domain: undefined, options: { pool: b.pool!, ...samplingOptions(b.rollout) },
            } },
          });
        }
      }
      tasks.push(evalTask(b, modelRef));
      return tasks;
    },
  },
];
