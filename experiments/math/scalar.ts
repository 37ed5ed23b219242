// Compares two LaTeX scalars: equal compact strings, else numbers within a relative tolerance,
// else expressions evaluated at seeded random points (mathjs), and equations/inequalities as
// proportional differences. Every step checks the comparison's deadline; boolean values (truth
// values of a relation) are never numbers here.
import { all, create, type MathNode } from 'mathjs';
import { mulberry32 } from '../../common/rng.js';
import { latexToExpr, NotAnExpressionError } from './latex-expr.js';
import { compactForm } from './normalize.js';

const math = create(all, { number: 'number' });

// \sum and \prod (latex-expr.ts writes lsum(k, lo, hi, body)): the body evaluated with k bound
// to each integer lo..hi. Limits that are not integers, or a range over MAX_TERMS, are no value.
const MAX_TERMS = 1000;
// Terms left for the evaluation under way (nested sums multiply): safeEval resets it.
const TERMS_PER_EVALUATION = 20000;
let termsLeft = TERMS_PER_EVALUATION;
type RawNode = MathNode & { name?: string };
type Scope = Map<string, unknown>;
function bigOperator(kind: 'sum' | 'prod') {
  const fn = (args: RawNode[], _m: unknown, scope: Scope): unknown => {
    if (args.length !== 4 || !args[0]!.name) return NaN;
    const bound = args[0]!.name;
    const limit = (n: MathNode) => {
      const v = n.compile().evaluate(scope);
      return typeof v === 'number' && Math.abs(v - Math.round(v)) < 1e-9 ? Math.round(v) : NaN;
    };
    const lo = limit(args[1]!);
    const hi = limit(args[2]!);
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi - lo + 1 > MAX_TERMS) return NaN;
    const body = args[3]!.compile();
    const inner = new Map(scope);
    let acc: unknown = kind === 'sum' ? 0 : 1;
    for (let k = lo; k <= hi; k++) {
      if (--termsLeft < 0) throw new Error(`a sum or product runs past ${TERMS_PER_EVALUATION} terms`);
      inner.set(bound, k);
      const v = body.evaluate(inner);
      acc = kind === 'sum' ? math.add(acc as number, v as number) : math.multiply(acc as number, v as number);
    }
    return acc;
  };
  (fn as unknown as { rawArgs: boolean }).rawArgs = true;
  return fn;
}

/**
 * An indexed letter a_{n+1} (lidx("a", n+1)) is an unknown sequence: a fixed pseudo-random
 * value for each (letter, index), so a_{n+1} = a_{1+n} but a_n != a_{n+1} at almost every point.
 */
function lidx(name: string, index: unknown): number {
  if (typeof index !== 'number' || !Number.isFinite(index)) return NaN;
  const key = `${name}:${Number(index.toPrecision(12))}`;
  let h = 0x811c9dc5;
  for (let k = 0; k < key.length; k++) h = Math.imul(h ^ key.charCodeAt(k), 0x01000193);
  return 0.3 + 2 * mulberry32(h >>> 0)();
}
math.import({ lsum: bigOperator('sum'), lprod: bigOperator('prod'), lidx }, {});

export interface Equivalence {
  equal: boolean;
  /** How it was decided: string | numeric | random-points | simplify | structure | relation | text | timeout | too-long | error. */
  method: string;
  reason?: string;
}

export interface Ctx {
  relTol: number;
  absTol: number;
  deadline: number;
  maxNodes: number;
  points: number;
}

export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}

export function checkBudget(ctx: Ctx): void {
  if (performance.now() > ctx.deadline) throw new BudgetExceededError('comparison exceeded its time budget');
}

const CONSTANT_SYMBOLS = new Set(['pi', 'e', 'E', 'i', 'Infinity', 'PI']);

export interface Compiled {
  node: MathNode;
  evaluate: (scope: Record<string, number>) => unknown;
  symbols: Set<string>;
  /** Symbols in a \sum or \prod limit: sampled as integers. */
  integers: Set<string>;
}

const compileCache = new Map<string, Compiled | Error>();

// mathjs builds its parser and typed functions lazily: the first comparison in a process would
// spend tens of ms there and could hit the per-comparison deadline. Pay it once at load instead.
for (const expr of ['sqrt(2)*x+1/3-(x)^2', '(1+2*i)*(3-i)/(2)', 'nthRoot(8,3)+log(2)+log10(3)+log(8,2)+exp(1)', 'sin(x)^2+cos(x)+tan(x)+cot(x)+sec(x)+csc(x)', 'asin(0.5)+acos(0.5)+atan(x)+sinh(1)+cosh(1)+tanh(1)', 'combinations(5,2)+factorial(4)+pi+e+Infinity', '((2)/(3))^((1)/(2))-(-8)^(1/3)']) {
  math.parse(expr).compile().evaluate({ x: 0.7 });
}

export function compileLatex(latex: string, ctx: Ctx): Compiled {
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
    const integers = new Set<string>();
    const uses = new Map<string, number>();
    const bound = new Map<string, number>(); // a sum's index: its own symbol node and its uses in the body
    node.traverse((n, path) => {
      const call = n as unknown as { isFunctionNode?: boolean; fn?: { name?: string }; args?: MathNode[] };
      if (call.isFunctionNode && (call.fn?.name === 'lsum' || call.fn?.name === 'lprod')) {
        const v = (call.args![0] as unknown as { name?: string }).name;
        if (v) {
          let inBody = 1;
          call.args![3]!.traverse((m) => {
            if ((m as { isSymbolNode?: boolean }).isSymbolNode && (m as unknown as { name: string }).name === v) inBody++;
          });
          bound.set(v, (bound.get(v) ?? 0) + inBody);
        }
        for (const limit of call.args!.slice(1, 3)) {
          limit.traverse((m) => {
            if ((m as { isSymbolNode?: boolean }).isSymbolNode) integers.add((m as unknown as { name: string }).name);
          });
        }
      }
      count++;
      const anyNode = n as unknown as { isConstantNode?: boolean; value?: unknown; fn?: unknown; name?: string };
      if (anyNode.isConstantNode && typeof anyNode.value === 'number' && Math.abs(anyNode.value) > 1e4) bigLiteral = true;
      if (anyNode.fn === 'factorial' || (anyNode.fn as { name?: string } | undefined)?.name === 'combinations') loops = true;
      if ((n as { isSymbolNode?: boolean }).isSymbolNode && path !== 'fn') {
        const name = (n as unknown as { name: string }).name;
        if (!CONSTANT_SYMBOLS.has(name)) symbols.add(name);
        uses.set(name, (uses.get(name) ?? 0) + 1);
      }
    });
    // An index used only inside its own sums is not a free variable.
    for (const [v, n] of bound) if (n >= (uses.get(v) ?? 0)) symbols.delete(v);
    if (loops && bigLiteral) throw new NotAnExpressionError('factorial or binomial of a large number is not evaluated (time cap)');
    if (count > ctx.maxNodes) throw new NotAnExpressionError(`expression has ${count} nodes (cap ${ctx.maxNodes})`);
    const code = node.compile();
    const compiled: Compiled = { node, evaluate: (scope) => code.evaluate({ ...scope }), symbols, integers };
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

/** A complex or real value as [re, im]; null when not a number (NaN, a boolean, a matrix). */
function toComplex(v: unknown): [number, number] | null {
  if (typeof v === 'number') return Number.isNaN(v) ? null : [v, 0];
  if (v && typeof v === 'object' && 're' in v && 'im' in v) {
    const c = v as { re: number; im: number };
    if (Number.isNaN(c.re) || Number.isNaN(c.im)) return null;
    return [c.re, c.im];
  }
  return null;
}

/**
 * Relative tolerance between nonzero values; the absolute tolerance only against an exact zero
 * (so 3.61e-10 and 2.88e-19 differ, while a computed 1e-17 is 0).
 */
export function close(a: [number, number], b: [number, number], ctx: Ctx, relTol = ctx.relTol, absTol = ctx.absTol): boolean {
  for (let k = 0; k < 2; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x !== y) return false;
      continue;
    }
    const tol = x === 0 || y === 0 ? absTol : relTol * Math.max(Math.abs(x), Math.abs(y));
    if (Math.abs(x - y) > tol) return false;
  }
  return true;
}

const DECIMAL_LITERAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** True when the expression is built from integers with + - * / and integer powers only (and finite sums of such). */
function isRational(c: Compiled): boolean {
  let ok = true;
  c.node.traverse((n) => {
    const any = n as unknown as { type: string; value?: unknown; op?: string; args?: { type: string; value?: unknown }[] };
    if (any.type === 'ConstantNode') ok &&= typeof any.value === 'number' && Number.isInteger(any.value);
    else if (any.type === 'OperatorNode') ok &&= ['+', '-', '*', '/', '^'].includes(any.op ?? '');
    // A finite sum or product of rational terms is rational; with no free variable its
    // symbols are its own indices.
    else if (any.type === 'FunctionNode') ok &&= ['lsum', 'lprod'].includes((n as unknown as { fn: { name?: string } }).fn.name ?? '');
    else if (any.type === 'SymbolNode') ok &&= c.symbols.size === 0 && !CONSTANT_SYMBOLS.has((n as unknown as { name: string }).name);
    else if (any.type !== 'ParenthesisNode') ok = false;
  });
  return ok;
}

/**
 * Two numbers: literals and integers compare exactly (off by one is never close, at any size);
 * a decimal against an exact fraction must carry it to float precision ("0.33" is not 1/3);
 * anything else (pi, roots, logs) within the relative tolerance.
 */
function numbersEqual(a: string, b: string, ca: Compiled, cb: Compiled, va: [number, number], vb: [number, number], ctx: Ctx): boolean {
  const real = va[1] === 0 && vb[1] === 0;
  const litA = DECIMAL_LITERAL.test(a.replace(/\s+/g, ''));
  const litB = DECIMAL_LITERAL.test(b.replace(/\s+/g, ''));
  if (real && litA && litB) return decimalKey(a) === decimalKey(b);
  if (real && Number.isInteger(va[0]) && Number.isInteger(vb[0])) return va[0] === vb[0];
  if (real && ((litA && isRational(cb)) || (litB && isRational(ca)))) return close(va, vb, ctx, 1e-9);
  return close(va, vb, ctx, ctx.relTol, nonzeroLiteral(a) || nonzeroLiteral(b) ? 0 : ctx.absTol);
}

/** A decimal literal as an exact canonical string ("+012.50" -> "12.5"); with an exponent, its double. */
function decimalKey(s: string): string {
  const t = s.replace(/\s+/g, '').replace(/^\+/, '');
  if (/[eE]/.test(t)) return String(Number(t));
  const neg = t.startsWith('-');
  let [int = '', frac = ''] = t.replace(/^-/, '').split('.');
  int = int.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.replace(/0+$/, '');
  const key = frac ? `${int}.${frac}` : int;
  return neg && key !== '0' ? `-${key}` : key;
}

/** A written nonzero number ("3.89e-10") is never "zero within tolerance". */
function nonzeroLiteral(s: string): boolean {
  const t = s.replace(/\s+/g, '');
  return DECIMAL_LITERAL.test(t) && Number(t) !== 0;
}

export function safeEval(c: Compiled, scope: Record<string, number>): [number, number] | null {
  termsLeft = TERMS_PER_EVALUATION;
  try {
    return toComplex(c.evaluate(scope));
  } catch {
    return null;
  }
}

/** The value of a constant expression ("\frac{3}{2}", "-\infty"), or null when it has variables or fails. */
export function constantValue(latex: string, ctx: Ctx): [number, number] | null {
  try {
    const c = compileLatex(latex, ctx);
    if (c.symbols.size > 0) return null;
    return safeEval(c, {});
  } catch (err) {
    if (err instanceof BudgetExceededError) throw err;
    return null;
  }
}

/** One random point: reals in [0.3, 2.3], and integers 1..8 for symbols in a sum's limits. */
function randomPoint(symbols: string[], integers: Set<string>, rand: () => number): Record<string, number> {
  const scope: Record<string, number> = {};
  for (const s of symbols) scope[s] = integers.has(s) ? 1 + Math.floor(8 * rand()) : 0.3 + 2 * rand();
  return scope;
}

export function compareScalars(a: string, b: string, ctx: Ctx): Equivalence {
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
    return numbersEqual(a, b, ca, cb, va, vb, ctx) ? { equal: true, method: 'numeric' } : { equal: false, method: 'numeric', reason: `${fmt(va)} != ${fmt(vb)}` };
  }
  // Different variables on each side cannot be the same expression unless one cancels out;
  // random points decide that too.
  const rand = mulberry32(0x5eed ^ symbols.length);
  const integers = new Set([...ca.integers, ...cb.integers]);
  const absTol = nonzeroLiteral(a) || nonzeroLiteral(b) ? 0 : ctx.absTol;
  let valid = 0;
  for (let p = 0; p < ctx.points * 3 && valid < ctx.points; p++) {
    checkBudget(ctx);
    const scope = randomPoint(symbols, integers, rand);
    const va = safeEval(ca, scope);
    const vb = safeEval(cb, scope);
    if (!va || !vb || !va.every(Number.isFinite) || !vb.every(Number.isFinite)) continue;
    valid++;
    if (!close(va, vb, ctx, ctx.relTol, absTol)) return { equal: false, method: 'random-points', reason: `differ at ${JSON.stringify(scope)}` };
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

/**
 * True when (aL - aR) = k (bL - bR) for one constant k != 0 at seeded random points; with
 * `positive`, k must also be > 0 (an inequality keeps its direction only under a positive factor).
 */
export function proportional(a: { lhs: string; rhs: string }, b: { lhs: string; rhs: string }, positive: boolean, ctx: Ctx): Equivalence {
  try {
    const da = compileLatex(`(${a.lhs})-(${a.rhs})`, ctx);
    const db = compileLatex(`(${b.lhs})-(${b.rhs})`, ctx);
    const symbols = [...new Set([...da.symbols, ...db.symbols])];
    // Without a variable every difference is a constant and any two are "proportional".
    if (symbols.length === 0) return { equal: false, method: 'numeric', reason: 'relations between constants are not compared' };
    const rand = mulberry32(0xe9 ^ symbols.length);
    let ratio: number | null = null;
    let valid = 0;
    for (let p = 0; p < ctx.points * 3 && valid < ctx.points; p++) {
      checkBudget(ctx);
      const scope = randomPoint(symbols, new Set([...da.integers, ...db.integers]), rand);
      const va = safeEval(da, scope);
      const vb = safeEval(db, scope);
      if (!va || !vb || va[1] !== 0 || vb[1] !== 0 || !Number.isFinite(va[0]) || !Number.isFinite(vb[0])) continue;
      if (Math.abs(vb[0]) < 1e-12) {
        if (Math.abs(va[0]) > 1e-9) return { equal: false, method: 'random-points', reason: 'the two sides differ' };
        continue;
      }
      const r = va[0] / vb[0];
      valid++;
      if (ratio === null) ratio = r;
      else if (!close([r, 0], [ratio, 0], ctx)) return { equal: false, method: 'random-points', reason: 'the differences of the two sides are not proportional' };
    }
    if (ratio === null || ratio === 0) return { equal: false, method: 'random-points', reason: 'no point where both evaluate' };
    if (positive && ratio < 0) return { equal: false, method: 'relation', reason: 'the relations point in opposite directions' };
    return { equal: true, method: 'random-points' };
  } catch (err) {
    if (err instanceof BudgetExceededError) throw err;
    return { equal: false, method: 'string', reason: `not comparable: ${(err as Error).message}` };
  }
}
