// Picks the next token from one row of logits: temperature, top-k, top-p (nucleus), or
// greedy when temperature is 0. Also returns the token's log-probability under the model's
// own distribution (temperature 1, no truncation), which is what score() would assign it.
import type { Rng } from './rng.js';

export interface SamplingOptions { temperature: number; topK?: number; topP?: number }

export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  let max = -Infinity, arg = 0;
  for (let i = 0; i < V; i++) if (logits[i]! > max) { max = logits[i]!; arg = i; }
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(z);
  if (o.temperature === 0) return { token: arg, logprob: logits[arg]! - logZ };

  // Candidates sorted by logit (descending), then cut by top-k and top-p.
  let idx = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (o.topK !== undefined && o.topK > 0) idx = idx.slice(0, o.topK);
  const p = idx.map((i) => Math.exp((logits[i]! - max) / o.temperature));
  let total = p.reduce((a, b) => a + b, 0);
  if (o.topP !== undefined && o.topP < 1) {
    let acc = 0, keep = 0;
    while (keep < p.length && acc < o.topP * total) acc += p[keep++]!;
    idx = idx.slice(0, Math.max(1, keep));
    p.length = idx.length;
    total = p.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * total, pick = idx.length - 1;
  for (let j = 0; j < idx.length; j++) { u -= p[j]!; if (u < 0) { pick = j; break; } }
  const token = idx[pick]!;
  return { token, logprob: logits[token]! - logZ };
}
