// Small statistics kit: mean, sample standard deviation, a seeded PRNG (mulberry32), type-7
// quantiles, and a percentile bootstrap of the mean. Everything is deterministic for a given
// seed so tables and intervals are reproducible across runs and machines.

export const DEFAULT_BOOTSTRAP_ITERATIONS = 2000;
export const DEFAULT_BOOTSTRAP_SEED = 20250101;

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 denominator); 0 for a single value, NaN for none. */
export function std(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

import { mulberry32 } from '../../common/rng.js';
export { mulberry32 } from '../../common/rng.js';

/** Mixes a base seed with a label (FNV-1a), so each group gets its own stream that does not
 *  depend on the order groups are visited in. */
export function seedFor(baseSeed: number, label: string): number {
  let h = (0x811c9dc5 ^ (baseSeed >>> 0)) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Quantile of an ascending-sorted array, linear interpolation between order statistics
 *  (Hyndman-Fan type 7, the default of R and numpy). */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Draws n indices in [0, n) with replacement. */
export function resampleIndices(n: number, rand: () => number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * n);
  return out;
}

export interface BootstrapOptions {
  iterations?: number; // default 2000
  seed?: number;       // default DEFAULT_BOOTSTRAP_SEED
  level?: number;      // default 0.95
}

export interface Interval { lo: number; hi: number }

/** Percentile bootstrap interval of the mean. With one value the interval is that value;
 *  with none it is NaN. */
export function bootstrapMeanCI(values: readonly number[], opts: BootstrapOptions = {}): Interval {
  const iterations = opts.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
  const level = opts.level ?? 0.95;
  if (values.length === 0) return { lo: NaN, hi: NaN };
  if (values.length === 1) return { lo: values[0]!, hi: values[0]! };
  const rand = mulberry32(opts.seed ?? DEFAULT_BOOTSTRAP_SEED);
  const n = values.length;
  const means = new Array<number>(iterations);
  for (let b = 0; b < iterations; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)]!;
    means[b] = s / n;
  }
  means.sort((x, y) => x - y);
  const alpha = (1 - level) / 2;
  return { lo: quantileSorted(means, alpha), hi: quantileSorted(means, 1 - alpha) };
}
