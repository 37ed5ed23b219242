// Result queries over the standard fixture sweep: filtering, grouping, seed aggregation,
// sorting, the cost switches and the errors for unknown keys.
import { describe, expect, it } from 'vitest';
import { UnknownKeyError, queryRuns, formatTable } from '../../coordinator/analysis/index.js';
import { standardSweep, STANDARD } from '../fixtures/analysis/generate.js';

const recs = standardSweep();

describe('queryRuns', () => {
  it('filters by method and a param given as a string, aggregating over seeds', () => {
    const t = queryRuns(recs, { filter: { method: 'sft', n: '100' } });
    expect(t.rows).toHaveLength(1);
    const row = t.rows[0]!;
    expect(row).toMatchObject({ method: 'sft', arm: 'sft-n100', n_seeds: 3 });
    // seeds are .38, .40, .42: mean .40, sample std sqrt((.02^2 + 0 + .02^2) / 2) = .02
    expect(row.acc_id_mean).toBeCloseTo(0.4, 12);
    expect(row.acc_id_std).toBeCloseTo(0.02, 12);
    expect(row.acc_ood_mean).toBeCloseTo(0.3, 12);
    expect(row.acc_id_ci_lo as number).toBeLessThan(0.4);
    expect(row.acc_id_ci_hi as number).toBeGreaterThan(0.4);
    // method cost excludes pretrain and evaluation by default: 1e11 curation + 1e12 training
    expect(row.flops).toBeCloseTo(1.1e12, -3);
    expect(row.flops_curation).toBe(1e11);
    expect(row.device_s).toBeCloseTo(110, 9);
    expect(row.curated_examples).toBe(100);
    // default columns list only the counted phases
    expect(t.columns.map((c) => c.key)).not.toContain('flops_pretrain');
    expect(t.columns.map((c) => c.key)).toContain('flops_rollout');
  });

  it('the pretrain and curation switches change the flops total and the phase columns', () => {
    const withPre = queryRuns(recs, { filter: { arm: 'sft-n100' }, includePretrain: true, includeCuration: false });
    expect(withPre.rows[0]!.flops).toBeCloseTo(1e15 + 1e12, -3);
    const keys = withPre.columns.map((c) => c.key);
    expect(keys).toContain('flops_pretrain');
    expect(keys).not.toContain('flops_curation');
  });

  it('groups by method, counting succeeded runs only unless asked for all statuses', () => {
    const t = queryRuns(recs, { groupBy: ['method'] });
    expect(t.rows.map((r) => [r.method, r.n_seeds])).toEqual([['base', 3], ['rl', 12], ['sft', 9]]);
    const all = queryRuns(recs, { groupBy: ['method'], statuses: 'all' });
    expect(all.rows.find((r) => r.method === 'rl')!.n_seeds).toBe(13);
    const failed = queryRuns(recs, { groupBy: ['arm', 'status'], statuses: ['failed'] });
    expect(failed.rows).toEqual([expect.objectContaining({ arm: 'rl-r10', status: 'failed', acc_id_mean: null })]);
  });

  it('groups by a param; arms without it form a null group sorted last', () => {
    const t = queryRuns(recs, { groupBy: ['n'], columns: ['n_seeds', 'acc_id_mean'] });
    // natural numeric order 10 < 100 < 1000, then the 5 arms with no n (base + 4 RL) = 15 runs
    expect(t.rows.map((r) => [r.n, r.n_seeds])).toEqual([[10, 3], [100, 3], [1000, 3], [null, 15]]);
  });

  it('sorts by any column, "-" for descending', () => {
    const t = queryRuns(recs, { filter: { method: 'rl' }, sort: ['-acc_id_mean'] });
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
    expect(() => queryRuns(recs, { sort: ['-accuracy'] })).toThrow(/unknown sort key 'accuracy'; allowed: method, arm, n_seeds, acc_id_mean/);
    expect(() => queryRuns(recs, { columns: ['acc'] })).toThrow(/unknown column key 'acc'; allowed: .*m:<metric key>/);
  });

  it('prints through every formatter', () => {
    const t = queryRuns(recs, { filter: { method: 'rl' }, columns: ['n_seeds', 'acc_id_mean', 'flops'] });
    const text = formatTable(t, 'text');
    expect(text.split('\n')[0]).toMatch(/^method\s+arm\s+n_seeds\s+acc_id\s+flops$/);
    expect(text).toContain('rl-r1000');
    expect(text).toContain('1.00e+15'); // rl-r1000: 1e15 + 1e10 eval
    expect(formatTable(t, 'csv').split('\r\n')[0]).toBe('method,arm,n_seeds,acc_id,flops');
    expect(JSON.parse(formatTable(t, 'json')).rows).toHaveLength(4);
  });
});
