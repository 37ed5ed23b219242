// Errors raised by analysis and report code. One class, with an explicit name, so callers
// (CLI, gRPC handlers) can map it to a user-facing message or an INVALID_ARGUMENT status.
import { LimolabError } from '../../common/errors.js';

export class AnalysisError extends LimolabError {
  override name = 'AnalysisError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An unknown filter/group/sort/column key: names the key and lists the allowed ones. */
export class UnknownKeyError extends AnalysisError {
  override name = 'UnknownKeyError';
  constructor(
    readonly role: string,
    readonly key: string,
    readonly allowed: readonly string[],
  ) {
    const near = didYouMean(key, allowed);
    super(`unknown ${role} key '${key}'${near ? ` (did you mean '${near}'?)` : ''}; allowed: ${allowed.join(', ') || '(none: no records)'}`);
  }
}

/** The allowed word closest to `word` (edit distance at most a third of its length, or a
 *  prefix/suffix match), or undefined when nothing is close. */
export function didYouMean(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = a.startsWith(word) || word.startsWith(a) ? Math.abs(a.length - word.length) * 0.5 : editDistance(word.toLowerCase(), a.toLowerCase());
    if (d < bestD) { bestD = d; best = a; }
  }
  return best !== undefined && bestD > 0 && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Edits between a and b, a swap of two neighbouring letters counting as one (the common
 *  typo: 'sedes' is one edit from 'seeds'). */
function editDistance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j]!, prev2[j - 2]! + 1);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length]!;
}
