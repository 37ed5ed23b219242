// Cost of one run on each axis: FLOPs, device-seconds, money (compute + curated data).
// Method cost = curation + tuning + training + rollout: pretrain (and the PROBE) excluded,
// curation included, evaluation reported beside it (evaluationCost) rather than inside it,
// except for method 'icl', whose inference is the method. CostOptions switches each. Money needs seconds per device kind, which the ledger keeps only for the whole
// run; when some phases are left out, each kind's seconds are scaled by the counted share of
// the run's device-seconds (assumes the left-out phases ran on the same mix of devices).

import { AnalysisError } from './errors.js';
import { DEFAULT_PRICES, PHASES, type CostOptions, type Phase, type Prices, type RunRecord } from './types.js';

/** Methods whose evaluation is their method cost (in-context learning spends at inference). */
export const INFERENCE_METHODS: readonly string[] = ['icl'];

/** The phases counted for a run of `method` (without a method: as for a trained arm). */
export function countedPhases(opts: CostOptions = {}, method?: string): Phase[] {
  const includePretrain = opts.includePretrain ?? false;
  const includeCuration = opts.includeCuration ?? true;
  const includeEvaluation = opts.includeEvaluation ?? (method !== undefined && INFERENCE_METHODS.includes(method));
  return PHASES.filter(
    (p) => (p !== 'pretrain' || includePretrain) && (p !== 'curation' || includeCuration) &&
      (p !== 'evaluation' || includeEvaluation),
  );
}

function sumPhases(by: Partial<Record<Phase, number>>, phases: readonly Phase[]): number {
  let s = 0;
  for (const p of phases) s += by[p] ?? 0;
  return s;
}

export function flopsTotal(r: RunRecord, opts: CostOptions = {}): number {
  return sumPhases(r.flopsByPhase, countedPhases(opts, r.method));
}

export function deviceSeconds(r: RunRecord, opts: CostOptions = {}): number {
  return sumPhases(r.deviceSByPhase, countedPhases(opts, r.method));
}

/** What measuring the run cost (its EVAL tasks), shown beside the method cost. */
export function evaluationCost(r: RunRecord): { flops: number; deviceS: number } {
  return { flops: r.flopsByPhase.evaluation ?? 0, deviceS: r.deviceSByPhase.evaluation ?? 0 };
}

/** Price of one second on a device kind: exact key first ('cuda:H100'), then its family
 *  before the colon ('cuda'). */
export function pricePerSecond(kind: string, prices: Prices = DEFAULT_PRICES): number {
  const exact = prices.perDeviceSecond[kind];
  if (exact !== undefined) return exact;
  const family = kind.split(':')[0]!;
  const fam = prices.perDeviceSecond[family];
  if (fam !== undefined) return fam;
  throw new AnalysisError(
    `no price for device kind '${kind}'; add perDeviceSecond['${kind}'] or ['${family}'] to the ` +
      `price sheet (priced kinds: ${Object.keys(prices.perDeviceSecond).join(', ') || 'none'})`,
  );
}

/** Dollars of device time over the counted phases. */
export function computeMoney(r: RunRecord, opts: CostOptions = {}): number {
  const prices = opts.prices ?? DEFAULT_PRICES;
  const allPhaseSeconds = sumPhases(r.deviceSByPhase, PHASES);
  const counted = deviceSeconds(r, opts);
  // No by-phase breakdown at all: charge the per-kind seconds as they are.
  const share = allPhaseSeconds > 0 ? counted / allPhaseSeconds : 1;
  let dollars = 0;
  for (const [kind, s] of Object.entries(r.deviceSByKind)) {
    if (s === 0) continue;
    dollars += s * pricePerSecond(kind, prices);
  }
  return dollars * share;
}

/** Dollars of curated data: examples x price per example (independent of phase switches). */
export function dataMoney(r: RunRecord, opts: CostOptions = {}): number {
  const prices = opts.prices ?? DEFAULT_PRICES;
  return r.curatedExamples * prices.perCuratedExample;
}

export function money(r: RunRecord, opts: CostOptions = {}): number {
  return computeMoney(r, opts) + dataMoney(r, opts);
}

export type CostAxis = 'flops' | 'device_s' | 'money';
export const COST_AXES: readonly CostAxis[] = ['flops', 'device_s', 'money'];

export function costOn(axis: CostAxis, r: RunRecord, opts: CostOptions = {}): number {
  switch (axis) {
    case 'flops': return flopsTotal(r, opts);
    case 'device_s': return deviceSeconds(r, opts);
    case 'money': return money(r, opts);
  }
}
