// Runs public graders' test cases (bench/verifier-cases/*.json: gold text, predicted text, the
// suite's own expected verdict) through verify() and reports agreement per suite, false "equal"
// verdicts and per-case time. Used by bench/verifier.ts and test/math/public-suites.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LimolabError } from '../../common/errors.js';
import { isEquivalent, type EquivalenceOptions } from './equivalence.js';
import { extractAnswer, type ExtractOptions } from './extract.js';
import { verify } from './verify.js';

export interface SuiteCase {
  id: string;
  test: string;
  gold: string;
  pred: string;
  expected: boolean;
}

export interface Suite {
  name: string;
  source: {
    repo: string;
    commit: string;
    paths: string[];
    note?: string;
    /** texts: gold and pred are whole texts the grader extracts answers from; answers: both are answers. */
    compare: 'texts' | 'answers';
  };
  cases: SuiteCase[];
  excluded: (SuiteCase & { reason: string })[];
}

export interface CaseOutcome {
  suite: string;
  case: SuiteCase;
  got: boolean;
  extracted: string | null;
  method: string;
  reason?: string;
  ms: number;
}

export interface SuiteReport {
  name: string;
  source: Suite['source'];
  cases: number;
  agree: number;
  /** Expected unequal, verified equal: the verdicts a reward must never give. */
  falseEqual: CaseOutcome[];
  /** Expected equal, verified unequal. */
  falseUnequal: CaseOutcome[];
}

export class SuiteFileError extends LimolabError {
  override name = 'SuiteFileError';
}

export function loadSuites(dir: string): Suite[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    throw new SuiteFileError(`cannot list ${dir}: ${(err as Error).message}; run from the repository root or pass the cases folder`, { cause: err });
  }
  return files.map((f) => {
    const path = join(dir, f);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as Omit<Suite, 'name'>;
    if (!doc.source?.repo || !doc.source.commit || !Array.isArray(doc.cases) || !['texts', 'answers'].includes(doc.source.compare)) {
      throw new SuiteFileError(`${path}: expected {source: {repo, commit, paths, compare: "texts" | "answers"}, cases: [...]}; each case file names where its cases come from`);
    }
    for (const c of doc.cases) {
      if (typeof c.gold !== 'string' || typeof c.pred !== 'string' || typeof c.expected !== 'boolean') {
        throw new SuiteFileError(`${path}: case ${JSON.stringify(c.id)} needs string gold and pred and a boolean expected`);
      }
    }
    return { name: f.replace(/\.json$/, ''), ...doc, excluded: doc.excluded ?? [] };
  });
}

/** `opts` goes to verify/isEquivalent (tests pass a generous budget: they check verdicts, not speed). */
export function runSuite(suite: Suite, opts: ExtractOptions & EquivalenceOptions = {}): { report: SuiteReport; outcomes: CaseOutcome[] } {
  const outcomes: CaseOutcome[] = [];
  for (const c of suite.cases) {
    const t0 = performance.now();
    let r: { correct: boolean; extracted: string | null; method: string; reason?: string };
    if (suite.source.compare === 'answers') {
      const e = isEquivalent(c.pred, c.gold, opts);
      r = { correct: e.equal, extracted: c.pred, method: e.method, ...(e.reason ? { reason: e.reason } : {}) };
    } else {
      // Both sides are texts: the gold's answer is extracted the same way as the prediction's.
      const gold = extractAnswer(c.gold, opts);
      r = gold === null ? { correct: false, extracted: null, method: 'extract', reason: 'no answer found in the gold text' } : verify(c.pred, gold, opts);
    }
    const ms = performance.now() - t0;
    outcomes.push({ suite: suite.name, case: c, got: r.correct, extracted: r.extracted, method: r.method, ...(r.reason ? { reason: r.reason } : {}), ms });
  }
  const report: SuiteReport = {
    name: suite.name,
    source: suite.source,
    cases: outcomes.length,
    agree: outcomes.filter((o) => o.got === o.case.expected).length,
    falseEqual: outcomes.filter((o) => o.got && !o.case.expected),
    falseUnequal: outcomes.filter((o) => !o.got && o.case.expected),
  };
  return { report, outcomes };
}
