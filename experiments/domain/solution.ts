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
 * The documented properties of a worked solution, checked step by step (docs/study.md).
 * LIMO-style curation and the process-checked reward require every one of them except
 * `verified`: self-checks are a chain *style* (a grid axis), not a quality the score may
 * smuggle in.
 */
export interface ChainChecklist {
  answerCorrect: boolean; // the integer after '#' is the problem's answer
  hasChain: boolean; // a chain is written before the answer (not a bare '#<answer>')
  everyStep: boolean; // one written step per operation of the problem: none fused, none skipped
  traceable: boolean; // each step starts from the previous step's result (the first from the start value) and applies the problem's next op and operand
  arithmetic: boolean; // every written result and every self-check is arithmetically right
  verified: boolean; // every step carries a self-check (style full_check)
}

/** Checks a completion against the problem, property by property. */
export function checkChain(p: Problem, text: string): ChainChecklist {
  const answerCorrect = verify(p, text);
  const hash = text.indexOf('#');
  const chain = (hash < 0 ? text : text.slice(0, hash)).replace(/\n+$/, '');
  const none = { answerCorrect, hasChain: false, everyStep: false, traceable: false, arithmetic: false, verified: false };
  if (chain === '') return none;
  const parts = chain.split(';');
  let from = p.start;
  let opIndex = 0;
  let traceable = true, arithmetic = true, everyStep = true, verified = true;
  for (const part of parts) {
    const m = STEP_RE.exec(part);
    if (!m) return { ...none, hasChain: true };
    if (Number(m[1]) !== from) traceable = false;
    const ops = [...m[2]!.matchAll(/([-+*/])(\d+)/g)];
    if (ops.length !== 1) everyStep = false;
    let a = Number(m[1]);
    for (const x of ops) {
      const s = p.steps[opIndex++];
      if (!s || s.op !== x[1] || s.operand !== Number(x[2])) traceable = false;
      a = applyOp(a, x[1] as Op, Number(x[2]));
    }
    if (Number(m[3]) !== a) arithmetic = false;
    if (m[4] === undefined) verified = false;
    else if (applyOp(Number(m[4]), m[5] as Op, Number(m[6])) !== Number(m[7]) || Number(m[4]) !== Number(m[3])) arithmetic = false;
    from = Number(m[3]);
  }
  if (opIndex !== p.steps.length) { traceable = false; everyStep = false; }
  if (from !== p.answer) traceable = false;
  return { answerCorrect, hasChain: true, everyStep, traceable, arithmetic, verified };
}

/** A chain LIMO-style curation accepts and the process reward rewards: right answer, and
 *  every step present, traceable and right (`verified` not required). */
export function passesChainChecks(c: ChainChecklist): boolean {
  return c.answerCorrect && c.hasChain && c.everyStep && c.traceable && c.arithmetic;
}

/**
 * Quality of a worked solution in [0, 1]: the share of the five required checklist
 * properties it has (answerCorrect, hasChain, everyStep, traceable, arithmetic), and 0 when
 * the answer is wrong. A bare right answer scores 0.2; every correct chain written one
 * operation a step scores 1, with or without self-checks (style is a grid axis); a terse
 * chain (two operations fused a step) scores 0.8.
 */
export function chainQuality(p: Problem, text: string): number {
  const c = checkChain(p, text);
  if (!c.answerCorrect) return 0;
  return [c.answerCorrect, c.hasChain, c.everyStep, c.traceable, c.arithmetic].filter(Boolean).length / 5;
}

/** The prompt that forces a chain: the first character of the chain (the start value's first
 *  digit) is given, so a bare '#<answer>' is impossible. Used to probe latent ability. */
export function forcedChainPrefix(p: Problem): string {
  return String(p.start)[0]!;
}

/** The prompt suffix that forces a bare answer. */
export const FORCED_BARE_PREFIX = '#';

/** Accuracy of the best constant guess on these problems: the share of the commonest answer.
 *  A policy that guesses without computing cannot do better on average; specs keep it < 1%. */
export function chanceAccuracy(problems: readonly Problem[]): number {
  if (problems.length === 0) return 0;
  const counts = new Map<number, number>();
  let best = 0;
  for (const p of problems) {
    const c = (counts.get(p.answer) ?? 0) + 1;
    counts.set(p.answer, c);
    if (c > best) best = c;
  }
  return best / problems.length;
}
