// The study's verdicts over one sweep's RunRecords (issue 9): controls (does training help at
// all; is the gain from the chains), exchange rates per SFT arm and base (RL FLOPs of method
// cost that match it), iso-compute accuracy per base, and each method's gain over its own base
// against the base's latent ability (PROBE). Intervals come from the paired two-level bootstrap
// (stats.ts); with fewer than minSeeds seeds none is printed, and a warning says so.

import { quantileWithInf, isoCompute } from './compare.js';
import { deviceSeconds, evaluationCost, flopsTotal } from './costs.js';
import { costForAccuracy, paretoFrontier, type Interp } from './frontier.js';
import {
  drawPaired, mean, mulberry32, pairedBootstrapDiff, problemCount, seedFor,
  DEFAULT_BOOTSTRAP_ITERATIONS, DEFAULT_BOOTSTRAP_SEED, type BootstrapOptions, type SeedScore,
} from './stats.js';
import { ACC_ID, type CostOptions, type RunRecord } from './types.js';

export interface StudyOptions extends CostOptions {
  metric?: string;          // accuracy metric; default 'pass1.test_id' (outcomes split: 'test_id')
  latentMetric?: string;    // default 'latent.forced_chain.test_id'
  bareMetric?: string;      // default 'latent.bare.test_id'
  sftMethods?: string[];    // default ['sft']
  rlMethods?: string[];     // default ['rl']
  baseMethod?: string;      // default 'base'
  statuses?: string[] | 'all'; // default ['succeeded']
  minSeeds?: number;        // fewer seeds than this: no interval (default 3)
  budgets?: number[];       // iso-compute FLOP budgets; default every frontier cost on the base
  bootstrap?: BootstrapOptions;
}

export const NO_INTERVAL = 'no interval';
export const DEFAULT_MIN_SEEDS = 3;

export interface ControlRow {
  name: 'positive' | 'negative'; arm: string; baseline_arm: string | null; base: string;
  delta: number | null; ci_lo: number | null; ci_hi: number | null;
  passed: boolean | null;   // null: undetermined (no baseline, or n<3 seeds: no interval)
  n_seeds: number; verdict: string;
  /** Share of the control arm's and of its baseline's answers on the metric's split that wrote
   *  a chain (eval metric chain_share.<split>, mean over seeds); null where not reported. */
  chain_share: number | null; baseline_chain_share: number | null;
}
export interface ExchangeRow {
  sft_arm: string; base: string; n_curated: number; sft_acc: number;
  rl_flops_match: number | null; ci_lo: number | null; ci_hi: number | null;
  flops_per_example: number | null; n_seeds: number; note: string;
}
export interface LatentRow {
  method: string; arm: string; base: string;
  latent_ability: number | null; bare_ability: number | null;
  gain: number | null; ci_lo: number | null; ci_hi: number | null; n_seeds: number;
}
export interface IsoRow { base: string; budget: number; method: string; acc: number | null; note: string }
export interface CostRow {
  arm: string; method: string; base: string; n_seeds: number;
  flops: number; device_s: number; flops_tuning: number; flops_eval: number; device_s_eval: number;
}
export interface RolloutRow { arm: string; base: string; accepted_no_chain_share: number | null; accepted_wrong_chain_share: number | null }
export interface StudyResult {
  controls: ControlRow[]; exchange: ExchangeRow[]; latent: LatentRow[];
  iso_compute: IsoRow[]; costs: CostRow[]; rollout: RolloutRow[]; warnings: string[];
  min_seeds: number;        // fewer seeds than this: no interval
}

/** One arm instance: its records by seed. */
/** key: sweep and arm (what identifies it); label: the arm alone, which seeds its bootstrap, so
 *  the same data in another sweep (a rerun of the same spec) gets the same intervals. */
interface Arm { key: string; label: string; arm: string; group: string; method: string; base: string; params: RunRecord['params']; records: RunRecord[] }

export const baseOf = (r: RunRecord): string => String(r.params.base ?? 'default');
export const groupOf = (r: RunRecord): string => r.group ?? r.arm.replace(/\[.*$/, '');
const fmt = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);

function armsOf(records: readonly RunRecord[], statuses: StudyOptions['statuses']): Arm[] {
  const by = new Map<string, Arm>();
  for (const r of records) {
    if (statuses !== 'all' && !(statuses ?? ['succeeded']).includes(r.status)) continue;
    const key = `${r.sweep}\u0000${r.arm}`;
    let a = by.get(key);
    if (!a) by.set(key, (a = { key, label: r.arm, arm: r.arm, group: groupOf(r), method: r.method, base: baseOf(r), params: r.params, records: [] }));
    a.records.push(r);
  }
  for (const a of by.values()) a.records.sort((x, y) => x.seed - y.seed);
  return [...by.values()].sort((x, y) => x.base.localeCompare(y.base) || x.arm.localeCompare(y.arm));
}

/** Per-seed scores of an arm on the metric (seeds lacking it are left out). */
function scores(a: Arm, metric: string, opts: CostOptions): SeedScore[] {
  const split = metric.replace(/^pass1\./, '');
  return a.records.filter((r) => Number.isFinite(r.metrics[metric])).map((r) => {
    const o = r.outcomes?.[split];
    return { seed: r.seed, acc: r.metrics[metric]!, cost: flopsTotal(r, opts), ...(o ? { outcomes: o } : {}) };
  });
}

class Ctx {
  readonly warnings = new Set<string>();
  /** Comparisons without an interval (by seed count) and with seed-level draws only: one
   *  warning each at the end, listing them, rather than one line per row. */
  readonly fewSeeds = new Map<number, string[]>();
  readonly seedLevel: string[] = [];
  readonly metric: string; readonly minSeeds: number; readonly iterations: number; readonly seed: number;
  constructor(readonly arms: Arm[], readonly o: StudyOptions) {
    this.metric = o.metric ?? ACC_ID;
    this.minSeeds = o.minSeeds ?? DEFAULT_MIN_SEEDS;
    this.iterations = o.bootstrap?.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
    this.seed = o.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  }
  scores(a: Arm): SeedScore[] { return scores(a, this.metric, this.o); }
  few(n: number, what: string): void { this.fewSeeds.set(n, [...(this.fewSeeds.get(n) ?? []), what]); }
  allWarnings(): string[] {
    const out = [...this.warnings];
    for (const [n, what] of [...this.fewSeeds].sort((a, b) => a[0] - b[0])) out.push(`n<${this.minSeeds} seeds (${n}): ${NO_INTERVAL} for ${what.join(', ')}`);
    if (this.seedLevel.length) out.push(`per-problem outcomes missing or of different lengths: the interval resamples seeds only for ${this.seedLevel.join(', ')}`);
    return out;
  }
  /** The mean over seeds of a base's PROBE metric (every arm on the base carries it), or null. */
  ability(base: string, metric: string): number | null {
    const bySeed = new Map<number, number>();
    for (const a of this.arms) if (a.base === base) for (const r of a.records) {
      const v = r.metrics[metric];
      if (Number.isFinite(v) && !bySeed.has(r.seed)) bySeed.set(r.seed, v!);
    }
    return bySeed.size ? mean([...bySeed.values()]) : null;
  }
  /** The split the metric is on: pass1.test_id -> test_id ('' for a metric without one). */
  get split(): string { return this.metric.split('.').slice(1).join('.'); }
  /** The mean over seeds of an arm's chain_share on the metric's split, or null. */
  chainShare(a: Arm): number | null {
    const split = this.split;
    const xs = split ? a.records.map((r) => r.metrics[`chain_share.${split}`]).filter((x): x is number => Number.isFinite(x)) : [];
    return xs.length ? mean(xs) : null;
  }
  baseArm(base: string): Arm | undefined {
    return this.arms.find((a) => a.base === base && a.method === (this.o.baseMethod ?? 'base'));
  }
  /** Paired difference a - b with its interval, or a stated reason why there is none. */
  diff(a: Arm, b: Arm, label: string): { delta: number | null; lo: number | null; hi: number | null; n: number } {
    const d = pairedBootstrapDiff(this.scores(a), this.scores(b), {
      ...this.o.bootstrap, seed: seedFor(this.seed, label), iterations: this.iterations,
    });
    if (d.nSeeds === 0) {
      this.warnings.add(`${a.arm} vs ${b.arm} on base ${a.base}: no seed with ${this.metric} in both arms`);
      return { delta: null, lo: null, hi: null, n: 0 };
    }
    if (d.nSeeds < this.minSeeds) {
      this.few(d.nSeeds, `${a.arm} vs ${b.arm}`);
      return { delta: d.delta, lo: null, hi: null, n: d.nSeeds };
    }
    if (!d.problemLevel) this.seedLevel.push(`${a.arm} vs ${b.arm}`);
    return { delta: d.delta, lo: d.lo, hi: d.hi, n: d.nSeeds };
  }
}

function controls(c: Ctx): ControlRow[] {
  const rows: ControlRow[] = [];
  for (const a of c.arms) {
    const kind = a.params.control;
    if (kind !== 'positive' && kind !== 'negative') continue;
    let baseline: Arm | undefined;
    if (kind === 'positive') baseline = c.baseArm(a.base);
    else {
      const pair = String(a.params.paired_with ?? '');
      baseline = c.arms.find((b) => b !== a && b.base === a.base && b.group === pair && String(b.params.n) === String(a.params.n));
    }
    const row: ControlRow = { name: kind, arm: a.arm, baseline_arm: baseline?.arm ?? null, base: a.base, delta: null, ci_lo: null, ci_hi: null, passed: null, n_seeds: 0, verdict: '',
      chain_share: c.chainShare(a), baseline_chain_share: baseline ? c.chainShare(baseline) : null };
    if (!baseline) {
      row.verdict = kind === 'positive'
        ? `positive control on base ${a.base} undetermined: no '${c.o.baseMethod ?? 'base'}' arm on that base to compare with`
        : `negative control on base ${a.base} undetermined: no arm of group '${String(a.params.paired_with ?? '')}' with n=${String(a.params.n)} on that base (set paired_with to the chain arm's name)`;
      c.warnings.add(row.verdict);
      rows.push(row);
      continue;
    }
    const d = c.diff(a, baseline, `control|${a.label}`);
    Object.assign(row, { delta: d.delta, ci_lo: d.lo, ci_hi: d.hi, n_seeds: d.n });
    const ci = d.lo === null ? `n<${c.minSeeds} seeds: ${NO_INTERVAL}` : `95% CI [${fmt(d.lo)}, ${fmt(d.hi!)}]`;
    const delta = d.delta === null ? 'no delta' : `delta ${fmt(d.delta)}, ${ci}`;
    if (d.lo === null) {
      row.verdict = `${kind} control on base ${a.base} undetermined (${delta})`;
    } else if (kind === 'positive') {
      row.passed = d.lo > 0;
      row.verdict = row.passed
        ? `positive control passed on base ${a.base}: training helped (${delta})`
        : `positive control FAILED on base ${a.base}: training did not help; no exchange rate reported (${delta})`;
    } else {
      // Negative control = bare answers on the chain arm's problems; passing means bare answers
      // did significantly WORSE than chains (ci_hi < 0), i.e. the gain is due to the chains.
      row.passed = d.hi! < 0;
      row.verdict = row.passed
        ? `negative control passed on base ${a.base}: bare answers did significantly worse than chains (${delta})`
        : `negative control FAILED on base ${a.base}: bare answers did not do significantly worse than chains; the gain cannot be credited to the chains (${delta})`;
      if (!row.passed) row.verdict += chainsWritten(c, row);
    }
    rows.push(row);
  }
  return rows.sort((x, y) => x.base.localeCompare(y.base) || y.name.localeCompare(x.name) || x.arm.localeCompare(y.arm));
}

/** Why a negative control may have failed, from what the arms wrote: whether the chain arm
 *  wrote chains at all (if not, the control cannot tell whether chains help), and, if it did,
 *  the base's latent ability (LIMO's claim is that chains elicit what pretraining put there). */
function chainsWritten(c: Ctx, row: ControlRow): string {
  const cs = row.baseline_chain_share;
  if (cs === null) return '';
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  const both = `the chain arm wrote a chain in ${pct(cs)} of its ${c.split} answers${row.chain_share === null ? '' : `, the bare arm in ${pct(row.chain_share)}`}`;
  if (cs < 0.5) return `; ${both}: the chains were mostly not learned, so this control cannot tell whether they help`;
  const la = c.ability(row.base, c.o.latentMetric ?? 'latent.forced_chain.test_id');
  return `; ${both}: the chains were learned, yet did not make answers significantly more accurate than bare ones${la === null ? '' : ` (the base's latent ability, its forced-chain accuracy, is ${la.toFixed(3)})`}`;
}

const isControl = (a: Arm) => a.params.control === 'positive' || a.params.control === 'negative';
/** RL arms for the exchange rate: pure RL (no curated data, not started from an SFT model). */
const pureRl = (a: Arm, methods: string[]) =>
  methods.includes(a.method) && !isControl(a) && a.params.init !== 'sft' && a.records.every((r) => r.curatedExamples === 0);

function rangeReason(r: Interp, base: string, acc: number): string {
  if (r.ok) return '';
  if (r.reason === 'empty') return `no RL arm with positive FLOPs on base ${base}`;
  const range = `${r.min!.toFixed(3)}..${r.max!.toFixed(3)}`;
  return r.reason === 'below'
    ? `SFT accuracy ${acc.toFixed(3)} is below the RL frontier's range (${range}) on base ${base}: even the cheapest RL arm does better; not extrapolated`
    : `SFT accuracy ${acc.toFixed(3)} is above the RL frontier's range (${range}) on base ${base}: no RL arm reaches it; not extrapolated`;
}

function exchange(c: Ctx, ctrl: ControlRow[]): ExchangeRow[] {
  const sftMethods = c.o.sftMethods ?? ['sft'], rlMethods = c.o.rlMethods ?? ['rl'];
  const rows: ExchangeRow[] = [];
  for (const s of c.arms.filter((a) => sftMethods.includes(a.method) && !isControl(a))) {
    const sc = c.scores(s);
    if (!sc.length) continue;
    const n = mean(s.records.map((r) => r.curatedExamples)) || Number(s.params.n) || 0;
    const row: ExchangeRow = { sft_arm: s.arm, base: s.base, n_curated: n, sft_acc: mean(sc.map((x) => x.acc)), rl_flops_match: null, ci_lo: null, ci_hi: null, flops_per_example: null, n_seeds: sc.length, note: '' };
    rows.push(row);
    const pos = ctrl.filter((r) => r.name === 'positive' && r.base === s.base);
    const failed = pos.find((r) => r.passed === false);
    if (failed) { row.note = `positive control FAILED on base ${s.base} (${failed.arm}): training did not help; no exchange rate reported`; continue; }
    const notes: string[] = [];
    if (!pos.length) notes.push(`no positive control on base ${s.base}`);
    else if (pos.some((r) => r.passed === null)) notes.push(`positive control on base ${s.base} undetermined`);
    const rl = c.arms.filter((a) => a.base === s.base && pureRl(a, rlMethods));
    const rlScores = rl.map((a) => c.scores(a)).filter((x) => x.length);
    if (!rlScores.length) { row.note = [...notes, `no RL arms on base ${s.base}`].join('; '); continue; }
    const frontier = paretoFrontier(rlScores.map((xs) => ({ cost: mean(xs.map((x) => x.cost!)), acc: mean(xs.map((x) => x.acc)) })));
    const point = costForAccuracy(frontier, row.sft_acc);
    if (!point.ok) { row.note = [...notes, rangeReason(point, s.base, row.sft_acc)].join('; '); continue; }
    row.rl_flops_match = point.value;
    row.flops_per_example = n > 0 ? point.value / n : null;
    if (n <= 0) notes.push('arm has no curated examples: no FLOPs per example');
    if (sc.length < c.minSeeds) {
      notes.push(`n<${c.minSeeds} seeds: ${NO_INTERVAL}`);
      c.few(sc.length, `exchange rate of ${s.arm}`);
    } else {
      const ci = exchangeInterval(c, sc, rlScores, `exchange|${s.label}`);
      row.ci_lo = ci.lo; row.ci_hi = ci.hi;
      if (ci.outside > 0) notes.push(`${(100 * ci.outside).toFixed(1)}% of bootstrap draws outside the RL frontier's range${ci.lo === null || ci.hi === null ? ' (that side unbounded)' : ''}`);
      if (!ci.problemLevel) c.seedLevel.push(`exchange rate of ${s.arm}`);
    }
    row.note = notes.join('; ');
  }
  return rows.sort((a, b) => a.base.localeCompare(b.base) || a.n_curated - b.n_curated || a.sft_arm.localeCompare(b.sft_arm));
}

/** Bootstrap of the matching RL FLOPs: every replicate draws the same seeds (and problems)
 *  for the SFT arm and every RL arm on the base, redraws the RL frontier, inverts it. */
function exchangeInterval(c: Ctx, sft: SeedScore[], rl: SeedScore[][], label: string) {
  const all = [sft, ...rl];
  const seeds = [...new Set(all.flatMap((xs) => xs.map((x) => x.seed)))].sort((a, b) => a - b);
  const table = seeds.map((sd) => all.map((xs) => xs.find((x) => x.seed === sd)));
  const rand = mulberry32(seedFor(c.seed, label));
  const draws: number[] = [];
  let outside = 0;
  for (let b = 0; b < c.iterations; b++) {
    const { acc, cost } = drawPaired(table, rand);
    const f = paretoFrontier(rl.map((_, i) => ({ cost: cost[i + 1]!, acc: acc[i + 1]! })));
    const r = costForAccuracy(f, acc[0]!);
    if (r.ok) draws.push(Math.log10(r.value));
    else { outside++; draws.push(r.reason === 'below' ? -Infinity : Infinity); }
  }
  draws.sort((a, b) => a - b);
  const alpha = (1 - (c.o.bootstrap?.level ?? 0.95)) / 2;
  const fin = (x: number) => (Number.isFinite(x) ? 10 ** x : null);
  return {
    lo: fin(quantileWithInf(draws, alpha)), hi: fin(quantileWithInf(draws, 1 - alpha)),
    outside: outside / c.iterations, problemLevel: table.every((row) => problemCount(row) > 0),
  };
}

function latent(c: Ctx): LatentRow[] {
  const rows: LatentRow[] = [];
  const latentMetric = c.o.latentMetric ?? 'latent.forced_chain.test_id';
  for (const a of c.arms) {
    if (a.method === (c.o.baseMethod ?? 'base')) continue;
    const row: LatentRow = {
      method: a.group, arm: a.arm, base: a.base,
      latent_ability: c.ability(a.base, latentMetric), bare_ability: c.ability(a.base, c.o.bareMetric ?? 'latent.bare.test_id'),
      gain: null, ci_lo: null, ci_hi: null, n_seeds: 0,
    };
    if (row.latent_ability === null) c.warnings.add(`base ${a.base}: no PROBE metric ${latentMetric}; latent ability unknown`);
    const b = c.baseArm(a.base);
    if (!b) c.warnings.add(`base ${a.base}: no '${c.o.baseMethod ?? 'base'}' arm; gains over the base cannot be computed`);
    else {
      const d = c.diff(a, b, `latent|${a.label}`);
      Object.assign(row, { gain: d.delta, ci_lo: d.lo, ci_hi: d.hi, n_seeds: d.n });
    }
    rows.push(row);
  }
  return rows.sort((x, y) => x.method.localeCompare(y.method) || (x.latent_ability ?? -1) - (y.latent_ability ?? -1) || x.arm.localeCompare(y.arm));
}

function iso(c: Ctx): IsoRow[] {
  const bases = [...new Set(c.arms.map((a) => a.base))];
  return bases.flatMap((base) => {
    const recs = c.arms.filter((a) => a.base === base && !isControl(a) && a.method !== (c.o.baseMethod ?? 'base')).flatMap((a) => a.records);
    if (!recs.length) return [];
    return isoCompute(recs, { ...c.o, statuses: 'all', axis: 'flops', metric: c.metric, budgets: c.o.budgets })
      .map((r) => ({ base, budget: r.budget, method: r.method, acc: r.acc, note: r.note }));
  });
}

function costs(c: Ctx): CostRow[] {
  return c.arms.map((a) => {
    const m = (f: (r: RunRecord) => number) => mean(a.records.map(f));
    return {
      arm: a.arm, method: a.method, base: a.base, n_seeds: a.records.length,
      flops: m((r) => flopsTotal(r, c.o)), device_s: m((r) => deviceSeconds(r, c.o)),
      flops_tuning: m((r) => r.flopsByPhase.tuning ?? 0),
      flops_eval: m((r) => evaluationCost(r).flops), device_s_eval: m((r) => evaluationCost(r).deviceS),
    };
  });
}

function rollout(c: Ctx): RolloutRow[] {
  const share = (a: Arm, k: string) => {
    const xs = a.records.map((r) => r.metrics[k]).filter((x): x is number => Number.isFinite(x));
    return xs.length ? mean(xs) : null;
  };
  return c.arms.map((a) => ({ arm: a.arm, base: a.base, accepted_no_chain_share: share(a, 'accepted_no_chain_share'), accepted_wrong_chain_share: share(a, 'accepted_wrong_chain_share') }))
    .filter((r) => r.accepted_no_chain_share !== null || r.accepted_wrong_chain_share !== null);
}

/** Everything `limolab compare --json` prints (and the report's study section shows). */
export function studyAnalysis(records: readonly RunRecord[], opts: StudyOptions = {}): StudyResult {
  const c = new Ctx(armsOf(records, opts.statuses), opts);
  // A control arm none of whose runs counted (failed, still running) must not vanish silently.
  for (const a of armsOf(records, 'all')) {
    if (isControl(a) && !c.arms.some((k) => k.key === a.key)) {
      c.warnings.add(`${String(a.params.control)} control ${a.arm} on base ${a.base} has no ${opts.statuses === 'all' ? '' : 'succeeded '}run (${[...new Set(a.records.map((r) => r.status))].join(', ')}): not evaluated`);
    }
  }
  const ctrl = controls(c);
  const result = { controls: ctrl, exchange: exchange(c, ctrl), latent: latent(c), iso_compute: iso(c), costs: costs(c), rollout: rollout(c) };
  return { ...result, warnings: c.allWarnings(), min_seeds: c.minSeeds };
}
