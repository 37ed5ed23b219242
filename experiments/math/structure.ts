// Splits a normalised answer into its shape before comparing: matrices, item groups (";" and the
// connector words normalize.ts turns into it), unions of intervals, sets "\{...\}" and "{...}",
// tuples and intervals "(a,b]", bare comma lists, "a \pm b", relations (< \le \ne ... chains),
// equations, named values "f(x) = 1", "(p,q) = (3,2)", records "x = 1, y = 2", words and scalars.
// Comparison (equivalence.ts) then walks two shapes side by side.

export type RelOp = '<' | '<=' | '>' | '>=' | '!=' | '=';

export type AnswerShape =
  | { kind: 'scalar'; latex: string }
  | { kind: 'text'; text: string }
  | { kind: 'tuple'; open: string; close: string; items: AnswerShape[] }
  /** Unordered items. `bare`: a plain list without braces; `plain`: in plain braces "{1,3}". */
  | { kind: 'set'; items: AnswerShape[]; bare?: boolean; plain?: boolean }
  | { kind: 'union'; parts: AnswerShape[] }
  | { kind: 'matrix'; rows: AnswerShape[][] }
  /** An equation whose left side is not a name: "x+y=1", "7 = 11a+c". */
  | { kind: 'equation'; lhs: string; rhs: string }
  /** "name = value" (or a chain "name = a = b": `chain` holds the middle parts, which must agree). */
  | { kind: 'named'; name: string; value: AnswerShape; valueLatex: string; chain: string[] }
  /** Several different names with a value each, in written order: "x = -5, p = 14/3". */
  | { kind: 'record'; names: string[]; values: AnswerShape[] }
  | { kind: 'relation'; parts: string[]; ops: RelOp[] };

/** Splits on `sep` where it is not inside (), [], {} or \{ \}. */
export function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (s.startsWith(sep, i) && depth === 0) {
        parts.push(s.slice(last, i));
        last = i + sep.length;
        i += sep.length - 1;
        continue;
      }
      const next = s[i + 1];
      if (next === '{' || next === '(' || next === '[') depth++;
      else if (next === '}' || next === ')' || next === ']') depth--;
      i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      parts.push(s.slice(last, i));
      last = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(last));
  return parts;
}

const REL_RE = /^(?:\\(?:leqslant|geqslant|leq|geq|neq|le|ge|ne|lt|gt)(?![a-zA-Z])|<=|>=|!=|=<|=>|<|>|=|≤|≥|≠)/;
const REL_MAP: Record<string, RelOp> = {
  '\\leqslant': '<=', '\\geqslant': '>=', '\\leq': '<=', '\\geq': '>=', '\\neq': '!=', '\\le': '<=', '\\ge': '>=', '\\ne': '!=',
  '\\lt': '<', '\\gt': '>', '<=': '<=', '>=': '>=', '!=': '!=', '=<': '<=', '=>': '>=', '<': '<', '>': '>', '=': '=', '≤': '<=', '≥': '>=', '≠': '!=',
};

/** Splits at top-level relation signs: "0 < f(x) \le 1" -> parts [0, f(x), 1], ops [<, <=]. */
export function splitRelations(s: string): { parts: string[]; ops: RelOp[] } {
  const parts: string[] = [];
  const ops: RelOp[] = [];
  let depth = 0;
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (depth !== 0) {
      if (c === '\\') i++;
      continue;
    }
    const m = REL_RE.exec(s.slice(i, i + 10));
    if (m) {
      parts.push(s.slice(last, i).trim());
      ops.push(REL_MAP[m[0]]!);
      last = i + m[0].length;
      i = last - 1;
      continue;
    }
    if (c === '\\') {
      const next = s[i + 1];
      if (next === '{' || next === '(' || next === '[') depth++;
      else if (next === '}' || next === ')' || next === ']') depth--;
      i++;
    }
  }
  parts.push(s.slice(last).trim());
  return { parts, ops };
}

/** True when the bracket opening at 0 closes exactly at the end of s. */
function wrapsWhole(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0 && i < s.length - 1) return false;
    }
  }
  return depth === 0;
}

const SIMPLE_NAME = /^(?:[A-Za-z]{1,4}|\\(?:alpha|beta|gamma|delta|theta|lambda|mu|phi|psi|omega|sigma|rho|tau|Delta|Omega))(?:_(?:\{[\w,]+\}|\w))?'*$/;

/**
 * A name on the left of "=": a variable ("x", "a_{37}", "AB"), a function value ("f(x)", "W(2)"),
 * an absolute value "|AB|", a ratio "V_1:V_2", a quotient "\frac{NO}{BO}", a tuple of names "(p,q)",
 * an angle "\angle ABC". Anything with arithmetic ("x+y", "2x") is not a name: it is an equation.
 */
export function isName(raw: string): boolean {
  const s = raw.replace(/\s+/g, '');
  if (s === '') return false;
  if (SIMPLE_NAME.test(s)) return true;
  const fn = /^([A-Za-z](?:_(?:\{\w+\}|\w))?)\(([\w,]+)\)$/.exec(s);
  if (fn) return true;
  const abs = /^\|(.+)\|$/.exec(s) ?? /^\\\|(.+)\\\|$/.exec(s);
  if (abs) return isName(abs[1]!);
  const angle = /^(?:m)?\\(?:angle|overline|widehat|triangle)\{?([A-Za-z]{1,4})\}?$/.exec(s);
  if (angle) return true;
  const frac = /^\\frac\{([^{}]+)\}\{([^{}]+)\}$/.exec(s);
  if (frac) return isName(frac[1]!) && isName(frac[2]!);
  if (s.includes(':')) return splitTopLevel(s, ':').every(isName);
  if (s.startsWith('(') && s.endsWith(')') && wrapsWhole(s)) {
    const inner = splitTopLevel(s.slice(1, -1), ',');
    return inner.length > 1 && inner.every(isName);
  }
  return false;
}

/** True when "\{" at 0 closes with the "\}" at the end of s. */
function escapedBracesWrapWhole(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') continue;
    const next = s[i + 1];
    if (next === '{') depth++;
    else if (next === '}' && --depth === 0 && i + 2 < s.length) return false;
    i++;
  }
  return depth === 0;
}

const WORD = /^[A-Za-z][A-Za-z '-]*$/;
const MATH_WORDS = /^(?:sqrt|pi|infty|infinity|inf|sin|cos|tan|cot|sec|csc|ln|log|exp)$/;

/** Turns parsed items into a list: a one-name solution set ("x=1, x=2"), a record, or a bare set. */
function assembleList(items: AnswerShape[], source: string): AnswerShape {
  const named = items.filter((it) => it.kind === 'named') as Extract<AnswerShape, { kind: 'named' }>[];
  if (named.length === 0) return { kind: 'set', items, bare: true };
  const names = new Set(named.map((n) => nameKey(n.name)));
  if (names.size === 1) return { kind: 'set', items: items.map((it) => (it.kind === 'named' ? it.value : it)), bare: true };
  if (named.length === items.length) return { kind: 'record', names: named.map((n) => n.name), values: named.map((n) => n.value) };
  // Several names mixed with unnamed items: no reading is safe; only an identical answer matches.
  return { kind: 'text', text: source };
}

export function nameKey(name: string): string {
  return name.replace(/[\s{}]/g, '');
}

export function parseShape(s: string, depth = 0): AnswerShape {
  const t = s.trim();
  if (depth > 8) return { kind: 'scalar', latex: t };
  const matrix = /^[([]?\s*\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}\s*[)\]]?$/s.exec(t);
  if (matrix && (/^[([]/.test(t) === /[)\]]$/.test(t))) {
    const rows = matrix[2]!
      .split(/\\\\/)
      .map((r) => r.trim())
      .filter((r) => r !== '')
      .map((r) => r.split('&').map((cell) => parseShape(cell, depth + 1)));
    return { kind: 'matrix', rows };
  }
  // Item groups: ";" separates groups, "," items within a group. "p=5,q=2; p=7,q=2" is two records.
  const groups = splitTopLevel(t, ';').map((g) => g.trim()).filter((g) => g !== '');
  if (groups.length > 1) {
    const parsed = groups.map((g) => parseShape(g, depth + 1));
    if (parsed.every((p) => p.kind === 'record')) return { kind: 'set', items: parsed, bare: true };
    const items = parsed.flatMap((p) => (p.kind === 'set' && p.bare ? p.items : [p]));
    return assembleList(items, t);
  }
  const union = splitTopLevel(t, '\\cup');
  if (union.length > 1) return { kind: 'union', parts: union.map((p) => parseShape(p, depth + 1)) };
  if (t.startsWith('\\{') && t.endsWith('\\}') && escapedBracesWrapWhole(t)) {
    const inner = t.slice(2, -2);
    return { kind: 'set', items: splitTopLevel(inner, ',').flatMap((p) => expandPm(p, depth)) };
  }
  // Plain braces around a list: "{1,3}" is a set written without the backslashes.
  if (t.startsWith('{') && t.endsWith('}') && wrapsWhole(t) && splitTopLevel(t.slice(1, -1), ',').length > 1) {
    return { kind: 'set', items: splitTopLevel(t.slice(1, -1), ',').flatMap((p) => expandPm(p, depth)), plain: true };
  }
  if ('(['.includes(t[0]!) && ')]'.includes(t[t.length - 1]!) && wrapsWhole(t)) {
    let inner = splitTopLevel(t.slice(1, -1), ',');
    if (inner.length === 1) inner = splitTopLevel(t.slice(1, -1), ';');
    if (inner.length > 1) return { kind: 'tuple', open: t[0]!, close: t[t.length - 1]!, items: inner.map((p) => parseShape(p, depth + 1)) };
  }
  const commas = splitTopLevel(t, ',');
  if (commas.length > 1) return assembleList(commas.flatMap((p) => expandPm(p, depth)), t);
  if (/\\(?:pm|mp)(?![a-zA-Z])/.test(t)) {
    return { kind: 'set', items: expandPm(t, depth) };
  }
  // "x \approx 3.14" is the value 3.14; "\frac{\sqrt3}{3} \approx 0.577" is its exact left side.
  const approx = splitTopLevel(t, '\\approx');
  if (approx.length > 1) {
    const left = approx[0]!.trim();
    if (left === '' || isName(splitRelations(left).parts[0]!)) return parseShape(approx[approx.length - 1]!, depth + 1);
    return parseShape(left, depth + 1);
  }
  const rel = splitRelations(t);
  if (rel.ops.length > 0 && rel.parts.every((p) => p !== '')) {
    if (rel.ops.every((o) => o === '=')) {
      const [first, ...rest] = rel.parts;
      if (isName(first!)) {
        const valueLatex = rest[rest.length - 1]!;
        return { kind: 'named', name: first!, value: parseShape(valueLatex, depth + 1), valueLatex, chain: rest.slice(0, -1) };
      }
      if (rel.parts.length === 2) return { kind: 'equation', lhs: rel.parts[0]!, rhs: rel.parts[1]! };
    }
    return { kind: 'relation', parts: rel.parts, ops: rel.ops };
  }
  if (WORD.test(t) && t.replace(/[^A-Za-z]/g, '').length >= 3 && !MATH_WORDS.test(t)) return { kind: 'text', text: t };
  return { kind: 'scalar', latex: t };
}

/** "1 \pm \sqrt{19}" -> shapes of "1 + \sqrt{19}" and "1 - \sqrt{19}"; also inside \frac{-1 \pm ...}{2}. */
function expandPm(s: string, depth: number): AnswerShape[] {
  const m = /\\(pm|mp)(?![a-zA-Z])/.exec(s);
  if (!m || depth > 8) return [parseShape(s, depth + 1)];
  const [first, second] = m[1] === 'pm' ? ['+', '-'] : ['-', '+'];
  const head = s.slice(0, m.index);
  const tail = s.slice(m.index + m[0].length);
  return [...expandPm(`${head}${first}${tail}`, depth + 1), ...expandPm(`${head}${second}${tail}`, depth + 1)];
}
