// Engine behaviour through real onnxruntime: KV-cache decoding equals the full forward (log-
// probabilities, and greedy tokens against a from-scratch argmax, batched and alone),
// training memorizes a tiny corpus and greedy sampling reproduces it, save/load/continue is
// identical to not stopping, and one thread with one seed is deterministic.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, Engine, EngineAbortedError, type Example, type ModelConfig } from '../../worker/engine/index.js';
import { packBatch } from '../../worker/engine/batch.js';
import { paramSpecs } from '../../worker/engine/config.js';
import { ModelRunner } from '../../worker/engine/runner.js';

const tokenizer = new CharTokenizer('abcdefghijklmnopqrstuvwxyz :=0123456789');
const baseConfig: ModelConfig = {
  vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
  max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
};
const config = baseConfig;

/** SFT example: prompt tokens weigh 0, completion tokens (and EOS) weigh 1. */
function sft(prompt: string, completion: string): Example {
  const p = [tokenizer.bos, ...tokenizer.encode(prompt)], c = [...tokenizer.encode(completion), tokenizer.eos];
  return { tokens: [...p, ...c], weights: [...p.map(() => 0), ...c.map(() => 1)] };
}

const corpus = [['ab=', 'hello world'], ['cd=', 'zebra 42'], ['ef=', 'onnx runtime'], ['gh=', 'less is more']] as const;

function randomExamples(n: number, seed: number): Example[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => {
    const len = 4 + Math.floor(next() * 20);
    const tokens = Array.from({ length: len }, () => 3 + Math.floor(next() * (tokenizer.vocabSize - 3)));
    return { tokens, weights: tokens.map((_, i) => (i < 2 ? 0 : 1)) };
  });
}

describe('Engine', () => {
  it('decoding with the KV cache gives the same log-probabilities as the full forward', async () => {
    const engine = await Engine.create({ config, tokenizer, seed: 3, threads: 1 });
    // Large random weights so the distribution is far from uniform and errors would show.
    const p = engine.getParameters();
    let s = 1;
    for (const v of Object.values(p)) for (let i = 0; i < v.length; i++) { s = (s * 16807) % 2147483647; v[i] = v[i]! * 10 + (s / 2147483647 - 0.5) * 0.5; }
    engine.setParameters(p);
    const prompts = [[1, 5, 6, 7, 8, 9, 10], [1, 12], [1, 20, 21, 22]]; // different lengths: left padding in play
    const gen = await engine.generate(prompts, { maxNewTokens: 12, temperature: 1, seed: 9, stopAtEos: false });
    expect(gen.tokens.map((t) => t.length)).toEqual([12, 12, 12]);
    // Score each full sequence alone (no padding, no cache): per-token NLL must equal -logprob.
    for (let b = 0; b < prompts.length; b++) {
      const tokens = [...prompts[b]!, ...gen.tokens[b]!];
      for (let k = 0; k < gen.tokens[b]!.length; k++) {
        const weights = tokens.map((_, i) => (i === prompts[b]!.length + k ? 1 : 0));
        const { nll } = await engine.score([{ tokens, weights }]);
        expect(Math.abs(nll[0]! + gen.logprobs[b]![k]!)).toBeLessThan(2e-4);
      }
    }
    expect(gen.generatedTokens).toBe(36);
    expect(gen.promptTokens).toBe(13);
    expect(gen.flops).toBeGreaterThan(0);
    await engine.dispose();
  });

  it('rows that stop at EOS leave the batch and the others decode on as they would alone', async () => {
    const engine = await Engine.create({ config, tokenizer, seed: 3, threads: 1 });
    const p = engine.getParameters();
    let s = 1;
    for (const v of Object.values(p)) for (let i = 0; i < v.length; i++) { s = (s * 16807) % 2147483647; v[i] = v[i]! * 10 + (s / 2147483647 - 0.5) * 0.5; }
    // EOS's (tied) embedding along the others' mean makes it likely enough that rows stop at different steps.
    const E = p['model.embed_tokens.weight']!, C = config.hidden_size;
    for (let j = 0; j < C; j++) { let m = 0; for (let r = 0; r < config.vocab_size; r++) m += E[r * C + j]!; E[tokenizer.eos * C + j] = (m / config.vocab_size) * 11; }
    engine.setParameters(p);
    const prompts = Array.from({ length: 10 }, (_, i) => [1, ...Array.from({ length: 1 + (i % 5) }, (_, k) => 5 + ((i * 7 + k * 3) % 30))]);
    const gen = await engine.generate(prompts, { maxNewTokens: 20, temperature: 1, seed: 9 });
    const lengths = gen.tokens.map((t) => t.length);
    expect(new Set(lengths).size).toBeGreaterThan(4);        // rows stop at many different steps
    expect(lengths.filter((n) => n < 20).length).toBeGreaterThan(5);
    for (let b = 0; b < prompts.length; b++) {
      if (lengths[b]! < 20) expect(gen.tokens[b]!.at(-1)).toBe(tokenizer.eos);
      expect(gen.tokens[b]!.slice(0, -1)).not.toContain(tokenizer.eos);
      // Every token's log-probability is the one its own sequence gives it from scratch.
      const tokens = [...prompts[b]!, ...gen.tokens[b]!];
      const ex = gen.tokens[b]!.map((_, k) => ({ tokens, weights: tokens.map((_, i) => (i === prompts[b]!.length + k ? 1 : 0)) }));
      const { nll } = await engine.score(ex);
      nll.forEach((n, k) => expect(Math.abs(n + gen.logprobs[b]![k]!), `row ${b} token ${k}`).toBeLessThan(2e-4));
    }
    await engine.dispose();
  });

  it('greedy decoding with the KV cache picks the argmax of a from-scratch forward pass at every step, batched or alone', async () => {
    // 70 new tokens: the cache buffers grow past their first blocks of slots mid-generation.
    const config = { ...baseConfig, max_position_embeddings: 96 }, maxNewTokens = 70;
    const engine = await Engine.create({ config, tokenizer, seed: 5, threads: 1 });
    const p = engine.getParameters();
    let s = 7;
    for (const v of Object.values(p)) for (let i = 0; i < v.length; i++) { s = (s * 16807) % 2147483647; v[i] = v[i]! * 10 + (s / 2147483647 - 0.5) * 0.5; }
    engine.setParameters(p);
    const prompts = [[1, 5, 6, 7, 8, 9, 10, 11, 12], [1, 30], [1, 20, 21, 22, 23]];
    const gen = await engine.generate(prompts, { maxNewTokens, temperature: 0, seed: 0, stopAtEos: false });
    expect(gen.tokens.map((t) => t.length)).toEqual([maxNewTokens, maxNewTokens, maxNewTokens]);
    const V = config.vocab_size;
    // The runner's plain forward graph (no cache, no padding), one sequence at a time.
    const runner = new ModelRunner(config, 'float32', { threads: 1 });
    const params = paramSpecs(config).map((sp) => p[sp.name]!);
    let distinct = 0;
    for (let b = 0; b < prompts.length; b++) {
      const seq = [...prompts[b]!, ...gen.tokens[b]!];
      const { logits } = await runner.forward(params, packBatch([{ tokens: seq, weights: seq.map(() => 1) }], config, tokenizer.pad));
      const T = logits.length / V;
      for (let k = 0; k < gen.tokens[b]!.length; k++) {
        const row = logits.subarray((prompts[b]!.length - 1 + k) * V, (prompts[b]!.length + k) * V);
        let arg = 0;
        for (let i = 1; i < V; i++) if (row[i]! > row[arg]!) arg = i;
        expect(gen.tokens[b]![k], `row ${b} step ${k} (T=${T})`).toBe(arg);
      }
      distinct += new Set(gen.tokens[b]).size;
      // The same prompt alone (no left padding) decodes to the same tokens.
      const alone = await engine.generate([prompts[b]!], { maxNewTokens, temperature: 0, seed: 0, stopAtEos: false });
      expect(alone.tokens[0]).toEqual(gen.tokens[b]);
    }
    expect(distinct).toBeGreaterThan(6); // not a constant output, so the comparison means something
    // Two calls in flight on one engine do not share cache buffers.
    const greedy = { maxNewTokens, temperature: 0, seed: 0, stopAtEos: false };
    const [both, one] = await Promise.all([engine.generate(prompts, greedy), engine.generate([prompts[1]!], greedy)]);
    expect(both.tokens).toEqual(gen.tokens);
    expect(one.tokens[0]).toEqual(gen.tokens[1]);
    await runner.dispose();
    await engine.dispose();
  });

  it('memorizes a tiny corpus (loss near zero) and greedy sampling reproduces it', async () => {
    const engine = await Engine.create({ config, tokenizer, seed: 1, threads: 1 });
    const examples = corpus.map(([p, c]) => sft(p, c));
    const before = await engine.score(examples);
    const res = await engine.train(examples, { steps: 300, batchSize: 4, lr: 1e-2, warmupSteps: 10, weightDecay: 0, seed: 5 });
    expect(res.steps).toBe(300);
    expect(res.losses[0]!).toBeGreaterThan(2);
    expect(res.losses.at(-1)!).toBeLessThan(0.02);
    expect(res.tokensTrained).toBe(300 * examples.reduce((a, e) => a + e.tokens.length - 1, 0));
    const after = await engine.score(examples);
    after.nll.forEach((n, i) => expect(n).toBeLessThan(before.nll[i]! / 50));
    const prompts = corpus.map(([p]) => [tokenizer.bos, ...tokenizer.encode(p)]);
    const gen = await engine.generate(prompts, { maxNewTokens: 20, temperature: 0, seed: 0 });
    gen.tokens.forEach((t, i) => {
      expect(t.at(-1)).toBe(tokenizer.eos);
      expect(tokenizer.decode(t)).toBe(corpus[i]![1]);
    });
    await engine.dispose();
  });

  it('save, load and continue training is identical to not stopping', async () => {
    const examples = randomExamples(24, 11);
    const opts = { steps: 4, batchSize: 8, lr: 3e-3, seed: 2 };
    const a = await Engine.create({ config, tokenizer, seed: 4, threads: 1 });
    await a.train(examples, opts);
    const dir = await mkdtemp(join(tmpdir(), 'limolab-engine-'));
    try {
      await a.save(dir, { withOptimizer: true });
      const b = await Engine.load(dir, { threads: 1 });
      const c = await Engine.fromBytes(a.toBytes({ withOptimizer: true }), { threads: 1 });
      const ra = await a.train(examples, { ...opts, seed: 3 });
      const rb = await b.train(examples, { ...opts, seed: 3 });
      const rc = await c.train(examples, { ...opts, seed: 3 });
      expect(rb.losses).toEqual(ra.losses);
      expect(rc.losses).toEqual(ra.losses);
      const pa = a.getParameters(), pb = b.getParameters(), pc = c.getParameters();
      for (const name of Object.keys(pa)) {
        expect(Buffer.from(pb[name]!.buffer).equals(Buffer.from(pa[name]!.buffer)), name).toBe(true);
        expect(Buffer.from(pc[name]!.buffer).equals(Buffer.from(pa[name]!.buffer)), name).toBe(true);
      }
      // Without the optimizer state, continuing differs: the test above is not vacuous.
      const d = await Engine.fromBytes(a.toBytes(), { threads: 1 });
      const e = await Engine.fromBytes(a.toBytes({ withOptimizer: true }), { threads: 1 });
      expect((await d.train(examples, opts)).losses).not.toEqual((await e.train(examples, opts)).losses);
      for (const x of [a, b, c, d, e]) await x.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('same seed and one thread give bit-identical training and sampling', async () => {
    const examples = randomExamples(16, 5);
    const run = async () => {
      const e = await Engine.create({ config, tokenizer, seed: 8, threads: 1 });
      const r = await e.train(examples, { steps: 3, batchSize: 8, lr: 1e-3, seed: 1 });
      const g = await e.generate([[1, 4, 5]], { maxNewTokens: 8, temperature: 0.8, topK: 10, topP: 0.9, seed: 6, stopAtEos: false });
      const bytes = e.toBytes();
      await e.dispose();
      return { losses: r.losses, tokens: g.tokens, bytes };
    };
    const x = await run(), y = await run();
    expect(y.losses).toEqual(x.losses);
    expect(y.tokens).toEqual(x.tokens);
    expect(Buffer.from(y.bytes).equals(Buffer.from(x.bytes))).toBe(true);
  });

  it('stops training when the caller aborts', async () => {
    const e = await Engine.create({ config, tokenizer, seed: 1, threads: 1 });
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(e.train(randomExamples(8, 1), { steps: 50, batchSize: 4, lr: 1e-3, seed: 0, signal: ac.signal,
      onStep: (step) => { seen.push(step); if (step === 2) ac.abort(); } })).rejects.toThrow(EngineAbortedError);
    expect(seen).toEqual([1, 2]);
    await e.dispose();
    await expect(e.score(randomExamples(1, 1))).rejects.toThrow(/disposed/);
  });

  it('reports analytic FLOPs and token counts for train and score', async () => {
    const e = await Engine.create({ config, tokenizer, seed: 1, threads: 1 });
    const ex = [sft('ab=', 'xyz')];
    const n = ex[0]!.tokens.length - 1;
    const { flopsPerToken } = await import('../../worker/engine/index.js');
    const s = await e.score(ex);
    expect(s.tokens).toBe(n);
    expect(s.flops).toBe(n * flopsPerToken(config, n, 'forward'));
    const t = await e.train(ex, { steps: 1, batchSize: 1, lr: 1e-3, seed: 0 });
    expect(t.flops).toBe(n * flopsPerToken(config, n, 'train'));
    expect(flopsPerToken(config, n, 'train')).toBe(3 * flopsPerToken(config, n, 'forward'));
    await e.dispose();
  });
});
