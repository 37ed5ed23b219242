// The public graders' cases in bench/verifier-cases (Math-Verify, NeMo-Skills, hendrycks MATH,
// Qwen2.5-Math, LIMO, lighteval; each file names its source commit): no case the suite calls
// unequal may verify equal, and agreement stays at or above 97% per suite with enough cases.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSuites, runSuite } from '../../experiments/math/suites.js';

const suites = loadSuites(resolve(import.meta.dirname, '../../bench/verifier-cases'));

describe("public graders' test cases", () => {
  it('are loaded with their source named, several suites and hundreds of cases', () => {
    expect(suites.map((s) => s.source.repo)).toEqual(expect.arrayContaining(['huggingface/Math-Verify', 'NVIDIA/NeMo-Skills', 'hendrycks/math', 'QwenLM/Qwen2.5-Math']));
    expect(suites.reduce((n, s) => n + s.cases.length, 0)).toBeGreaterThan(250);
    for (const s of suites) expect(s.source.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it.each(suites.map((s) => s.name))('%s: never calls an unequal pair equal, agrees on >= 97%%', (name) => {
    const { report } = runSuite(suites.find((s) => s.name === name)!, { timeoutMs: 5000, boxTimeoutMs: 5000 });
    const show = report.falseEqual.map((o) => `${o.case.id}: ${o.case.gold} vs ${o.case.pred} -> ${o.extracted} [${o.method}]`);
    expect(show).toEqual([]);
    expect(report.agree / report.cases, report.falseUnequal.map((o) => `${o.case.id} [${o.method}] ${o.reason ?? ''}`).join('\n')).toBeGreaterThanOrEqual(0.97);
  }, 60_000);
});
