// Worked solutions: rendering a chain in a style, reading the final answer after the `#`
// marker, verifying, and scoring a chain's quality for LIMO-style curation.
// Completion = chain + "\n#<answer>" (style none: just "#<answer>"). Steps are ';'-separated;
// a self-check follows a step in parens: `12+3=15(15-3=12)`.
import type { ChainStyle, Op } from './config.js';
import { applyOp, type Problem } from './problem.js';

const INVERSE: Record<Op, Op> = { '+': '-', '-': '+', '*': '/', '/': '*' };
/** Operations per step in the terse style. */
export const TERSE_GROUP = 2;

function stepText(from: number, ops: Problem['steps'], to: number): string {
  return `${from}${ops.map((s) => s.op + s.operand).join('')}=${to}`;
}

/** The chain (without the answer line) for a style; '' for none. */
export function renderChain(p: Problem, style: ChainStyle): string {
  if (style === 'none') return '';
  const parts: string[] = [];
  const group = style === 'terse' ? TERSE_GROUP : 1;
  let from = p.start;
  for (let i = 0; i < p.steps.length; i += group) {
    const ops = p.steps.slice(i, i + group);
    const to = p.values[i + ops.length - 1]!;
    let text = stepText(from, ops, to);
    if (style === 'full_check') {
      const s = ops[0]!;
      text += `(${to}${INVERSE[s.op]}${s.operand}=${from})`;
    }
    parts.push(text);
    from = to;
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

const STEP_RE = /^(\d+)((?:[-+*/]\d+)+)=(\d+)(?:\((\d+)([-+*/])(\d+)=(\d+)\))?$/;

/** Reads a completion's chain step by step against the problem. */
export function analyzeChain(p: Problem, text: string): ChainAnalysis {
  const correct = verify(p, text);
  const hash = text.indexOf('#');
  const chain = (hash < 0 ? text : text.slice(0, hash)).replace(/\n+$/, '');
  if (chain === '') return { correct, valid: correct, steps: 0, checked: 0 };
  let from = p.start;
  let opIndex = 0;
  let checked = 0;
  const parts = chain.split(';');
  for (const part of parts) {
    const m = STEP_RE.exec(part);
    if (!m || Number(m[1]) !== from) return { correct, valid: false, steps: parts.length, checked };
    let a = from;
    for (const x of m[2]!.matchAll(/([-+*/])(\d+)/g)) {
      const s = p.steps[opIndex++];
      if (!s || s.op !== x[1] || s.operand !== Number(x[2])) return { correct, valid: false, steps: parts.length, checked };
      a = applyOp(a, s.op, s.operand);
    }
    if (Number(m[3]) !== a) return { correct, valid: false, steps: parts.length, checked };
    if (m[4] !== undefined) {
      const lhs = applyOp(Number(m[4]), m[5] as Op, Number(m[6]));
      if (lhs !== Number(m[7]) || Number(m[4]) !== a) return { correct, valid: false, steps: parts.length, checked };
      checked++;
    }
    from = a;
  }
  const valid = opIndex === p.steps.length && from === p.answer;
  return { correct, valid, steps: parts.length, checked };
}

/**
 * Quality of a worked solution in [0, 1] for limo curation: 0 when the answer or any step is
 * wrong; 0.1 for a bare right answer; chains score 0.3 + 0.4 x (steps / ops) + 0.3 x (checked
 * share). full_check = 1.0, full = 0.7, terse (2 ops a step) = 0.5.
 */
export function chainQuality(p: Problem, text: string): number {
  const a = analyzeChain(p, text);
  if (!a.correct || !a.valid) return 0;
  if (a.steps === 0) return 0.1;
  return 0.3 + 0.4 * Math.min(1, a.steps / p.steps.length) + 0.3 * (a.checked / a.steps);
}
