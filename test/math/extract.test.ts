import { describe, expect, it } from 'vitest';
import { extractAnswer, verify } from '../../experiments/math/index.js';

describe('extractAnswer', () => {
  it('takes the boxed answer with matched braces; different boxes are joined, a repeated one counts once', () => {
    expect(extractAnswer('first \\boxed{1} then $\\boxed{\\frac{2}{3}}$.')).toBe('1, \\frac{2}{3}');
    expect(extractAnswer('so \\boxed{15\\frac{39}{40}}, or $\\boxed{\\frac{639}{40}}$ inches')).toBe('15\\frac{39}{40}');
    expect(extractAnswer('\\boxed{2} ... so again \\boxed{2}.')).toBe('2');
    expect(extractAnswer('so \\fbox{\\{1,2\\}} done')).toBe('\\{1,2\\}');
    expect(extractAnswer('\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}')).toBe('\\left( 3, \\frac{\\pi}{2} \\right)');
    expect(extractAnswer('the answer is \\boxed 5 $')).toBe('5');
  });
  it('skips a truncated box and uses an earlier complete one; with no complete box there is no answer', () => {
    expect(extractAnswer('\\boxed{7} and then \\boxed{\\frac{1}{')).toBe('7');
    expect(extractAnswer('so the answer is \\boxed{3')).toBeNull();
    expect(extractAnswer('so the answer is \\boxed{} and 3')).toBeNull();
  });
  it('prefers a "final answer is" line written after the last box over boxed intermediate results', () => {
    expect(extractAnswer('interest $\\boxed{200}$ then $\\boxed{255}$. Final Answer: The final answer is $10,455$. I hope it is correct.')).toBe('10,455');
    expect(extractAnswer('The final answer is 12,000,023. I hope it is correct.')).toBe('12,000,023');
    expect(extractAnswer('The final answer is \\"$12 $ and $13 $\\". I hope it is correct.')).toBe('12 ; 13');
  });
  it('reads an unboxed response that is only math, math spans joined by connectors, or a bare short answer', () => {
    expect(extractAnswer('$(3,2)$')).toBe('(3,2)');
    expect(extractAnswer('$21,16$ or $11$')).toBe('21,16 ; 11');
    expect(extractAnswer('\\frac{10}{9}')).toBe('\\frac{10}{9}');
    expect(extractAnswer('Therefore $x \\geq 5$ is the solution.')).toBe('x \\geq 5');
    expect(extractAnswer('AZYUK2A')).toBeNull();
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
