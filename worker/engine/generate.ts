// Batched sampling with a KV cache: prompts are left-padded to a common length, prefilled in
// one call, then extended one token per step (the step graph reads preallocated key/value
// buffers in place and returns only the new token's). Per-row positions and the additive mask
// make each row compute exactly what it would alone.
// Returns generated tokens (EOS included when it stops a row) and their log-probabilities.
import { type ModelConfig, headDim } from './config.js';
import { InvalidInputError, SequenceTooLongError, throwIfAborted } from './errors.js';
import { flopsForSequences } from './flops.js';
import { Rng } from './rng.js';
import { MASKED, type FloatArray, type ModelRunner, type Scratch } from './runner.js';
import { sampleToken } from './sampler.js';
import type { Tokenizer } from './tokenizer.js';

/** KV cache capacity grows in blocks of this many slots. */
const CACHE_BLOCK = 32;

export interface GenerateOptions {
  maxNewTokens: number;
  temperature: number;     // 0 = greedy
  topK?: number;
  topP?: number;
  seed: number;
  stopAtEos?: boolean;     // default true
  batchSize?: number;      // prompts per decode batch (default 64)
  signal?: AbortSignal;
}
export interface GenerateResult {
  tokens: number[][];      // generated only
  logprobs: number[][];    // log p(token) under the model at temperature 1
  flops: number;
  promptTokens: number;
  generatedTokens: number;
}

export async function generateBatch(runner: ModelRunner, params: () => FloatArray[], c: ModelConfig, tok: Tokenizer,
  prompts: number[][], o: GenerateOptions): Promise<GenerateResult> {
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new InvalidInputError(`generate: maxNewTokens must be a non-negative integer, got ${o.maxNewTokens}`);
  if (!(o.temperature >= 0)) throw new InvalidInputError(`generate: temperature must be >= 0, got ${o.temperature}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new InvalidInputError(`generate: topP must be in (0, 1], got ${o.topP}`);
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new InvalidInputError(`generate: prompt ${i} is empty; start it with the BOS token (${tok.bos})`);
    for (const t of p) if (!Number.isInteger(t) || t < 0 || t >= c.vocab_size) throw new InvalidInputError(`generate: prompt ${i} has token id ${t} outside 0..${c.vocab_size - 1}`);
    if (p.length + o.maxNewTokens > c.max_position_embeddings) {
      throw new SequenceTooLongError(`generate: prompt ${i} (${p.length} tokens) + maxNewTokens ${o.maxNewTokens} exceeds max_position_embeddings=${c.max_position_embeddings}; lower maxNewTokens or shorten the prompt`);
    }
  });
  const rng = new Rng(o.seed);
  const res: GenerateResult = { tokens: [], logprobs: [], flops: 0, promptTokens: 0, generatedTokens: 0 };
  const bs = o.batchSize ?? 64;
  for (let i = 0; i < prompts.length; i += bs) {
    const chunk = prompts.slice(i, i + bs);
    const scratch = runner.lendScratch();
    const out = await generateChunk(runner, params(), c, tok, chunk, o, rng, scratch).finally(() => runner.returnScratch(scratch));
    res.tokens.push(...out.tokens);
    res.logprobs.push(...out.logprobs);
  }
  res.promptTokens = prompts.reduce((a, p) => a + p.length, 0);
  res.generatedTokens = res.tokens.reduce((a, t) => a + t.length, 0);
  // Tokens actually run through the model: the prompt and every generated token but the last.
  res.flops = flopsForSequences(c, prompts.map((p, k) => p.length + Math.max(0, res.tokens[k]!.length - 1)), 'forward');
  return res;
}

async function generateChunk(runner: ModelRunner, params: FloatArray[], c: ModelConfig, tok: Tokenizer,
  prompts: number[][], o: GenerateOptions, rng: Rng, scratch: Scratch): Promise<{ tokens: number[][]; logprobs: number[][] }> {
  const B = prompts.length, V = c.vocab_size;
  const Lp = Math.max(...prompts.map((p) => p.length));
  const pads = prompts.map((p) => Lp - p.length);
  const tokens: number[][] = prompts.map(() => []), logprobs: number[][] = prompts.map(() => []);
  if (o.maxNewTokens === 0) return { tokens, logprobs };
  const alloc = (n: number) => (runner.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));

  // Prefill: (B, Lp) left-padded; row b's token j sits at position j - pads[b].
  const ids = new BigInt64Array(B * Lp).fill(BigInt(tok.pad));
  const pos: number[] = new Array(B * Lp).fill(0);
  const mask = alloc(B * Lp * Lp).fill(MASKED);                             // (B, 1, Lp, Lp)
  prompts.forEach((p, b) => {
    for (let j = pads[b]!; j < Lp; j++) {
      ids[b * Lp + j] = BigInt(p[j - pads[b]!]!);
      pos[b * Lp + j] = j - pads[b]!;
      for (let k = pads[b]!; k <= j; k++) mask[(b * Lp + j) * Lp + k] = 0;
    }
  });
  const pre = await runner.prefill(params, ids, B, Lp, pos, mask);
  let logits = pre.logits;
  let S = Lp; // rows of logits per batch entry in the last call

  // KV cache: one buffer pair per layer, (B, H, cap, hd), holding the prompt and every token
  // fed back. The step graph reads them in place, all cap slots, masked beyond the filled
  // ones; only the new token's key and value come back, written into their slot here. cap
  // grows in blocks of CACHE_BLOCK slots, re-laid out in place, so a step reads about as many
  // slots as are filled rather than the chunk's maximum. The buffers are lent by the runner and
  // reused across calls (allocating and faulting in tens of MB per chunk cost more than this).
  const H = c.num_attention_heads, hd = headDim(c), BH = B * H, L = c.num_hidden_layers;
  const maxSlots = Lp + o.maxNewTokens - 1;
  const bufK = Array.from({ length: L }, (_, l) => scratch.get(`key.${l}`, BH * maxSlots * hd));
  const bufV = Array.from({ length: L }, (_, l) => scratch.get(`value.${l}`, BH * maxSlots * hd));
  let cap = Math.min(maxSlots, Math.ceil((Lp + 1) / CACHE_BLOCK) * CACHE_BLOCK);
  for (let l = 0; l < L; l++) {
    const pk = pre.keys[l]!, pv = pre.values[l]!, k = bufK[l]!, v = bufV[l]!;
    for (let bh = 0; bh < BH; bh++) {
      k.set(pk.subarray(bh * Lp * hd, (bh + 1) * Lp * hd), bh * cap * hd);
      v.set(pv.subarray(bh * Lp * hd, (bh + 1) * Lp * hd), bh * cap * hd);
      k.fill(0, (bh * cap + Lp) * hd, (bh + 1) * cap * hd); // stale values from an earlier call stay out of 0 * x
      v.fill(0, (bh * cap + Lp) * hd, (bh + 1) * cap * hd);
    }
  }
  // (B, 1, 1, cap): 0 on a row's real prompt tokens and on every slot filled since.
  let stepMask = alloc(B * cap).fill(MASKED);
  for (let b = 0; b < B; b++) stepMask.fill(0, b * cap + pads[b]!, b * cap + Lp);
  // The batch shrinks as rows finish (EOS): `rows` maps batch index -> prompt index, and the
  // finished rows' cache, mask and positions are squeezed out once enough of them pile up.
  let rows = prompts.map((_, b) => b), nb = B;
  const grow = () => {
    const n = Math.min(maxSlots, cap + CACHE_BLOCK);
    for (const a of [...bufK, ...bufV]) {
      for (let r = nb * H - 1; r >= 0; r--) { // last row first: destinations never overrun unread rows
        a.copyWithin(r * n * hd, r * cap * hd, (r + 1) * cap * hd);
        a.fill(0, (r * n + cap) * hd, (r + 1) * n * hd);
      }
    }
    const m = alloc(nb * n).fill(MASKED);
    for (let i = 0; i < nb; i++) m.set(stepMask.subarray(i * cap, (i + 1) * cap), i * n);
    stepMask = m;
    cap = n;
  };
  const compact = (keep: number[]) => { // batch indices to keep, ascending
    const blk = H * cap * hd;
    for (const a of [...bufK, ...bufV]) keep.forEach((i, j) => { if (i !== j) a.copyWithin(j * blk, i * blk, (i + 1) * blk); });
    keep.forEach((i, j) => { if (i !== j) stepMask.copyWithin(j * cap, i * cap, (i + 1) * cap); });
    stepMask = stepMask.subarray(0, keep.length * cap);
    rows = keep.map((i) => rows[i]!);
    nb = keep.length;
  };

  const done = new Array<boolean>(B).fill(false);
  let last = new BigInt64Array(B);
  let finished = 0; // rows of the current batch done since the last compaction
  for (let t = 0; t < o.maxNewTokens; t++) {
    throwIfAborted(o.signal, 'generate');
    for (let i = 0; i < nb; i++) {
      const b = rows[i]!;
      if (done[b]) continue;
      const row = logits.subarray(((i + 1) * S - 1) * V, (i + 1) * S * V);
      const { token, logprob } = sampleToken(row, o, rng);
      tokens[b]!.push(token); logprobs[b]!.push(logprob);
      last[i] = BigInt(token);
      if (token === tok.eos && (o.stopAtEos ?? true)) { done[b] = true; finished++; }
    }
    if (finished === nb || t === o.maxNewTokens - 1) break;
    if (finished * 8 >= nb) { // an eighth of the batch is idle: drop those rows
      const keep: number[] = [];
      for (let i = 0; i < nb; i++) if (!done[rows[i]!]) keep.push(i);
      last = BigInt64Array.from(keep, (i) => last[i]!);
      compact(keep);
      finished = 0;
    }
    // One step: the token just sampled goes into slot Lp + t, at position Lp + t - pads[b].
    const slot = Lp + t;
    if (slot >= cap) grow();
    const out = await runner.step(params, last, rows.map((b) => slot - pads[b]!), stepMask, cap, bufK, bufV);
    for (let l = 0; l < L; l++) {
      const k = bufK[l]!, v = bufV[l]!, nk = out.keys[l]!, nv = out.values[l]!;
      for (let bh = 0, src = 0; bh < nb * H; bh++) {
        for (let j = 0, dst = (bh * cap + slot) * hd; j < hd; j++, src++, dst++) { k[dst] = nk[src]!; v[dst] = nv[src]!; }
      }
    }
    for (let i = 0; i < nb; i++) stepMask[i * cap + slot] = 0;
    logits = out.logits;
    S = 1;
  }
  return { tokens, logprobs };
}
