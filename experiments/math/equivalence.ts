// Decides whether two final answers are the same: normalise both, split them into shapes
// (structure.ts), then compare scalars numerically (tolerance), symbolically (evaluation at
// seeded random points, mathjs simplify as a fallback) or as text. Every comparison runs under
// a time budget and a size cap; a comparison that cannot finish returns equal: false with a reason.
import { mulberry32 } from '../../common/rng.js';
import { all, create, type MathNode } from 'mathjs';
import { latexToExpr, NotAnExpressionError } from './latex-expr.js';
import { compactForm, MAX_ANSWER_CHARS, normalizeAnswer } from './normalize.js';
import { parseShape, type AnswerShape } from './structure.js';

const math = create(all, { number: 'number' });

export interface EquivalenceOptions {
  /** Relative tolerance for numbers: |a-b| <= absTol + relTol*max(|a|,|b|). Default 1e-4. */
  relTol?: number;
  /** Absolute tolerance. Default 1e-9 (only matters near zero). */
  absTol?: number;
  /** Wall-clock budget for one comparison in ms. Default 1000. */
  timeoutMs?: number;
  /** Expressions with more parse nodes than this are not evaluated. Default 400. */
  maxNodes?: number;
  /** Random points for symbolic comparison. Default 6. */
  points?: number;
}

export interface Equivalence {
  equal: boolean;
  /** How it was decided: string | numeric | random-points | simplify | structure | text | timeout | too-long | error. */
  method: string;
  reason?: string;
}

class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}

interface Ctx {
  relTol: number;
  absTol: number;
  deadline: number;
  maxNodes: number;
  points: number;
}

function checkBudget(ctx: Ctx): void {
  if (performance.now() > ctx.deadline) throw new BudgetExceededError('comparison exceeded its time budget');
}

const CONSTANT_SYMBOLS = new Set(['pi', 'e', 'E', 'i', 'Infinity', 'PI']);

interface Compiled {
  node: MathNode;
  evaluate: (scope: Record<string, number>) => unknown;
  symbols: Set<string>;
}

const compileCache = new Map<string, Compiled | Error>();

function compileLatex(latex: string, ctx: Ctx): Compiled {
  const hit = compileCache.get(latex);
  if (hit instanceof Error) throw hit;
  if (hit) return hit;
  try {
    const expr = latexToExpr(latex);
    if (expr === '') throw new NotAnExpressionError('empty expression');
    const node = math.parse(expr);
    let count = 0;
    let bigLiteral = false;
    let loops = false; // factorial and binomial run loops as long as their argument
    const symbols = new Set<string>();
    node.traverse((n, path) => {
      count++;
      const anyNode = n as unknown as { isConstantNode?: boolean; value?: unknown; fn?: unknown; name?: string };
      if (anyNode.isConstantNode && typeof anyNode.value === 'number' && Math.abs(anyNode.value) > 1e4) bigLiteral = true;
      if (anyNode.fn === 'factorial' || (anyNode.fn as { name?: string } | undefined)?.name === 'combinations') loops = true;
      if ((n as { isSymbolNode?: boolean }).isSymbolNode && path !== 'fn') {
        const name = (n as unknown as { name: string }).name;
        if (!CONSTANT_SYMBOLS.has(name)) symbols.add(name);
      }
    });
    if (loops && bigLiteral) throw new NotAnExpressionError('factorial or binomial of a large number is not evaluated (time cap)');
    if (count > ctx.maxNodes) throw new NotAnExpressionError(`expression has ${count} nodes (cap ${ctx.maxNodes})`);
    const code = node.compile();
    const compiled: Compiled = { node, evaluate: (scope) => code.evaluate({ ...scope }), symbols };
    if (compileCache.size > 5000) compileCache.clear();
    compileCache.set(latex, compiled);
    return compiled;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (compileCache.size > 5000) compileCache.clear();
    compileCache.set(latex, e);
    throw e;
  }
}

/** A complex or real value as [re, im]; null when not a finite-or-infinite number. */
function toComplex(v: unknown): [number, number] | null {
  if (typeof v === 'number') return Number.isNaN(v) ? null : [v, 0];
  if (typeof v === 'boolean') return [v ? 1 : 0, 0];
  if (v && typeof v === 'object' && 're' in v && 'im' in v) {
    const c = v as { re: number; im: number };
    if (Number.isNaN(c.re) || Number.isNaN(c.im)) return null;
    return [c.re, c.im];
  }
  return null;
}

function close(a: [number, number], b: [number, number], ctx: Ctx): boolean {
  for (let k = 0; k < 2; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x !== y) return false;
      continue;
    }
    if (Math.abs(x - y) > ctx.absTol + ctx.relTol * Math.max(Math.abs(x), Math.abs(y))) return false;
  }
  return true;
}

const rng = mulberry32;

function safeEval(c: Compiled, scope: Record<string, number>): [number, number] | null {
  try {
    return toComplex(c.evaluate(scope));
  } catch {
    return null;
  }
}

function compareScalars(a: string, b: string, ctx: Ctx): Equivalence {
  checkBudget(ctx);
  if (compactForm(a) === compactForm(b)) return { equal: true, method: 'string' };
  let ca: Compiled;
  let cb: Compiled;
  try {
    ca = compileLatex(a, ctx);
    cb = compileLatex(b, ctx);
  } catch (err) {
    return { equal: false, method: 'string', reason: `not comparable as expressions: ${(err as Error).message}` };
  }
  const symbols = [...new Set([...ca.symbols, ...cb.symbols])];
  if (symbols.length === 0) {
    const va = safeEval(ca, {});
    const vb = safeEval(cb, {});
    if (!va || !vb) return { equal: false, method: 'numeric', reason: 'an answer does not evaluate to a number' };
    // Infinity from overflow (9^9^9^9) is not a value: only a literal \infty may be infinite.
    const overflow = (v: [number, number], src: string) => !v.every(Number.isFinite) && !/infty|inf/i.test(src);
    if (overflow(va, a) || overflow(vb, b)) return { equal: false, method: 'numeric', reason: 'a value overflows double precision; not compared' };
    return close(va, vb, ctx) ? { equal: true, method: 'numeric' } : { equal: false, method: 'numeric', reason: `${fmt(va)} != ${fmt(vb)}` };
  }
  // Different variables on each side cannot be the same expression unless one cancels out;
  // random points decide that too.
  const rand = rng(0x5eed ^ symbols.length);
  let valid = 0;
  for (let p = 0; p < ctx.points * 3 && valid < ctx.points; p++) {
    checkBudget(ctx);
    const scope: Record<string, number> = {};
    for (const s of symbols) scope[s] = 0.3 + 2 * rand();
    const va = safeEval(ca, scope);
    const vb = safeEval(cb, scope);
    if (!va || !vb || !va.every(Number.isFinite) || !vb.every(Number.isFinite)) continue;
    valid++;
    if (!close(va, vb, ctx)) return { equal: false, method: 'random-points', reason: `differ at ${JSON.stringify(scope)}` };
  }
  if (valid > 0) return { equal: true, method: 'random-points' };
  // No point where both evaluate: try symbolic simplification of the difference.
  checkBudget(ctx);
  try {
    const diff = math.simplify(new math.OperatorNode('-', 'subtract', [ca.node, cb.node]));
    const zero = diff.toString() === '0';
    return { equal: zero, method: 'simplify', ...(zero ? {} : { reason: `difference simplifies to ${diff.toString()}` }) };
  } catch (err) {
    return { equal: false, method: 'simplify', reason: `could not simplify: ${(err as Error).message}` };
  }
}

function fmt(v: [number, number]): string {
  return v[1] === 0 ? String(v[0]) : `${v[0]}${v[1] >= 0 ? '+' : ''}${v[1]}i`;
}

/** Equations a=b and c=d are the same when a-b and c-d are proportional (nonzero factor). */
function compareEquations(a: { lhs: string; rhs: string }, b: { lhs: string; rhs: string }, ctx: Ctx): Equivalence {
  const sides = compareScalars(a.lhs, b.lhs, ctx).equal && compareScalars(a.rhs, b.rhs, ctx).equal;
  if (sides) return { equal: true, method: 'structure' };
  try {
    const da = compileLatex(`(${a.lhs})-(${a.rhs})`, ctx);
    const db = compileLatex(`(${b.lhs})-(${b.rhs})`, ctx);
    const symbols = [...new Set([...da.symbols, ...db.symbols])];
    const rand = rng(0xe9 ^ symbols.length);
    let ratio: number | null = null;
    let valid = 0;
    for (let p = 0; p < ctx.points * 3 && valid < ctx.points; p++) {
      checkBudget(ctx);
      const scope: Record<string, number> = {};
      for (const s of symbols) scope[s] = 0.3 + 2 * rand();
      const va = safeEval(da, scope);
      const vb = safeEval(db, scope);
      if (!va || !vb || va[1] !== 0 || vb[1] !== 0 || !Number.isFinite(va[0]) || !Number.isFinite(vb[0])) continue;
      if (Math.abs(vb[0]) < 1e-12) {
        if (Math.abs(va[0]) > 1e-9) return { equal: false, method: 'random-points', reason: 'equations differ' };
        continue;
      }
      const r = va[0] / vb[0];
      valid++;
      if (ratio === null) ratio = r;
      else if (!close([r, 0], [ratio, 0], ctx)) return { equal: false, method: 'random-points', reason: 'equations are not proportional' };
    }
    if (ratio !== null && ratio !== 0) return { equal: true, method: 'random-points' };
    return { equal: false, method: 'random-points', reason: 'no point where both equations evaluate' };
  } catch (err) {
    if (err instanceof BudgetExceededError) throw err;
    return { equal: false, method: 'string', reason: `equations not comparable: ${(err as Error).message}` };
  }
}

function compareLists(xs: AnswerShape[], ys: AnswerShape[], ordered: boolean, ctx: Ctx): Equivalence {
  if (xs.length !== ys.length) return { equal: false, method: 'structure', reason: `${xs.length} items vs ${ys.length}` };
  if (ordered) {
    for (let k = 0; k < xs.length; k++) {
      const r = compareShapes(xs[k]!, ys[k]!, ctx);
      if (!r.equal) return { equal: false, method: 'structure', reason: `item ${k + 1}: ${r.reason ?? 'differs'}` };
    }
    return { equal: true, method: 'structure' };
  }
  const used = new Array<boolean>(ys.length).fill(false);
  for (const x of xs) {
    let found = false;
    for (let k = 0; k < ys.length && !found; k++) {
      if (used[k]) continue;
      if (compareShapes(x, ys[k]!, ctx).equal) {
        used[k] = true;
        found = true;
      }
    }
    if (!found) return { equal: false, method: 'structure', reason: 'an item has no equal counterpart' };
  }
  return { equal: true, method: 'structure' };
}

function compareShapes(a: AnswerShape, b: AnswerShape, ctx: Ctx): Equivalence {
  checkBudget(ctx);
  // A one-item set is its item ("\{5\}" vs "5").
  if (a.kind === 'set' && a.items.length === 1 && b.kind !== 'set') return compareShapes(a.items[0]!, b, ctx);
  if (b.kind === 'set' && b.items.length === 1 && a.kind !== 'set') return compareShapes(a, b.items[0]!, ctx);
  if (a.kind === 'text' || b.kind === 'text') {
    const ta = a.kind === 'text' ? a.text : a.kind === 'scalar' ? a.latex : null;
    const tb = b.kind === 'text' ? b.text : b.kind === 'scalar' ? b.latex : null;
    if (ta === null || tb === null) return { equal: false, method: 'structure', reason: `${a.kind} vs ${b.kind}` };
    const eq = compactForm(ta) === compactForm(tb);
    return { equal: eq, method: 'text', ...(eq ? {} : { reason: `"${ta}" != "${tb}"` }) };
  }
  if (a.kind === 'scalar' && b.kind === 'scalar') return compareScalars(a.latex, b.latex, ctx);
  if (a.kind === 'equation' && b.kind === 'equation') return compareEquations(a, b, ctx);
  // "y = 2x+3" vs "2x+3": compare the right-hand side when the left is a lone variable.
  if (a.kind === 'equation' && b.kind !== 'equation' && /^[a-zA-Z]$/.test(a.lhs)) return compareShapes(parseShape(a.rhs), b, ctx);
  if (b.kind === 'equation' && a.kind !== 'equation' && /^[a-zA-Z]$/.test(b.lhs)) return compareShapes(a, parseShape(b.rhs), ctx);
  if (a.kind === 'tuple' && b.kind === 'tuple') {
    if (a.open !== b.open || a.close !== b.close) return { equal: false, method: 'structure', reason: `brackets ${a.open}${a.close} vs ${b.open}${b.close}` };
    return compareLists(a.items, b.items, true, ctx);
  }
  if (a.kind === 'set' && b.kind === 'set') return compareLists(a.items, b.items, false, ctx);
  // A bare list "1, 2" against a tuple "(1, 2)": same items in order.
  if ((a.kind === 'set' && b.kind === 'tuple' && b.open === '(') || (a.kind === 'tuple' && a.open === '(' && b.kind === 'set')) {
    return compareLists(a.items, b.items, true, ctx);
  }
  if (a.kind === 'union' && b.kind === 'union') return compareLists(a.parts, b.parts, false, ctx);
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

export function isEquivalent(a: string, b: string, opts: EquivalenceOptions = {}): Equivalence {
  if (a.length > MAX_ANSWER_CHARS || b.length > MAX_ANSWER_CHARS) {
    return { equal: false, method: 'too-long', reason: `answers longer than ${MAX_ANSWER_CHARS} characters are not compared` };
  }
  const ctx: Ctx = {
    relTol: opts.relTol ?? 1e-4,
    absTol: opts.absTol ?? 1e-9,
    deadline: performance.now() + (opts.timeoutMs ?? 1000),
    maxNodes: opts.maxNodes ?? 400,
    points: opts.points ?? 6,
  };
  try {
    const na = normalizeAnswer(a);
    const nb = normalizeAnswer(b);
    if (na === '' || nb === '') return { equal: false, method: 'string', reason: 'an answer is empty after normalisation' };
    if (compactForm(na) === compactForm(nb)) return { equal: true, method: 'string' };
    return compareShapes(parseShape(na), parseShape(nb), ctx);
  } catch (err) {
    if (err instanceof BudgetExceededError) return { equal: false, method: 'timeout', reason: err.message };
    return { equal: false, method: 'error', reason: `comparison failed: ${(err as Error).message}` };
  }
}
