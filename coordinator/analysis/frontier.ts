// Pareto frontier of accuracy against a cost, and interpolation along it in log10(cost).
// Frontier: the non-dominated points, cost ascending with accuracy strictly increasing (a
// point is kept only if it beats every cheaper-or-equal point). Interpolation is linear in
// log10(cost) between neighbouring frontier points and undefined outside the frontier's range.

export interface CostAcc { cost: number; acc: number }

/** Non-dominated points, cost ascending, accuracy strictly increasing. Points with a
 *  non-finite cost or accuracy are ignored. Ties in cost keep the most accurate point; exact
 *  duplicates keep the first in input order. */
export function paretoFrontier<T extends CostAcc>(points: readonly T[]): T[] {
  const ok = points
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => Number.isFinite(p.cost) && Number.isFinite(p.acc));
  ok.sort((a, b) => a.p.cost - b.p.cost || b.p.acc - a.p.acc || a.i - b.i);
  const out: T[] = [];
  let best = -Infinity;
  for (const { p } of ok) {
    if (p.acc > best) { out.push(p); best = p.acc; }
  }
  return out;
}

export type Interp =
  | { ok: true; value: number }
  | { ok: false; reason: 'empty' | 'below' | 'above'; min?: number; max?: number };

/** The frontier's points usable on a log axis (cost > 0). */
const logPoints = <T extends CostAcc>(f: readonly T[]) => f.filter((p) => p.cost > 0);

/** Accuracy at `cost` on the frontier, linear in log10(cost). 'below' / 'above': the cost is
 *  cheaper than the cheapest or dearer than the dearest frontier point (min/max give the range). */
export function accuracyAtCost(frontier: readonly CostAcc[], cost: number): Interp {
  const f = logPoints(frontier);
  if (f.length === 0 || !(cost > 0)) return { ok: false, reason: 'empty' };
  const min = f[0]!.cost, max = f[f.length - 1]!.cost;
  if (cost < min) return { ok: false, reason: 'below', min, max };
  if (cost > max) return { ok: false, reason: 'above', min, max };
  for (let i = 0; i < f.length; i++) {
    const a = f[i]!;
    if (cost === a.cost) return { ok: true, value: a.acc };
    const b = f[i + 1];
    if (b && cost < b.cost) {
      const t = (Math.log10(cost) - Math.log10(a.cost)) / (Math.log10(b.cost) - Math.log10(a.cost));
      return { ok: true, value: a.acc + t * (b.acc - a.acc) };
    }
  }
  return { ok: false, reason: 'above', min, max }; // unreachable: cost <= max was checked
}

/** Cost at which the frontier reaches accuracy `acc` (inverse of accuracyAtCost; unique since
 *  frontier accuracy strictly increases). 'below': even the cheapest point is more accurate;
 *  'above': no point reaches it. min/max give the frontier's accuracy range. */
export function costForAccuracy(frontier: readonly CostAcc[], acc: number): Interp {
  const f = logPoints(frontier);
  if (f.length === 0 || !Number.isFinite(acc)) return { ok: false, reason: 'empty' };
  const min = f[0]!.acc, max = f[f.length - 1]!.acc;
  if (acc < min) return { ok: false, reason: 'below', min, max };
  if (acc > max) return { ok: false, reason: 'above', min, max };
  for (let i = 0; i < f.length; i++) {
    const a = f[i]!;
    if (acc === a.acc) return { ok: true, value: a.cost };
    const b = f[i + 1];
    if (b && acc < b.acc) {
      const t = (acc - a.acc) / (b.acc - a.acc);
      return { ok: true, value: 10 ** (Math.log10(a.cost) + t * (Math.log10(b.cost) - Math.log10(a.cost))) };
    }
  }
  return { ok: false, reason: 'above', min, max };
}
