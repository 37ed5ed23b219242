// Statistics kit: known means/stds, PRNG determinism, and bootstrap intervals whose values
// can be worked out by hand.
import { describe, expect, it } from 'vitest';
import { bootstrapMeanCI, mean, mulberry32, quantileSorted, seedFor, std } from '../../coordinator/analysis/index.js';

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
