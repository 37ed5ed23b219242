// Turns examples into padded (B, T) arrays for the graphs: inputs tokens[:-1], targets
// tokens[1:], per-target weights weights[1:]. Right padding with PAD and weight 0; the causal
// mask alone keeps real positions from seeing pads that follow them. T is rounded up to a
// multiple of 16 (capped at the context) so that few distinct shapes reach onnxruntime.
import type { ModelConfig } from './config.js';
import { InvalidInputError, SequenceTooLongError } from './errors.js';

export interface Example { tokens: number[]; weights: number[] }

export interface PackedBatch {
  B: number; T: number;
  ids: BigInt64Array;      // (B, T)
  targets: BigInt64Array;  // (B, T)
  weights: Float64Array;   // (B, T) weight of predicting targets[b, t]
  lengths: number[];       // real input positions per row (tokens.length - 1)
}

export function validateExamples(examples: Example[], c: ModelConfig, what: string): void {
  if (!Array.isArray(examples)) throw new InvalidInputError(`${what}: examples must be an array`);
  examples.forEach((ex, i) => {
    if (!ex || !Array.isArray(ex.tokens) || !Array.isArray(ex.weights)) throw new InvalidInputError(`${what}: example ${i} needs tokens and weights arrays`);
    if (ex.tokens.length !== ex.weights.length) {
      throw new InvalidInputError(`${what}: example ${i} has ${ex.tokens.length} tokens but ${ex.weights.length} weights; give one weight per token`);
    }
    if (ex.tokens.length < 1) throw new InvalidInputError(`${what}: example ${i} is empty`);
    if (ex.tokens.length > c.max_position_embeddings) {
      throw new SequenceTooLongError(`${what}: example ${i} has ${ex.tokens.length} tokens, more than max_position_embeddings=${c.max_position_embeddings}; truncate it or train a model with a longer context`);
    }
    for (const t of ex.tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocab_size) throw new InvalidInputError(`${what}: example ${i} has token id ${t} outside 0..${c.vocab_size - 1}`);
    }
    for (const w of ex.weights) if (!Number.isFinite(w)) throw new InvalidInputError(`${what}: example ${i} has a non-finite weight ${w}`);
  });
}

export function bucketLength(n: number, ctx: number): number {
  return Math.min(ctx, Math.max(16, Math.ceil(n / 16) * 16));
}

export function packBatch(examples: Example[], c: ModelConfig, pad: number): PackedBatch {
  const B = examples.length;
  const lengths = examples.map((e) => e.tokens.length - 1);
  const T = bucketLength(Math.max(1, ...lengths), c.max_position_embeddings);
  const ids = new BigInt64Array(B * T).fill(BigInt(pad));
  const targets = new BigInt64Array(B * T).fill(BigInt(pad));
  const weights = new Float64Array(B * T);
  examples.forEach((ex, b) => {
    for (let t = 0; t < lengths[b]!; t++) {
      ids[b * T + t] = BigInt(ex.tokens[t]!);
      targets[b * T + t] = BigInt(ex.tokens[t + 1]!);
      weights[b * T + t] = ex.weights[t + 1]!;
    }
  });
  return { B, T, ids, targets, weights, lengths };
}
