// Grades a model response against a reference: extract the response's final answer (extract.ts:
// boxes, joined when they differ, else fallbacks), take the reference's boxed answer when it is a
// full solution (else the reference itself), compare (equivalence.ts).
import { isEquivalent, type EquivalenceOptions } from './equivalence.js';
import { boxedAnswer, extractAnswer, type ExtractOptions } from './extract.js';

export interface VerifyResult {
  correct: boolean;
  /** The answer extracted from the response, or null when none was found. */
  extracted: string | null;
  reference: string;
  method: string;
  reason?: string;
}

export function verify(response: string, reference: string, opts: ExtractOptions & EquivalenceOptions = {}): VerifyResult {
  const ref = boxedAnswer(reference, opts.boxTimeoutMs) ?? reference;
  const extracted = extractAnswer(response, opts);
  if (extracted === null) return { correct: false, extracted, reference: ref, method: 'extract', reason: 'no final answer found in the response' };
  const r = isEquivalent(extracted, ref, opts);
  return { correct: r.equal, extracted, reference: ref, method: r.method, ...(r.reason !== undefined ? { reason: r.reason } : {}) };
}
