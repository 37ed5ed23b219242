// Pure parts of the ML kinds: pass@k estimator, rollout dedupe/cap, shard slices, even
// subsets, few-shot prompts, example weights, spec validation.
import { describe, expect, it } from 'vitest';
import { BadTaskInputError } from '../../worker/runner.js';
import { evenlyByDifficulty, iclPrompt, passAtK } from '../../worker/ml/eval.js';
import { dedupeAndCap } from '../../worker/ml/train.js';
import { shardSlice } from '../../worker/ml/rollout.js';
import { toExample } from '../../worker/ml/common.js';
import { CurateOptionsSchema, ModelSpecSchema, parseDomain, parseStruct } from '../../worker/ml/schemas.js';
import { CharTokenizer } from '../../worker/engine/tokenizer.js';
import { Rng, defaultDomainConfig, makeSplits, renderPrompt, renderSolution } from '../../experiments/domain/index.js';
import type { DatasetExample } from '../../worker/ml/formats.js';

/** C(n, k) by multiplication, for checking the estimator. */
function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
  return r;
}

describe('pass@k', () => {
  it('matches 1 - C(n-c,k)/C(n,k) and its edge cases', () => {
    for (const [n, c, k] of [[10, 3, 1], [10, 3, 4], [16, 1, 8], [5, 0, 2], [8, 8, 3]] as const) {
      expect(passAtK(n, c, k)).toBeCloseTo(1 - choose(n - c, k) / choose(n, k), 12);
    }
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passAtK(4, 0, 4)).toBe(0);
    expect(passAtK(4, 1, 4)).toBe(1);
    expect(() => passAtK(2, 1, 3)).toThrow(/at least 3/);
  });
});

describe('rollout bookkeeping', () => {
  const ex = (prompt: string, completion: string): DatasetExample => ({ prompt, completion, problem: prompt, steps: 1, quality: 0 });

  it('dedupes samples and caps them per prompt', () => {
    const out = dedupeAndCap([ex('a', '#1'), ex('a', '#1'), ex('a', '1=1\n#1'), ex('a', 'x#1'), ex('b', '#2')], 2);
    expect(out.map((e) => e.prompt + e.completion)).toEqual(['a#1', 'a1=1\n#1', 'b#2']);
  });

  it('splits a round into contiguous shards that cover it exactly once', () => {
    for (const [total, shards] of [[10, 3], [7, 7], [5, 8], [400, 2]] as const) {
      const covered: number[] = [];
      for (let s = 0; s < shards; s++) {
        const [lo, hi] = shardSlice(total, s, shards);
        for (let i = lo; i < hi; i++) covered.push(i);
        expect(hi - lo).toBeGreaterThanOrEqual(Math.floor(total / shards));
        expect(hi - lo).toBeLessThanOrEqual(Math.ceil(total / shards));
      }
      expect(covered).toEqual(Array.from({ length: total }, (_, i) => i));
    }
  });
});

describe('eval helpers', () => {
  const splits = makeSplits(defaultDomainConfig());

  it('takes a limited subset evenly over difficulties', () => {
    const sub = evenlyByDifficulty(splits.test_id, 20);
    const count: Record<number, number> = {};
    for (const p of sub) count[p.steps.length] = (count[p.steps.length] ?? 0) + 1;
    expect(count).toEqual({ 1: 5, 2: 5, 3: 5, 4: 5 });
    expect(evenlyByDifficulty(splits.test_id, 0)).toBe(splits.test_id);
  });

  it('builds few-shot prompts that fit the context and never show the asked problem', () => {
    const shots = splits.pool.slice(0, 50).map((p) => ({ prompt: renderPrompt(p), completion: renderSolution(p, 'full') }));
    const p = splits.test_id[100]!;
    const r = iclPrompt(p, [{ prompt: renderPrompt(p), completion: renderSolution(p, 'full') }, ...shots], 3, new Rng(1), 256);
    expect(r.used).toBe(3);
    expect(r.prompt.endsWith(renderPrompt(p))).toBe(true);
    expect(r.prompt.indexOf(renderPrompt(p))).toBe(r.prompt.length - renderPrompt(p).length);
    expect(r.prompt.length).toBeLessThanOrEqual(256);
    expect(iclPrompt(p, shots, 3, new Rng(1), 60).used).toBe(0);
  });
});

describe('examples and specs', () => {
  it('weights completion tokens and EOS 1 and BOS and prompt tokens 0', () => {
    const tok = new CharTokenizer(defaultDomainConfig().alphabet);
    const e = toExample(tok, 'Q:1+2\nA:', '#3');
    expect(e.tokens[0]).toBe(tok.bos);
    expect(e.tokens.at(-1)).toBe(tok.eos);
    expect(e.tokens).toHaveLength(1 + 8 + 2 + 1);
    expect(e.weights).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(toExample(tok, 'Q:1', '#1', 0.5).weights).toEqual([0, 0.5, 0.5, 0.5, 1, 1, 1]);
  });

  it('rejects unknown keys and bad values with a BadTaskInputError naming the field', () => {
    expect(() => parseStruct(CurateOptionsSchema, { temprature: 1 }, 'curate.options')).toThrow(BadTaskInputError);
    expect(() => parseStruct(CurateOptionsSchema, { temprature: 1 }, 'curate.options')).toThrow(/curate\.options.*temprature/);
    expect(() => parseStruct(ModelSpecSchema, { hidden_size: -1 }, 'pretrain.model')).toThrow(/hidden_size/);
    expect(() => parseDomain({ oodSteps: [2, 3] }, 'eval.domain')).toThrow(BadTaskInputError);
    expect(parseStruct(ModelSpecSchema, undefined, 'pretrain.model').hidden_size).toBe(64);
  });
});
