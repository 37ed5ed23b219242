// The hand-derived backward pass of model-graph.ts's forward, emitted into the same ONNX
// graph: gradients of loss = sum(w * nll) for every parameter. Symmetric names with the
// forward (rmsNormForward / rmsNormBackward). Checked against finite differences (float64
// graph) and against PyTorch autograd (tools/torch-reference.py) in test/engine.
import { type ModelConfig } from './config.js';
import type { GraphBuilder } from './onnx-builder.js';
import type { ForwardResult, GraphIO, RmsSaved } from './model-graph.js';

/** dy (N, C) -> dx (N, C); dgain (C) summed over rows. */
export function rmsNormBackward(g: GraphBuilder, dy: string, s: RmsSaved, C: number): { dx: string; dgain: string } {
  const dgain = g.reduceSum(g.mul(dy, s.n), [0], 0);                         // (C)
  const dn = g.mul(dy, s.gain);                                               // (N, C)
  const proj = g.mul(g.reduceSum(g.mul(dn, s.n), [-1], 1), g.scalar(1 / C));  // (N, 1)
  return { dx: g.mul(s.r, g.sub(dn, g.mul(s.n, proj))), dgain };              // r * (dn - n * mean(dn*n))
}

/** Equal(ids, 0..V-1) as floats: (N, 1) int64 -> (N, V). */
function oneHot(g: GraphBuilder, ids: string, V: number): string {
  const range = g.constant(Array.from({ length: V }, (_, i) => i), [V], 'int64');
  return g.op('Cast', [g.op('Equal', [ids, range])], { to: g.dtype === 'float32' ? 1 : 11 });
}

export function buildBackward(
  g: GraphBuilder, c: ModelConfig, io: GraphIO, f: ForwardResult,
  ce: { logp: string; tgt: string; w: string },
): Record<string, string> {
  const C = c.hidden_size, V = c.vocab_size, W = io.W;
  const grads: Record<string, string> = {};
  const shapeNC = g.ints([-1, C]);
  const fromHeads = (t: string) => g.reshape(g.transpose(t, [0, 2, 1, 3]), shapeNC); // (B, H, T, hd) -> (N, C)
  const toHeads = (t: string) => g.transpose(g.reshape(t, f.shapeBTHd), [0, 2, 1, 3]);
  const T4 = (t: string) => g.transpose(t, [0, 1, 3, 2]);
  const rotT = f.rotT();
  const scale = g.scalar(1 / Math.sqrt(c.hidden_size / c.num_attention_heads));

  // Cross-entropy: d(sum w*nll)/dlogits = w * (softmax - onehot(target)).
  const dlogits = g.mul(g.sub(g.op('Exp', [ce.logp]), oneHot(g, ce.tgt, V)), ce.w); // (N, V)
  const dLm = g.gemm(dlogits, f.hf, 1, 0);                                   // (V, C)
  const rf = rmsNormBackward(g, g.matmul(dlogits, W['lm_head.weight']!), f.rmsF, C);
  grads['model.norm.weight'] = rf.dgain;
  let dx = rf.dx;                                                            // (N, C)

  for (let l = c.num_hidden_layers - 1; l >= 0; l--) {
    const p = `model.layers.${l}.`, L = f.layers[l]!;
    // MLP: x2 = x1 + down(silu(gate(h2)) * up(h2))
    grads[p + 'mlp.down_proj.weight'] = g.gemm(dx, L.m, 1, 0);               // (C, I)
    const dm = g.matmul(dx, W[p + 'mlp.down_proj.weight']!);                  // (N, I)
    const db = g.mul(dm, L.s);
    const ds = g.mul(dm, L.b);
    const dsilu = g.mul(L.sg, g.add(g.scalar(1), g.mul(L.a, g.sub(g.scalar(1), L.sg)))); // silu'(a)
    const da = g.mul(ds, dsilu);
    grads[p + 'mlp.gate_proj.weight'] = g.gemm(da, L.h2, 1, 0);              // (I, C)
    grads[p + 'mlp.up_proj.weight'] = g.gemm(db, L.h2, 1, 0);
    const dh2 = g.add(g.matmul(da, W[p + 'mlp.gate_proj.weight']!), g.matmul(db, W[p + 'mlp.up_proj.weight']!));
    const r2 = rmsNormBackward(g, dh2, L.rms2, C);
    grads[p + 'post_attention_layernorm.weight'] = r2.dgain;
    const dx1 = g.add(dx, r2.dx);                                             // (N, C)

    // Attention: x1 = x + o(softmax(q k^T * scale + mask) v)
    grads[p + 'self_attn.o_proj.weight'] = g.gemm(dx1, L.y, 1, 0);           // (C, C)
    const dyh = toHeads(g.matmul(dx1, W[p + 'self_attn.o_proj.weight']!));   // (B, H, T, hd)
    const dp = g.matmul(dyh, T4(L.vh));                                       // (B, H, T, T)
    const dvh = g.matmul(T4(L.p), dyh);                                       // (B, H, T, hd)
    const datt = g.mul(g.mul(L.p, g.sub(dp, g.reduceSum(g.mul(dp, L.p), [-1], 1))), scale);
    const dqr = g.matmul(datt, L.kr);
    const dkr = g.matmul(T4(datt), L.qr);
    const unrope = (d: string) => g.add(g.mul(d, io.cos), g.matmul(g.mul(d, io.sin), rotT));
    const dq = fromHeads(unrope(dqr)), dk = fromHeads(unrope(dkr)), dv = fromHeads(dvh); // (N, C)
    grads[p + 'self_attn.q_proj.weight'] = g.gemm(dq, L.h1, 1, 0);
    grads[p + 'self_attn.k_proj.weight'] = g.gemm(dk, L.h1, 1, 0);
    grads[p + 'self_attn.v_proj.weight'] = g.gemm(dv, L.h1, 1, 0);
    const dh1 = g.add(g.add(g.matmul(dq, W[p + 'self_attn.q_proj.weight']!), g.matmul(dk, W[p + 'self_attn.k_proj.weight']!)),
      g.matmul(dv, W[p + 'self_attn.v_proj.weight']!));
    const r1 = rmsNormBackward(g, dh1, L.rms1, C);
    grads[p + 'input_layernorm.weight'] = r1.dgain;
    dx = g.add(dx1, r1.dx);
  }

  // Embedding: a one-hot matmul (deterministic, unlike a scatter-add) -- (V, N) @ (N, C).
  const ids = g.reshape(io.ids, g.ints([-1, 1]));
  const dEmb = g.gemm(oneHot(g, ids, V), dx, 1, 0);                          // (V, C)
  if (c.tie_word_embeddings) grads['model.embed_tokens.weight'] = g.add(dEmb, dLm);
  else { grads['model.embed_tokens.weight'] = dEmb; grads['lm_head.weight'] = dLm; }
  return grads;
}
