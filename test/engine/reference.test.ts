// The engine's float32 graphs against PyTorch float64 autograd (tools/torch-reference.py):
// loss, per-token NLL, logits and every gradient within 1e-4 relative, tied and untied.
import { describe, expect, it } from 'vitest';
import { ModelRunner, packBatch, paramSpecs } from '../../worker/engine/index.js';
import { loadReference, relErr } from './helpers.js';

describe('engine matches the PyTorch reference', () => {
  for (const ref of loadReference()) {
    const tag = ref.config.tie_word_embeddings ? 'tied' : 'untied';
    it(`loss, logits and every parameter gradient agree within 1e-4 (${tag} embeddings)`, async () => {
      const runner = new ModelRunner(ref.config, 'float32', { threads: 1 });
      const specs = paramSpecs(ref.config);
      expect(specs.map((s) => s.name).sort()).toEqual(Object.keys(ref.params).sort());
      const params = specs.map((s) => Float32Array.from(ref.params[s.name]!));
      const batch = packBatch(ref.examples, ref.config, 0);
      expect(batch.T).toBeGreaterThan(Math.max(...batch.lengths)); // padding is exercised
      const count = batch.weights.filter((w) => w !== 0).length;
      const coef = batch.weights.map((w) => w / count);
      const { loss, nll, grads } = await runner.lossAndGrads(params, batch, coef);
      expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
      const fwd = await runner.forward(params, batch);
      const V = ref.config.vocab_size;
      ref.examples.forEach((_, b) => {
        const n = batch.lengths[b]!;
        const rowNll = Array.from(nll.subarray(b * batch.T, b * batch.T + n));
        expect(relErr(rowNll, ref.nll[b]!)).toBeLessThan(1e-4);
        const rowLogits = fwd.logits.subarray(b * batch.T * V, (b * batch.T + n) * V);
        expect(relErr(rowLogits, ref.logits[b]!)).toBeLessThan(1e-4);
      });
      specs.forEach((s, i) => {
        const err = relErr(grads[i]!, ref.grads[s.name]!);
        expect(err, `gradient of ${s.name}`).toBeLessThan(1e-4);
      });
      await runner.dispose();
    });
  }
});
