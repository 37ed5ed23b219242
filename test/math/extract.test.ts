import { describe, expect, it } from 'vitest';
import { extractAnswer, verify } from '../../experiments/math/index.js';

describe('extractAnswer', () => {
  it('takes the last boxed answer with matched braces', () => {
    expect(extractAnswer('first \\boxed{1} then $\\boxed{\\frac{2}{3}}$.')).toBe('\\frac{2}{3}');
    expect(extractAnswer('so \\fbox{\\{1,2\\}} done')).toBe('\\{1,2\\}');
    expect(extractAnswer('\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}')).toBe('\\left( 3, \\frac{\\pi}{2} \\right)');
    expect(extractAnswer('the answer is \\boxed 5 $')).toBe('5');
  });
  it('skips a truncated box and uses an earlier complete one', () => {
    expect(extractAnswer('\\boxed{7} and then \\boxed{\\frac{1}{')).toBe('7');
  });
  it('falls back to "final answer is", "answer:", then the last number, as configured', () => {
    expect(extractAnswer('blah 3 4\nThe final answer is $\\frac{1}{2}$.')).toBe('\\frac{1}{2}');
    expect(extractAnswer('work 12\nAnswer: 42')).toBe('42');
    expect(extractAnswer('we get 3 then 17.5 apples')).toBe('17.5');
    expect(extractAnswer('we get 3 then 17.5 apples', { fallbacks: ['final-answer'] })).toBeNull();
    expect(extractAnswer('no numbers here')).toBeNull();
  });
  it('stays fast on long and adversarial text', () => {
    const t0 = performance.now();
    expect(extractAnswer('\\boxed{'.repeat(100_000))).toBeNull();
    expect(extractAnswer('x'.repeat(5_000_000) + '\\boxed{42}')).toBe('42');
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('verify', () => {
  it('grades a response against a reference solution or a bare answer', () => {
    expect(verify('... so $x = \\boxed{\\dfrac{1}{2}}$', 'Thus \\boxed{0.5}.').correct).toBe(true);
    expect(verify('... so \\boxed{3}', '4')).toMatchObject({ correct: false, extracted: '3' });
    expect(verify('I do not know', '4')).toMatchObject({ correct: false, extracted: null, method: 'extract' });
  });
});
