// Splits a normalised answer into its shape before comparing: matrices, unions of intervals,
// sets "\{...\}", tuples and intervals "(a,b]", bare comma lists, "a \pm b", equations, words,
// and scalars. Comparison (equivalence.ts) then walks two shapes side by side.

export type AnswerShape =
  | { kind: 'scalar'; latex: string }
  | { kind: 'text'; text: string }
  | { kind: 'tuple'; open: string; close: string; items: AnswerShape[] }
  | { kind: 'set'; items: AnswerShape[] }
  | { kind: 'union'; parts: AnswerShape[] }
  | { kind: 'matrix'; rows: AnswerShape[][] }
  | { kind: 'equation'; lhs: string; rhs: string };

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

const WORD = /^[A-Za-z][A-Za-z '-]*$/;
const MATH_WORDS = /^(?:sqrt|pi|infty|infinity|inf|sin|cos|tan|cot|sec|csc|ln|log|exp)$/;

export function parseShape(s: string, depth = 0): AnswerShape {
  const t = s.trim();
  if (depth > 8) return { kind: 'scalar', latex: t };
  const matrix = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}$/s.exec(t);
  if (matrix) {
    const rows = matrix[2]!
      .split(/\\\\/)
      .map((r) => r.trim())
      .filter((r) => r !== '')
      .map((r) => r.split('&').map((cell) => parseShape(cell, depth + 1)));
    return { kind: 'matrix', rows };
  }
  const union = splitTopLevel(t, '\\cup');
  if (union.length > 1) return { kind: 'union', parts: union.map((p) => parseShape(p, depth + 1)) };
  if (t.startsWith('\\{') && t.endsWith('\\}')) {
    const inner = t.slice(2, -2);
    return { kind: 'set', items: splitTopLevel(inner, ',').flatMap((p) => expandPm(p, depth)) };
  }
  if ('(['.includes(t[0]!) && ')]'.includes(t[t.length - 1]!) && wrapsWhole(t)) {
    const inner = splitTopLevel(t.slice(1, -1), ',');
    if (inner.length > 1) return { kind: 'tuple', open: t[0]!, close: t[t.length - 1]!, items: inner.map((p) => parseShape(p, depth + 1)) };
  }
  const commas = splitTopLevel(t, ',');
  if (commas.length > 1) return { kind: 'set', items: commas.flatMap((p) => expandPm(p, depth)) };
  if (/\\(?:pm|mp)(?![a-zA-Z])/.test(t)) {
    return { kind: 'set', items: expandPm(t, depth) };
  }
  const eq = splitTopLevel(t, '=');
  if (eq.length === 2 && !/[<>!]$/.test(eq[0]!)) return { kind: 'equation', lhs: eq[0]!.trim(), rhs: eq[1]!.trim() };
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
