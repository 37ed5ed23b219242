// Analytic compute accounting (Kaplan et al. 2020): per token, a forward pass costs 2N plus
// the attention term 2 * layers * context * d_model, and a training step 3x that (6N + ...).
// N counts the weights that multiply activations: every matrix except the input embedding
// lookup (a gather, no FLOPs), but including the output projection even when it is tied.
import type { ModelConfig } from './config.js';

export function matmulParams(c: ModelConfig): number {
  const C = c.hidden_size, I = c.intermediate_size;
  return c.num_hidden_layers * (4 * C * C + 3 * C * I) + c.vocab_size * C;
}

/** FLOPs per token for a sequence of `contextLen` tokens; mode 'train' is forward + backward. */
export function flopsPerToken(config: ModelConfig, contextLen: number, mode: 'train' | 'forward'): number {
  const forward = 2 * matmulParams(config) + 2 * config.num_hidden_layers * contextLen * config.hidden_size;
  return mode === 'train' ? 3 * forward : forward;
}

/** FLOPs for a list of sequence lengths, each token charged at its own sequence's length. */
export function flopsForSequences(config: ModelConfig, lengths: number[], mode: 'train' | 'forward'): number {
  let f = 0;
  for (const n of lengths) f += n * flopsPerToken(config, n, mode);
  return f;
}
