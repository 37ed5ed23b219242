// TRAIN of a Hugging Face model (model_ref kind "hf"): the training set is built here, in the
// same prompt template the hf runner's EVAL and ROLLOUT render, from a LIMO-format file on the
// worker (options.dataset: problem + solution; SFT) and/or from the `rollouts` inputs of
// earlier ROLLOUT tasks (verified samples; rejection-sampling fine-tuning), then trained by the
// torch runner (full fine-tune, or LoRA adapters merged into the saved model).
//
// train.options: {dataset?, limit?, template?, lora?: {r, alpha, dropout, target_modules},
//   max_len?, max_steps?, weight_decay?, grad_clip?, beta2?, dtype?}
import { z } from 'zod';
import { getTemplate, renderExample } from '../../experiments/datasets/index.js';
import type { ArtifactRef, Task } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, type TaskContext } from '../runner.js';
import type { WorkerAccess } from './access.js';
import { readLimoFile } from './math-tasks.js';
import { DatasetPath } from './model-ref.js';

/** train.options of an hf TRAIN task; the planner (experiments/external-train.ts) checks the same. */
export const HfTrainOptionsSchema = z.strictObject({
  dataset: DatasetPath.optional().describe('LIMO-format file with problem + solution, read on the worker (SFT)'),
  limit: z.number().int().min(1).optional().describe('first N records of dataset'),
  template: z.string().optional().describe('prompt template; default model_ref.template, else plain'),
  lora: z.strictObject({
    r: z.number().int().min(1).default(16),
    alpha: z.number().positive().default(32),
    dropout: z.number().min(0).max(1).default(0),
    target_modules: z.array(z.string().min(1)).min(1).default(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
  }).optional().describe('train LoRA adapters (peft) instead of every weight; merged into the saved checkpoint'),
  max_len: z.number().int().min(2).default(1024).describe('tokens per example (prompt + completion + EOS), longer ones are cut'),
  max_steps: z.number().int().min(0).default(0).describe('stop after this many optimizer steps (0: epochs decide)'),
  weight_decay: z.number().min(0).default(0),
  grad_clip: z.number().min(0).default(1),
  beta2: z.number().gt(0).lt(1).default(0.95),
  dtype: z.enum(['float32', 'bfloat16', 'float16']).optional().describe('default: model_ref.dtype, else float32'),
});
export type HfTrainOptions = z.output<typeof HfTrainOptionsSchema>;
export type TrainSpec = NonNullable<Extract<Task['spec'], { $case: 'train' }>>['value'];

const RolloutsFile = z.object({
  format: z.literal('limolab-rollouts-text'),
  samples: z.array(z.object({ prompt: z.string(), completion: z.string(), answer: z.string().optional() })),
});

export interface TrainingSet {
  /** JSON lines of {prompt, completion}, what the torch runner's TRAIN reads as `dataset`. */
  jsonl: Uint8Array;
  fromDataset: number;
  fromRollouts: number;
}

/**
 * The examples of one TRAIN task. Rollout samples keep the prompt they were sampled with (already
 * rendered) and get the template's end-of-turn marker, like SFT completions; at most
 * `maxPerPrompt` (> 0) samples per prompt, in the order the rollouts list them.
 */
export async function buildTrainingSet(ctx: TaskContext, o: HfTrainOptions, templateName: string, maxPerPrompt: number, access: WorkerAccess): Promise<TrainingSet> {
  let t;
  try {
    t = getTemplate(templateName);
  } catch (err) {
    throw new BadTaskInputError((err as Error).message);
  }
  const rows: { prompt: string; completion: string }[] = [];
  let fromDataset = 0;
  if (o.dataset) {
    const records = await readLimoFile(o.dataset, access, o.limit);
    for (const r of records) {
      if (typeof r.solution !== 'string' || r.solution === '') throw new BadTaskInputError(`train.options.dataset ${o.dataset}: record ${r.id ?? rows.length} has no solution; SFT needs worked solutions`);
      rows.push(renderExample(t, r.problem, r.solution));
      fromDataset++;
    }
  }
  let fromRollouts = 0;
  const perPrompt = new Map<string, number>();
  for (const ref of ctx.task.inputs.filter((i: ArtifactRef) => i.role === 'rollouts')) {
    let file: z.output<typeof RolloutsFile>;
    try {
      file = RolloutsFile.parse(JSON.parse(new TextDecoder().decode(await ctx.artifacts.get(ref))));
    } catch (err) {
      throw new BadTaskInputError(`rollouts input ${ref.digest.slice(0, 12)} is not limolab-rollouts-text (from the hf or openai runner's ROLLOUT): ${(err as Error).message.slice(0, 300)}`, { cause: err });
    }
    for (const s of file.samples) {
      const seen = perPrompt.get(s.prompt) ?? 0;
      if (maxPerPrompt > 0 && seen >= maxPerPrompt) continue;
      perPrompt.set(s.prompt, seen + 1);
      rows.push({ prompt: s.prompt, completion: s.completion + t.assistantEnd });
      fromRollouts++;
    }
  }
  // Rollouts with no verified sample are a legitimate RL round: the policy stays as it is.
  if (rows.length === 0 && !ctx.task.inputs.some((i) => i.role === 'rollouts')) {
    throw new BadTaskInputError('an hf TRAIN needs train.options.dataset (a LIMO-format file with solutions) or rollouts inputs from ROLLOUT tasks');
  }
  return { jsonl: new TextEncoder().encode(rows.map((r) => JSON.stringify(r) + '\n').join('')), fromDataset, fromRollouts };
}

/** The options the torch runner's TRAIN reads (the data options stay here). */
export function torchTrainOptions(o: HfTrainOptions, allowEmpty: boolean, modelDtype?: HfTrainOptions['dtype']): Record<string, unknown> {
  return {
    ...(allowEmpty ? { allow_empty: true } : {}),
    max_len: o.max_len, max_steps: o.max_steps, weight_decay: o.weight_decay, grad_clip: o.grad_clip, beta2: o.beta2, dtype: o.dtype ?? modelDtype ?? 'float32',
    ...(o.lora ? { lora: o.lora } : {}),
  };
}

