// Measures the checker on MATH500 (LIMO eval format): the boxed answer of each reference
// solution must verify equal to the record's `answer`, and against a shuffled pairing (fixed
// seed) unequal. Run: npx tsx -e "import('./experiments/math/math500.ts').then(m => m.cli())"
import { mulberry32 } from '../../common/rng.js';
import { LimolabError } from '../../common/errors.js';
import { readFileSync } from 'node:fs';
import { isEquivalent } from './equivalence.js';
import { lastBoxed } from './extract.js';
import { compactForm, normalizeAnswer } from './normalize.js';

export interface Math500Failure {
  index: number;
  extracted: string | null;
  answer: string;
  method: string;
  reason?: string;
}

export interface Math500Report {
  records: number;
  /** Share of records whose extracted boxed answer verifies equal to `answer`. */
  selfRate: number;
  selfFailures: Math500Failure[];
  /** Share of shuffled (solution i, answer j) pairs that verify unequal. */
  shuffledRate: number;
  shuffledPairs: number;
  /** Pairs skipped because the two answers are the same string or number. */
  shuffledSkipped: number;
  shuffledFailures: Math500Failure[];
  ms: number;
}

export class Math500FileError extends LimolabError {
  override name = 'Math500FileError';
}

function seededShuffle(n: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/** Same answer without any equivalence reasoning: identical normalised text or the same plain number. */
function triviallySame(a: string, b: string): boolean {
  const na = compactForm(normalizeAnswer(a));
  const nb = compactForm(normalizeAnswer(b));
  if (na === nb) return true;
  const num = /^-?(?:\d+\.?\d*|\.\d+)$/;
  return num.test(na) && num.test(nb) && Number(na) === Number(nb);
}

export function measureMath500(path: string, seed = 500): Math500Report {
  const t0 = performance.now();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Math500FileError(`cannot read ${path}: ${(err as Error).message}; point measureMath500 at a MATH500 JSON-lines file`, { cause: err });
  }
  const recs = text
    .split('\n')
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim() !== '')
    .map(({ l, i }) => {
      const r = JSON.parse(l) as { solution?: unknown; answer?: unknown };
      if (typeof r.solution !== 'string' || typeof r.answer !== 'string') {
        throw new Math500FileError(`${path}:${i + 1}: expected string fields "solution" and "answer"`);
      }
      return { solution: r.solution, answer: r.answer };
    });
  const extracted = recs.map((r) => lastBoxed(r.solution));
  const selfFailures: Math500Failure[] = [];
  recs.forEach((r, i) => {
    const ex = extracted[i]!;
    const res = ex === null ? { equal: false, method: 'extract', reason: 'no \\boxed in solution' } : isEquivalent(ex, r.answer);
    if (!res.equal) selfFailures.push({ index: i, extracted: ex, answer: r.answer, method: res.method, ...(res.reason ? { reason: res.reason } : {}) });
  });
  const perm = seededShuffle(recs.length, seed);
  const shuffledFailures: Math500Failure[] = [];
  let pairs = 0;
  let skipped = 0;
  recs.forEach((r, i) => {
    const j = perm[i]!;
    const other = recs[j]!;
    if (i === j || triviallySame(r.answer, other.answer)) {
      skipped++;
      return;
    }
    pairs++;
    const ex = extracted[i]!;
    if (ex === null) return; // no answer at all counts as unequal
    const res = isEquivalent(ex, other.answer);
    if (res.equal) shuffledFailures.push({ index: i, extracted: ex, answer: other.answer, method: res.method });
  });
  return {
    records: recs.length,
    selfRate: (recs.length - selfFailures.length) / recs.length,
    selfFailures,
    shuffledRate: pairs === 0 ? 0 : (pairs - shuffledFailures.length) / pairs,
    shuffledPairs: pairs,
    shuffledSkipped: skipped,
    shuffledFailures,
    ms: performance.now() - t0,
  };
}

/** Prints the report for the file named by argv[2] or LIMO_EVAL_DIR/math500.jsonl. */
export function cli(argv = process.argv): void {
  const path = argv[2] ?? `${process.env.LIMO_EVAL_DIR ?? '../shared/data/limo-eval'}/math500.jsonl`;
  const r = measureMath500(path);
  console.log(`records ${r.records}  self ${(100 * r.selfRate).toFixed(1)}%  shuffled-unequal ${(100 * r.shuffledRate).toFixed(1)}% (${r.shuffledPairs} pairs, ${r.shuffledSkipped} skipped)  ${r.ms.toFixed(0)} ms`);
  for (const f of r.selfFailures) console.log(`self  #${f.index}: ${JSON.stringify(f.extracted)} vs ${JSON.stringify(f.answer)} [${f.method}] ${f.reason ?? ''}`);
  for (const f of r.shuffledFailures) console.log(`shuf  #${f.index}: ${JSON.stringify(f.extracted)} vs ${JSON.stringify(f.answer)} [${f.method}]`);
}
