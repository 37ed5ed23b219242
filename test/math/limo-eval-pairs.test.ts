// Property over every LIMO-format eval set in ../shared/data/limo-eval (or LIMO_EVAL_DIR): two
// distinct reference answers of a set verify unequal, unless they are the same value by a rule
// listed below (each reviewed). Small sets are checked on all pairs, large ones on a seeded sample
// (LIMO_PAIRS=all checks every pair).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../common/rng.js';
import { isEquivalent } from '../../experiments/math/index.js';

const dir = process.env.LIMO_EVAL_DIR ?? resolve(import.meta.dirname, '../../../shared/data/limo-eval');
const SETS = ['aime24', 'amc23', 'math500', 'minerva', 'olympiadbench'];
const present = SETS.filter((s) => existsSync(resolve(dir, `${s}.jsonl`)));
if (present.length === 0) console.warn(`limo-eval pair property skipped: no ${SETS.join('/')}.jsonl in ${dir}; set LIMO_EVAL_DIR to a folder holding them`);

// Pairs found equal in these sets and reviewed as the same value under docs/verifier.md.
const SAME_VALUE = new Map<string, string>([
  ['$2n$ | $2 n$', 'spacing'],
  ['$k=1$ | 1', 'a named value is its value'],
  ['3 | $k=3$', 'a named value is its value'],
  ['1 | $f(x)=1$', 'a named value is its value'],
  ['4 | $4^{\\circ}$', 'degrees sign dropped'],
  ['45 | $45^{\\circ}$', 'degrees sign dropped'],
  ['$44^{\\circ}$ | 44', 'degrees sign dropped'],
  ['8 | $8 \\%$', 'percent sign dropped (10% = 10)'],
  ['2,3,4 | 2,4,3', 'a bare list is a set'],
  ['$1/3$ | $\\frac{1}{3}$', 'same fraction'],
  ['2 | +2', 'unary plus'],
  ['I(0) | 0', '"I(0)" reads as the product I*0'],
  ['0 | I(0) e^{-\\frac{t}{R C}}', '"I(0)" reads as the product I*0'],
  ['I(0) | I(0) e^{-\\frac{t}{R C}}', '"I(0)" reads as the product I*0: both are 0'],
  ['90^\\circ | 90', 'degrees sign dropped'],
  ['120^\\circ | 120', 'degrees sign dropped'],
  ['30^\\circ | 30', 'degrees sign dropped'],
  ['36 | 36^\\circ', 'degrees sign dropped'],
  ['36 | \\$36', 'dollar sign dropped'],
  ['36^\\circ | \\$36', 'degrees and dollar signs dropped'],
  ['5 | x=5', 'a named value is its value'],
  ['1,-2 | -2,1', 'a bare list is a set'],
  ['\\frac{1}{4} | \\frac14', 'same fraction'],
  ['10,\\!080 | 10080', 'thousands separator'],
  ['15 | 15\\mbox{ cm}^2', 'unit dropped'],
  ['2 \\sqrt{5} | 2\\sqrt{5}', 'spacing'],
]);

function answers(set: string): string[] {
  const rows = readFileSync(resolve(dir, `${set}.jsonl`), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const out = rows.map((l) => {
    const r = JSON.parse(l) as { answer?: unknown; final_answer?: unknown };
    const a = r.answer ?? r.final_answer;
    return Array.isArray(a) ? a.join(', ') : String(a);
  });
  return [...new Set(out)];
}

describe.skipIf(present.length === 0)('distinct reference answers of the LIMO eval sets', () => {
  it.each(present)('%s: no two distinct answers verify equal unless a listed rule makes them the same value', (set) => {
    const as = answers(set);
    const pairs: [number, number][] = [];
    for (let i = 0; i < as.length; i++) for (let j = i + 1; j < as.length; j++) pairs.push([i, j]);
    const limit = process.env.LIMO_PAIRS === 'all' ? Infinity : 8_000;
    let checked = pairs;
    if (pairs.length > limit) {
      const rand = mulberry32(0x11 + set.length);
      checked = Array.from({ length: limit }, () => pairs[Math.floor(rand() * pairs.length)]!);
    }
    const unexpected: string[] = [];
    for (const [i, j] of checked) {
      const r = isEquivalent(as[i]!, as[j]!);
      if (!r.equal) continue;
      const key = `${as[i]} | ${as[j]}`;
      const keyBack = `${as[j]} | ${as[i]}`;
      if (!SAME_VALUE.has(key) && !SAME_VALUE.has(keyBack)) unexpected.push(`${key} [${r.method}]`);
    }
    expect(checked.length).toBeGreaterThan(Math.min(300, pairs.length - 1));
    expect(unexpected, `distinct answers verified equal:\n${unexpected.join('\n')}`).toEqual([]);
  }, 120_000);
});
