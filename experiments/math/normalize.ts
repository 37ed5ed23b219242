// Normalises a final-answer string written in LaTeX (or plain text) into a canonical LaTeX-ish
// form: spacing commands, \left/\right, \dfrac/\tfrac, units in \text{}, degrees, percent,
// dollar signs, thousands separators, "x =" / "x \in" prefixes and trailing periods removed.
// The result is still LaTeX; latex-expr.ts turns a normalised scalar into a mathjs expression.

/** Answers longer than this are cut before normalising: no real final answer is this long. */
export const MAX_ANSWER_CHARS = 2000;

// Words that follow a number as a unit; dropped when they end a numeric answer.
const UNIT_WORDS = [
  // No one-letter units (m, s, g, l) and no "in": after a number they read as a variable ("6m").
  'cm', 'mm', 'km', 'meters?', 'centimeters?', 'kilometers?', 'inch(?:es)?', 'feet', 'foot', 'ft',
  'yards?', 'miles?', 'mi', 'units?', 'square', 'sq', 'cubic', 'degrees?', 'deg', 'radians?', 'rad',
  'cents?', 'dollars?', 'seconds?', 'sec', 'minutes?', 'min', 'hours?', 'hr', 'days?', 'weeks?',
  'years?', 'mph', 'kg', 'grams?', 'pounds?', 'lbs?', 'ounces?', 'oz', 'liters?', 'ml',
  'gallons?', 'people', 'students?', 'ways', 'points?', 'percent(?:age)?', 'pct', 'times', 'handshakes?', 'yuan',
];
const UNIT_TAIL = new RegExp(`^(.*?[\\d}).])\\s*(?:(?:${UNIT_WORDS.join('|')})(?:\\s*\\^?\\s*\\{?[23]\\}?)?\\s*)+$`, 'i');

/** Contents of the brace group that opens at s[open] ('{'), or null if unbalanced. */
export function braceGroup(s: string, open: number): { content: string; end: number } | null {
  if (s[open] !== '{') return null;
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++; // skip escaped char such as \{ or \}
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return { content: s.slice(open + 1, i), end: i + 1 };
    }
  }
  return null;
}

/** Replaces every `\cmd{...}` (brace-matched) with f(content). */
function replaceCommandArg(s: string, cmds: string[], f: (content: string, before: string, after: string) => string): string {
  const re = new RegExp(`\\\\(?:${cmds.join('|')})\\s*(?=\\{)`, 'g');
  let out = s;
  for (let guard = 0; guard < 200; guard++) {
    re.lastIndex = 0;
    const m = re.exec(out);
    if (!m) break;
    const g = braceGroup(out, m.index + m[0].length);
    if (!g) break;
    const before = out.slice(0, m.index);
    const after = out.slice(g.end);
    out = before + f(g.content, before, after) + after;
  }
  return out;
}

const TEXT_CMDS = ['text', 'textbf', 'textit', 'textrm', 'mbox', 'mathrm', 'mathbf', 'mathit', 'textnormal', 'operatorname'];

/** Removes \text{unit} blocks after a numeric part; unwraps them when they are the answer. */
function handleText(s: string): string {
  // A text block after something numeric is a unit ("5.4 \text{ cents}", "15\mbox{ cm}^2").
  const stripped = replaceCommandArg(s, TEXT_CMDS, (_c, before) => (/[\d}.)]\s*$/.test(before) ? '\u0000' : `\u0001${_c}\u0002`))
    .replace(/\u0000\s*(\^\s*\{?\s*[23]\s*\}?)?/g, '');
  return stripped.replace(/\u0001/g, '').replace(/\u0002/g, '');
}

/** Strips the outer `$...$`, `\(...\)`, `\[...\]` math delimiters. */
function stripMathDelimiters(s: string): string {
  let t = s.trim();
  for (let guard = 0; guard < 4; guard++) {
    const before = t;
    if (t.startsWith('$$') && t.endsWith('$$') && t.length >= 4) t = t.slice(2, -2).trim();
    else if (t.startsWith('$') && t.endsWith('$') && t.length >= 2) t = t.slice(1, -1).trim();
    else if (t.startsWith('\\(') && t.endsWith('\\)')) t = t.slice(2, -2).trim();
    else if (t.startsWith('\\[') && t.endsWith('\\]')) t = t.slice(2, -2).trim();
    if (t === before) break;
  }
  return t;
}

export function normalizeAnswer(input: string): string {
  let s = String(input).slice(0, MAX_ANSWER_CHARS);
  s = stripMathDelimiters(s);
  s = s.replace(/\\displaystyle/g, '');
  // JSON double escaping ("\\\\frac"): a doubled backslash before a known command is one backslash.
  s = s.replace(/\\\\(?=(?:[dtc]?frac|sqrt|left|right|text|boxed|pi|cdot|times|le|ge|leq|geq|neq|infty)(?![a-zA-Z]))/g, '\\');
  // A lone trailing backslash ("185\") is a typing slip, not a command.
  s = s.replace(/(?<!\\)\\\s*$/, '');
  // Thousands separators written with LaTeX glue: "10,\!080", "14{,}916" (groups of three digits).
  s = s.replace(/(\d)\s*(?:,\s*\\!|\{\s*,\s*\})\s*(?=\d{3}(?!\d))/g, '$1');
  s = connectorsToSeparators(s);
  // Spacing: \! \, \; \: \quad and "\ ". "\!" inside "10,\!080" is a thousands separator's glue.
  s = s.replace(/(?<!\\)\\[!,;:>]\s*/g, ' ').replace(/\\q?quad/g, ' ').replace(/(?<!\\)\\ /g, ' ').replace(/~/g, ' ');
  s = s.replace(/\\[dtc]frac/g, '\\frac');
  s = s.replace(/\\left\s*\./g, '').replace(/\\right\s*\./g, '');
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)\s*(?=[()[\]|.]|\\[{}|])/g, '');
  s = s.replace(/\\(?:left|right)/g, '');
  // Degrees and percent.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}/g, '').replace(/\^\s*\\circ/g, '').replace(/\\circ/g, '').replace(/°/g, '');
  s = s.replace(/\\degree/g, '');
  s = s.replace(/\\%/g, '').replace(/%/g, '');
  s = s.replace(/\\\$/g, '').replace(/\$/g, '');
  s = handleText(s);
  s = s.replace(/\\(?:mathbb|boldsymbol|bm)\s*\{([^{}]*)\}/g, '$1');
  s = s.trim();
  // Leading "the answer is" style words rarely survive extraction; drop a few that do.
  s = s.replace(/^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*/i, '');
  // Trailing punctuation.
  for (let guard = 0; guard < 4; guard++) {
    const t = s.replace(/(?:\\\.|[.,;:])\s*$/, '').trim();
    if (t === s) break;
    s = t;
  }
  // "x \in [-2,7]": a single variable (optionally subscripted) in a set is that set. ("x = 5" is
  // a named value, kept whole: structure.ts reads it.)
  const prefix = /^([a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)\s*\\in\s*(.+)$/s.exec(s);
  if (prefix && !/=/.test(prefix[2]!) && !/^\\(?:frac|sqrt)$/.test(prefix[1]!)) s = prefix[2]!.trim();
  // Units written as plain words after a number ("5 cm", "12 square units").
  const unit = UNIT_TAIL.exec(s);
  if (unit && unit[1]!.trim() !== '') s = unit[1]!.trim();
  // Thousands separators: "10,080", "11,111,111,100" (commas between digit groups of three, no
  // space: "32, 349" is a list). Only when the whole answer is one grouped number: "(12,102)" is an interval.
  if (/^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  s = s.replace(/\s+/g, ' ').trim();
  // Multiple choice "(B)" and bare letters are compared as the letter.
  const choice = /^\(([A-E])\)$/.exec(s);
  if (choice) s = choice[1]!;
  return s;
}

/**
 * "and", "or" (bare or in \text{}) and "\quad" between items separate them: they become ";", the
 * item-group separator of structure.ts. They are never dropped, so "12\text{ and }13" stays two
 * items and never becomes 1213. An Oxford comma before the word collapses into it.
 */
function connectorsToSeparators(s: string): string {
  let t = s.replace(/\\(?:text|textrm|textnormal|mbox|mathrm)\s*\{\s*(?:and|or)\s*\}/gi, ' ; ');
  t = t.replace(/(^|[^A-Za-z\\])(?:and|or)(?![A-Za-z])/gi, '$1 ; ');
  if (!t.includes(';')) return s;
  return t.replace(/(?:\s*(?:[,;]|\\q?quad)\s*)*;(?:\s*(?:[,;]|\\q?quad)\s*)*/g, ' ; ').replace(/^\s*;\s*|\s*;\s*$/g, '');
}

/** True when an answer carries a percent sign or word: it may then equal its value / 100 too. */
export function hasPercent(s: string): boolean {
  return /%|\bpercent(?:age)?\b|\bpct\b/i.test(s);
}

/**
 * A form for plain string comparison: normalised, without spaces, and without braces that wrap a
 * single character ("_{8}" -> "_8"). Other braces stay: "\frac{1}{54}" and "\frac{15}{4}" must
 * not meet as "\frac154". Case is kept (N and n are different variables); words compare
 * case-insensitively in equivalence.ts.
 */
export function compactForm(s: string): string {
  return s.replace(/\s+/g, '').replace(/(?<!\\)\{([^{}\\])\}/g, '$1');
}
