// The hand-derived backward against central finite differences, in a float64 build of the
// same training graph: for every parameter tensor, the directional derivative along a random
// direction must match (L(p + eps u) - L(p - eps u)) / 2 eps.
import { describe, expect, it } from 'vitest';
import { ModelRunner, Rng, packBatch, paramSpecs, type ModelConfig } from '../../worker/engine/index.js';

const base: ModelConfig = {
  vocab_size: 9, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 12,
  max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
};

describe('gradient check against finite differences', () => {
  for (const tied of [false, true]) {
    it(`every parameter tensor's gradient matches finite differences (${tied ? 'tied' : 'untied'} embeddings)`, async () => {
      const config = { ...base, tie_word_embeddings: tied };
      const runner = new ModelRunner(config, 'float64', { threads: 1 });
      const rng = new Rng(42);
      const specs = paramSpecs(config);
      const params = specs.map((s) => Float64Array.from({ length: s.shape.reduce((a, b) => a * b, 1) },
        () => (s.init === 'ones' ? 1 + 0.2 * rng.normal() : 0.4 * rng.normal())));
      const examples = [7, 5, 3].map((n) => ({
        tokens: Array.from({ length: n }, () => rng.nextU32() % config.vocab_size),
        weights: Array.from({ length: n }, (_, i) => (i === 0 ? 0 : 0.5 + rng.next())),
      }));
      const batch = packBatch(examples, config, 0);
      const coef = Array.from(batch.weights, (w) => w / 10);
      const { grads } = await runner.lossAndGrads(params, batch, coef);
      const eps = 1e-5;
      for (let t = 0; t < specs.length; t++) {
        const u = Float64Array.from(params[t]!, () => rng.normal());
        const shifted = async (sign: number) => {
          const p = params.map((x, i) => (i === t ? x.map((v, j) => v + sign * eps * u[j]!) : x));
          return (await runner.lossAndGrads(p, batch, coef)).loss;
        };
        const fd = ((await shifted(1)) - (await shifted(-1))) / (2 * eps);
        let analytic = 0;
        grads[t]!.forEach((g: number, j: number) => { analytic += g * u[j]!; });
        expect(Math.abs(analytic), `${specs[t]!.name} has a non-trivial gradient`).toBeGreaterThan(1e-4);
        expect(Math.abs(fd - analytic) / Math.abs(analytic), specs[t]!.name).toBeLessThan(1e-6);
      }
      await runner.dispose();
    });
  }
});
