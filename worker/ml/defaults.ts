// Ready-made configurations of the whole pipeline (model + domain + every kind's knobs) as
// plain JSON, so tests and sweep specs reuse one source. defaultTinyConfig: seconds, for
// tests. defaultStudyConfig: sized so a 3-seed limo-vs-rl study fits in an hour on 2 cores.
import type { DomainConfigInput } from '../../experiments/domain/index.js';
import type { z } from 'zod';
import type { CurateOptionsSchema, EvalOptionsSchema, ModelSpecSchema, PretrainTrainSchema, RolloutOptionsSchema, TrainOptionsSchema } from './schemas.js';

export interface MlConfig {
  model: z.input<typeof ModelSpecSchema>; // PretrainSpec.model
  domain: DomainConfigInput; // every spec's domain
  pretrain: z.input<typeof PretrainTrainSchema>; // PretrainSpec.train
  curate: { n: number; k: number; candidates: number; options: z.input<typeof CurateOptionsSchema> };
  sft: { epochs: number; lr: number; batchSize: number; options: z.input<typeof TrainOptionsSchema> };
  rft: { epochs: number; lr: number; batchSize: number; maxPerPrompt: number; options: z.input<typeof TrainOptionsSchema> };
  rollout: { rounds: number; numShards: number; prompts: number; k: number; temperature: number; options: z.input<typeof RolloutOptionsSchema> };
  eval: { nSamples: number; k: number[]; temperature: number; keepOutputs: number; options: z.input<typeof EvalOptionsSchema> };
}

/** Seconds per kind on one core: a 1-layer d=32 model, short problems, small splits. */
export function defaultTinyConfig(): MlConfig {
  return {
    model: { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 80 },
    domain: { trainSteps: [1, 2], oodSteps: [3, 3], poolSize: 120, testSize: 12, pretrainSteps: [1, 2], pretrainSize: 300, maxChars: 72 },
    pretrain: { steps: 20, batchSize: 16, lr: 3e-3, warmupSteps: 2 },
    curate: { n: 8, k: 2, candidates: 16, options: { batch: 32 } },
    sft: { epochs: 1, lr: 1e-3, batchSize: 8, options: {} },
    rft: { epochs: 1, lr: 1e-3, batchSize: 8, maxPerPrompt: 2, options: {} },
    rollout: { rounds: 1, numShards: 2, prompts: 8, k: 2, temperature: 1, options: { batch: 32 } },
    eval: { nSamples: 2, k: [2], temperature: 1, keepOutputs: 2, options: { batch: 32 } },
  };
}

/**
 * The study's base: d=64, 2 layers, context 128 (the longest 6-step full_check example is 126
 * tokens), domain defaults (values 0..19). Observed with worker/ml/probe.ts (2 threads, 2-core
 * box shared with other jobs; pretraining 1.5-3.5 min): greedy pass@1 without chains 1-step
 * 97%, 2-step 50%, 3-step 43%, 4-step 30%, OOD 28%. SFT makes it chain on every problem, but
 * at this size its chains miscopy operands: 400 limo (full_check) examples x 10 epochs fell to
 * 19% on test_id, x 20 epochs 43%; 400 random full-style x 20 epochs rose to 63%, 1600 x 5 to
 * 74% (OOD fell to 9-14%: chains stop near the longest training length).
 */
export function defaultStudyConfig(): MlConfig {
  return {
    model: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 176, max_position_embeddings: 128 },
    domain: {},
    pretrain: { steps: 1500, batchSize: 64, lr: 5e-3, warmupSteps: 100 },
    curate: { n: 400, k: 4, candidates: 1200, options: {} },
    sft: { epochs: 10, lr: 1e-3, batchSize: 16, options: {} },
    rft: { epochs: 2, lr: 1e-3, batchSize: 16, maxPerPrompt: 4, options: {} },
    rollout: { rounds: 3, numShards: 2, prompts: 400, k: 4, temperature: 1, options: {} },
    eval: { nSamples: 4, k: [4], temperature: 1, keepOutputs: 4, options: { limit: 0 } },
  };
}
