// Pulls the final answer out of a worked solution. Boxes first (\boxed{...}, \fbox{...}, braces
// matched, escaped braces skipped): the same answer boxed twice is one answer; different boxes are
// joined into one list ("\boxed{1} and \boxed{-2}" is "1, -2"), so hedging with several candidates
// is graded as a list and never matches a single gold. A text with a box but no complete one
// (truncated) or only an empty box has no answer. Without a box: configurable fallbacks.
import { isEquivalent } from './equivalence.js';
import { braceGroup } from './normalize.js';

export type AnswerFallback = 'whole' | 'final-answer' | 'answer-colon' | 'last-math' | 'last-number';

export interface ExtractOptions {
  /** Tried in order when no box is found. Default: all five, in this order. */
  fallbacks?: AnswerFallback[];
  /** Only the last this-many characters are scanned. Default 200_000. */
  maxChars?: number;
  /** Budget in ms for each check that two boxes hold the same answer. Default 20. */
  boxTimeoutMs?: number;
}

const BOX = /\\(?:boxed|fbox)/g;
/** Each box scan reads to the end of its group: only this many boxes (the last ones) are read. */
const MAX_BOXES = 16;

/** Contents of the complete, outermost boxes in text (oldest first), and whether any box marker was seen. */
export function boxedContents(text: string): { boxes: string[]; sawBox: boolean; lastEnd: number } {
  const starts: number[] = [];
  BOX.lastIndex = 0;
  for (let m = BOX.exec(text); m; m = BOX.exec(text)) starts.push(m.index + m[0].length);
  const boxes: string[] = [];
  let coveredUntil = -1;
  let lastEnd = -1;
  for (const start of starts.slice(-MAX_BOXES)) {
    if (start < coveredUntil) continue; // a box inside a box
    let i = start;
    while (i < text.length && text[i] === ' ') i++;
    if (text[i] === '{') {
      const g = braceGroup(text, i);
      if (!g) continue; // unclosed (truncated) box
      boxes.push(g.content.trim());
      coveredUntil = g.end;
      lastEnd = g.end;
      continue;
    }
    // "\boxed 5": up to the next space or math delimiter
    const m = /^[^\s$]+/.exec(text.slice(i, i + 200));
    if (m && !/^[a-zA-Z]/.test(text[start] ?? '')) {
      boxes.push(m[0].replace(/[.,]$/, ''));
      lastEnd = i + m[0].length;
    }
  }
  return { boxes, sawBox: starts.length > 0, lastEnd };
}

/** Content of the last complete \boxed / \fbox in text, or null. */
export function lastBoxed(text: string): string | null {
  const { boxes } = boxedContents(text);
  return boxes.length ? boxes[boxes.length - 1]! : null;
}

/**
 * The boxed answer under the joined-boxes policy: the distinct boxes (an equal answer boxed again
 * counts once), joined with ", " when there are several. null when no complete non-empty box.
 */
export function boxedAnswer(text: string, boxTimeoutMs = 20): string | null {
  return joinBoxes(boxedContents(text).boxes, boxTimeoutMs);
}

function joinBoxes(boxes: string[], timeoutMs: number): string | null {
  const distinct: string[] = [];
  for (const b of boxes) {
    if (b === '') return null; // an empty box answers nothing, whatever else is boxed
    // A small budget each: this runs before the real comparison and must not eat its time.
    if (!distinct.some((d) => d === b || isEquivalent(d, b, { timeoutMs }).equal)) distinct.push(b);
  }
  if (distinct.length === 0) return null;
  return distinct.join(', ');
}

function cleanTail(s: string): string {
  let t = s.trim().replace(/^(?:\\?["'“])+/, '');
  // "$12,000$. I hope it is correct.", "$12$ and $13$": leading math spans (joined only by
  // connectors) are the answer.
  const spans: string[] = [];
  for (;;) {
    const m = /^(?:\$\$([^$]+)\$\$|\$([^$]+)\$|\\\(([\s\S]+?)\\\)|\\\[([\s\S]+?)\\\])/.exec(t);
    if (!m) break;
    spans.push((m[1] ?? m[2] ?? m[3] ?? m[4]!).trim());
    const rest = t.slice(m[0].length);
    const sep = /^\s*(?:,|;|and\b|or\b)\s*(?=\$|\\[([])/i.exec(rest);
    if (!sep) break;
    t = rest.slice(sep[0].length);
  }
  if (spans.length > 0) return spans.join(' ; ');
  // Otherwise up to the end of the sentence: a period followed by a space or the end.
  const sentence = /^([\s\S]*?)[.。](?:\s|$)/.exec(t);
  if (sentence) t = sentence[1]!;
  return t.replace(/^["'“]+|["'”]+$/g, '').replace(/^\$+|\$+$/g, '').trim();
}

function lastMatch(re: RegExp, text: string): RegExpExecArray | null {
  let last: RegExpExecArray | null = null;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    last = m;
    if (m[0] === '') re.lastIndex++;
  }
  return last;
}

/**
 * The response is the answer and nothing else: math spans joined only by connectors
 * ("$(3,2)$", "$21,16$ or $11$", "$1$ and $2$") or a short line without prose ("\frac{10}{9}", ".4").
 */
function wholeAnswer(t: string): string | null {
  const spans: string[] = [];
  MATH_SPAN.lastIndex = 0;
  const rest = t.replace(MATH_SPAN, (...m: string[]) => {
    spans.push((m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').trim());
    return ' ; ';
  });
  if (spans.length > 0) {
    if (/^(?:\s|[,;.]|\band\b|\bor\b)*$/i.test(rest) && spans.every((s) => s !== '')) return spans.join(' ; ');
    return null;
  }
  const line = t.trim();
  if (line === '' || line.length > 200 || line.includes('\n')) return null;
  // Prose has words of three or more letters outside LaTeX commands and \text{...}.
  const bare = line.replace(/\\[a-zA-Z]+(?:\{[^{}]*\})?/g, ' ');
  return /[A-Za-z]{3,}/.test(bare) ? null : line;
}
const MATH_SPAN = /\$\$([^$]+)\$\$|\$([^$\n]+)\$|\\\(([^\n]+?)\\\)|\\\[([\s\S]+?)\\\]/g;

export function extractAnswer(text: string, opts: ExtractOptions = {}): string | null {
  const maxChars = opts.maxChars ?? 200_000;
  const t = text.length > maxChars ? text.slice(text.length - maxChars) : text;
  const found = boxedContents(t);
  // "Final answer is X" written after the last box is the last thing the text answers: boxes
  // before it held intermediate results.
  const fin = lastMatch(/final answer is\s*:?\s*([^\n]+)/gi, t);
  if (found.boxes.length > 0 && fin && fin.index >= found.lastEnd && cleanTail(fin[1]!) !== '') return cleanTail(fin[1]!);
  const boxed = joinBoxes(found.boxes, opts.boxTimeoutMs ?? 20);
  if (boxed !== null) return boxed;
  // A box was written but none is complete and non-empty: the answer was cut off or left empty.
  if (found.sawBox) return null;
  for (const f of opts.fallbacks ?? ['whole', 'final-answer', 'answer-colon', 'last-math', 'last-number']) {
    if (f === 'whole') {
      const whole = wholeAnswer(t);
      if (whole !== null) return whole;
    } else if (f === 'final-answer') {
      const m = lastMatch(/final answer is\s*:?\s*([^\n]+)/gi, t);
      if (m && cleanTail(m[1]!) !== '') return cleanTail(m[1]!);
    } else if (f === 'answer-colon') {
      const m = lastMatch(/answer\s*[:：]\s*([^\n]+)/gi, t);
      if (m && cleanTail(m[1]!) !== '') return cleanTail(m[1]!);
    } else if (f === 'last-math') {
      const m = lastMatch(MATH_SPAN, t);
      const inner = m ? (m[1] ?? m[2] ?? m[3] ?? m[4]!).trim() : '';
      if (inner !== '') return inner;
    } else if (f === 'last-number') {
      // A number standing alone, not digits inside a word ("AZYUK2A").
      const m = lastMatch(/(?<![A-Za-z\d.])-?(?:\d+(?:,\d{3})*(?:\.\d+)?(?:\/\d+)?|\.\d+)(?![A-Za-z\d])/g, t);
      if (m) return m[0];
    }
  }
  return null;
}
