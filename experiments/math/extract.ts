// Pulls the final answer out of a worked solution: the last \boxed{...} or \fbox{...} (braces
// matched, escaped braces skipped), else configurable fallbacks: "final answer is X",
// "answer: X", the last number. Only the tail of very long texts is scanned.
import { braceGroup } from './normalize.js';

export type AnswerFallback = 'final-answer' | 'answer-colon' | 'last-number';

export interface ExtractOptions {
  /** Tried in order when no box is found. Default: all three, in this order. */
  fallbacks?: AnswerFallback[];
  /** Only the last this-many characters are scanned. Default 200_000. */
  maxChars?: number;
}

const BOX = /\\(?:boxed|fbox)/g;

/** Content of the last complete \boxed / \fbox in text, or null. */
export function lastBoxed(text: string): string | null {
  const starts: number[] = [];
  BOX.lastIndex = 0;
  for (let m = BOX.exec(text); m; m = BOX.exec(text)) starts.push(m.index + m[0].length);
  // Each try scans to the end of the text: only the last few boxes are tried (truncated
  // outputs full of unclosed boxes would otherwise take quadratic time).
  for (let k = starts.length - 1; k >= Math.max(0, starts.length - 8); k--) {
    let i = starts[k]!;
    while (i < text.length && text[i] === ' ') i++;
    if (text[i] === '{') {
      const g = braceGroup(text, i);
      if (g) return g.content.trim();
      continue; // unclosed (truncated) box: try an earlier one
    }
    // "\boxed 5": up to the next space or math delimiter
    const m = /^[^\s$]+/.exec(text.slice(i));
    if (m && /^[a-zA-Z]/.test(text[starts[k]!] ?? '') === false) return m[0].replace(/[.,]$/, '');
  }
  return null;
}

function cleanTail(s: string): string {
  return s.trim().replace(/^\$+|\$+$/g, '').replace(/[.。]\s*$/, '').trim();
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

export function extractAnswer(text: string, opts: ExtractOptions = {}): string | null {
  const maxChars = opts.maxChars ?? 200_000;
  const t = text.length > maxChars ? text.slice(text.length - maxChars) : text;
  const boxed = lastBoxed(t);
  if (boxed !== null && boxed !== '') return boxed;
  for (const f of opts.fallbacks ?? ['final-answer', 'answer-colon', 'last-number']) {
    if (f === 'final-answer') {
      const m = lastMatch(/final answer is\s*:?\s*(\$[^$\n]+\$|[^\n]+)/gi, t);
      if (m && cleanTail(m[1]!) !== '') return cleanTail(m[1]!);
    } else if (f === 'answer-colon') {
      const m = lastMatch(/answer\s*[:：]\s*(\$[^$\n]+\$|[^\n]+)/gi, t);
      if (m && cleanTail(m[1]!) !== '') return cleanTail(m[1]!);
    } else if (f === 'last-number') {
      const m = lastMatch(/-?\d+(?:,\d{3})*(?:\.\d+)?(?:\/\d+)?/g, t);
      if (m) return m[0];
    }
  }
  return null;
}
