// Attacks on the verifier as a reward: answers a policy could write to be rewarded without being
// right. None of these may verify as correct; each also names the rule that rejects it.
import { describe, expect, it } from 'vitest';
import { isEquivalent, verify } from '../../experiments/math/index.js';

// Generous budget: these cases are about the rules; the time guard has its own test.
const opts = { timeoutMs: 5000, boxTimeoutMs: 5000 };
const rejects = (response: string, gold: string) => {
  const r = verify(response, gold, opts);
  expect(r.correct, `${response} graded against ${gold}: ${r.method} ${r.reason ?? ''}`).toBe(false);
};

describe('verify rejects answers written to game the reward', () => {
  it('several boxed answers or a list of candidates never match a single gold', () => {
    rejects('It is \\boxed{3} or maybe \\boxed{4}.', '4');
    rejects('\\boxed{3}\\boxed{4}', '3');
    rejects('\\boxed{3, 4}', '3');
    rejects('\\boxed{3 \\text{ or } 4}', '4');
    rejects('\\boxed{3 \\text{ and } 4}', '3');
    rejects('\\boxed{x = 3 \\text{ or } x = 4}', 'x = 3');
    rejects('\\boxed{\\pm 2}', '2');
    rejects('\\boxed{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}', '7');
    rejects('\\boxed{\\{1, 2, 3\\}}', '\\{1, 2\\}');
  });

  it('"x \\ge 0", "any real number" and other catch-alls match nothing narrower', () => {
    rejects('\\boxed{x \\ge 0}', 'x \\ge 2');
    rejects('\\boxed{x \\ge 0}', '5');
    rejects('\\boxed{x \\ge 0}', '(0, \\infty)');
    rejects('\\boxed{x \\ge 0}', 'x > 0');
    rejects('\\boxed{\\text{any real number}}', '5');
    rejects('\\boxed{\\mathbb{R}}', '[2, \\infty)');
    rejects('\\boxed{(-\\infty, \\infty)}', '(-\\infty, 2) \\cup (2, \\infty)');
    rejects('\\boxed{x}', '5');
    rejects('\\boxed{n}', '2n+1');
  });

  it('an empty box, or a box cut off by truncation, has no answer (no fallback to other numbers)', () => {
    rejects('\\boxed{}', '0');
    rejects('so 5 is it \\boxed{ }', '5');
    rejects('we found 5 \\boxed{} and \\boxed{5}', '5');
    rejects('we found 5, so \\boxed{5', '5');
    expect(verify('\\boxed{}', '0', opts).extracted).toBeNull();
  });

  it("the gold's digits reordered or concatenated are different answers", () => {
    rejects('\\boxed{1213}', '12 \\text{ and } 13');
    rejects('\\boxed{68}', '6 \\text{ and } 8');
    rejects('\\boxed{86}', '6, 8');
    rejects('\\boxed{321}', '123');
    rejects('\\boxed{132}', '123');
    rejects('\\boxed{12}', '(1,2)');
    rejects('\\boxed{(2,1)}', '(1,2)');
    rejects('\\boxed{32, 349}', '32349');
    rejects('\\boxed{\\frac{15}{4}}', '\\frac{1}{54}');
    rejects('\\boxed{\\frac{12}{5}}', '\\frac{1}{25}');
  });

  it('off-by-one integers differ at every size (no relative tolerance on integers)', () => {
    for (const n of [0, 1, 7, 99, 204, 999, 12345, 1_000_000, 123_456_789, 2 ** 40]) {
      rejects(`\\boxed{${n + 1}}`, String(n));
      rejects(`\\boxed{${n - 1}}`, String(n));
      rejects(`\\boxed{${n}.0001}`, String(n));
    }
    rejects('\\boxed{2^{10}+1}', '1024');
    rejects('\\boxed{3.89e-10}', '0');
    rejects('\\boxed{2.88e-19}', '3.61e-10');
  });

  it('strict and non-strict relations and interval ends are never interchangeable', () => {
    const pairs: [string, string][] = [
      ['x > 2', 'x \\ge 2'], ['x \\le 2', 'x < 2'], ['x \\neq 3', 'x \\neq 4'], ['x^2 \\ge 4', 'x \\ge 7'], ['x > 2', 'x < 2'],
      ['2 < x \\le 5', '2 \\le x \\le 5'], ['x < 3', '(-\\infty, 3]'], ['x \\ge 2', '(2, \\infty)'],
      ['(0,1)', '[0,1)'], ['(0, 1]', '(0,1)'], ['[1, 2)', '[1, 2]'], ['(-\\infty, 3)', '(-\\infty, 3]'],
      ['(-\\infty,2)\\cup(3,\\infty)', '(-\\infty,2]\\cup(3,\\infty)'], ['x > 5', 'y > 5'], ['-x > -1', 'x > 1'],
    ];
    for (const [a, b] of pairs) {
      rejects(`\\boxed{${a}}`, b);
      rejects(`\\boxed{${b}}`, a);
    }
  });

  it('a fraction is not its rounded decimal', () => {
    for (const [frac, dec] of [['\\frac13', '0.33'], ['\\frac13', '0.333'], ['\\frac13', '0.3333'], ['\\frac23', '0.67'], ['\\frac23', '0.6667'], ['\\frac{1}{7}', '0.142857'], ['1/3', '.33']]) {
      rejects(`\\boxed{${dec}}`, frac!);
      rejects(`\\boxed{${frac}}`, dec!);
    }
  });

  it('relations compare their solution sets, so the same set written another way is accepted', () => {
    const same: [string, string][] = [
      ['x \\geq 5', '5 \\leq x'], ['x < 1', '-x > -1'], ['x \\le 1', '-x \\ge -1'], ['0 < f(x) < 1', '(0,1)'],
      ['x \\ge 2', '[2, \\infty)'], ['x \\neq 3', '(-\\infty, 3) \\cup (3, \\infty)'], ['-793 < a < 10', '(-793, 10)'], ['2x + 4 > 0', 'x > -2'],
    ];
    for (const [a, b] of same) {
      const r = isEquivalent(a, b, opts);
      expect(r.equal, `${a} vs ${b}: ${r.method} ${r.reason ?? ''}`).toBe(true);
    }
  });
});
