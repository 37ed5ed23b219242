// The JSON artifacts the ML kinds pass between each other: a curated dataset (CURATE ->
// TRAIN sft, EVAL icl) and a shard's accepted rollouts (ROLLOUT -> TRAIN rft). Each carries
// a format tag; reading the wrong file fails with what it is and what was expected.
import { z } from 'zod';
import { BadTaskInputError, type TaskContext } from '../runner.js';
import type { ArtifactRef } from '../../gen/limolab/v1/task.js';
import { decodeJson, encodeJson } from './common.js';

export const DATASET_FORMAT = 'limolab.dataset/v1';
export const ROLLOUTS_FORMAT = 'limolab.rollouts/v1';

const ExampleSchema = z.object({
  prompt: z.string(),
  completion: z.string(),
  problem: z.string(), // canonical problem text (dedupe key)
  steps: z.number().int(),
  quality: z.number(), // chainQuality of the completion
  passRate: z.number().optional(), // base pass rate (hard, limo)
  style: z.string().optional(), // the worked solution's style, or "base" for the base's own sample
});
export type DatasetExample = z.infer<typeof ExampleSchema>;

export const DatasetSchema = z.object({
  format: z.literal(DATASET_FORMAT),
  strategy: z.string(),
  examples: z.array(ExampleSchema),
});
export type Dataset = z.infer<typeof DatasetSchema>;

export const RolloutsSchema = z.object({
  format: z.literal(ROLLOUTS_FORMAT),
  round: z.number().int(),
  shard: z.number().int(),
  samples: z.array(ExampleSchema),
});
export type Rollouts = z.infer<typeof RolloutsSchema>;

function parseArtifact<S extends z.ZodType>(schema: S, bytes: Uint8Array, ref: ArtifactRef, expected: string): z.infer<S> {
  const what = `input "${ref.role}" (sha256 ${ref.digest.slice(0, 12)})`;
  const r = schema.safeParse(decodeJson(bytes, what));
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new BadTaskInputError(`${what} is not a ${expected} artifact (${issues}); pass the output of the right task`);
  }
  return r.data;
}

export async function readDataset(ctx: TaskContext, ref: ArtifactRef): Promise<Dataset> {
  return parseArtifact(DatasetSchema, await ctx.artifacts.get(ref), ref, DATASET_FORMAT);
}

export async function readRollouts(ctx: TaskContext, ref: ArtifactRef): Promise<Rollouts> {
  return parseArtifact(RolloutsSchema, await ctx.artifacts.get(ref), ref, ROLLOUTS_FORMAT);
}

export function writeDataset(ctx: TaskContext, d: Omit<Dataset, 'format'>): Promise<ArtifactRef> {
  return ctx.artifacts.put('dataset', encodeJson({ format: DATASET_FORMAT, ...d }), 'application/json');
}

export function writeRollouts(ctx: TaskContext, r: Omit<Rollouts, 'format'>): Promise<ArtifactRef> {
  return ctx.artifacts.put('rollouts', encodeJson({ format: ROLLOUTS_FORMAT, ...r }), 'application/json');
}
