// The free-form structs of the ML task specs (PretrainSpec.model/.train, CurateSpec.options,
// TrainSpec.options, RolloutSpec.options, EvalSpec.options) as zod schemas: a default on every
// field, unknown keys rejected. Proto3 scalars cannot be "unset", so a 0 in a numeric spec
// field means "use the default" where 0 would be meaningless (documented at each use).
import { z } from 'zod';
import { BadTaskInputError } from '../runner.js';
import { CHAIN_STYLES, makeSplits, parseDomainConfig, type DomainConfig, type Splits } from '../../experiments/domain/index.js';

/** PretrainSpec.model: the engine's ModelConfig less vocab_size (taken from the domain's alphabet). */
export const ModelSpecSchema = z.strictObject({
  hidden_size: z.number().int().positive().default(64),
  num_hidden_layers: z.number().int().positive().default(2),
  num_attention_heads: z.number().int().positive().default(4),
  intermediate_size: z.number().int().positive().default(176), // ~8/3 x hidden_size (SwiGLU)
  max_position_embeddings: z.number().int().positive().default(128), // the defaults' longest example is 126 tokens with BOS/EOS
  rms_norm_eps: z.number().positive().default(1e-5),
  rope_theta: z.number().positive().default(10000),
  tie_word_embeddings: z.boolean().default(true),
  vocab_size: z.number().int().positive().optional(), // default: the tokenizer's vocabSize
});
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** PretrainSpec.train. */
export const PretrainTrainSchema = z.strictObject({
  steps: z.number().int().positive().default(2000),
  batchSize: z.number().int().positive().default(32),
  lr: z.number().positive().default(3e-3),
  warmupSteps: z.number().int().min(0).default(100),
  gradClip: z.number().positive().default(1),
  promptWeight: z.number().min(0).max(1).default(0), // loss weight on prompt tokens; 0 = answers only
});
export type PretrainTrain = z.infer<typeof PretrainTrainSchema>;

/** Sampling knobs shared by CURATE, ROLLOUT and EVAL options. */
const sampling = {
  maxNewTokens: z.number().int().min(0).default(0), // 0 = enough for the longest chain of the problem, within the context
  batch: z.number().int().positive().default(64), // prompts per engine.generate call (progress and abort granularity)
  topK: z.number().int().min(0).default(0), // 0 = no top-k cut
};

/** CurateSpec.options. */
export const CurateOptionsSchema = z.strictObject({
  ...sampling,
  temperature: z.number().min(0).default(1), // base samples that measure pass rates (hard, limo)
  // The chain style of the chosen problems' worked solutions (a grid axis of the study, never
  // chosen by the quality score): 'mixed' = one of domain.poolStyles at random per problem.
  solutionStyle: z.enum(['mixed', ...CHAIN_STYLES]).default('full'),
  // limo: where the best chain comes from: the pool's worked solutions, the base's own correct samples, or both.
  limoSource: z.enum(['pool', 'base', 'both']).default('pool'),
});
export type CurateOptions = z.infer<typeof CurateOptionsSchema>;

/** TrainSpec.options. */
export const TrainOptionsSchema = z.strictObject({
  steps: z.number().int().min(0).default(0), // 0 = spec.epochs passes over the examples
  warmupSteps: z.number().int().min(0).default(0),
  gradClip: z.number().positive().default(1),
  promptWeight: z.number().min(0).max(1).default(0),
  // A recipe search (the `tuning` phase): train once per (lr, epochs) candidate, score each on
  // a validation split carved from the domain's pool (never a test split; the training
  // examples' prompts excluded), and write the winner as a "recipe" output that TRAIN reads.
  search: z.strictObject({
    lr: z.array(z.number().positive()).min(1).max(8),
    epochs: z.array(z.number().int().min(1)).min(1).max(8).optional(), // default: the spec's epochs
    domain: z.record(z.string(), z.unknown()),
    validation: z.number().int().min(1).max(2000).default(48), // pool problems, evenly over lengths
  }).optional(),
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

/** RolloutSpec.options. */
export const RolloutOptionsSchema = z.strictObject({
  ...sampling,
  // What earns a sample its place in the training set: 'answer' = the final answer is right;
  // 'process' = that and the chain checks out step by step (no guesses, no lucky slips).
  reward: z.enum(['answer', 'process']).default('answer'),
});
export type RolloutOptions = z.infer<typeof RolloutOptionsSchema>;

/** EvalSpec.options. */
export const EvalOptionsSchema = z.strictObject({
  ...sampling,
  limit: z.number().int().min(0).default(0), // problems per split, 0 = all (taken in split order, so evenly per difficulty when it divides)
  iclStyle: z.enum(CHAIN_STYLES).default('full'), // mode icl without a dataset input: pool shots in this style
});
export type EvalOptions = z.infer<typeof EvalOptionsSchema>;

/** Validates a struct; a failure names the task field and every bad key. */
export function parseStruct<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new BadTaskInputError(`${where} is invalid: ${issues}; fix the sweep spec (see worker/ml/schemas.ts for keys and defaults)`);
  }
  return r.data;
}

export function parseDomain(value: unknown, where: string): DomainConfig {
  try {
    return parseDomainConfig(value);
  } catch (e) {
    throw new BadTaskInputError(`${where}: ${(e as Error).message}; fix the sweep spec (see experiments/domain/config.ts)`, { cause: e });
  }
}

/** The domain's splits; a domain that cannot produce them (too long, too few problems) is bad input. */
export function domainSplits(domain: DomainConfig, where: string): Splits {
  try {
    return makeSplits(domain);
  } catch (e) {
    throw new BadTaskInputError(`${where}: ${(e as Error).message}`, { cause: e });
  }
}
