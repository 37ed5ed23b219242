// Picks the next token from one row of logits: temperature, top-k, top-p (nucleus), or
// greedy when temperature is 0. Also returns the token's log-probability under the model's
// own distribution (temperature 1, no truncation), which is what score() would assign it.
// Runs once per row per decode step, so it works in reused scratch arrays, not per-call ones.
import type { Rng } from './rng.js';

export interface SamplingOptions { temperature: number; topK?: number; topP?: number }

let order = new Int32Array(0), keys = new Float64Array(0), probs = new Float64Array(0);

/** order[0..V) = token ids by logit, descending; ties by id, ascending (a stable sort). */
function sortDescending(logits: ArrayLike<number>, V: number): void {
  if (order.length < V) { order = new Int32Array(V); keys = new Float64Array(V); probs = new Float64Array(V); }
  if (V > 512) {
    for (let i = 0; i < V; i++) order[i] = i;
    order.subarray(0, V).sort((a, b) => logits[b]! - logits[a]! || a - b);
    return;
  }
  for (let i = 0; i < V; i++) { // insertion sort on (logit, id) pairs: a few hundred moves for a small vocabulary
    const l = logits[i]!;
    let j = i;
    while (j > 0 && keys[j - 1]! < l) { keys[j] = keys[j - 1]!; order[j] = order[j - 1]!; j--; }
    keys[j] = l; order[j] = i;
  }
}

export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  let max = -Infinity, arg = 0;
  for (let i = 0; i < V; i++) if (logits[i]! > max) { max = logits[i]!; arg = i; }
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(z);
  if (o.temperature === 0) return { token: arg, logprob: logits[arg]! - logZ };

  // Candidates sorted by logit (descending), then cut by top-k and top-p.
  sortDescending(logits, V);
  let n = o.topK !== undefined && o.topK > 0 ? Math.min(o.topK, V) : V;
  let total = 0;
  for (let j = 0; j < n; j++) total += (probs[j] = Math.exp((logits[order[j]!]! - max) / o.temperature));
  if (o.topP !== undefined && o.topP < 1) {
    let acc = 0, keep = 0;
    while (keep < n && acc < o.topP * total) acc += probs[keep++]!;
    n = Math.max(1, keep);
    total = 0;
    for (let j = 0; j < n; j++) total += probs[j]!;
  }
  let u = rng.next() * total, pick = n - 1;
  for (let j = 0; j < n; j++) { u -= probs[j]!; if (u < 0) { pick = j; break; } }
  const token = order[pick]!;
  return { token, logprob: logits[token]! - logZ };
}
