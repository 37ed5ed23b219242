// Result queries over the standard fixture sweep: filtering, grouping, seed aggregation,
// sorting, the cost switches and the errors for unknown keys.
import { describe, expect, it } from 'vitest';
import { UnknownKeyError, queryRuns, formatTable } from '../../coordinator/analysis/index.js';
import { MIN_SEEDS_FOR_CI, legend } from '../../coordinator/analysis/query.js';
import { makeRecord, standardSweep, STANDARD } from '../fixtures/analysis/generate.js';

const recs = standardSweep();

describe('queryRuns', () => {
  it('filters by method and a param given as a string, aggregating over seeds', () => {
    const t = queryRuns(recs, { filter: { method: 'sft', n: '100' }, groupBy: ['method', 'arm'], wide: true });
    expect(t.rows).toHaveLength(1);
    const row = t.rows[0]!;
    expect(row).toMatchObject({ method: 'sft', arm: 'sft-n100', n_seeds: 3 });
    // seeds are .38, .40, .42: mean .40, sample std sqrt((.02^2 + 0 + .02^2) / 2) = .02
    expect(row.acc_id).toBeCloseTo(0.4, 12);
    expect(row.acc_id_std).toBeCloseTo(0.02, 12);
    expect(row.acc_ood).toBeCloseTo(0.3, 12);
    // gain over the base arm of the same sweep (acc_id 0.1)
    expect(row.gain_id).toBeCloseTo(0.4 - STANDARD.baseAcc, 12);
    expect(row.acc_id_ci_lo as number).toBeLessThan(0.4);
    expect(row.acc_id_ci_hi as number).toBeGreaterThan(0.4);
    // method cost excludes pretrain and evaluation by default: 1e11 curation + 1e12 training
    expect(row.flops).toBeCloseTo(1.1e12, -3);
    expect(row.flops_curation).toBe(1e11);
    expect(row.device_s).toBeCloseTo(110, 9);
    expect(row.curated_examples).toBe(100);
    // wide columns list the counted phases and evaluation (reported beside the method cost)
    expect(t.columns.map((c) => c.key)).not.toContain('flops_pretrain');
    expect(t.columns.map((c) => c.key)).toContain('flops_evaluation');
    expect(t.columns.map((c) => c.key)).toContain('flops_rollout');
  });

  it('the pretrain and curation switches change the flops total and the phase columns', () => {
    const withPre = queryRuns(recs, { filter: { arm: 'sft-n100' }, includePretrain: true, includeCuration: false, wide: true });
    expect(withPre.rows[0]!.flops).toBeCloseTo(1e15 + 1e12, -3);
    const keys = withPre.columns.map((c) => c.key);
    expect(keys).toContain('flops_pretrain');
    expect(keys).not.toContain('flops_curation');
  });

  it('groups by method counting distinct seeds and arms, succeeded runs only unless asked for all statuses', () => {
    const t = queryRuns(recs, { groupBy: ['method'] });
    // 3 seeds each; rl pools 4 arms, sft 3
    expect(t.rows.map((r) => [r.method, r.n_arms, r.n_seeds])).toEqual([['base', 1, 3], ['rl', 4, 3], ['sft', 3, 3]]);
    expect(t.columns.map((c) => c.key).slice(0, 3)).toEqual(['method', 'n_arms', 'n_seeds']);
    expect(t.notes!.join('\n')).toContain('2 row(s) pool several arms (n_arms > 1)');
    const all = queryRuns(recs, { groupBy: ['method'], statuses: 'all' });
    expect(all.rows.find((r) => r.method === 'rl')!.n_seeds).toBe(4); // the failed run is seed 3
    const failed = queryRuns(recs, { groupBy: ['arm', 'status'], statuses: ['failed'] });
    expect(failed.rows).toEqual([expect.objectContaining({ arm: 'rl-r10', status: 'failed', acc_id: null })]);
  });

  it('groups by a param; arms without it form a null group sorted last', () => {
    const t = queryRuns(recs, { groupBy: ['n'], columns: ['n_arms', 'n_seeds', 'acc_id'] });
    // natural numeric order 10 < 100 < 1000, then the 5 arms with no n (base + 4 RL), 3 seeds
    expect(t.rows.map((r) => [r.n, r.n_arms, r.n_seeds])).toEqual([[10, 1, 3], [100, 1, 3], [1000, 1, 3], [null, 5, 3]]);
  });

  it('sorts by any column, "-" for descending', () => {
    const t = queryRuns(recs, { filter: { method: 'rl' }, sort: ['-acc_id'] });
    expect(t.rows.map((r) => r.arm)).toEqual(['rl-r1000', 'rl-r100', 'rl-r10', 'rl-r1']);
    const byFlops = queryRuns(recs, { sort: ['flops', 'arm'] });
    expect(byFlops.rows[0]!.arm).toBe('base'); // only evaluation FLOPs
  });

  it('adds any metric as a column with m:<key>', () => {
    const t = queryRuns(recs, { filter: { arm: 'rl-r100' }, columns: ['m:pass1.test_id.d1'] });
    // d1 = acc + 0.1 * (3 - 1) = 0.45 + 0.2
    expect(t.rows[0]!['m:pass1.test_id.d1']).toBeCloseTo(STANDARD.rlAcc(100) + 0.2, 12);
  });

  it('unknown filter, group-by, sort and column keys name the key and list the allowed ones', () => {
    expect(() => queryRuns(recs, { filter: { temperature: '1' } })).toThrow(UnknownKeyError);
    expect(() => queryRuns(recs, { filter: { temperature: '1' } })).toThrow(
      "unknown filter key 'temperature'; allowed: sweep, arm, method, seed, status, curation, epochs, k, n, rounds",
    );
    expect(() => queryRuns(recs, { groupBy: ['lr'] })).toThrow(/unknown group-by key 'lr'; allowed: sweep, arm/);
    expect(() => queryRuns(recs, { sort: ['-accuracy'] })).toThrow(/unknown sort key 'accuracy'; allowed: arm, n_arms, n_seeds, acc_id, acc_id_ci/);
    expect(() => queryRuns(recs, { sort: ['-acc_id_mean'] })).toThrow(/unknown sort key 'acc_id_mean' \(did you mean 'acc_id'\?\)/);
    expect(() => queryRuns(recs, { filter: { curaton: 'limo' } })).toThrow(/\(did you mean 'curation'\?\)/);
    expect(() => queryRuns(recs, { columns: ['acc'] })).toThrow(/unknown column key 'acc'; allowed: .*m:<metric key>/);
  });

  it('prints through every formatter', () => {
    const t = queryRuns(recs, { filter: { method: 'rl' }, groupBy: ['method', 'arm'], columns: ['n_seeds', 'acc_id', 'flops'] });
    const text = formatTable(t, 'text');
    expect(text.split('\n')[0]).toMatch(/^method\s+arm\s+n_seeds\s+acc_id\s+flops$/);
    expect(text).toContain('rl-r1000');
    expect(text).toContain('1.00e+15'); // rl-r1000: 9e14 rollout + 1e14 training
    expect(formatTable(t, 'csv').split('\r\n')[0]).toBe('method,arm,n_seeds,acc_id,flops');
    expect(JSON.parse(formatTable(t, 'json')).rows).toHaveLength(4);
  });

  it('the default table is short, one row per arm ordered by method, with a legend for each column', () => {
    const t = queryRuns(recs);
    expect(t.columns.map((c) => c.key)).toEqual(['arm', 'n_seeds', 'acc_id', 'acc_id_ci', 'acc_ood', 'acc_ood_ci', 'gain_id', 'flops', 'curated_examples']);
    expect(t.rows.map((r) => r.arm)).toEqual(['base', 'rl-r1', 'rl-r10', 'rl-r100', 'rl-r1000', 'sft-n10', 'sft-n100', 'sft-n1000']);
    const base = t.rows[0]!;
    expect(base.gain_id).toBe(0);
    // three seeds .08, .10, .12: the ± is half the bootstrap interval's width
    expect(base.acc_id_ci as number).toBeGreaterThan(0);
    expect(base.acc_id_ci as number).toBeLessThanOrEqual(0.02 + 1e-12);
    expect(t.notes).toEqual([]);
    const lines = legend(t, ['arm']);
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(t.columns.slice(1).map((c) => c.key));
  });

  it('n_seeds counts distinct seeds and pooled arms weigh equally: checked against a hand computation', () => {
    // two arms at n=10 (random: seeds 0,1,2; limo: seeds 0,1,2) and one at n=100 (seeds 0,1)
    const r = (arm: string, curation: string, n: number, seed: number, acc: number, flops: number) =>
      makeRecord({ arm, method: 'sft', seed, params: { n, curation }, metrics: { 'pass1.test_id': acc }, flopsByPhase: { training: flops }, curatedExamples: n });
    const rs = [
      r('rand10', 'random', 10, 0, 0.2, 1e9), r('rand10', 'random', 10, 1, 0.3, 1e9), r('rand10', 'random', 10, 2, 0.4, 1e9),
      r('limo10', 'limo', 10, 0, 0.5, 3e9), r('limo10', 'limo', 10, 1, 0.6, 3e9), r('limo10', 'limo', 10, 2, 0.7, 3e9),
      r('limo100', 'limo', 100, 0, 0.8, 5e9), r('limo100', 'limo', 100, 1, 0.9, 5e9),
    ];
    const t = queryRuns(rs, { groupBy: ['method', 'n'], wide: true });
    const n10 = t.rows.find((x) => x.n === 10)!;
    expect(n10.n_arms).toBe(2);
    expect(n10.n_seeds).toBe(3);                       // not 6 arm x seed rows
    // per seed: (0.2+0.5)/2 = .35, (0.3+0.6)/2 = .45, (0.4+0.7)/2 = .55 -> mean .45, std .1
    expect(n10.acc_id).toBeCloseTo(0.45, 12);
    expect(n10.acc_id_std).toBeCloseTo(0.1, 12);
    expect(n10.flops).toBeCloseTo(2e9, 0);             // mean of the arms' means (1e9, 3e9)
    const n100 = t.rows.find((x) => x.n === 100)!;
    expect([n100.n_arms, n100.n_seeds, n100.acc_id_ci_lo, n100.acc_id_ci_hi]).toEqual([1, 2, null, null]);
    expect(n100.acc_id).toBeCloseTo(0.85, 12);
    const notes = t.notes!.join('\n');
    expect(notes).toContain(`1 row(s) have fewer than ${MIN_SEEDS_FOR_CI} seeds (method=sft,n=100)`);
    expect(notes).toContain('1 row(s) pool several arms');
    // by method: three arms, seeds 0..2; seed 2 has only the two n=10 arms
    const m = queryRuns(rs, { groupBy: ['method'], wide: true }).rows[0]!;
    expect([m.n_arms, m.n_seeds]).toEqual([3, 3]);
    expect(m.acc_id).toBeCloseTo(((0.2 + 0.5 + 0.8) / 3 + (0.3 + 0.6 + 0.9) / 3 + (0.4 + 0.7) / 2) / 3, 12);
  });

  it('gain over base compares each arm with the base arm of its own sweep and base', () => {
    const r = (sweep: string, arm: string, method: string, base: string, acc: number) =>
      makeRecord({ sweep, arm, method, params: { base }, metrics: { 'pass1.test_id': acc } });
    const rs = [
      r('a', 'base-small', 'base', 'small', 0.1), r('a', 'base-big', 'base', 'big', 0.3),
      r('a', 'sft-small', 'sft', 'small', 0.25), r('a', 'sft-big', 'sft', 'big', 0.5), r('b', 'sft-small', 'sft', 'small', 0.9),
    ];
    const t = queryRuns(rs, { groupBy: ['sweep', 'arm'] });
    const gain = Object.fromEntries(t.rows.map((x) => [`${x.sweep}/${x.arm}`, x.gain_id]));
    expect(gain['a/sft-small']).toBeCloseTo(0.15, 12);
    expect(gain['a/sft-big']).toBeCloseTo(0.2, 12);
    expect(gain['b/sft-small']).toBeNull();             // sweep b has no base arm
  });
});
