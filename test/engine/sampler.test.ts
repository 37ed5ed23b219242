// Token sampling rules: greedy, top-k, top-p, temperature, and the returned log-probability.
import { describe, expect, it } from 'vitest';
import { Rng, sampleToken } from '../../worker/engine/index.js';

const logits = [2, 1, 0.5, -1, 3];
const logZ = Math.log(logits.reduce((a, l) => a + Math.exp(l), 0));

describe('sampleToken', () => {
  it('temperature 0, top-k 1 and a tiny top-p all pick the argmax, with its model log-probability', () => {
    const rng = new Rng(1);
    for (const o of [{ temperature: 0 }, { temperature: 1, topK: 1 }, { temperature: 1, topP: 1e-6 }]) {
      const r = sampleToken(logits, o, rng);
      expect(r.token).toBe(4);
      expect(r.logprob).toBeCloseTo(3 - logZ, 10);
    }
  });

  it('top-k 2 only ever returns the two largest logits, at their softmax frequencies', () => {
    const rng = new Rng(2), counts = new Map<number, number>();
    for (let i = 0; i < 20000; i++) { const t = sampleToken(logits, { temperature: 1, topK: 2 }, rng).token; counts.set(t, (counts.get(t) ?? 0) + 1); }
    expect([...counts.keys()].sort()).toEqual([0, 4]);
    const p4 = Math.exp(3) / (Math.exp(3) + Math.exp(2));
    expect(counts.get(4)! / 20000).toBeGreaterThan(p4 - 0.02);
    expect(counts.get(4)! / 20000).toBeLessThan(p4 + 0.02);
  });

  it('high temperature flattens the distribution; the same seed repeats the same draws', () => {
    const draw = (seed: number) => { const rng = new Rng(seed); return Array.from({ length: 200 }, () => sampleToken(logits, { temperature: 100 }, rng).token); };
    const a = draw(3);
    expect(new Set(a).size).toBe(5);
    expect(draw(3)).toEqual(a);
    expect(draw(4)).not.toEqual(a);
  });
});
