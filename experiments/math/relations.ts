// Relations and intervals, compared symbolically (never by sampling truth values):
// a one-variable relation ("x \ge 2", "0 < f(x) < 1", "x \ne 3") becomes its solution set as
// intervals, which must match exactly (same bounds, same open/closed ends); other inequalities
// must point the same way with the same strictness after flipping "a < b" to "b > a", and their
// differences must be proportional with a positive factor (the same solution set).
import { compactForm } from './normalize.js';
import { compareScalars, constantValue, proportional, type Ctx, type Equivalence } from './scalar.js';
import type { AnswerShape, RelOp } from './structure.js';

/** One interval; a null bound is -infinity (lo) or +infinity (hi). */
export interface Interval {
  lo: string | null;
  loClosed: boolean;
  hi: string | null;
  hiClosed: boolean;
}

const FLIP: Record<RelOp, RelOp> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '!=': '!=', '=': '=' };

function isConstant(latex: string, ctx: Ctx): boolean {
  return constantValue(latex, ctx) !== null;
}

/** An infinite constant bound becomes null (its bracket then does not matter). */
function bound(latex: string, ctx: Ctx): { value: string | null; sign: number } {
  const v = constantValue(latex, ctx);
  if (v && v[1] === 0 && !Number.isFinite(v[0])) return { value: null, sign: Math.sign(v[0]) };
  return { value: latex, sign: 0 };
}

/** "x op c" (the variable on the left) as intervals; "=" is not an interval. */
function oneSided(op: RelOp, c: string): Interval[] | null {
  switch (op) {
    case '<': return [{ lo: null, loClosed: false, hi: c, hiClosed: false }];
    case '<=': return [{ lo: null, loClosed: false, hi: c, hiClosed: true }];
    case '>': return [{ lo: c, loClosed: false, hi: null, hiClosed: false }];
    case '>=': return [{ lo: c, loClosed: true, hi: null, hiClosed: false }];
    case '!=': return [{ lo: null, loClosed: false, hi: c, hiClosed: false }, { lo: c, loClosed: false, hi: null, hiClosed: false }];
    default: return null;
  }
}

/** The solution set of a relation in one variable part, with that part; null when it is not one. */
export function relationIntervals(parts: string[], ops: RelOp[], ctx: Ctx): { variable: string; intervals: Interval[] } | null {
  if (ops.includes('=')) return null;
  const constant = parts.map((p) => isConstant(p, ctx));
  if (constant.filter((c) => !c).length !== 1) return null;
  if (parts.length === 2) {
    if (!constant[1]) return { variable: parts[1]!, intervals: oneSided(FLIP[ops[0]!], parts[0]!) ?? [] };
    return { variable: parts[0]!, intervals: oneSided(ops[0]!, parts[1]!) ?? [] };
  }
  if (parts.length === 3 && !constant[1]) {
    const [o1, o2] = ops as [RelOp, RelOp];
    const up = (o: RelOp) => o === '<' || o === '<=';
    const down = (o: RelOp) => o === '>' || o === '>=';
    if (up(o1) && up(o2)) return { variable: parts[1]!, intervals: [{ lo: parts[0]!, loClosed: o1 === '<=', hi: parts[2]!, hiClosed: o2 === '<=' }] };
    if (down(o1) && down(o2)) return { variable: parts[1]!, intervals: [{ lo: parts[2]!, loClosed: o2 === '>=', hi: parts[0]!, hiClosed: o1 === '>=' }] };
  }
  return null;
}

/** Intervals written as intervals: "(a, b]", "[a, \infty)", unions of them. */
export function shapeIntervals(s: AnswerShape): Interval[] | null {
  if (s.kind === 'tuple' && s.items.length === 2 && s.items.every((it) => it.kind === 'scalar')) {
    const [a, b] = s.items as { kind: 'scalar'; latex: string }[];
    return [{ lo: a!.latex, loClosed: s.open === '[', hi: b!.latex, hiClosed: s.close === ']' }];
  }
  if (s.kind === 'union') {
    const out: Interval[] = [];
    for (const p of s.parts) {
      const iv = shapeIntervals(p);
      if (!iv) return null;
      out.push(...iv);
    }
    return out;
  }
  return null;
}

function sameBound(a: string | null, aClosed: boolean, b: string | null, bClosed: boolean, ctx: Ctx): boolean {
  const x = a === null ? { value: null, sign: 0 } : bound(a, ctx);
  const y = b === null ? { value: null, sign: 0 } : bound(b, ctx);
  if (x.value === null || y.value === null) return x.value === null && y.value === null;
  return aClosed === bClosed && compareScalars(x.value, y.value, ctx).equal;
}

export function compareIntervals(xs: Interval[], ys: Interval[], ctx: Ctx): Equivalence {
  if (xs.length !== ys.length) return { equal: false, method: 'relation', reason: `${xs.length} intervals vs ${ys.length}` };
  const used = new Array<boolean>(ys.length).fill(false);
  for (const x of xs) {
    const k = ys.findIndex((y, j) => !used[j] && sameBound(x.lo, x.loClosed, y.lo, y.loClosed, ctx) && sameBound(x.hi, x.hiClosed, y.hi, y.hiClosed, ctx));
    if (k < 0) return { equal: false, method: 'relation', reason: 'the solution sets differ (bounds or open/closed ends)' };
    used[k] = true;
  }
  return { equal: true, method: 'relation' };
}

type Relation = Extract<AnswerShape, { kind: 'relation' }>;

export function compareRelations(a: Relation, b: Relation, ctx: Ctx): Equivalence {
  const ia = relationIntervals(a.parts, a.ops, ctx);
  const ib = relationIntervals(b.parts, b.ops, ctx);
  // Same variable part: the solution sets decide. Different parts ("-x > -1" vs "x < 1") go on
  // to the symbolic comparison below.
  if (ia && ib && compactForm(ia.variable) === compactForm(ib.variable)) return compareIntervals(ia.intervals, ib.intervals, ctx);
  if (a.parts.length === 2 && b.parts.length === 2) {
    // Canonical direction: ">" and ">=" (flip "<" sides). Same operator, then proportional sides.
    const canon = (r: Relation) => (r.ops[0] === '<' || r.ops[0] === '<=' ? { op: FLIP[r.ops[0]!], lhs: r.parts[1]!, rhs: r.parts[0]! } : { op: r.ops[0]!, lhs: r.parts[0]!, rhs: r.parts[1]! });
    const ca = canon(a);
    const cb = canon(b);
    if (ca.op !== cb.op) return { equal: false, method: 'relation', reason: `${ca.op} vs ${cb.op}` };
    return proportional(ca, cb, ca.op === '>' || ca.op === '>=', ctx);
  }
  // Chains: the same operators part by part, read forwards or backwards (flipped).
  if (a.parts.length !== b.parts.length) return { equal: false, method: 'relation', reason: 'chains of different length' };
  const forwards = a.ops.every((o, k) => o === b.ops[k]);
  const backwards = a.ops.every((o, k) => o === FLIP[b.ops[b.ops.length - 1 - k]!]);
  for (const [ok, order] of [[forwards, b.parts], [backwards, [...b.parts].reverse()]] as const) {
    if (ok && a.parts.every((p, k) => compareScalars(p, order[k]!, ctx).equal)) return { equal: true, method: 'relation' };
  }
  return { equal: false, method: 'relation', reason: 'the chains differ' };
}

/** A relation against an interval answer: "0 < f(x) < 1" vs "(0,1)", "x \ge 2" vs "[2, \infty)". */
export function compareRelationToSet(r: Relation, s: AnswerShape, ctx: Ctx): Equivalence | null {
  const iv = shapeIntervals(s);
  if (!iv) return null;
  const ir = relationIntervals(r.parts, r.ops, ctx);
  if (!ir) return { equal: false, method: 'relation', reason: 'the relation is not a solution set in one variable' };
  return compareIntervals(ir.intervals, iv, ctx);
}
