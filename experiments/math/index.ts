// Public surface of the math answer checker.
export { boxedAnswer, extractAnswer, lastBoxed, type AnswerFallback, type ExtractOptions } from './extract.js';
export { normalizeAnswer, MAX_ANSWER_CHARS } from './normalize.js';
export { isEquivalent, type Equivalence, type EquivalenceOptions } from './equivalence.js';
export { verify, type VerifyResult } from './verify.js';
export { measureMath500, type Math500Report } from './math500.js';
export { loadSuites, runSuite, type Suite, type SuiteReport } from './suites.js';
