// The Llama-style forward pass as ONNX: RMSNorm, rotate-half RoPE (Hugging Face convention),
// causal multi-head attention, SwiGLU MLP, no biases. One definition, three graphs: forward
// (per-token NLL + logits), training (forward + the hand-derived backward in backward.ts,
// gradients as outputs), and decode (a prefill, then one step per token against KV cache
// buffers, on a leaner inference-only body). Weights are graph inputs so the optimizer can
// update them between runs; B and T are symbolic, so one session serves all shapes.
// Activations are kept 2-D, (N, C) with N = B*T, except inside attention.
import { type ModelConfig, headDim, paramSpecs } from './config.js';
import { GraphBuilder, type FloatType } from './onnx-builder.js';
import { buildBackward } from './backward.js';

export interface RmsSaved { x: string; n: string; r: string; gain: string }
export interface LayerSaved {
  rms1: RmsSaved; h1: string;          // (N, C) normed input to attention
  qr: string; kr: string; vh: string;  // (B, H, T, hd) rotated queries/keys, values
  p: string;                           // (B, H, T, T) attention probabilities
  y: string;                           // (N, C) attention output before o_proj
  rms2: RmsSaved; h2: string;          // (N, C) normed input to the MLP
  a: string; b: string; sg: string; s: string; m: string; // (N, I) gate, up, sigmoid(gate), silu(gate), silu*up
}
export interface ForwardResult {
  logits: string;                      // (N, V)
  hf: string; rmsF: RmsSaved;          // final norm output and its saved values
  layers: LayerSaved[];
  shapeBTHd: string; rotT: () => string;   // R^T for the backward, created on first use
}
export interface GraphIO { ids: string; cos: string; sin: string; mask: string; W: Record<string, string> }

/** Declares every parameter as a graph input named exactly as its Hugging Face tensor. */
export function declareParams(g: GraphBuilder, c: ModelConfig): Record<string, string> {
  const W: Record<string, string> = {};
  for (const p of paramSpecs(c)) W[p.name] = g.input(p.name, g.dtype, p.shape);
  if (c.tie_word_embeddings) W['lm_head.weight'] = W['model.embed_tokens.weight']!;
  return W;
}

export function rmsNormForward(g: GraphBuilder, x: string, gain: string, C: number, eps: number): { y: string; saved: RmsSaved } {
  const ms = g.mul(g.reduceSum(g.mul(x, x), [-1], 1), g.scalar(1 / C));   // (N, 1)
  const r = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.scalar(eps))])]); // (N, 1)
  const n = g.mul(x, r);                                                    // (N, C)
  return { y: g.mul(n, gain), saved: { x, n, r, gain } };
}

/** rotate_half as a matrix: x @ R == cat(-x[half:], x[:half]). */
export function rotateHalfMatrix(hd: number, transpose: boolean): number[] {
  const R = new Array<number>(hd * hd).fill(0), half = hd / 2;
  for (let j = 0; j < hd; j++) {
    const i = j < half ? j + half : j - half, v = j < half ? -1 : 1;
    if (transpose) R[j * hd + i] = v; else R[i * hd + j] = v;
  }
  return R;
}

export function forwardBody(g: GraphBuilder, c: ModelConfig, io: GraphIO): ForwardResult {
  const C = c.hidden_size, H = c.num_attention_heads, hd = headDim(c), W = io.W;
  const shapeBTHd = g.op('Concat', [g.op('Shape', [io.ids]), g.ints([H, hd])], { axis: 0 });
  const shapeNC = g.ints([-1, C]);
  const rot = g.constant(rotateHalfMatrix(hd, false), [hd, hd]);
  const rotT = () => g.constant(rotateHalfMatrix(hd, true), [hd, hd]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  const toHeads = (t: string) => g.transpose(g.reshape(t, shapeBTHd), [0, 2, 1, 3]); // (N, C) -> (B, H, T, hd)
  const rope = (t: string) => g.add(g.mul(t, io.cos), g.mul(g.matmul(t, rot), io.sin));

  let x = g.op('Gather', [W['model.embed_tokens.weight']!, g.reshape(io.ids, g.ints([-1]))], { axis: 0 }); // (N, C)
  const layers: LayerSaved[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const n1 = rmsNormForward(g, x, W[p + 'input_layernorm.weight']!, C, c.rms_norm_eps);
    const h1 = n1.y;                                                       // (N, C)
    const qr = rope(toHeads(g.gemm(h1, W[p + 'self_attn.q_proj.weight']!, 0, 1))); // (B, H, T, hd)
    const kr = rope(toHeads(g.gemm(h1, W[p + 'self_attn.k_proj.weight']!, 0, 1)));
    const vh = toHeads(g.gemm(h1, W[p + 'self_attn.v_proj.weight']!, 0, 1));
    const att = g.add(g.mul(g.matmul(qr, g.transpose(kr, [0, 1, 3, 2])), scale), io.mask); // (B, H, T, T)
    const pr = g.op('Softmax', [att], { axis: -1 });
    const y = g.reshape(g.transpose(g.matmul(pr, vh), [0, 2, 1, 3]), shapeNC); // (N, C)
    const x1 = g.add(x, g.gemm(y, W[p + 'self_attn.o_proj.weight']!, 0, 1));
    const n2 = rmsNormForward(g, x1, W[p + 'post_attention_layernorm.weight']!, C, c.rms_norm_eps);
    const h2 = n2.y;
    const a = g.gemm(h2, W[p + 'mlp.gate_proj.weight']!, 0, 1);            // (N, I)
    const b = g.gemm(h2, W[p + 'mlp.up_proj.weight']!, 0, 1);              // (N, I)
    const sg = g.op('Sigmoid', [a]);
    const s = g.mul(a, sg);
    const m = g.mul(s, b);
    x = g.add(x1, g.gemm(m, W[p + 'mlp.down_proj.weight']!, 0, 1));        // (N, C)
    layers.push({ rms1: n1.saved, h1, qr, kr, vh, p: pr, y, rms2: n2.saved, h2, a, b, sg, s, m });
  }
  const nf = rmsNormForward(g, x, W['model.norm.weight']!, C, c.rms_norm_eps);
  const logits = g.gemm(nf.y, W['lm_head.weight']!, 0, 1);                 // (N, V)
  return { logits, hf: nf.y, rmsF: nf.saved, layers, shapeBTHd, rotT };
}

/** Inputs shared by the forward and training graphs. */
function sequenceInputs(g: GraphBuilder, c: ModelConfig): GraphIO & { targets: string; weights: string } {
  const hd = headDim(c);
  return {
    ids: g.input('input_ids', 'int64', ['B', 'T']),
    targets: g.input('targets', 'int64', ['B', 'T']),
    weights: g.input('loss_weights', g.dtype, ['B', 'T']),
    mask: g.input('attn_mask', g.dtype, ['T', 'T']),     // additive causal mask: 0 or -1e9
    cos: g.input('rope_cos', g.dtype, ['T', hd]),
    sin: g.input('rope_sin', g.dtype, ['T', hd]),
    W: declareParams(g, c),
  };
}

/** Per-token NLL of `targets` under the logits: (N, 1), plus the log-softmax it came from. */
function tokenNll(g: GraphBuilder, logits: string, targets: string): { nll: string; logp: string; tgt: string } {
  const logp = g.op('LogSoftmax', [logits], { axis: -1 });                 // (N, V)
  const tgt = g.reshape(targets, g.ints([-1, 1]));                          // (N, 1)
  return { nll: g.op('Neg', [g.op('GatherElements', [logp, tgt], { axis: 1 })]), logp, tgt };
}

/** Forward graph: outputs nll (B, T) and logits (B, T, V). */
export function buildForwardGraph(c: ModelConfig, dtype: FloatType): Uint8Array {
  const g = new GraphBuilder('llama_forward', dtype);
  const io = sequenceInputs(g, c);
  const f = forwardBody(g, c, io);
  const { nll } = tokenNll(g, f.logits, io.targets);
  const shapeBT = g.op('Shape', [io.ids]);
  g.output(g.reshape(nll, shapeBT), 'nll', dtype, ['B', 'T']);
  g.output(g.reshape(f.logits, g.op('Concat', [shapeBT, g.ints([c.vocab_size])], { axis: 0 })), 'logits', dtype, ['B', 'T', c.vocab_size]);
  return g.toBytes();
}

/**
 * Training graph: loss = sum(loss_weights * nll) (the caller folds any normalisation into
 * the weights), nll (B, T), and grad.<name> for every parameter.
 */
export function buildTrainGraph(c: ModelConfig, dtype: FloatType): Uint8Array {
  const g = new GraphBuilder('llama_train', dtype);
  const io = sequenceInputs(g, c);
  const f = forwardBody(g, c, io);
  const { nll, logp, tgt } = tokenNll(g, f.logits, io.targets);
  const w = g.reshape(io.weights, g.ints([-1, 1]));                         // (N, 1)
  g.output(g.reduceSum(g.mul(nll, w), null, 0), 'loss', dtype, []);
  g.output(g.reshape(nll, g.op('Shape', [io.ids])), 'nll', dtype, ['B', 'T']);
  const grads = buildBackward(g, c, io, f, { logp, tgt, w });
  for (const p of paramSpecs(c)) g.output(grads[p.name]!, 'grad.' + p.name, dtype, p.shape);
  return g.toBytes();
}

/**
 * The forward pass for sampling, where nothing is saved for a backward and every operator
 * launch counts (a decode step is ~30 small ops per layer): RMSNorm as onnxruntime's fused
 * SimplifiedLayerNormalization, residual adds folded into the projections' Gemm, and for one
 * token per row (cache given) heads by reshape alone. With cache, attention runs over the
 * cache buffers, keys and values (B, H, T, hd) masked by io.mask (B, 1, 1, T), plus the new
 * token itself; without, causal attention over the S given tokens.
 */
function decodeBody(g: GraphBuilder, c: ModelConfig, io: GraphIO, cache?: { k: string; v: string }[]): { logits: string; keys: string[]; values: string[] } {
  const C = c.hidden_size, H = c.num_attention_heads, hd = headDim(c), W = io.W;
  const norm = (x: string, gain: string) => g.op('SimplifiedLayerNormalization', [x, gain], { axis: -1, epsilon: { f: c.rms_norm_eps } });
  const proj = (x: string, w: string, residual?: string) => g.op('Gemm', residual ? [x, w, residual] : [x, w], { transB: 1 });
  const rot = g.constant(rotateHalfMatrix(hd, false), [hd, hd]);
  const rope = (t: string) => g.add(g.mul(t, io.cos), g.mul(g.matmul(t, rot), io.sin));
  const scale = g.scalar(1 / Math.sqrt(hd));
  const shapeBTHd = g.op('Concat', [g.op('Shape', [io.ids]), g.ints([H, hd])], { axis: 0 });
  const toHeads = cache
    ? (t: string) => g.reshape(t, g.ints([-1, H, 1, hd]))                              // (B, C) -> (B, H, 1, hd)
    : (t: string) => g.transpose(g.reshape(t, shapeBTHd), [0, 2, 1, 3]);               // (N, C) -> (B, H, S, hd)
  const fromHeads = cache
    ? (t: string) => g.reshape(t, g.ints([-1, C]))
    : (t: string) => g.reshape(g.transpose(t, [0, 2, 1, 3]), g.ints([-1, C]));

  let x = g.op('Gather', [W['model.embed_tokens.weight']!, g.reshape(io.ids, g.ints([-1]))], { axis: 0 }); // (N, C)
  const keys: string[] = [], values: string[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const h1 = norm(x, W[p + 'input_layernorm.weight']!);
    const q = g.mul(rope(toHeads(proj(h1, W[p + 'self_attn.q_proj.weight']!))), scale); // (B, H, S, hd), pre-scaled
    const k = rope(toHeads(proj(h1, W[p + 'self_attn.k_proj.weight']!)));
    const v = toHeads(proj(h1, W[p + 'self_attn.v_proj.weight']!));
    keys.push(k); values.push(v);
    let yh: string;
    if (cache) {
      // K (B, H, T, hd) @ q as a column (B, H, hd, 1): the cache is the GEMM's unpacked left
      // operand, read in place; reshaped back, the scores are (B, H, 1, T). The new token's
      // own score joins them for one softmax, and its value is weighed in separately.
      const sc = g.add(g.reshape(g.matmul(cache[l]!.k, g.reshape(q, g.ints([0, 0, -1, 1]))), g.ints([0, 0, 1, -1])), io.mask);
      const sn = g.reduceSum(g.mul(q, k), [-1], 1);                                   // (B, H, 1, 1)
      const pr = g.op('Softmax', [g.op('Concat', [sc, sn], { axis: -1 })], { axis: -1 }); // (B, H, 1, T+1)
      const pc = g.op('Slice', [pr, g.ints([0]), g.ints([-1]), g.ints([-1])]);
      const pn = g.op('Slice', [pr, g.ints([-1]), g.ints([1 << 30]), g.ints([-1])]);
      yh = g.add(g.matmul(pc, cache[l]!.v), g.mul(pn, v));                             // (B, H, 1, hd)
    } else {
      const pr = g.op('Softmax', [g.add(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), io.mask)], { axis: -1 });
      yh = g.matmul(pr, v);                                                             // (B, H, S, hd)
    }
    const x1 = proj(fromHeads(yh), W[p + 'self_attn.o_proj.weight']!, x);
    const h2 = norm(x1, W[p + 'post_attention_layernorm.weight']!);
    const a = proj(h2, W[p + 'mlp.gate_proj.weight']!);
    const m = g.mul(g.mul(a, g.op('Sigmoid', [a])), proj(h2, W[p + 'mlp.up_proj.weight']!));
    x = proj(m, W[p + 'mlp.down_proj.weight']!, x1);
  }
  return { logits: proj(norm(x, W['model.norm.weight']!), W['lm_head.weight']!), keys, values };
}

/**
 * Prefill graph: the (left-padded) prompts in one call. The caller supplies per-row rotary
 * tables (B, 1, S, hd) and the additive mask (B, 1, S, S), which is how left padding and
 * per-row positions are expressed. Outputs logits (B, S, V) and every layer's keys and
 * values (B, H, S, hd), which the caller copies into its cache buffers once.
 */
export function buildPrefillGraph(c: ModelConfig, dtype: FloatType): Uint8Array {
  const g = new GraphBuilder('llama_prefill', dtype);
  const H = c.num_attention_heads, hd = headDim(c);
  const io: GraphIO = {
    ids: g.input('input_ids', 'int64', ['B', 'S']),
    mask: g.input('attn_mask', dtype, ['B', 1, 'S', 'S']),
    cos: g.input('rope_cos', dtype, ['B', 1, 'S', hd]),
    sin: g.input('rope_sin', dtype, ['B', 1, 'S', hd]),
    W: declareParams(g, c),
  };
  const f = decodeBody(g, c, io);
  const shapeBSV = g.op('Concat', [g.op('Shape', [io.ids]), g.ints([c.vocab_size])], { axis: 0 });
  g.output(g.reshape(f.logits, shapeBSV), 'logits', dtype, ['B', 'S', c.vocab_size]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    g.output(f.keys[l]!, `present_key.${l}`, dtype, ['B', H, 'S', hd]);
    g.output(f.values[l]!, `present_value.${l}`, dtype, ['B', H, 'S', hd]);
  }
  return g.toBytes();
}

/**
 * Decode step graph: one new token per row against preallocated cache buffers, which the
 * graph only reads (cache_key.<l> and cache_value.<l>, (B, H, T, hd)), so nothing
 * proportional to the cache is copied per step. attn_mask (B, 1, 1, T) is 0 on the
 * slots a row attends to and MASKED elsewhere (left padding, slots not yet filled); the new
 * token always attends to itself. Outputs logits (B, 1, V) and the new token's key and value
 * (B, H, 1, hd) per layer, which the caller writes into its buffers.
 */
export function buildStepGraph(c: ModelConfig, dtype: FloatType): Uint8Array {
  const g = new GraphBuilder('llama_decode_step', dtype);
  const H = c.num_attention_heads, hd = headDim(c);
  const io: GraphIO = {
    ids: g.input('input_ids', 'int64', ['B', 1]),
    mask: g.input('attn_mask', dtype, ['B', 1, 1, 'T']),
    cos: g.input('rope_cos', dtype, ['B', 1, 1, hd]),
    sin: g.input('rope_sin', dtype, ['B', 1, 1, hd]),
    W: {},
  };
  const cache: { k: string; v: string }[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    cache.push({ k: g.input(`cache_key.${l}`, dtype, ['B', H, 'T', hd]), v: g.input(`cache_value.${l}`, dtype, ['B', H, 'T', hd]) });
  }
  io.W = declareParams(g, c);
  const f = decodeBody(g, c, io, cache);
  g.output(g.reshape(f.logits, g.ints([-1, 1, c.vocab_size])), 'logits', dtype, ['B', 1, c.vocab_size]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    g.output(f.keys[l]!, `new_key.${l}`, dtype, ['B', H, 1, hd]);
    g.output(f.values[l]!, `new_value.${l}`, dtype, ['B', H, 1, hd]);
  }
  return g.toBytes();
}
