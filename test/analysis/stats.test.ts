// Statistics kit: known means/stds, PRNG determinism, and bootstrap intervals whose values
// can be worked out by hand.
import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanCI, drawPaired, mean, mulberry32, pairedBootstrapDiff, quantileSorted, seedFor, std, type SeedScore,
} from '../../coordinator/analysis/index.js';

/** A scripted RNG: each [i, n] yields (i + 0.5) / n, which floor(u * n) maps back to index i. */
function script(draws: [number, number][]): () => number {
  let k = 0;
  return () => {
    const d = draws[k++];
    if (!d) throw new Error(`scripted rng exhausted after ${draws.length} draws`);
    return (d[0] + 0.5) / d[1];
  };
}
const score = (seed: number, outcomes: string): SeedScore =>
  ({ seed, outcomes, acc: [...outcomes].filter((c) => c === '1').length / outcomes.length });

describe('stats', () => {
  it('mean and sample std match a hand computation', () => {
    // [2,4,4,4,5,5,7,9]: sum 40 -> mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32;
    // sample variance 32/7 -> std sqrt(32/7) = 2.13809
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(std([3])).toBe(0);
    expect(mean([])).toBeNaN();
  });

  it('type-7 quantiles interpolate between order statistics', () => {
    // [10,20,30,40]: p=0.5 -> position 1.5 -> 25; p=0.25 -> position 0.75 -> 17.5
    expect(quantileSorted([10, 20, 30, 40], 0.5)).toBe(25);
    expect(quantileSorted([10, 20, 30, 40], 0.25)).toBe(17.5);
    expect(quantileSorted([10, 20, 30, 40], 1)).toBe(40);
  });

  it('mulberry32 is deterministic per seed, in [0,1), and roughly uniform', () => {
    const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
    const xs = Array.from({ length: 20000 }, () => a());
    const ys = Array.from({ length: 20000 }, () => b());
    expect(xs).toEqual(ys);
    expect(xs.slice(0, 5)).not.toEqual(Array.from({ length: 5 }, () => c()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // uniform(0,1): mean 0.5, sd of the mean sqrt(1/12/20000) = 0.002 -> 0.01 is 5 sd
    expect(Math.abs(mean(xs) - 0.5)).toBeLessThan(0.01);
    expect(seedFor(1, 'a')).not.toBe(seedFor(1, 'b'));
    expect(seedFor(1, 'a')).toBe(seedFor(1, 'a'));
  });

  it('bootstrap interval of two values is exactly those two values', () => {
    // Resampling {0.3, 0.5} twice gives mean 0.3 (p=1/4), 0.4 (p=1/2), 0.5 (p=1/4). Over 2000
    // draws about 500 land on each end, far more than the 50 (2.5%) that the percentiles cut,
    // so the 2.5th percentile is 0.3 and the 97.5th is 0.5.
    const ci = bootstrapMeanCI([0.3, 0.5]);
    expect(ci.lo).toBeCloseTo(0.3, 12);
    expect(ci.hi).toBeCloseTo(0.5, 12);
  });

  it('bootstrap interval approximates the normal interval for a larger sample', () => {
    // 0..29: mean 14.5; bootstrap se = population sd / sqrt(n) = sqrt((30^2-1)/12)/sqrt(30) = 1.580,
    // so the interval should be near 14.5 +- 1.96*1.580 = [11.40, 17.60].
    const xs = Array.from({ length: 30 }, (_, i) => i);
    const ci = bootstrapMeanCI(xs, { iterations: 4000, seed: 7 });
    expect(ci.lo).toBeGreaterThan(11.0);
    expect(ci.lo).toBeLessThan(11.8);
    expect(ci.hi).toBeGreaterThan(17.2);
    expect(ci.hi).toBeLessThan(18.0);
  });

  it('bootstrap is reproducible for a seed and degenerate for constant data', () => {
    const xs = [0.1, 0.4, 0.35, 0.8, 0.2];
    expect(bootstrapMeanCI(xs, { seed: 5 })).toEqual(bootstrapMeanCI(xs, { seed: 5 }));
    expect(bootstrapMeanCI(xs, { seed: 5 })).not.toEqual(bootstrapMeanCI(xs, { seed: 6 }));
    const flat = bootstrapMeanCI([0.7, 0.7, 0.7]); // every resample has mean 0.7 (up to rounding)
    expect(flat.lo).toBeCloseTo(0.7, 12);
    expect(flat.hi).toBeCloseTo(0.7, 12);
    expect(bootstrapMeanCI([0.25])).toEqual({ lo: 0.25, hi: 0.25 });
  });
});

describe('paired two-level bootstrap', () => {
  // Arm A: seed 0 "110", seed 1 "111"; arm B: seed 0 "100", seed 1 "011".
  // Per-problem differences A - B: seed 0 [0, 1, 0], seed 1 [1, 0, 0]. Delta = (1/3 + 1/3) / 2 = 1/3.
  const A = [score(0, '110'), score(1, '111')];
  const B = [score(0, '100'), score(1, '011')];

  it('matches a hand computation of three scripted replicates', () => {
    const rand = script([
      // replicate 1: seeds [0, 1]; seed 0 problems [1, 1, 0] -> diffs 1,1,0 = 2/3;
      //              seed 1 problems [0, 2, 2] -> 1,0,0 = 1/3; replicate = 1/2
      [0, 2], [1, 2], [1, 3], [1, 3], [0, 3], [0, 3], [2, 3], [2, 3],
      // replicate 2: seeds [1, 1]; problems [1, 2, 1] -> 0; [2, 1, 2] -> 0; replicate = 0
      [1, 2], [1, 2], [1, 3], [2, 3], [1, 3], [2, 3], [1, 3], [2, 3],
      // replicate 3: seeds [0, 0]; problems [1, 1, 1] -> 1; [1, 0, 1] -> 2/3; replicate = 5/6
      [0, 2], [0, 2], [1, 3], [1, 3], [1, 3], [1, 3], [0, 3], [1, 3],
    ]);
    // sorted replicates [0, 1/2, 5/6]; level 0.5 -> type-7 quantiles at 0.25 and 0.75:
    // position 0.5 -> 0 + 0.5 (1/2 - 0) = 1/4; position 1.5 -> 1/2 + 0.5 (5/6 - 1/2) = 2/3
    const d = pairedBootstrapDiff(A, B, { iterations: 3, level: 0.5, rand });
    expect(d.delta).toBeCloseTo(1 / 3, 12);
    expect(d.lo).toBeCloseTo(1 / 4, 12);
    expect(d.hi).toBeCloseTo(2 / 3, 12);
    expect(d.nSeeds).toBe(2);
    expect(d.problemLevel).toBe(true);
  });

  it('follows the exact bootstrap distribution, enumerated, of 2 seeds x 2 problems', () => {
    // differences: seed 0 [1, 0] (A "10" vs B "00"), seed 1 [-1, 0] (A "01" vs B "11")
    const a = [score(0, '10'), score(1, '01')], b = [score(0, '00'), score(1, '11')];
    const diffs = [[1, 0], [-1, 0]];
    const exact = new Map<number, number>(); // value -> probability, by enumerating 4 x 4 x 4 cases
    for (const r1 of [0, 1]) for (const r2 of [0, 1]) for (const p1 of [0, 1]) for (const q1 of [0, 1]) for (const p2 of [0, 1]) for (const q2 of [0, 1]) {
      const v = ((diffs[r1]![p1]! + diffs[r1]![q1]!) / 2 + (diffs[r2]![p2]! + diffs[r2]![q2]!) / 2) / 2;
      exact.set(v, (exact.get(v) ?? 0) + 1 / 64);
    }
    const rand = mulberry32(11);
    const n = 20000;
    const freq = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const { acc } = drawPaired([[a[0], b[0]], [a[1], b[1]]], rand);
      const v = acc[0]! - acc[1]!;
      freq.set(v, (freq.get(v) ?? 0) + 1 / n);
    }
    expect([...freq.keys()].sort()).toEqual([...exact.keys()].sort());
    for (const [v, p] of exact) expect(Math.abs(freq.get(v)! - p)).toBeLessThan(0.012);
    // exact percentiles: P(-1) = 1/64 < 2.5% <= P(<= -0.75) = 1/64 + 1/16, and symmetrically
    const d = pairedBootstrapDiff(a, b, { iterations: n, seed: 3 });
    expect(d.delta).toBe(0);
    expect(d.lo).toBe(-0.75);
    expect(d.hi).toBe(0.75);
  });

  it('gives [0, 0] for identical arms, with or without per-problem outcomes', () => {
    const same = [score(0, '1011001'), score(1, '0001111'), score(2, '1111000')];
    expect(pairedBootstrapDiff(same, same.map((x) => ({ ...x })), { iterations: 500 })).toMatchObject({ delta: 0, lo: 0, hi: 0 });
    const bare = same.map(({ seed, acc }) => ({ seed, acc }));
    expect(pairedBootstrapDiff(bare, bare, { iterations: 500 })).toMatchObject({ delta: 0, lo: 0, hi: 0, problemLevel: false });
  });

  it('pairs by seed number and falls back to seed-level draws where outcome lengths differ', () => {
    // seed 2 of A has no partner; seeds 0 and 1 have lengths 3 vs 4: seed-level differences .2 and .4
    const a = [{ seed: 0, acc: 0.6, outcomes: '110' }, { seed: 1, acc: 0.9 }, { seed: 2, acc: 1 }];
    const b = [{ seed: 1, acc: 0.5 }, { seed: 0, acc: 0.4, outcomes: '1000' }];
    // replicates: seeds [0, 1] -> .3; [0, 0] -> .2; [1, 1] -> .4 (no problem draws are taken)
    const rand = script([[0, 2], [1, 2], [0, 2], [0, 2], [1, 2], [1, 2]]);
    const d = pairedBootstrapDiff(a, b, { iterations: 3, level: 0, rand });
    expect(d.nSeeds).toBe(2);
    expect(d.problemLevel).toBe(false);
    expect(d.delta).toBeCloseTo(0.3, 12);
    expect(d.lo).toBeCloseTo(0.3, 12); // level 0: both ends at the median of [.2, .3, .4]
    expect(d.hi).toBeCloseTo(0.3, 12);
  });
});
