// The built-in reasoning domain: generation, rendering, verification, splits, corpus.
import { describe, expect, it } from 'vitest';
import {
  CHAIN_STYLES,
  FORCED_BARE_PREFIX,
  Rng,
  analyzeChain,
  chainQuality,
  chanceAccuracy,
  checkChain,
  forcedChainPrefix,
  passesChainChecks,
  defaultDomainConfig,
  generateProblem,
  makeSplits,
  maxExampleChars,
  parseDomainConfig,
  parseFinalAnswer,
  parseProblem,
  pretrainCorpus,
  problemText,
  renderPrompt,
  renderSolution,
  verify,
} from '../../experiments/domain/index.js';

describe('problems', () => {
  it('generates valid left-to-right problems with the asked number of steps', () => {
    const rng = new Rng(3);
    for (let steps = 1; steps <= 8; steps++) {
      for (let i = 0; i < 50; i++) {
        const p = generateProblem(rng, { steps, operandMax: 9 });
        expect(p.steps).toHaveLength(steps);
        for (const v of [p.start, ...p.values]) {
          expect(Number.isInteger(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(99);
        }
        expect(parseProblem(renderPrompt(p))).toEqual(p);
      }
    }
  });

  it('is deterministic by seed and differs across seeds', () => {
    const a = generateProblem(new Rng(11), { steps: 4, operandMax: 9 });
    const b = generateProblem(new Rng(11), { steps: 4, operandMax: 9 });
    const texts = new Set(Array.from({ length: 20 }, (_, s) => problemText(generateProblem(new Rng(s), { steps: 4, operandMax: 9 }))));
    expect(a).toEqual(b);
    expect(texts.size).toBeGreaterThan(15);
  });

  it('renders every style as a completion whose final answer verifies', () => {
    const p = parseProblem('Q:12+3*2-4')!;
    expect(p.answer).toBe(26);
    expect(renderPrompt(p)).toBe('Q:12+3*2-4\nA:');
    expect(renderSolution(p, 'none')).toBe('#26');
    expect(renderSolution(p, 'full')).toBe('12+3=15;15*2=30;30-4=26\n#26');
    expect(renderSolution(p, 'terse')).toBe('12+3*2=30;30-4=26\n#26');
    expect(renderSolution(p, 'full_check')).toBe('12+3=15(15-3=12);15*2=30(30/2=15);30-4=26(26+4=30)\n#26');
    for (const s of CHAIN_STYLES) expect(verify(p, renderSolution(p, s))).toBe(true);
  });
});

describe('answers and chain quality', () => {
  const p = parseProblem('Q:12+3*2-4')!;

  it('reads the integer after the first # marker', () => {
    expect(parseFinalAnswer('1+2=3\n#3')).toBe(3);
    expect(parseFinalAnswer('#26#27')).toBe(26);
    expect(parseFinalAnswer('12+3=15')).toBeNull();
    expect(parseFinalAnswer('#\n')).toBeNull();
    expect(verify(p, '#27')).toBe(false);
    expect(verify(p, '')).toBe(false);
  });

  it('scores a chain by its checklist: style-neutral (full = full_check), terse below, bare lower, wrong chains low', () => {
    const q = (s: (typeof CHAIN_STYLES)[number]) => chainQuality(p, renderSolution(p, s));
    expect(q('full_check')).toBe(1);
    expect(q('full')).toBe(1); // self-checks are a style axis, not quality
    expect(q('terse')).toBeCloseTo(0.8); // two ops fused in a step: every other property holds
    expect(q('none')).toBeCloseTo(0.2); // a bare right answer
    expect(chainQuality(p, '#27')).toBe(0); // wrong answer
    expect(chainQuality(p, '12+3=16;16*2=30;30-4=26\n#26')).toBeLessThan(1); // wrong step, right answer
    expect(passesChainChecks(checkChain(p, '12+3=16;16*2=30;30-4=26\n#26'))).toBe(false);
    expect(passesChainChecks(checkChain(p, '12+3=15;15*2=30(30/2=14);30-4=26\n#26'))).toBe(false); // wrong check
    expect(passesChainChecks(checkChain(p, '12+4=16;16*2=32;32-6=26\n#26'))).toBe(false); // right arithmetic, other problem
    expect(passesChainChecks(checkChain(p, '12+3=15;15*2=30\n#26'))).toBe(false); // chain stops early
    expect(passesChainChecks(checkChain(p, renderSolution(p, 'full')))).toBe(true);
    expect(passesChainChecks(checkChain(p, renderSolution(p, 'terse')))).toBe(false);
    expect(checkChain(p, renderSolution(p, 'full_check'))).toEqual({ answerCorrect: true, hasChain: true, everyStep: true, traceable: true, arithmetic: true, verified: true });
    expect(checkChain(p, renderSolution(p, 'full')).verified).toBe(false);
    expect(analyzeChain(p, renderSolution(p, 'full_check'))).toEqual({ correct: true, valid: true, steps: 3, checked: 3 });
  });

  it('forces a chain with the start value\'s first digit, and a bare answer with #', () => {
    expect(forcedChainPrefix(p)).toBe('1');
    expect(renderSolution(p, 'full').startsWith(forcedChainPrefix(p))).toBe(true);
    expect(renderSolution(p, 'none').startsWith(FORCED_BARE_PREFIX)).toBe(true);
  });
});

describe('chance accuracy', () => {
  it('is the share of the commonest answer', () => {
    const ps = ['Q:1+1', 'Q:3-1', 'Q:5+1'].map((t) => parseProblem(t)!);
    expect(chanceAccuracy(ps)).toBeCloseTo(2 / 3);
    expect(chanceAccuracy([])).toBe(0);
  });

  it('stays below 1% per difficulty under the shipped specs\' domain (values 0..199, + and -)', () => {
    // The generating distribution, not a finite test split: 20k problems per difficulty.
    const rng = new Rng(11);
    for (const steps of [1, 2, 3, 4, 5, 6]) {
      const ps = Array.from({ length: 20000 }, () => generateProblem(rng, { steps, operandMax: 9, valueMax: 199, ops: ['+', '-'] }));
      expect(chanceAccuracy(ps)).toBeLessThan(0.01);
    }
    // and the old default range (0..19) is far above it: why the specs widen it.
    const small = Array.from({ length: 20000 }, () => generateProblem(rng, { steps: 3, operandMax: 9, valueMax: 19 }));
    expect(chanceAccuracy(small)).toBeGreaterThan(0.05);
  });
});

describe('splits', () => {
  const config = defaultDomainConfig();
  const splits = makeSplits(config);

  it('has the configured sizes, difficulties spread evenly, OOD longer than any training problem', () => {
    expect(splits.pool).toHaveLength(config.poolSize);
    expect(splits.test_id).toHaveLength(config.testSize);
    expect(splits.test_ood).toHaveLength(config.testSize);
    const count = (ps: typeof splits.pool) => {
      const c: Record<number, number> = {};
      for (const p of ps) c[p.steps.length] = (c[p.steps.length] ?? 0) + 1;
      return c;
    };
    expect(count(splits.test_id)).toEqual({ 1: 30, 2: 30, 3: 30, 4: 30 });
    expect(count(splits.test_ood)).toEqual({ 5: 60, 6: 60 });
    expect(Object.keys(count(splits.pool)).map(Number).sort()).toEqual([1, 2, 3, 4]);
    const maxTrain = Math.max(...splits.pool.map((p) => p.steps.length));
    expect(Math.min(...splits.test_ood.map((p) => p.steps.length))).toBeGreaterThan(maxTrain);
  });

  it('never puts a problem in both the pool and a test split, nor twice in one split', () => {
    const pool = new Set(splits.pool.map(problemText));
    const id = new Set(splits.test_id.map(problemText));
    const ood = new Set(splits.test_ood.map(problemText));
    expect(pool.size).toBe(splits.pool.length);
    expect(id.size).toBe(splits.test_id.length);
    for (const k of [...id, ...ood]) expect(pool.has(k)).toBe(false);
    for (const k of id) expect(ood.has(k)).toBe(false);
  });

  it('keeps every example within maxChars (< 200 at the hardest OOD level) and the alphabet', () => {
    const all = [...splits.pool, ...splits.test_id, ...splits.test_ood];
    expect(Math.max(...all.map(maxExampleChars))).toBeLessThan(200);
    for (const p of all.slice(0, 300)) {
      for (const s of CHAIN_STYLES) for (const ch of renderPrompt(p) + renderSolution(p, s)) expect(config.alphabet).toContain(ch);
    }
  });

  it('is deterministic by seed', () => {
    expect(makeSplits(config)).toEqual(splits);
    expect(makeSplits(config, 99).test_id.map(problemText)).not.toEqual(splits.test_id.map(problemText));
  });

  it('fails with a hint when maxChars cannot hold the longest example', () => {
    expect(() => makeSplits(defaultDomainConfig({ maxChars: 60, poolSize: 10, testSize: 4 }))).toThrow(/maxChars/);
  });
});

describe('pretraining corpus', () => {
  const config = defaultDomainConfig({ pretrainSize: 4000 });
  const corpus = pretrainCorpus(config, 7);

  it('is single-step facts and short problems mostly answered without a chain', () => {
    expect(corpus).toHaveLength(4000);
    const facts = corpus.filter((e) => e.kind === 'fact');
    const problems = corpus.filter((e) => e.kind === 'problem');
    expect(facts.length / corpus.length).toBeGreaterThan(0.25);
    expect(facts.length / corpus.length).toBeLessThan(0.35);
    for (const f of facts.slice(0, 100)) {
      expect(f.prompt).toBe('');
      expect(f.completion).toMatch(/^\d+[-+*\/]\d+=\d+$/);
      expect(parseProblem(f.completion.split('=')[0]!)!.answer).toBe(Number(f.completion.split('=')[1]));
    }
    const chained = problems.filter((e) => e.style !== 'none').length / problems.length;
    expect(chained).toBeGreaterThan(0.07);
    expect(chained).toBeLessThan(0.13);
    const single = problems.filter((e) => e.steps === 1).length / problems.length;
    expect(single).toBeGreaterThan(0.25);
    expect(single).toBeLessThan(0.35);
    expect(Math.max(...corpus.map((e) => e.steps))).toBe(3);
    for (const e of problems.slice(0, 200)) expect(verify(parseProblem(e.prompt)!, e.completion)).toBe(true);
  });

  it('holds no multi-step test problem, and is deterministic by seed', () => {
    const splits = makeSplits(config);
    const tests = new Set([...splits.test_id, ...splits.test_ood].map(renderPrompt));
    for (const e of corpus) if (e.steps > 1) expect(tests.has(e.prompt)).toBe(false);
    expect(pretrainCorpus(config, 7)).toEqual(corpus);
  });
});

describe('config', () => {
  it('fills defaults and rejects unknown keys and OOD ranges that overlap training', () => {
    expect(defaultDomainConfig().trainSteps).toEqual([1, 4]);
    expect(() => parseDomainConfig({ operandMx: 9 })).toThrow(/operandMx|unrecognized/i);
    expect(() => parseDomainConfig({ trainSteps: [1, 4], oodSteps: [4, 6] })).toThrow(/oodSteps/);
    expect(() => parseDomainConfig({ alphabet: '0123456789' })).toThrow(/alphabet lacks/);
  });
});
