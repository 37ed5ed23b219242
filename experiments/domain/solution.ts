// Worked solutions: rendering a chain in a style, reading the final answer after the `#`
// marker, verifying, and scoring a chain's quality for LIMO-style curation.
// A chain rewrites the expression one step at a time: each ';'-separated segment is the
// value so far followed by the operations still to apply (`Q:12+3*2-4` -> `15*2-4;30-4;26`),
// so every step reads its operands from the segment just written, not from a position in
// the prompt (a 2-layer model learns that; pointer-following into the prompt it did not).
// A self-check of the step just taken follows a segment in parens: `15*2-4(15-3=12)`.
// Completion = chain + "\n#<answer>" (style none: just "#<answer>").
import type { ChainStyle, Op } from './config.js';
import { applyOp, type Problem } from './problem.js';

const INVERSE: Record<Op, Op> = { '+': '-', '-': '+', '*': '/', '/': '*' };
/** Operations per step in the terse style. */
export const TERSE_GROUP = 2;

/** The expression after `done` steps: `30-4` for 12+3*2-4 after 2. */
function segment(p: Problem, done: number): string {
  return String(p.values[done - 1]) + p.steps.slice(done).map((s) => s.op + s.operand).join('');
}

/** The chain (without the answer line) for a style; '' for none. */
export function renderChain(p: Problem, style: ChainStyle): string {
  if (style === 'none') return '';
  const parts: string[] = [];
  const group = style === 'terse' ? TERSE_GROUP : 1;
  for (let done = Math.min(group, p.steps.length); ; done = Math.min(done + group, p.steps.length)) {
    let text = segment(p, done);
    if (style === 'full_check') {
      const s = p.steps[done - 1]!;
      const before = done === 1 ? p.start : p.values[done - 2]!;
      text += `(${p.values[done - 1]}${INVERSE[s.op]}${s.operand}=${before})`;
    }
    parts.push(text);
    if (done === p.steps.length) break;
  }
  return parts.join(';');
}

/** The completion the model should produce after renderPrompt(p). */
export function renderSolution(p: Problem, style: ChainStyle): string {
  const chain = renderChain(p, style);
  return chain === '' ? `#${p.answer}` : `${chain}\n#${p.answer}`;
}

/** The integer after the first `#` marker; null when there is none or no digits follow it. */
export function parseFinalAnswer(text: string): number | null {
  const i = text.indexOf('#');
  if (i < 0) return null;
  const m = /^\d+/.exec(text.slice(i + 1));
  return m ? Number(m[0]) : null;
}

/** True when the completion's final answer is the problem's answer (the chain is not checked). */
export function verify(p: Problem, completionText: string): boolean {
  return parseFinalAnswer(completionText) === p.answer;
}

export interface ChainAnalysis {
  correct: boolean; // final answer right
  valid: boolean; // every step and check arithmetically right and the steps follow the problem
  steps: number; // chain steps written
  checked: number; // steps with a correct self-check
}

const SEGMENT_RE = /^(\d+)((?:[-+*/]\d+)*)(?:\((\d+)([-+*/])(\d+)=(\d+)\))?$/;

/** Reads a completion's chain segment by segment against the problem. */
export function analyzeChain(p: Problem, text: string): ChainAnalysis {
  const correct = verify(p, text);
  const hash = text.indexOf('#');
  const chain = (hash < 0 ? text : text.slice(0, hash)).replace(/\n+$/, '');
  if (chain === '') return { correct, valid: correct, steps: 0, checked: 0 };
  const parts = chain.split(';');
  const invalid = (checked: number): ChainAnalysis => ({ correct, valid: false, steps: parts.length, checked });
  let done = 0; // problem steps applied so far
  let checked = 0;
  for (const part of parts) {
    const m = SEGMENT_RE.exec(part);
    if (!m) return invalid(checked);
    const tail = m[2]!;
    const remaining = [...tail.matchAll(/([-+*/])(\d+)/g)].length;
    const now = p.steps.length - remaining; // steps applied once this segment is written
    const expectTail = p.steps.slice(now).map((s) => s.op + s.operand).join('');
    if (now <= done || tail !== expectTail || Number(m[1]) !== p.values[now - 1]) return invalid(checked);
    if (m[3] !== undefined) {
      const before = now === 1 ? p.start : p.values[now - 2]!;
      const lhs = applyOp(Number(m[3]), m[4] as Op, Number(m[5]));
      if (lhs !== Number(m[6]) || Number(m[3]) !== p.values[now - 1] || Number(m[6]) !== before) return invalid(checked);
      checked++;
    }
    done = now;
  }
  return { correct, valid: done === p.steps.length, steps: parts.length, checked };
}

/**
 * Quality of a worked solution in [0, 1] for limo curation: 0 when the answer or any step is
 * wrong; 0.1 for a bare right answer; chains score 0.3 + 0.4 x (steps / ops) + 0.3 x (checked
 * share). full_check = 1.0, full = 0.7, terse (2 ops a segment) = 0.5.
 */
export function chainQuality(p: Problem, text: string): number {
  const a = analyzeChain(p, text);
  if (!a.correct || !a.valid) return 0;
  if (a.steps === 0) return 0.1;
  return 0.3 + 0.4 * Math.min(1, a.steps / p.steps.length) + 0.3 * (a.checked / a.steps);
}
