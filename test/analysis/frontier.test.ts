// Pareto frontier and log-cost interpolation on hand-made points.
import { describe, expect, it } from 'vitest';
import { accuracyAtCost, costForAccuracy, paretoFrontier } from '../../coordinator/analysis/index.js';

describe('paretoFrontier', () => {
  it('keeps non-dominated points, cost ascending, accuracy strictly increasing', () => {
    const pts = [
      { id: 'a', cost: 1, acc: 0.2 },
      { id: 'b', cost: 2, acc: 0.1 },  // dominated by a (dearer, worse)
      { id: 'c', cost: 3, acc: 0.4 },  // same cost as d but worse
      { id: 'd', cost: 3, acc: 0.5 },
      { id: 'e', cost: 4, acc: 0.5 },  // ties d's accuracy at a higher cost: not strictly better
      { id: 'f', cost: 5, acc: 0.6 },
      { id: 'g', cost: NaN, acc: 0.9 }, // unusable cost: ignored
    ];
    expect(paretoFrontier(pts).map((p) => p.id)).toEqual(['a', 'd', 'f']);
  });

  it('is order-independent and empty for no points', () => {
    const pts = [{ cost: 10, acc: 0.3 }, { cost: 1, acc: 0.1 }, { cost: 5, acc: 0.35 }];
    expect(paretoFrontier(pts)).toEqual([{ cost: 1, acc: 0.1 }, { cost: 5, acc: 0.35 }]);
    expect(paretoFrontier([])).toEqual([]);
  });
});

describe('interpolation in log10(cost)', () => {
  // Frontier (1e12, 0.2) -> (1e14, 0.6): accuracy rises 0.2 per decade of cost.
  const f = [{ cost: 1e12, acc: 0.2 }, { cost: 1e14, acc: 0.6 }];

  it('accuracyAtCost: 1e13 is halfway in log space, so 0.4; 10^12.5 is a quarter, so 0.3', () => {
    expect(accuracyAtCost(f, 1e13)).toEqual({ ok: true, value: expect.closeTo(0.4, 12) });
    expect(accuracyAtCost(f, 10 ** 12.5)).toEqual({ ok: true, value: expect.closeTo(0.3, 12) });
    expect(accuracyAtCost(f, 1e12)).toEqual({ ok: true, value: 0.2 });
    expect(accuracyAtCost(f, 1e14)).toEqual({ ok: true, value: 0.6 });
  });

  it('accuracyAtCost is undefined outside the range and says which side', () => {
    expect(accuracyAtCost(f, 1e11)).toMatchObject({ ok: false, reason: 'below', min: 1e12, max: 1e14 });
    expect(accuracyAtCost(f, 1e15)).toMatchObject({ ok: false, reason: 'above' });
    expect(accuracyAtCost([], 1e13)).toMatchObject({ ok: false, reason: 'empty' });
  });

  it('costForAccuracy inverts it: 0.4 -> 1e13, 0.3 -> 10^12.5', () => {
    const r = costForAccuracy(f, 0.4);
    expect(r.ok && Math.log10(r.value)).toBeCloseTo(13, 10);
    const q = costForAccuracy(f, 0.3);
    expect(q.ok && Math.log10(q.value)).toBeCloseTo(12.5, 10);
    expect(costForAccuracy(f, 0.1)).toMatchObject({ ok: false, reason: 'below' });
    expect(costForAccuracy(f, 0.7)).toMatchObject({ ok: false, reason: 'above' });
  });

  it('uses the bracketing segment on a three-point frontier', () => {
    // (1e10,0.1) (1e12,0.3) (1e13,0.6): at 10^12.5, segment 2 is one decade wide, t = 0.5 -> 0.45
    const g = [{ cost: 1e10, acc: 0.1 }, { cost: 1e12, acc: 0.3 }, { cost: 1e13, acc: 0.6 }];
    const r = accuracyAtCost(g, 10 ** 12.5);
    expect(r.ok && r.value).toBeCloseTo(0.45, 12);
    // accuracy 0.2 lies on segment 1 halfway: log cost 11
    const c = costForAccuracy(g, 0.2);
    expect(c.ok && Math.log10(c.value)).toBeCloseTo(11, 10);
  });
});
