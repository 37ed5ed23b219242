// Decides whether two final answers are the same: normalise both, split them into shapes
// (structure.ts), then walk the shapes: scalars numerically or at random points (scalar.ts),
// relations and intervals symbolically (relations.ts), lists as sets or tuples, named values by
// their value. Every comparison runs under a time budget and a size cap; one that cannot finish
// returns equal: false with a reason. See docs/verifier.md for the policy.
import { hasPercent, MAX_ANSWER_CHARS, compactForm, normalizeAnswer } from './normalize.js';
import { compareRelations, compareRelationToSet, compareIntervals, shapeIntervals } from './relations.js';
import { BudgetExceededError, checkBudget, compareScalars, constantValue, proportional, type Ctx, type Equivalence } from './scalar.js';
import { nameKey, parseShape, type AnswerShape } from './structure.js';

export type { Equivalence } from './scalar.js';

export interface EquivalenceOptions {
  /** Relative tolerance for numbers: |a-b| <= absTol + relTol*max(|a|,|b|). Default 1e-4. */
  relTol?: number;
  /** Absolute tolerance. Default 1e-9 (only matters near zero). */
  absTol?: number;
  /** Wall-clock budget for one comparison in ms; past it the answer is "unequal" (method timeout). Default 100. */
  timeoutMs?: number;
  /** Expressions with more parse nodes than this are not evaluated. Default 400. */
  maxNodes?: number;
  /** Random points for symbolic comparison. Default 6. */
  points?: number;
}

type Named = Extract<AnswerShape, { kind: 'named' }>;

function compareLists(xs: AnswerShape[], ys: AnswerShape[], ordered: boolean, ctx: Ctx): Equivalence {
  if (ordered) {
    if (xs.length !== ys.length) return { equal: false, method: 'structure', reason: `${xs.length} items vs ${ys.length}` };
    for (let k = 0; k < xs.length; k++) {
      const r = compareShapes(xs[k]!, ys[k]!, ctx);
      if (!r.equal) return { equal: false, method: 'structure', reason: `item ${k + 1}: ${r.reason ?? 'differs'}` };
    }
    return { equal: true, method: 'structure' };
  }
  // Sets: every item on each side has an equal item on the other (a repeated item counts once).
  const memo = new Map<number, boolean>();
  const eq = (i: number, j: number) => {
    const key = i * 65536 + j;
    let v = memo.get(key);
    if (v === undefined) memo.set(key, (v = compareShapes(xs[i]!, ys[j]!, ctx).equal));
    return v;
  };
  const xCovered = xs.every((_, i) => ys.some((_, j) => eq(i, j)));
  if (xCovered && ys.every((_, j) => xs.some((_, i) => eq(i, j)))) return { equal: true, method: 'structure' };
  return { equal: false, method: 'structure', reason: `an item has no equal counterpart (${xs.length} items vs ${ys.length})` };
}

/** A named value's chain "x = 5+5+1 = 11" is its value only when every step agrees. */
function namedValue(n: Named, ctx: Ctx): AnswerShape | null {
  for (const step of n.chain) if (!compareScalars(step, n.valueLatex, ctx).equal) return null;
  return n.value;
}

function compareShapes(a: AnswerShape, b: AnswerShape, ctx: Ctx): Equivalence {
  checkBudget(ctx);
  // A one-item set is its item ("\{5\}" vs "5").
  if (a.kind === 'set' && a.items.length === 1 && b.kind !== 'set') return compareShapes(a.items[0]!, b, ctx);
  if (b.kind === 'set' && b.items.length === 1 && a.kind !== 'set') return compareShapes(a, b.items[0]!, ctx);
  if (a.kind === 'named' && b.kind === 'named') {
    if (nameKey(a.name) !== nameKey(b.name)) return { equal: false, method: 'structure', reason: `values of ${a.name} and ${b.name}` };
    const va = namedValue(a, ctx);
    const vb = namedValue(b, ctx);
    if (!va || !vb) return { equal: false, method: 'structure', reason: 'an equation chain has unequal steps' };
    return compareShapes(va, vb, ctx);
  }
  // "y = -x/2 + 3/4" against "2x + 4y - 3 = 0": both are equations of a line.
  if (a.kind === 'named' && b.kind === 'equation') return compareShapes({ kind: 'equation', lhs: a.name, rhs: a.valueLatex }, b, ctx);
  if (b.kind === 'named' && a.kind === 'equation') return compareShapes(a, { kind: 'equation', lhs: b.name, rhs: b.valueLatex }, ctx);
  // "f(x) = 1", "(p,q) = (3,2)" against the bare value.
  if (a.kind === 'named') {
    const v = namedValue(a, ctx);
    return v ? compareShapes(v, b, ctx) : { equal: false, method: 'structure', reason: 'an equation chain has unequal steps' };
  }
  if (b.kind === 'named') {
    const v = namedValue(b, ctx);
    return v ? compareShapes(a, v, ctx) : { equal: false, method: 'structure', reason: 'an equation chain has unequal steps' };
  }
  if (a.kind === 'record' && b.kind === 'record') {
    if (a.names.length !== b.names.length) return { equal: false, method: 'structure', reason: `${a.names.length} names vs ${b.names.length}` };
    for (let k = 0; k < a.names.length; k++) {
      const j = b.names.findIndex((n) => nameKey(n) === nameKey(a.names[k]!));
      if (j < 0) return { equal: false, method: 'structure', reason: `${a.names[k]} is not named on the other side` };
      const r = compareShapes(a.values[k]!, b.values[j]!, ctx);
      if (!r.equal) return { equal: false, method: 'structure', reason: `${a.names[k]}: ${r.reason ?? 'differs'}` };
    }
    return { equal: true, method: 'structure' };
  }
  // A record against unnamed values: the values in written order ("x = -5, p = 14/3" vs "-5, 14/3").
  if (a.kind === 'record' && (b.kind === 'tuple' || (b.kind === 'set' && b.bare))) return compareLists(a.values, b.items, true, ctx);
  if (b.kind === 'record' && (a.kind === 'tuple' || (a.kind === 'set' && a.bare))) return compareLists(a.items, b.values, true, ctx);
  if (a.kind === 'relation' && b.kind === 'relation') return compareRelations(a, b, ctx);
  if (a.kind === 'relation') return compareRelationToSet(a, b, ctx) ?? { equal: false, method: 'relation', reason: `relation vs ${b.kind}` };
  if (b.kind === 'relation') return compareRelationToSet(b, a, ctx) ?? { equal: false, method: 'relation', reason: `${a.kind} vs relation` };
  if (a.kind === 'text' || b.kind === 'text') {
    const ta = a.kind === 'text' ? a.text : a.kind === 'scalar' ? a.latex : null;
    const tb = b.kind === 'text' ? b.text : b.kind === 'scalar' ? b.latex : null;
    if (ta === null || tb === null) return { equal: false, method: 'structure', reason: `${a.kind} vs ${b.kind}` };
    const eq = compactForm(ta).toLowerCase() === compactForm(tb).toLowerCase();
    return { equal: eq, method: 'text', ...(eq ? {} : { reason: `"${ta}" != "${tb}"` }) };
  }
  if (a.kind === 'scalar' && b.kind === 'scalar') return compareScalars(a.latex, b.latex, ctx);
  if (a.kind === 'equation' && b.kind === 'equation') {
    if (compareScalars(a.lhs, b.lhs, ctx).equal && compareScalars(a.rhs, b.rhs, ctx).equal) return { equal: true, method: 'structure' };
    return proportional(a, b, false, ctx);
  }
  if (a.kind === 'tuple' && b.kind === 'tuple') {
    if (a.open !== b.open || a.close !== b.close) return { equal: false, method: 'structure', reason: `brackets ${a.open}${a.close} vs ${b.open}${b.close}` };
    return compareLists(a.items, b.items, true, ctx);
  }
  if (a.kind === 'set' && b.kind === 'set') return compareLists(a.items, b.items, false, ctx);
  // "{1,3}" (plain braces: LaTeX grouping of a sequence) against "(1,3)": the same items in order.
  // A bare list "-2, 1" (several solutions) is not the point "(-2, 1)".
  if ((a.kind === 'set' && a.plain && b.kind === 'tuple' && b.open === '(') || (a.kind === 'tuple' && a.open === '(' && b.kind === 'set' && b.plain)) {
    return compareLists(a.items, b.items, true, ctx);
  }
  if (a.kind === 'union' || b.kind === 'union') {
    const ia = shapeIntervals(a);
    const ib = shapeIntervals(b);
    if (ia && ib) return compareIntervals(ia, ib, ctx);
    if (a.kind === 'union' && b.kind === 'union') return compareLists(a.parts, b.parts, false, ctx);
  }
  if (a.kind === 'matrix' && b.kind === 'matrix') {
    if (a.rows.length !== b.rows.length) return { equal: false, method: 'structure', reason: 'matrix shapes differ' };
    for (let r = 0; r < a.rows.length; r++) {
      const res = compareLists(a.rows[r]!, b.rows[r]!, true, ctx);
      if (!res.equal) return { equal: false, method: 'structure', reason: `matrix row ${r + 1}: ${res.reason ?? 'differs'}` };
    }
    return { equal: true, method: 'structure' };
  }
  return { equal: false, method: 'structure', reason: `${a.kind} vs ${b.kind}` };
}

/** "28\%" may also mean 0.28: the percent side's number divided by 100, when it is one number. */
function percentAsFraction(shape: AnswerShape, ctx: Ctx): AnswerShape | null {
  if (shape.kind !== 'scalar') return null;
  const v = constantValue(shape.latex, ctx);
  if (!v || v[1] !== 0 || !Number.isFinite(v[0])) return null;
  return { kind: 'scalar', latex: `(${shape.latex})/100` };
}

export function isEquivalent(a: string, b: string, opts: EquivalenceOptions = {}): Equivalence {
  if (a.length > MAX_ANSWER_CHARS || b.length > MAX_ANSWER_CHARS) {
    return { equal: false, method: 'too-long', reason: `answers longer than ${MAX_ANSWER_CHARS} characters are not compared` };
  }
  const ctx: Ctx = {
    relTol: opts.relTol ?? 1e-4,
    absTol: opts.absTol ?? 1e-9,
    deadline: performance.now() + (opts.timeoutMs ?? 100),
    maxNodes: opts.maxNodes ?? 400,
    points: opts.points ?? 6,
  };
  try {
    const na = normalizeAnswer(a);
    const nb = normalizeAnswer(b);
    if (na === '' || nb === '') return { equal: false, method: 'string', reason: 'an answer is empty after normalisation' };
    if (compactForm(na) === compactForm(nb)) return { equal: true, method: 'string' };
    const sa = parseShape(na);
    const sb = parseShape(nb);
    const r = compareShapes(sa, sb, ctx);
    if (r.equal) return r;
    // Percent convention: "10\%" equals 10 (above) and also 0.1, when only one side has the sign.
    const pa = hasPercent(a);
    if (pa !== hasPercent(b)) {
      const scaled = pa ? percentAsFraction(sa, ctx) : percentAsFraction(sb, ctx);
      if (scaled && compareShapes(pa ? scaled : sa, pa ? sb : scaled, ctx).equal) return { equal: true, method: 'percent' };
    }
    return r;
  } catch (err) {
    if (err instanceof BudgetExceededError) return { equal: false, method: 'timeout', reason: err.message };
    return { equal: false, method: 'error', reason: `comparison failed: ${(err as Error).message}` };
  }
}
