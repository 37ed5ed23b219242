// Converts one normalised LaTeX scalar ("\frac{3\sqrt{3}}{4}", "2k+2", "\cot x", "1\frac{4}{5}")
// into a mathjs expression string. Letters become single-letter variables wrapped in parens so
// that "x(x+1)" is a product, not a call. Anything it does not understand throws
// NotAnExpressionError and the caller falls back to comparing strings.

export class NotAnExpressionError extends Error {
  override name = 'NotAnExpressionError';
}

const FUNCS: Record<string, string> = {
  sin: 'sin', cos: 'cos', tan: 'tan', cot: 'cot', sec: 'sec', csc: 'csc',
  arcsin: 'asin', arccos: 'acos', arctan: 'atan', sinh: 'sinh', cosh: 'cosh', tanh: 'tanh',
  ln: 'log', log: 'log10', exp: 'exp', sqrt: 'sqrt',
};
const CONSTS: Record<string, string> = { pi: 'pi', infty: 'Infinity', infinity: 'Infinity', inf: 'Infinity' };
const GREEK = new Set([
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota',
  'kappa', 'lambda', 'mu', 'nu', 'xi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'varphi', 'chi', 'psi', 'omega',
  'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Sigma', 'Phi', 'Psi', 'Omega',
]);
const OPS: Record<string, string> = { cdot: '*', times: '*', ast: '*', div: '/' };
// Relations are compared as shapes (structure.ts), never evaluated: a truth value is not a number.
const RELATIONS = new Set(['le', 'leq', 'ge', 'geq', 'neq', 'ne', 'lt', 'gt', 'approx', 'leqslant', 'geqslant']);
const IGNORED = new Set(['displaystyle', 'left', 'right', 'limits', 'nolimits']);

class Reader {
  i = 0;
  constructor(readonly s: string) {}
  peek(): string | undefined {
    return this.s[this.i];
  }
  skipSpaces(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  commandName(): string {
    // at '\\'
    const m = /^\\([a-zA-Z]+|.)/.exec(this.s.slice(this.i));
    if (!m) throw new NotAnExpressionError('dangling backslash');
    this.i += m[0].length;
    return m[1]!;
  }
  /** One argument: a {group}, a command with its own arguments, or a single character. */
  arg(): string {
    this.skipSpaces();
    const c = this.peek();
    if (c === undefined) throw new NotAnExpressionError('missing argument');
    if (c === '{') return this.group();
    if (c === '\\') return convertFrom(this, true);
    this.i++;
    return atom(c);
  }
  /** The text of a {group} (or one character, or one command), unconverted. */
  rawArg(): string {
    this.skipSpaces();
    const c = this.peek();
    if (c === undefined) throw new NotAnExpressionError('missing argument');
    if (c === '\\') return '\\' + this.commandName();
    if (c !== '{') {
      this.i++;
      return c;
    }
    return this.groupText();
  }
  /** At '{': the group's inner text, unconverted; the reader moves past its '}'. */
  groupText(): string {
    let depth = 0;
    const start = this.i;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s[this.i];
      if (c === '\\') {
        this.i++;
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        this.i++;
        return this.s.slice(start + 1, this.i - 1);
      }
    }
    throw new NotAnExpressionError('unbalanced braces');
  }
  group(): string {
    // at '{'
    return `(${latexToExpr(this.groupText())})`;
  }
}

function atom(c: string): string {
  if (/[0-9]/.test(c)) return c;
  if (/[a-zA-Z]/.test(c)) return `(${c})`;
  throw new NotAnExpressionError(`unexpected '${c}' as an argument`);
}

/** Reads the argument of a function written without braces or parens: "\cot x", "\sin 2x". */
function bareFunctionArg(r: Reader): string {
  r.skipSpaces();
  const c = r.peek();
  if (c === '(' ) {
    let depth = 0;
    const start = r.i;
    for (; r.i < r.s.length; r.i++) {
      if (r.s[r.i] === '(') depth++;
      else if (r.s[r.i] === ')' && --depth === 0) {
        r.i++;
        return `(${latexToExpr(r.s.slice(start + 1, r.i - 1))})`;
      }
    }
    throw new NotAnExpressionError('unbalanced parentheses');
  }
  if (c === '{') return r.group();
  // a run of digits and letters (a monomial such as 2x)
  const m = /^[0-9.]*[a-zA-Z]?/.exec(r.s.slice(r.i))!;
  if (m[0] === '') return r.arg();
  r.i += m[0].length;
  return `(${latexToExpr(m[0])})`;
}

function command(r: Reader, name: string): string {
  if (name === 'frac' || name === 'over') {
    if (name === 'over') throw new NotAnExpressionError('\\over is not supported');
    const a = r.arg();
    const b = r.arg();
    return `((${a})/(${b}))`;
  }
  if (name === 'binom' || name === 'dbinom' || name === 'tbinom') {
    const a = r.arg();
    const b = r.arg();
    return `combinations(${a},${b})`;
  }
  if (name === 'sqrt') {
    r.skipSpaces();
    if (r.peek() === '[') {
      const close = r.s.indexOf(']', r.i);
      if (close < 0) throw new NotAnExpressionError('unclosed \\sqrt[');
      const n = latexToExpr(r.s.slice(r.i + 1, close));
      r.i = close + 1;
      return `nthRoot(${r.arg()},${n})`;
    }
    return `sqrt(${r.arg()})`;
  }
  if (name === 'sum' || name === 'prod') return bigOperator(r, name);
  if (name in FUNCS) {
    let power = '';
    let base = '';
    r.skipSpaces();
    if (name === 'log' && r.peek() === '_') {
      r.i++;
      base = r.arg();
      r.skipSpaces();
    }
    if (r.peek() === '^') {
      r.i++;
      power = r.arg();
    }
    const a = bareFunctionArg(r);
    const call = base ? `log(${a},${base})` : `${FUNCS[name]}(${a})`;
    return power ? `(${call})^(${power})` : call;
  }
  if (name in CONSTS) return `(${CONSTS[name]})`;
  // Prefixed: mathjs defines gamma, phi and tau itself.
  if (GREEK.has(name)) return `(g_${name})`;
  if (name in OPS) return OPS[name]!;
  if (RELATIONS.has(name)) throw new NotAnExpressionError(`relation \\${name} is not a value`);
  if (IGNORED.has(name)) return ' ';
  if (name === '{') return '(';
  if (name === '}') return ')';
  if (name === 'mathrm' || name === 'text' || name === 'mathbf' || name === 'operatorname') return r.arg();
  throw new NotAnExpressionError(`unsupported LaTeX command \\${name}`);
}

/**
 * "\sum_{k=lo}^{hi} body" as lsum(k, lo, hi, body) (lprod for \prod), evaluated by scalar.ts
 * over the integers lo..hi. The body runs to the next top-level + - = < > , or the end.
 */
function bigOperator(r: Reader, name: 'sum' | 'prod'): string {
  r.skipSpaces();
  while (/^\\(no)?limits(?![a-zA-Z])/.test(r.s.slice(r.i))) {
    r.commandName();
    r.skipSpaces();
  }
  if (r.peek() !== '_') throw new NotAnExpressionError(`\\${name} without a lower limit _{k=...}`);
  r.i++;
  const lower = /^\s*(\\[a-zA-Z]+|[a-zA-Z])\s*=(.+)$/s.exec(r.rawArg());
  if (!lower) throw new NotAnExpressionError(`\\${name}'s lower limit must read k=<start>`);
  const v = lower[1]!.startsWith('\\') ? lower[1]!.slice(1) : lower[1]!;
  if (lower[1]!.startsWith('\\') && !GREEK.has(v)) throw new NotAnExpressionError(`\\${name} over \\${v}`);
  const bound = lower[1]!.startsWith('\\') ? `g_${v}` : v;
  r.skipSpaces();
  if (r.peek() !== '^') throw new NotAnExpressionError(`\\${name} without an upper limit ^{...}`);
  r.i++;
  const hi = latexToExpr(r.rawArg());
  const lo = latexToExpr(lower[2]!);
  r.skipSpaces();
  const start = r.i;
  let depth = 0;
  for (; r.i < r.s.length; r.i++) {
    const c = r.s[r.i]!;
    if (c === '\\') {
      r.i++;
      continue;
    }
    if ('{(['.includes(c)) depth++;
    else if ('})]'.includes(c)) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && '+-=<>,'.includes(c) && !(r.i === start && (c === '-' || c === '+'))) break;
  }
  const body = latexToExpr(r.s.slice(start, r.i));
  if (body === '') throw new NotAnExpressionError(`\\${name} has no body`);
  return `(${name === 'sum' ? 'lsum' : 'lprod'}(${bound},(${lo}),(${hi}),(${body})))`;
}

/**
 * A subscript on the letter just written: digits or a multi-letter label name a new symbol
 * (x_1, a_ij); a single letter or an expression indexes the letter as a sequence,
 * lidx("a", n+1), so a_{n+1} and a_{1+n} agree and F_k depends on k inside a sum.
 */
function subscript(r: Reader, out: string): string {
  const m = /\((g_[a-zA-Z]+|[a-zA-Z])\)$/.exec(out);
  if (!m) throw new NotAnExpressionError('a subscript on something other than a letter');
  r.i++;
  const sub = r.rawArg().trim();
  if (sub === '') throw new NotAnExpressionError('an empty subscript');
  const head = out.slice(0, m.index);
  if (/^[0-9]+$/.test(sub) || /^[a-zA-Z0-9]{2,}$/.test(sub)) return `${head}(${m[1]}_${sub})`;
  return `${head}(lidx("${m[1]}",(${latexToExpr(sub)})))`;
}

/** Converts from the reader's position; with `one`, stops after one command (an argument). */
function convertFrom(r: Reader, one = false): string {
  let out = '';
  while (r.i < r.s.length) {
    const c = r.s[r.i]!;
    if (c === '\\') {
      const name = r.commandName();
      out += command(r, name);
      if (one) return out;
      continue;
    }
    if (/\s/.test(c)) {
      out += ' ';
      r.i++;
      continue;
    }
    if (c === '{') {
      out += r.group();
      continue;
    }
    if (c === '}') throw new NotAnExpressionError('unbalanced braces');
    if (/[0-9.]/.test(c)) {
      // Scientific notation "1.5e3", "4.5E-7": the e is an exponent, not Euler's number.
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+(?![\d.a-zA-Z]))?/.exec(r.s.slice(r.i));
      if (!m) throw new NotAnExpressionError(`stray '.'`);
      r.i += m[0].length;
      if (/[eE]/.test(m[0])) {
        out += `(${Number(m[0])})`;
        continue;
      }
      if (r.peek() === '_') throw new NotAnExpressionError('a number with a base subscript is compared as text');
      // Mixed number: "1\frac{4}{5}" means 1 + 4/5 (only digits in the fraction).
      const mixed = /^\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}/.exec(r.s.slice(r.i));
      if (mixed && /^\d+$/.test(m[0]) && !/[a-zA-Z)]\s*$/.test(out)) {
        r.i += mixed[0].length;
        out += `(${m[0]}+${mixed[1]}/${mixed[2]})`;
        continue;
      }
      out += m[0];
      continue;
    }
    if (/[a-zA-Z]/.test(c)) {
      const m = /^[a-zA-Z]+/.exec(r.s.slice(r.i))!;
      r.i += m[0].length;
      const word = m[0];
      if (word in FUNCS && (r.peek() === '(' || word === 'sqrt')) out += FUNCS[word];
      else if (word in CONSTS) out += `(${CONSTS[word]})`;
      else if (GREEK.has(word)) out += `(g_${word})`;
      else out += [...word].map((l) => `(${l})`).join('');
      continue;
    }
    if (c === '_') {
      out = subscript(r, out);
      continue;
    }
    if (c === '<' || c === '>' || c === '=' || (c === '!' && r.s[r.i + 1] === '=')) {
      throw new NotAnExpressionError(`relation '${c}' is not a value`);
    }
    if ('+-*/^()[],!'.includes(c)) {
      out += c === '[' ? '(' : c === ']' ? ')' : c;
      r.i++;
      continue;
    }
    throw new NotAnExpressionError(`unsupported character '${c}'`);
  }
  return out;
}

export function latexToExpr(latex: string): string {
  return convertFrom(new Reader(latex)).trim();
}
