// Problems of the built-in domain: a start value and a chain of `op operand` steps,
// evaluated left to right (no precedence), every value an integer in 0..valueMax.
// `Q:12+3*2-4` means ((12+3)*2)-4 = 26. Difficulty is the number of steps.
import type { Op } from './config.js';
import { OPS } from './config.js';
import type { Rng } from './rng.js';

export interface Step {
  op: Op;
  operand: number;
}

export interface Problem {
  start: number;
  steps: Step[];
  /** values[i] is the value after steps[i]; values.at(-1) === answer. */
  values: number[];
  answer: number;
}

export interface GenerateOptions {
  steps: number; // difficulty
  operandMax: number; // operands are 1..operandMax (2.. for * and /)
  valueMax?: number; // default 99
  ops?: readonly Op[]; // default all four
}

export function applyOp(a: number, op: Op, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
  }
}

/** Operands b for which `a op b` is a valid step: the result an integer in 0..valueMax, no trivial *1 or /1. */
export function validOperands(a: number, op: Op, operandMax: number, valueMax: number): number[] {
  const out: number[] = [];
  for (let b = op === '*' || op === '/' ? 2 : 1; b <= operandMax; b++) {
    if (op === '+' && a + b > valueMax) continue;
    if (op === '-' && a - b < 0) continue;
    if (op === '*' && (a === 0 || a * b > valueMax)) continue;
    if (op === '/' && (a === 0 || a % b !== 0)) continue;
    out.push(b);
  }
  return out;
}

/** A random problem with exactly `steps` steps. Picks an op among those with a valid operand, then the operand. */
export function generateProblem(rng: Rng, opts: GenerateOptions): Problem {
  const valueMax = opts.valueMax ?? 99;
  const ops = opts.ops ?? OPS;
  if (opts.steps < 1) throw new Error(`generateProblem: steps must be >= 1, got ${opts.steps}`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const start = rng.int(0, valueMax);
    const steps: Step[] = [];
    const values: number[] = [];
    let a = start;
    for (let i = 0; i < opts.steps; i++) {
      const choices = ops
        .map((op) => ({ op, operands: validOperands(a, op, opts.operandMax, valueMax) }))
        .filter((c) => c.operands.length > 0);
      if (choices.length === 0) break; // dead end (e.g. ops ['*'] at a large value): restart
      const { op, operands } = rng.pick(choices);
      const operand = rng.pick(operands);
      a = applyOp(a, op, operand);
      steps.push({ op, operand });
      values.push(a);
    }
    if (steps.length === opts.steps) return { start, steps, values, answer: a };
  }
  throw new Error(`generateProblem: no valid ${opts.steps}-step problem with ops ${ops.join('')} and operandMax ${opts.operandMax}; include + and - in ops`);
}

/** The problem line without prefix: `12+3*2-4`. Canonical text used for dedupe. */
export function problemText(p: Problem): string {
  return String(p.start) + p.steps.map((s) => s.op + s.operand).join('');
}

/** What the model is given: `Q:12+3*2-4\nA:`. The completion follows directly. */
export function renderPrompt(p: Problem): string {
  return `Q:${problemText(p)}\nA:`;
}

/** Parses `Q:12+3*2-4` (or the bare line, with or without the trailing `\nA:`) back into a problem; null if malformed or invalid. */
export function parseProblem(text: string, valueMax = 99): Problem | null {
  const m = /^(?:Q:)?(\d+)((?:[-+*/]\d+)+)(?:\nA:)?$/.exec(text);
  if (!m) return null;
  const start = Number(m[1]);
  const steps: Step[] = [...m[2]!.matchAll(/([-+*/])(\d+)/g)].map((x) => ({ op: x[1] as Op, operand: Number(x[2]) }));
  const values: number[] = [];
  let a = start;
  for (const s of steps) {
    a = applyOp(a, s.op, s.operand);
    if (!Number.isInteger(a) || a < 0 || a > valueMax) return null;
    values.push(a);
  }
  return { start, steps, values, answer: a };
}
