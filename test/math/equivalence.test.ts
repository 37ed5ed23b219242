import { describe, expect, it } from 'vitest';
import { isEquivalent, normalizeAnswer } from '../../experiments/math/index.js';

const equal: [string, string][] = [
  ['\\frac{1}{2}', '0.5'],
  ['\\dfrac12', '1/2'],
  ['\\tfrac{3}{4}', '\\frac 34'],
  ['\\frac9{19}', '\\frac{9}{19}'],
  ['x=5', '5'],
  ['50\\%', '50'],
  ['90^\\circ', '90'],
  ['90^{\\circ}', '90 degrees'],
  ['\\frac{270}7\\text{ degrees}', '\\frac{270}{7}'],
  ['10,\\!080', '10080'],
  ['11,\\! 111,\\! 111,\\! 100', '11111111100'],
  ['\\$32,\\!348', '32348'],
  ['5.4 \\text{ cents}', '5.4'],
  ['15\\mbox{ cm}^2', '15'],
  ['864 \\mbox{ inches}^2', '864'],
  ['12 square units', '12'],
  ['137 \\frac{1}{2}', '137.5'],
  ['1\\frac{4}{5}', '\\frac{9}{5}'],
  ['\\left( 3, \\frac{\\pi}{2} \\right)', '(3,\\frac{\\pi}{2})'],
  ['(-\\infty, 0]', '(-\\infty,0]'],
  ['(-\\infty, 2) \\cup (3, \\infty)', '(3,\\infty)\\cup(-\\infty,2)'],
  ['\\{1,2\\}', '\\{2,1\\}'],
  ['3, 5, 7', '7, 3, 5'],
  ['\\{1\\pm\\sqrt{5},-2\\}', '-2, 1+\\sqrt5, 1-\\sqrt5'],
  ['\\frac{-1\\pm\\sqrt5}{2}', '\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}'],
  ['2x+3', '3+2x'],
  ['x^2-1', '(x-1)(x+1)'],
  ['(a+5)(b+2)', 'ab+2a+5b+10'],
  ['\\sin^2 x + \\cos^2 x', '1'],
  ['y = 2x + 3', 'y=3+2x'],
  ['y = 2x + 3', '2x+3'],
  ['x+y=1', '2x+2y-2=0'],
  ['\\sqrt{8}', '2\\sqrt2'],
  ['\\frac{\\sqrt{3}}{3}', '\\frac{1}{\\sqrt3}'],
  ['3\\sqrt{13}', '\\sqrt{117}'],
  ['1+2i', '2i+1'],
  ['\\log_2 8', '3'],
  ['\\text{(B)}', 'B'],
  ['\\text{Evelyn}', 'evelyn'],
  ['\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}', '\\begin{bmatrix} -\\frac13 \\\\ 0.666666667 \\end{bmatrix}'],
  ['\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}', '\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}'],
  ['2516_8', '2516_{8}'],
  ['\\boxed{5}.', '5'],
  ['$\\frac{2}{3}$', '2/3'],
  ['x \\in [-2,7]', '[-2, 7]'],
  // named left-hand sides, records and item groups
  ['(p,q)=(3,2)', '(3,2)'],
  ['f(x)=1', '1'],
  ['|AB|=1', '1'],
  ['V_{1}:V_{2}=11:21', '11:21'],
  ['AB=4,CD=5', '4, 5'],
  ['x = -5,\\ p = \\frac{14}{3}', '-5, \\frac{14}{3}'],
  ['a_3 = 2, a_{37} = 19', 'a_{37} = 19, a_3 = 2'],
  ['p=5,q=2;p=7,q=2', '(5,2),(7,2)'],
  ['a=4,\\,-8,\\,-10', '-10,-8,4'],
  ['x = 5+5+1 = 11', '11'],
  // sums, products and indexed letters
  ['F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}', 'F_n = \\sum_{k=0}^{n-1} F_{n-k-1} F_k'],
  ['\\sum_{k=1}^{n} k', '\\frac{n(n+1)}{2}'],
  ['\\sum\\limits_{i=1}^{n} a_i', '\\sum_{j=1}^{n} a_j'],
  ['\\sum_{k=1}^{10} k', '55'],
  ['\\prod_{k=1}^{5} k', '120'],
  ['\\sum_{k=0}^{n}\\binom{n}{k}', '2^n'],
  ['\\sum_{k=1}^{n} k + 1', '\\frac{n(n+1)}{2}+1'],
  ['a_{n+1}', 'a_{1+n}'],
  ['2x+4y-3=0', 'y=-\\frac{1}{2}x+\\frac{3}{4}'],
  // connectors, semicolons, braces, duplicates
  ['1 \\text{ and } 2 \\text{ and } 3', '1,2,3'],
  ['(11,7)or(7,11)', '(7,11), (11,7)'],
  ['19, 46, and 82', '19, 46, \\text{ and } 82'],
  ['-12;-11;-10', '\\{-12, -11, -10\\}'],
  ['{1,3}', '(1,3)'],
  ['(1,2),(1,2),(3,4)', '(3,4),(1,2)'],
  // numbers, percent, approximations, stray characters
  ['14{,}916', '14916'],
  ['1.5e3', '1500'],
  ['185\\', '185'],
  ['28 pct', '28\\%'],
  ['10\\%', '0.1'],
  ['x \\approx 11', '11'],
  ['\\frac{\\sqrt{3}}{3} \\approx 0.577', '\\frac{\\sqrt{3}}{3}'],
  ['\\left(\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right)', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}'],
];

const unequal: [string, string][] = [
  ['(1,2)', '(2,1)'],
  ['[1,2)', '[1,2]'],
  ['(1,2)', '[1,2]'],
  ['\\text{even}', '\\text{neve}'],
  ['B', 'C'],
  ['\\frac{1}{3}', '0.33'],
  ['x^2+1', 'x^2-1'],
  ['2x', '2y'],
  ['3, 5, 7', '3, 5'],
  ['\\{1,2\\}', '\\{1,2,3\\}'],
  ['2516_8', '2516_9'],
  ['1+2i', '1-2i'],
  ['\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', '\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}'],
  ['y = 2x + 3', 'y = 2x + 4'],
  ['\\sqrt{3}', '\\sqrt{2}'],
  ['12\\text{ and }13', '1213'],
  ['x=1, y=2', 'y=1, x=2'],
  ['x = 5', 'y = 5'],
  ['7 = 11a+c', '11a+c'],
  ['a+3z=0', '0'],
  ['x = 2+2 = 5', '5'],
  ['AB=4,CD=5', '5, 4'],
  ['{1,3}', '(3,1)'],
  ['-2, 1', '(-2, 1)'],
  ['1.5e3', '1.5e'],
  ['10\\%', '0.2'],
  ['0.1', '10'],
  ['\\frac{N}{2}', '\\frac{n}{2}'],
  ['6m', '6'],
  ['alpha_1', 'alpha_2'],
  ['\\alpha_1', '\\alpha_2'],
  ['a_{ij}', 'a_{ji}'],
  ['a_{n+1}', 'a_{n+2}'],
  ['x_n', 'x_m'],
  ['\\sum_{k=0}^{n-1} F_k F_{n-k-1}', '\\sum_{k=0}^{n-1} F_{n-k} F_k'],
  ['\\sum_{i=1}^{n} a_i', '\\sum_{j=0}^{n} a_j'],
  ['\\sum_{k=1}^{n} k^2', '\\frac{n(n+1)}{2}'],
  ['\\sum_{k=1}^{n} (k + 1)', '\\frac{n(n+1)}{2}+1'],
  ['\\sum_{k=1}^{10} k', '55.001'],
  ['\\sum_{k=1}^{10} k', '56'],
  ['\\prod_{k=1}^{5} k', '119'],
];

describe('isEquivalent', () => {
  it.each(equal)('treats %s and %s as the same answer', (a, b) => {
    // A generous budget: these cases are about the rules, not the time guard (tested below).
    const r = isEquivalent(a.replace(/^\\boxed\{(.*)\}\.$/, '$1.'), b, { timeoutMs: 5000 });
    expect(r.equal, `${a} vs ${b}: ${r.method} ${r.reason ?? ''}`).toBe(true);
  });
  it.each(unequal)('tells %s and %s apart', (a, b) => {
    const r = isEquivalent(a, b, { timeoutMs: 5000 });
    expect(r.equal, `${a} vs ${b}: ${r.method}`).toBe(false);
    expect(r.reason).toBeTruthy();
  });

  it('uses the configured numeric tolerance', () => {
    expect(isEquivalent('3.14159', '\\pi').equal).toBe(true);
    expect(isEquivalent('3.14', '\\pi').equal).toBe(false);
    expect(isEquivalent('3.14', '\\pi', { relTol: 1e-2 }).equal).toBe(true);
  });

  it('returns false with a reason instead of hanging on huge or overflowing inputs', () => {
    const cases: [string, string][] = [
      ['100000000!', '1'],
      ['\\binom{100000000}{50000000}', '1'],
      ['9^{9^{9^{9}}}', '9^{9^{9^{9}}}+1'],
      [Array.from({ length: 400 }, (_, i) => `x^{${i}}`).join('+'), '1'],
      ['{'.repeat(900) + '1' + '}'.repeat(900), '2'],
      ['\\sum_{k=1}^{10^9} k', '500000000500000000'],
      ['\\sum_{i=1}^{1000}\\sum_{j=1}^{1000} ij', '250500250000'],
      ['\\sum_{i=1}^{n}\\sum_{j=1}^{n}\\sum_{k=1}^{n} ijk', '\\prod_{i=1}^{n}\\prod_{j=1}^{n} ij'],
    ];
    for (const [a, b] of cases) {
      const t0 = performance.now();
      const r = isEquivalent(a, b);
      // A hang would take minutes; the bound is loose because the test machine may be shared.
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(r.equal).toBe(false);
      expect(r.reason).toBeTruthy();
    }
  });

  it('gives up with method "timeout" when the budget is spent', () => {
    const a = Array.from({ length: 60 }, (_, i) => `${i}x`).join(',');
    const b = Array.from({ length: 60 }, (_, i) => `${59 - i}x`).join(',');
    expect(isEquivalent(a, b, { timeoutMs: 10_000 }).equal).toBe(true);
    const r = isEquivalent(a, b.replace('0x', '1000x'), { timeoutMs: 0 });
    expect(r).toMatchObject({ equal: false, method: 'timeout' });
  });
});

describe('normalizeAnswer', () => {
  it('strips spacing, delimiters, units, "x \\in" prefixes and trailing periods, and keeps "x =" for structure.ts', () => {
    expect(normalizeAnswer('\\left( 3, \\frac{\\pi}{2} \\right)')).toBe('( 3, \\frac{\\pi}{2} )');
    expect(normalizeAnswer('x = \\dfrac{1}{2}.')).toBe('x = \\frac{1}{2}');
    expect(normalizeAnswer('x \\in [-2,7]')).toBe('[-2,7]');
    expect(normalizeAnswer('12\\text{ and }13')).toBe('12 ; 13');
    expect(normalizeAnswer('14{,}916')).toBe('14916');
    expect(normalizeAnswer('32, 349')).toBe('32, 349');
    expect(normalizeAnswer('185\\')).toBe('185');
    expect(normalizeAnswer('58,500')).toBe('58500');
    expect(normalizeAnswer('(12,102)')).toBe('(12,102)');
    expect(normalizeAnswer('\\text{(C)}')).toBe('C');
    expect(normalizeAnswer('120^\\circ')).toBe('120');
  });
});
