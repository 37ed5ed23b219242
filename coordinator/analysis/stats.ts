// Small statistics kit: mean, sample standard deviation, a seeded PRNG (mulberry32), type-7
// quantiles, a percentile bootstrap of the mean, and the paired two-level bootstrap of the
// study (seeds, then test problems within each seed, the same draws for every arm compared).
// Everything is deterministic for a given seed so intervals are reproducible across machines.

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

/** One seed of one arm: its accuracy, what it cost (optional), and when known its greedy
 *  correctness per test problem ('1' = correct), in the split's fixed problem order. */
export interface SeedScore { seed: number; acc: number; cost?: number; outcomes?: string }

/** One replicate of a paired two-level bootstrap over a table of seeds (rows) x arms
 *  (columns; undefined where an arm lacks that seed). Draws rows with replacement (same rows
 *  for every arm: a seed is one base model), then within each drawn row, when every present
 *  arm has outcomes of one common length m > 0, draws m problem indices with replacement (the
 *  same indices for every arm); otherwise that row contributes its seed-level accuracies.
 *  RNG order, so a run can be followed by hand: all row draws first, then each drawn row's m
 *  problem draws in drawn order. Returns each arm's mean accuracy and cost over the drawn rows
 *  it has (NaN when it has none of them). */
export function drawPaired(table: readonly (readonly (SeedScore | undefined)[])[], rand: () => number): { acc: number[]; cost: number[] } {
  const nArms = table[0]?.length ?? 0;
  const rows = resampleIndices(table.length, rand);
  const accSum = new Array<number>(nArms).fill(0), costSum = new Array<number>(nArms).fill(0), count = new Array<number>(nArms).fill(0);
  for (const ri of rows) {
    const row = table[ri]!;
    const m = problemCount(row);
    const idx = m > 0 ? resampleIndices(m, rand) : [];
    row.forEach((cell, a) => {
      if (!cell) return;
      let acc = cell.acc;
      if (m > 0) {
        let k = 0;
        for (const j of idx) if (cell.outcomes!.charCodeAt(j) === 49 /* '1' */) k++;
        acc = k / m;
      }
      accSum[a]! += acc; costSum[a]! += cell.cost ?? 0; count[a]!++;
    });
  }
  return { acc: accSum.map((s, a) => (count[a] ? s / count[a]! : NaN)), cost: costSum.map((s, a) => (count[a] ? s / count[a]! : NaN)) };
}

/** Problems to resample in a row: the common outcome length of its present arms, else 0. */
export function problemCount(row: readonly (SeedScore | undefined)[]): number {
  let m = -1;
  for (const c of row) {
    if (!c) continue;
    const len = c.outcomes?.length ?? 0;
    if (len === 0 || (m >= 0 && len !== m)) return 0;
    m = len;
  }
  return Math.max(m, 0);
}

export interface PairedDiff {
  delta: number;          // mean over paired seeds of acc(a) - acc(b)
  lo: number; hi: number; // percentile interval of the bootstrap distribution
  nSeeds: number;         // seeds both arms have
  problemLevel: boolean;  // every paired seed resampled its problems (else seed-level for some)
}

/** Paired bootstrap of the difference in mean accuracy between arms a and b over the seeds
 *  both have (same seed = same base model): drawPaired on that two-column table, percentile
 *  interval. Identical arms give [0, 0]. opts.rand replaces the seeded PRNG (tests). */
export function pairedBootstrapDiff(
  a: readonly SeedScore[], b: readonly SeedScore[],
  opts: BootstrapOptions & { rand?: () => number } = {},
): PairedDiff {
  const bySeed = new Map(b.map((x) => [x.seed, x]));
  const table = a.filter((x) => bySeed.has(x.seed)).sort((x, y) => x.seed - y.seed).map((x) => [x, bySeed.get(x.seed)!]);
  const nSeeds = table.length;
  if (nSeeds === 0) return { delta: NaN, lo: NaN, hi: NaN, nSeeds, problemLevel: false };
  const delta = mean(table.map(([x, y]) => x!.acc - y!.acc));
  const rand = opts.rand ?? mulberry32(opts.seed ?? DEFAULT_BOOTSTRAP_SEED);
  const iterations = opts.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
  const draws = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const { acc } = drawPaired(table, rand);
    draws[i] = acc[0]! - acc[1]!;
  }
  draws.sort((x, y) => x - y);
  const alpha = (1 - (opts.level ?? 0.95)) / 2;
  return {
    delta, lo: quantileSorted(draws, alpha), hi: quantileSorted(draws, 1 - alpha), nSeeds,
    problemLevel: table.every((row) => problemCount(row) > 0),
  };
}
