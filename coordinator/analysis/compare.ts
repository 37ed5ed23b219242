// Method comparisons built on arm means: Pareto frontiers per method on FLOPs, device-seconds
// or money; iso-compute (each method's accuracy at common budgets, interpolated in log10 cost
// on its frontier); the exchange rate (RL FLOPs that match an SFT arm trained on N curated
// examples, with a seed-bootstrap interval); and accuracy against N curated examples.

import { costOn, flopsTotal, type CostAxis } from './costs.js';
import { AnalysisError } from './errors.js';
import { accuracyAtCost, costForAccuracy, paretoFrontier, type Interp } from './frontier.js';
import { filterRecords, type QueryOptions, type Table } from './query.js';
import {
  bootstrapMeanCI, mean, mulberry32, resampleIndices, seedFor, std,
  DEFAULT_BOOTSTRAP_ITERATIONS, DEFAULT_BOOTSTRAP_SEED, type BootstrapOptions,
} from './stats.js';
import { ACC_ID, type CostOptions, type RunRecord } from './types.js';

export interface CompareOptions extends CostOptions {
  metric?: string;                       // accuracy metric; default 'pass1.test_id'
  axis?: CostAxis;                       // default 'flops'
  filter?: QueryOptions['filter'];
  statuses?: QueryOptions['statuses'];   // default ['succeeded']
  bootstrap?: BootstrapOptions;
}

/** One arm: means over its seeds. */
export interface ArmPoint {
  sweep: string; arm: string; method: string;
  params: RunRecord['params'];
  nSeeds: number;
  cost: number;           // mean cost over seeds on the chosen axis
  acc: number;            // mean accuracy over seeds
  accStd: number;
  curatedExamples: number;
  records: RunRecord[];
}

function armGroups(records: readonly RunRecord[], opts: CompareOptions): RunRecord[][] {
  const kept = filterRecords(records, opts.filter, opts.statuses);
  const groups = new Map<string, RunRecord[]>();
  for (const r of kept) {
    const id = JSON.stringify([r.sweep, r.arm]);
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(r);
  }
  return [...groups.values()];
}

function pointOf(rs: RunRecord[], opts: CompareOptions): ArmPoint | undefined {
  const metric = opts.metric ?? ACC_ID;
  const withAcc = rs.filter((r) => Number.isFinite(r.metrics[metric]));
  if (withAcc.length === 0) return undefined;
  const first = withAcc[0]!;
  const accs = withAcc.map((r) => r.metrics[metric]!);
  return {
    sweep: first.sweep, arm: first.arm, method: first.method, params: first.params,
    nSeeds: withAcc.length,
    cost: mean(withAcc.map((r) => costOn(opts.axis ?? 'flops', r, opts))),
    acc: mean(accs), accStd: std(accs),
    curatedExamples: mean(withAcc.map((r) => r.curatedExamples)),
    records: withAcc,
  };
}

/** Arm means over seeds (arms lacking the metric in every seed are skipped), sorted by method, arm. */
export function armPoints(records: readonly RunRecord[], opts: CompareOptions = {}): ArmPoint[] {
  const pts = armGroups(records, opts).map((g) => pointOf(g, opts)).filter((p): p is ArmPoint => !!p);
  return pts.sort((a, b) => a.method.localeCompare(b.method) || a.arm.localeCompare(b.arm));
}

export interface MethodFrontier { method: string; points: ArmPoint[]; frontier: ArmPoint[] }

/** Per method: its arm points and their Pareto frontier on opts.axis. */
export function frontiers(records: readonly RunRecord[], opts: CompareOptions = {}): MethodFrontier[] {
  const by = new Map<string, ArmPoint[]>();
  for (const p of armPoints(records, opts)) {
    if (!by.has(p.method)) by.set(p.method, []);
    by.get(p.method)!.push(p);
  }
  return [...by.entries()].map(([method, points]) => ({ method, points, frontier: paretoFrontier(points) }));
}

const sci = (x: number) => x.toExponential(2);

function rangeNote(method: string, r: Interp, what: 'cost' | 'accuracy'): string {
  if (r.ok) return '';
  if (r.reason === 'empty') return `${method} has no frontier point with positive cost`;
  const f = what === 'cost' ? sci : (x: number) => x.toFixed(3);
  const range = `${f(r.min!)}..${f(r.max!)}`;
  return r.reason === 'below'
    ? `below ${method}'s frontier range (${range}); not extrapolated`
    : `above ${method}'s frontier range (${range}); not extrapolated`;
}

export interface IsoComputeRow { budget: number; method: string; acc: number | null; note: string }

/** Each method's accuracy at each budget (default: every distinct positive cost on any
 *  method's frontier). acc is null, with a note, where the budget is outside the method's range. */
export function isoCompute(
  records: readonly RunRecord[],
  opts: CompareOptions & { budgets?: number[] } = {},
): IsoComputeRow[] {
  const fs = frontiers(records, opts);
  const budgets = opts.budgets ??
    [...new Set(fs.flatMap((m) => m.frontier.map((p) => p.cost)).filter((c) => c > 0))].sort((a, b) => a - b);
  const rows: IsoComputeRow[] = [];
  for (const budget of budgets) {
    for (const m of fs) {
      const r = accuracyAtCost(m.frontier, budget);
      rows.push({ budget, method: m.method, acc: r.ok ? r.value : null, note: rangeNote(m.method, r, 'cost') });
    }
  }
  return rows;
}

/** Iso-compute rows pivoted: one row per budget, one accuracy column per method. */
export function isoComputeTable(rows: readonly IsoComputeRow[], axis: CostAxis = 'flops'): Table {
  const methods = [...new Set(rows.map((r) => r.method))];
  const budgets = [...new Set(rows.map((r) => r.budget))];
  return {
    columns: [
      { key: 'budget', label: `budget_${axis}`, format: axis === 'money' ? 'money' : axis === 'flops' ? 'sci' : 'seconds' },
      ...methods.map((m) => ({ key: m, label: `acc_${m}`, format: 'acc' as const })),
    ],
    rows: budgets.map((b) => ({
      budget: b,
      ...Object.fromEntries(methods.map((m) => [m, rows.find((r) => r.budget === b && r.method === m)?.acc ?? null])),
    })),
  };
}

export interface ExchangeRow {
  arm: string;
  n: number;                      // curated examples of the SFT arm
  sftAcc: number;
  sftFlops: number;               // the SFT arm's own FLOPs (counted phases)
  rlFlops: number | null;         // RL FLOPs matching sftAcc on the RL frontier
  rlFlopsLo: number | null;       // bootstrap interval; null = unbounded on that side
  rlFlopsHi: number | null;
  flopsPerExample: number | null; // rlFlops / n
  flopsPerExampleLo: number | null;
  flopsPerExampleHi: number | null;
  outOfRangeShare: number;        // share of bootstrap draws outside the RL frontier's range
  note: string;
}

/** Quantile that tolerates the +-Infinity standing for out-of-range draws. */
export function quantileWithInf(sorted: number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  const a = sorted[lo]!, b = sorted[hi]!;
  if (a === b) return a;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return pos - lo < 0.5 ? a : b;
  return a + (b - a) * (pos - lo);
}

function resampledPoint(p: ArmPoint, rand: () => number, opts: CompareOptions): { cost: number; acc: number } {
  const metric = opts.metric ?? ACC_ID;
  const idx = resampleIndices(p.records.length, rand);
  return {
    cost: mean(idx.map((i) => flopsTotal(p.records[i]!, opts))),
    acc: mean(idx.map((i) => p.records[i]!.metrics[metric]!)),
  };
}

/** RL FLOPs needed to match each SFT arm's accuracy, by inverse interpolation in log10(FLOPs)
 *  on the RL frontier; the interval resamples seeds within every arm (SFT and RL) and redraws
 *  the frontier each time. Always on the FLOPs axis. */
export function exchangeRate(
  records: readonly RunRecord[],
  opts: CompareOptions & { sftMethod?: string; rlMethod?: string } = {},
): ExchangeRow[] {
  const o: CompareOptions = { ...opts, axis: 'flops' };
  const sftMethod = opts.sftMethod ?? 'sft', rlMethod = opts.rlMethod ?? 'rl';
  const pts = armPoints(records, o);
  const sft = pts.filter((p) => p.method === sftMethod);
  const rl = pts.filter((p) => p.method === rlMethod);
  if (sft.length === 0 || rl.length === 0) {
    const methods = [...new Set(pts.map((p) => p.method))].join(', ') || 'none';
    throw new AnalysisError(
      `exchange rate needs arms of method '${sftMethod}' and '${rlMethod}' (found: ${methods}); ` +
        `pass sftMethod/rlMethod or widen the filter`,
    );
  }
  const rlFrontier = paretoFrontier(rl);
  const iterations = opts.bootstrap?.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
  const level = opts.bootstrap?.level ?? 0.95;
  const baseSeed = opts.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  return sft.map((s) => {
    const n = s.curatedExamples > 0 ? s.curatedExamples : Number(s.params.n) || 0;
    const point = costForAccuracy(rlFrontier, s.acc);
    const rand = mulberry32(seedFor(baseSeed, `exchange|${s.arm}`));
    const draws: number[] = [];
    let outside = 0;
    for (let b = 0; b < iterations; b++) {
      const f = paretoFrontier(rl.map((p) => resampledPoint(p, rand, o)));
      const r = costForAccuracy(f, resampledPoint(s, rand, o).acc);
      if (r.ok) draws.push(Math.log10(r.value));
      else { outside++; draws.push(r.reason === 'below' ? -Infinity : Infinity); }
    }
    draws.sort((a, b) => a - b);
    const alpha = (1 - level) / 2;
    const lo = quantileWithInf(draws, alpha), hi = quantileWithInf(draws, 1 - alpha);
    const fin = (x: number) => (Number.isFinite(x) ? 10 ** x : null);
    const rlFlops = point.ok ? point.value : null;
    const per = (x: number | null) => (x !== null && n > 0 ? x / n : null);
    const notes: string[] = [];
    if (!point.ok) notes.push(rangeNote(rlMethod, point, 'accuracy'));
    if (outside > 0) notes.push(`${((100 * outside) / iterations).toFixed(1)}% of bootstrap draws outside ${rlMethod}'s range`);
    if (n <= 0) notes.push('arm has no curated examples');
    return {
      arm: s.arm, n, sftAcc: s.acc, sftFlops: s.cost,
      rlFlops, rlFlopsLo: fin(lo), rlFlopsHi: fin(hi),
      flopsPerExample: per(rlFlops), flopsPerExampleLo: per(fin(lo)), flopsPerExampleHi: per(fin(hi)),
      outOfRangeShare: outside / iterations,
      note: notes.join('; '),
    };
  }).sort((a, b) => a.n - b.n || a.arm.localeCompare(b.arm));
}

export function exchangeTable(rows: readonly ExchangeRow[]): Table {
  return {
    columns: [
      { key: 'arm', label: 'sft_arm', format: 'text' },
      { key: 'n', label: 'n_curated', format: 'number' },
      { key: 'sftAcc', label: 'sft_acc', format: 'acc' },
      { key: 'sftFlops', label: 'sft_flops', format: 'sci' },
      { key: 'rlFlops', label: 'rl_flops_match', format: 'sci' },
      { key: 'rlFlopsLo', label: 'ci_lo', format: 'sci' },
      { key: 'rlFlopsHi', label: 'ci_hi', format: 'sci' },
      { key: 'flopsPerExample', label: 'flops_per_example', format: 'sci' },
      { key: 'note', label: 'note', format: 'text' },
    ],
    rows: rows.map((r) => ({ ...r, note: r.note })),
  };
}

export interface AccuracyVsNRow {
  method: string; arm: string; n: number; nSeeds: number;
  acc: number; accLo: number; accHi: number;
  flops: number;          // per the includeCuration switch
  curationFlops: number;
}

/** Accuracy against curated examples for every arm that used any (SFT, ICL, ...). The flops
 *  column follows opts.includeCuration, so the same rows show cost with and without curation. */
export function accuracyVsN(records: readonly RunRecord[], opts: CompareOptions = {}): AccuracyVsNRow[] {
  const metric = opts.metric ?? ACC_ID;
  const baseSeed = opts.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  return armPoints(records, { ...opts, axis: 'flops' })
    .filter((p) => p.curatedExamples > 0)
    .map((p) => {
      const ci = bootstrapMeanCI(p.records.map((r) => r.metrics[metric]!), {
        ...opts.bootstrap, seed: seedFor(baseSeed, `accN|${p.arm}`),
      });
      return {
        method: p.method, arm: p.arm, n: p.curatedExamples, nSeeds: p.nSeeds,
        acc: p.acc, accLo: ci.lo, accHi: ci.hi, flops: p.cost,
        curationFlops: mean(p.records.map((r) => r.flopsByPhase.curation ?? 0)),
      };
    })
    .sort((a, b) => a.method.localeCompare(b.method) || a.n - b.n || a.arm.localeCompare(b.arm));
}

export function accuracyVsNTable(rows: readonly AccuracyVsNRow[]): Table {
  return {
    columns: [
      { key: 'method', label: 'method', format: 'text' },
      { key: 'arm', label: 'arm', format: 'text' },
      { key: 'n', label: 'n_curated', format: 'number' },
      { key: 'nSeeds', label: 'n_seeds', format: 'int' },
      { key: 'acc', label: 'acc', format: 'acc' },
      { key: 'accLo', label: 'ci_lo', format: 'acc' },
      { key: 'accHi', label: 'ci_hi', format: 'acc' },
      { key: 'flops', label: 'flops', format: 'sci' },
      { key: 'curationFlops', label: 'flops_curation', format: 'sci' },
    ],
    rows: rows.map((r) => ({ ...r })),
  };
}
