// The study's analysis (issue 9) on a real SQLite file written through the store: PROBE
// metrics, outcomes and rollout shares loaded into RunRecords; each control's verdict; the
// exchange rate per SFT arm and base (and none where the positive control failed); gain
// against latent ability; no intervals below 3 seeds; the method cost in the cost rows; the
// report's study section drawn from the same analysis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRunRecords } from '../../coordinator/results.js';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import { accuracyVsN, queryRuns, studyAnalysis, type RunRecord, type StudyResult } from '../../coordinator/analysis/index.js';
import { studySectionHtml, seriesOf } from '../../coordinator/report/study-section.js';
import { buildReport } from '../../coordinator/report/index.js';
import { countMarks } from '../report/svg-marks.js';
import { LATENT, NO_CHAIN_SHARE, PRETRAIN_FLOPS, PROBE_FLOPS, STUDY_SWEEP, WRONG_CHAIN_SHARE, fillStudyStore } from '../fixtures/analysis/study-db.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-study-'));
let records: RunRecord[] = [];
let study: StudyResult;
const opts = { bootstrap: { iterations: 400 } };

beforeAll(() => {
  const db = join(dir, 'study.db');
  fillStudyStore(db);
  const store = new SqliteStore(db);
  try { records = loadRunRecords(store, STUDY_SWEEP); } finally { store.close(); }
  study = studyAnalysis(records, opts);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const control = (s: StudyResult, arm: string) => s.controls.find((c) => c.arm === arm)!;

describe('loadRunRecords for the study', () => {
  it('merges each base\'s PROBE metrics, the eval outcomes, the arm group and mean rollout shares', () => {
    expect(records).toHaveLength(2 * 3 * 6);
    const rl = records.find((r) => r.arm === 'rl[rounds=4,base=hi]' && r.seed === 2)!;
    expect(rl.group).toBe('rl');
    expect(rl.metrics['latent.forced_chain.test_id']).toBeCloseTo(LATENT.hi + 0.05, 12);
    expect(rl.metrics.accepted_no_chain_share).toBeCloseTo((NO_CHAIN_SHARE[0]! + NO_CHAIN_SHARE[1]!) / 2, 12);
    expect(rl.metrics.accepted_wrong_chain_share).toBeCloseTo((WRONG_CHAIN_SHARE[0]! + WRONG_CHAIN_SHARE[1]!) / 2, 12);
    const o = rl.outcomes!.test_id!;
    expect(o).toMatch(/^[01]{20}$/);
    expect([...o].filter((c) => c === '1').length / 20).toBe(rl.metrics['pass1.test_id']);
    // the PROBE is charged to pretraining, beside the shared PRETRAIN
    expect(rl.flopsByPhase.pretrain).toBe(PRETRAIN_FLOPS + PROBE_FLOPS);
    const base = records.find((r) => r.arm === 'base[base=lo]' && r.seed === 0)!;
    expect(base.metrics['latent.bare.test_id']).toBeCloseTo(0.25, 12);
    expect(base.metrics.accepted_no_chain_share).toBeUndefined();
  });
});

describe('controls', () => {
  it('the positive control passes where SFT on many chains beats the base (CI above 0)', () => {
    const c = control(study, 'pos[base=hi]');
    expect(c).toMatchObject({ name: 'positive', baseline_arm: 'base[base=hi]', passed: true, n_seeds: 3 });
    expect(c.delta).toBeCloseTo(0.5, 12);
    expect(c.ci_lo!).toBeGreaterThan(0);
    expect(c.ci_lo!).toBeLessThan(0.5);
    expect(c.ci_hi!).toBeGreaterThan(0.5);
  });

  it('the positive control fails, plainly, where training did not help', () => {
    const c = control(study, 'pos[base=lo]');
    expect(c).toMatchObject({ passed: false, delta: 0 });
    expect(c.ci_lo!).toBeLessThan(0);
    expect(c.ci_hi!).toBeGreaterThan(0);
    expect(c.verdict).toMatch(/^positive control FAILED on base lo: training did not help; no exchange rate reported/);
  });

  it('the negative control passes when bare answers do significantly worse than the chains (CI below 0)', () => {
    const c = control(study, 'neg[base=hi]');
    expect(c).toMatchObject({ name: 'negative', baseline_arm: 'sft-limo[base=hi]', passed: true });
    expect(c.delta).toBeCloseTo(0.25 - 0.7, 12);
    expect(c.ci_hi!).toBeLessThan(0);
  });

  it('the negative control fails when bare answers do as well as the chains', () => {
    const c = control(study, 'neg[base=lo]');
    expect(c.passed).toBe(false);
    expect(c.ci_hi!).toBeGreaterThanOrEqual(0);
    expect(c.verdict).toMatch(/^negative control FAILED on base lo: bare answers did not do significantly worse than chains/);
  });

  it('a failed negative control says whether the chain arm wrote chains at all, and the base\'s latent ability when it did', () => {
    expect(control(study, 'neg[base=lo]')).toMatchObject({ chain_share: null, baseline_chain_share: null });   // no chain_share metrics: no diagnosis
    expect(control(study, 'neg[base=lo]').verdict).not.toMatch(/wrote a chain/);
    // chain shares on both bases' chain and bare arms (the hi base's negative control passes)
    const withShares = (chained: number) => studyAnalysis(records.map((r) => r.arm.startsWith('sft-limo[') ? { ...r, metrics: { ...r.metrics, 'chain_share.test_id': chained } }
      : r.arm.startsWith('neg[') ? { ...r, metrics: { ...r.metrics, 'chain_share.test_id': 0 } } : r), opts);
    const learned = control(withShares(0.9), 'neg[base=lo]');
    expect(learned).toMatchObject({ passed: false, chain_share: 0, baseline_chain_share: 0.9 });
    // the base's forced-chain accuracy, one value per seed (every arm on the base carries its PROBE's)
    const perSeed = new Map(records.filter((r) => r.arm.endsWith('[base=lo]')).map((r) => [r.seed, r.metrics['latent.forced_chain.test_id']!]));
    const latent = [...perSeed.values()].reduce((a, b) => a + b, 0) / perSeed.size;
    expect(learned.verdict).toContain(`; the chain arm wrote a chain in 90% of its test_id answers, the bare arm in 0%: the chains were learned, yet did not make answers significantly more accurate than bare ones (the base's latent ability, its forced-chain accuracy, is ${latent.toFixed(3)})`);
    const notLearned = control(withShares(0.2), 'neg[base=lo]');
    expect(notLearned.verdict).toContain('; the chain arm wrote a chain in 20% of its test_id answers, the bare arm in 0%: the chains were mostly not learned, so this control cannot tell whether they help');
    // a control that passed keeps its verdict as it was
    const passed = control(withShares(0.9), 'neg[base=hi]');
    expect(passed).toMatchObject({ passed: true, chain_share: 0, baseline_chain_share: 0.9 });
    expect(passed.verdict).not.toMatch(/wrote a chain/);
  });

  it('a control arm with no succeeded run is named in the warnings, not dropped silently', () => {
    const s = studyAnalysis(records.map((r) => (r.arm === 'pos[base=lo]' ? { ...r, status: 'failed' } : r)), opts);
    expect(s.controls.some((c) => c.arm === 'pos[base=lo]')).toBe(false);
    expect(s.warnings).toContain('positive control pos[base=lo] on base lo has no succeeded run (failed): not evaluated');
    expect(s.exchange.find((e) => e.base === 'lo')!.note).toContain('no positive control on base lo');
  });

  it('a control without its baseline arm is undetermined and says which arm is missing', () => {
    const s = studyAnalysis(records.filter((r) => !r.arm.startsWith('base[')), opts);
    expect(control(s, 'pos[base=hi]')).toMatchObject({ passed: null, baseline_arm: null, delta: null });
    expect(s.warnings.join('\n')).toContain("positive control on base hi undetermined: no 'base' arm on that base");
  });
});

describe('exchange rate', () => {
  it('matches the SFT arm on its own base\'s RL frontier in log10 FLOPs of method cost', () => {
    const hi = study.exchange.find((e) => e.base === 'hi')!;
    // RL on hi: rounds 1 costs 1e10 rollout + 1e9 training = 1.1e10 for .4; rounds 4 costs 4.4e10
    // for .8 (evaluation and pretraining are not method cost). SFT .7 lies 3/4 of the way:
    // 10^(log10 1.1e10 + 0.75 log10 4) = 1.1e10 x 4^0.75
    expect(hi).toMatchObject({ sft_arm: 'sft-limo[base=hi]', n_curated: 50 });
    expect(hi.sft_acc).toBeCloseTo(0.7, 12);
    expect(hi.rl_flops_match!).toBeCloseTo(1.1e10 * 4 ** 0.75, -2);
    expect(hi.flops_per_example!).toBeCloseTo((1.1e10 * 4 ** 0.75) / 50, -1);
    expect(hi.ci_lo!).toBeGreaterThanOrEqual(1.1e10 * 0.999);
    expect(hi.ci_lo!).toBeLessThan(hi.rl_flops_match!);
    // some draws put the SFT arm above RL's best: that side of the interval is unbounded, and said
    expect(hi.ci_hi).toBeNull();
    expect(hi.note).toMatch(/% of bootstrap draws outside the RL frontier's range \(that side unbounded\)/);
  });

  it('reports no exchange rate, with the reason, on a base whose positive control failed', () => {
    const lo = study.exchange.find((e) => e.base === 'lo')!;
    expect(lo).toMatchObject({ rl_flops_match: null, ci_lo: null, ci_hi: null, flops_per_example: null });
    expect(lo.note).toBe('positive control FAILED on base lo (pos[base=lo]): training did not help; no exchange rate reported');
  });

  it('says why when the SFT accuracy lies outside the RL frontier\'s range', () => {
    const s = studyAnalysis(records.filter((r) => !(r.arm === 'rl[rounds=4,base=hi]')), opts);
    const hi = s.exchange.find((e) => e.base === 'hi')!;
    expect(hi.rl_flops_match).toBeNull();
    expect(hi.note).toBe("SFT accuracy 0.700 is above the RL frontier's range (0.400..0.400) on base hi: no RL arm reaches it; not extrapolated");
  });
});

describe('latent ability and gain', () => {
  it('gives each method its gain over its own base against the base\'s probe accuracy', () => {
    const pos = study.latent.filter((l) => l.method === 'pos');
    expect(pos.map((l) => l.base)).toEqual(['lo', 'hi']); // ordered by latent ability
    expect(pos[0]!.latent_ability).toBeCloseTo(LATENT.lo, 12);
    expect(pos[1]!.latent_ability).toBeCloseTo(LATENT.hi, 12);
    expect(pos[1]!.gain).toBeCloseTo(0.5, 12);
    expect(pos[1]!.ci_lo!).toBeGreaterThan(0);
    expect(pos[0]!.gain).toBeCloseTo(0, 12);
    const sft = study.latent.find((l) => l.method === 'sft-limo' && l.base === 'hi')!;
    expect(sft.gain).toBeCloseTo(0.4, 12);
    expect(sft.bare_ability).toBeCloseTo(0.35, 12);
    expect(study.latent.some((l) => l.method === 'base')).toBe(false);
  });
});

describe('reproducibility', () => {
  it('gives a rerun of the same spec (same data, another sweep id) the same intervals everywhere', () => {
    const rerun = records.map((r) => ({ ...r, sweep: 'quick-rerun-0mx7q41ww' }));
    const [a, b] = [studyAnalysis(records, opts), studyAnalysis(rerun, opts)];
    const strip = (s: StudyResult) => JSON.parse(JSON.stringify(s, (k, v) => (k === 'sweep' ? undefined : v)));
    expect(a.controls.some((c) => c.ci_lo !== null)).toBe(true);
    expect(a.exchange.some((e) => e.ci_lo !== null)).toBe(true);
    expect(strip(b)).toEqual(strip(a));
    // The results table (grouped by sweep too) and accuracy against N.
    const q = (rs: RunRecord[]) => queryRuns(rs, { ...opts, groupBy: ['sweep', 'arm'] }).rows.map(({ sweep: _s, ...row }) => row);
    expect(q(rerun)).toEqual(q(records));
    expect(q(records).some((row) => typeof row.acc_id_ci === 'number')).toBe(true);
    expect(accuracyVsN(rerun, opts)).toEqual(accuracyVsN(records, opts));
  });
});

describe('fewer than 3 seeds', () => {
  it('prints no interval anywhere, leaves verdicts undetermined and says why', () => {
    const s = studyAnalysis(records.filter((r) => r.seed < 2), opts);
    for (const row of [...s.controls, ...s.exchange, ...s.latent]) {
      expect(row.ci_lo).toBeNull();
      expect(row.ci_hi).toBeNull();
    }
    expect(s.controls.every((c) => c.passed === null)).toBe(true);
    expect(control(s, 'pos[base=hi]').verdict).toMatch(/undetermined \(delta \+0\.\d+, n<3 seeds: no interval\)/);
    const few = s.warnings.filter((w) => w.startsWith('n<3 seeds (2): no interval for '));
    expect(few).toHaveLength(1); // one line listing every comparison, not one per row
    expect(few[0]).toContain('pos[base=hi] vs base[base=hi]');
    expect(few[0]).toContain('exchange rate of sft-limo[base=hi]');
    // the point estimates stay
    expect(s.exchange.find((e) => e.base === 'hi')!.rl_flops_match).not.toBeNull();
  });

  it('falls back to a seed-level bootstrap, and says so, when outcomes are missing', () => {
    const s = studyAnalysis(records.map(({ outcomes: _o, ...r }) => r), opts);
    expect(control(s, 'pos[base=hi]').passed).toBe(true);
    expect(s.warnings.find((w) => w.startsWith('per-problem outcomes missing or of different lengths: the interval resamples seeds only for ')))
      .toContain('pos[base=hi] vs base[base=hi], ');
  });
});

describe('method cost rows', () => {
  it('charge curation, tuning and training; evaluation stands beside them', () => {
    const sft = study.costs.find((c) => c.arm === 'sft-limo[base=hi]')!;
    expect(sft).toMatchObject({ flops: 1e9 + 2e9 + 3e9, flops_tuning: 2e9, flops_eval: 1e9, device_s: 6, device_s_eval: 1, n_seeds: 3 });
    expect(study.costs.find((c) => c.arm === 'base[base=hi]')!.flops).toBe(0);
  });

  it('surface rollout acceptance shares per RL arm, and iso-compute per base', () => {
    expect(study.rollout.map((r) => r.arm).sort()).toEqual(['rl[rounds=1,base=hi]', 'rl[rounds=1,base=lo]', 'rl[rounds=4,base=hi]', 'rl[rounds=4,base=lo]']);
    expect(study.rollout[0]!.accepted_no_chain_share).toBeCloseTo(0.2, 12);
    const at = (base: string, budget: number, method: string) => study.iso_compute.find((r) => r.base === base && r.budget === budget && r.method === method);
    expect(at('hi', 1.1e10, 'rl')!.acc).toBeCloseTo(0.4, 12);
    expect(at('hi', 6e9, 'sft')!.acc).toBeCloseTo(0.7, 12);
    expect(at('hi', 6e9, 'rl')!.acc).toBeNull();
  });
});

describe('report study section', () => {
  it('names one line per method configuration across bases', () => {
    expect(seriesOf('rl[rounds=4,base=hi]')).toBe('rl[rounds=4]');
    expect(seriesOf('sft[base=lo,n=50]')).toBe('sft[n=50]');
    expect(seriesOf('pos[base=hi]')).toBe('pos');
    expect(seriesOf('sft-limo')).toBe('sft-limo');
  });

  it('shows the verdicts, the tables and one point and interval per method and base in the latent-gain figure', async () => {
    const html = await studySectionHtml(records, opts);
    expect(html).toMatch(/^<section id="study">/);
    expect(html.match(/<li class="control passed"/g)).toHaveLength(2);
    expect(html.match(/<li class="control failed"/g)).toHaveLength(2);
    expect(html).toContain('positive control FAILED on base lo: training did not help; no exchange rate reported');
    for (const id of ['table-study-cost', 'table-study-iso', 'table-study-exchange', 'table-study-latent', 'table-study-rollout']) expect(html).toContain(`id="${id}"`);
    const svg = html.slice(html.indexOf('id="plot-latent-gain"'));
    expect(countMarks(svg, 'latent_points')).toBe(study.latent.length); // 10: 5 methods/configs x 2 bases
    expect(countMarks(svg, 'latent_ci')).toBe(study.latent.length);
    // the whole report carries the section
    const report = await buildReport(records, { title: 't', generatedAt: 'x', plots: [], ...opts });
    expect(report).toContain('<section id="study">');
  });
});

