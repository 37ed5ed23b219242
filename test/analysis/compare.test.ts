// Comparisons on fixtures with hand-computed answers: frontiers per method, iso-compute,
// the exchange rate and its seed-bootstrap interval, accuracy against N with the curation switch.
import { describe, expect, it } from 'vitest';
import {
  AnalysisError, accuracyVsN, exchangeRate, frontiers, isoCompute, isoComputeTable,
  type RunRecord,
} from '../../coordinator/analysis/index.js';
import { makeRecord, standardSweep, STANDARD } from '../fixtures/analysis/generate.js';

/** Clean arms: SFT (1e11, .3) (1e12, .4) (1e13, .5) with N = 10/100/1000; RL (1e12, .2) (1e14, .6).
 *  Each arm has the given seeds' accuracies; FLOPs are all training and the same for every seed. */
function clean(sftAccs: Record<number, number[]> = { 10: [0.3], 100: [0.4], 1000: [0.5] },
  rlAccs: number[][] = [[0.2], [0.6]]): RunRecord[] {
  const out: RunRecord[] = [];
  for (const [n, accs] of Object.entries(sftAccs)) {
    accs.forEach((acc, seed) => out.push(makeRecord({
      arm: `sft-${n}`, method: 'sft', seed, params: { n: Number(n) }, curatedExamples: Number(n),
      metrics: { 'pass1.test_id': acc }, flopsByPhase: { training: 1e10 * Number(n) },
    })));
  }
  const rlFlops = [1e12, 1e14];
  rlAccs.forEach((accs, i) => accs.forEach((acc, seed) => out.push(makeRecord({
    arm: `rl-${i}`, method: 'rl', seed, metrics: { 'pass1.test_id': acc }, flopsByPhase: { rollout: rlFlops[i]! },
  }))));
  return out;
}

describe('frontiers', () => {
  it('gives one frontier per method from arm means over seeds; a dominated arm is left off', () => {
    const recs = [...clean(), makeRecord({
      arm: 'rl-wasteful', method: 'rl', metrics: { 'pass1.test_id': 0.3 }, flopsByPhase: { rollout: 1e15 },
    })];
    const fs = frontiers(recs);
    expect(fs.map((f) => f.method)).toEqual(['rl', 'sft']);
    const rl = fs.find((f) => f.method === 'rl')!;
    expect(rl.points.map((p) => p.arm)).toEqual(['rl-0', 'rl-1', 'rl-wasteful']);
    // rl-wasteful costs 1e15 for 0.3, beaten by rl-1 at 1e14 for 0.6
    expect(rl.frontier.map((p) => p.arm)).toEqual(['rl-0', 'rl-1']);
  });

  it('on the standard sweep, arm means follow the generator formulas and failed runs are excluded', () => {
    const fs = frontiers(standardSweep());
    const rl = fs.find((f) => f.method === 'rl')!;
    // rl-r10: acc 0.25 + 0.1*1 = 0.35; FLOPs rollout 9e12 + training 1e12 (pretrain, eval excluded)
    const r10 = rl.points.find((p) => p.arm === 'rl-r10')!;
    expect(r10.nSeeds).toBe(3); // the 4th, failed seed is not counted
    expect(r10.acc).toBeCloseTo(STANDARD.rlAcc(10), 12);
    expect(r10.cost).toBe(1e13);
    expect(rl.frontier).toHaveLength(4);
  });

  it('money axis adds the curated-data price to device cost', () => {
    const fs = frontiers(standardSweep(), { axis: 'money' });
    const sft100 = fs.find((f) => f.method === 'sft')!.points.find((p) => p.arm === 'sft-n100')!;
    // device-seconds are FLOPs / 1e10: curation 1e11 -> 10 s cpu, eval 1e10 -> 1 s cpu,
    // training 1e12 -> 100 s cuda, pretrain 1e15 -> 1e5 s cuda (pretrain and eval excluded by
    // default). Seconds are apportioned by the counted share of all seconds: total = 11 + 100100
    // = 100111 s; counted = 110 s. Kind dollars: cpu 11 * 0.0000139, cuda 100100 * 0.000694.
    // Times 110/100111, plus 100 examples * $1.
    const dollars = (11 * 0.0000139 + 100100 * 0.000694) * (110 / 100111) + 100;
    expect(sft100.cost).toBeCloseTo(dollars, 9);
  });
});

describe('isoCompute', () => {
  it('interpolates each method at common budgets and leaves out-of-range budgets undefined', () => {
    const rows = isoCompute(clean(), { budgets: [1e11, 10 ** 11.5, 1e12, 1e13, 1e14] });
    const at = (b: number, m: string) => rows.find((r) => r.budget === b && r.method === m)!;
    // SFT frontier 1e11..1e13, +0.1 per decade: 1e11 -> .3, 10^11.5 -> .35, 1e12 -> .4, 1e13 -> .5
    expect(at(1e11, 'sft').acc).toBeCloseTo(0.3, 12);
    expect(at(10 ** 11.5, 'sft').acc).toBeCloseTo(0.35, 12);
    expect(at(1e13, 'sft').acc).toBeCloseTo(0.5, 12);
    // RL frontier 1e12..1e14, +0.2 per decade: 1e12 -> .2, 1e13 -> .4, 1e14 -> .6
    expect(at(1e12, 'rl').acc).toBeCloseTo(0.2, 12);
    expect(at(1e13, 'rl').acc).toBeCloseTo(0.4, 12);
    // outside a method's range: null with a note that says so
    expect(at(1e11, 'rl').acc).toBeNull();
    expect(at(1e11, 'rl').note).toMatch(/below rl's frontier range .*not extrapolated/);
    expect(at(1e14, 'sft').acc).toBeNull();
    expect(at(1e14, 'sft').note).toMatch(/above sft's frontier range/);
  });

  it('defaults to the frontier costs and pivots to a table with one column per method', () => {
    const t = isoComputeTable(isoCompute(clean()));
    expect(t.rows.map((r) => r.budget)).toEqual([1e11, 1e12, 1e13, 1e14]);
    expect(t.columns.map((c) => c.label)).toEqual(['budget_flops', 'acc_rl', 'acc_sft']);
    expect(t.rows[2]).toEqual({ budget: 1e13, rl: expect.closeTo(0.4, 12), sft: 0.5 });
  });
});

describe('exchangeRate', () => {
  it('matches each SFT arm on the RL frontier in log-FLOPs and divides by N', () => {
    const rows = exchangeRate(clean());
    // RL frontier: acc = 0.2 + 0.2 (log10 F - 12). SFT N=100 at .4 -> log10 F = 13 -> 1e13,
    // i.e. 1e11 FLOPs per curated example. N=10 at .3 -> 10^12.5; N=1000 at .5 -> 10^13.5.
    expect(rows.map((r) => r.n)).toEqual([10, 100, 1000]);
    const [r10, r100, r1000] = rows;
    expect(Math.log10(r100!.rlFlops!)).toBeCloseTo(13, 10);
    expect(r100!.flopsPerExample!).toBeCloseTo(1e11, -1);
    expect(Math.log10(r10!.rlFlops!)).toBeCloseTo(12.5, 10);
    expect(r10!.flopsPerExample! / (10 ** 12.5 / 10)).toBeCloseTo(1, 10);
    expect(Math.log10(r1000!.rlFlops!)).toBeCloseTo(13.5, 10);
    expect(r100!.sftFlops).toBe(1e12);
    // one seed per arm: every bootstrap draw is the point estimate
    expect(Math.log10(r100!.rlFlopsLo!)).toBeCloseTo(13, 10);
    expect(Math.log10(r100!.rlFlopsHi!)).toBeCloseTo(13, 10);
  });

  it('bootstraps seeds: two SFT seeds at .3 and .5 give an interval from 10^12.5 to 10^13.5', () => {
    // SFT N=100 seeds {.3, .5}: resampled means are .3, .4 or .5 (1/4, 1/2, 1/4), so the 2.5% and
    // 97.5% percentiles of 2000 draws are .3 and .5. RL seeds agree, so the RL frontier never
    // moves: .3 -> 10^12.5 and .5 -> 10^13.5 FLOPs. Point estimate: mean .4 -> 1e13.
    const rows = exchangeRate(clean({ 100: [0.3, 0.5] }, [[0.2, 0.2], [0.6, 0.6]]));
    const r = rows[0]!;
    expect(Math.log10(r.rlFlops!)).toBeCloseTo(13, 10);
    expect(Math.log10(r.rlFlopsLo!)).toBeCloseTo(12.5, 10);
    expect(Math.log10(r.rlFlopsHi!)).toBeCloseTo(13.5, 10);
    expect(r.flopsPerExampleLo! / (10 ** 12.5 / 100)).toBeCloseTo(1, 10);
    expect(r.outOfRangeShare).toBe(0);
    // fixed seed: the same answer twice
    expect(exchangeRate(clean({ 100: [0.3, 0.5] }, [[0.2, 0.2], [0.6, 0.6]]))).toEqual(rows);
  });

  it('bootstraps the RL arms too, redrawing the RL frontier in every draw', () => {
    // SFT at .4 (one seed, fixed). The cheap RL arm (1e12) has seeds {.1, .3}: resampled means .1,
    // .2, .3 (1/4, 1/2, 1/4); the dear one (1e14) is always .6. Matched log10 F = 12 + 2 (.4 - a)/(.6 - a):
    // a = .3 -> 12.667 (the low end), a = .2 -> 13 (the point estimate), a = .1 -> 13.2 (the high end).
    const r = exchangeRate(clean({ 100: [0.4] }, [[0.1, 0.3], [0.6, 0.6]]))[0]!;
    expect(Math.log10(r.rlFlops!)).toBeCloseTo(13, 10);
    expect(Math.log10(r.rlFlopsLo!)).toBeCloseTo(12 + 2 / 3, 10);
    expect(Math.log10(r.rlFlopsHi!)).toBeCloseTo(13.2, 10);
  });

  it('leaves the match undefined, with a note, when RL never reaches the SFT accuracy', () => {
    // SFT at .65 is above RL's best (.6); draws .55/.75 -> a quarter of draws (.75, .75) and half
    // (mean .65) are above: the upper bound is unbounded (null).
    const r = exchangeRate(clean({ 100: [0.55, 0.75] }))[0]!;
    expect(r.rlFlops).toBeNull();
    expect(r.flopsPerExample).toBeNull();
    expect(r.rlFlopsHi).toBeNull();
    expect(r.note).toMatch(/above rl's frontier range/);
    expect(r.outOfRangeShare).toBeGreaterThan(0.6);
    expect(r.outOfRangeShare).toBeLessThan(0.85);
  });

  it('names the missing method when there is nothing to compare', () => {
    const onlySft = clean().filter((r) => r.method === 'sft');
    expect(() => exchangeRate(onlySft)).toThrow(AnalysisError);
    expect(() => exchangeRate(onlySft)).toThrow(/method 'sft' and 'rl' \(found: sft\)/);
  });
});

describe('accuracyVsN', () => {
  it('lists arms that used curated data, with FLOPs following the curation switch', () => {
    const recs = standardSweep();
    const withCur = accuracyVsN(recs);
    expect(withCur.map((r) => r.n)).toEqual([10, 100, 1000]); // base and RL arms have no curated data
    // sft-n100: curation 1e11 + training 1e12 = 1.1e12 (eval beside); without curation 1e12
    expect(withCur[1]!.flops).toBeCloseTo(1.1e12, -3);
    expect(withCur[1]!.curationFlops).toBe(1e11);
    expect(withCur[1]!.acc).toBeCloseTo(0.4, 12);
    // seeds .38/.40/.42 -> the bootstrap interval of the mean lies inside [.38, .42] and covers .40
    expect(withCur[1]!.accLo).toBeGreaterThanOrEqual(0.38 - 1e-12);
    expect(withCur[1]!.accLo).toBeLessThan(0.4);
    expect(withCur[1]!.accHi).toBeGreaterThan(0.4);
    const noCur = accuracyVsN(recs, { includeCuration: false });
    expect(noCur[1]!.flops).toBeCloseTo(1e12, -3);
    // with pretraining counted every arm pays the constant 1e15 too
    expect(accuracyVsN(recs, { includePretrain: true })[1]!.flops).toBeCloseTo(1e15 + 1.1e12, -3);
  });
});
