// HfRunner: EVAL and ROLLOUT of a `kind: hf` model_ref from LIMO-format files, sampled by the
// PyTorch runner (runners/torch) in its sample mode through ProcessRunner and graded here.
// The model is a tiny engine-format directory (model.safetensors + config.json as Engine.save
// writes them, char tokenizer) whose weights are built so that its next-token distribution is
// the same everywhere: logits 20.5 for "7", 20 for "3", 0 for the rest. Greedy decoding says
// "777..."; at temperature 1 every character is "7" (p ~ 0.62) or "3" (p ~ 0.38).
// Skipped, with the reason, when no Python with torch is found (runners/torch/python.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskKind, type Task } from '../../gen/limolab/v1/task.js';
import { paramSpecs, type ModelConfig } from '../../worker/engine/config.js';
import { encodeSafetensors, FORMAT, FORMAT_VERSION } from '../../worker/engine/checkpoint.js';
import { toHFConfig } from '../../worker/engine/hf-config.js';
import { CharTokenizer } from '../../worker/engine/tokenizer.js';
import { getTemplate, renderPrompt } from '../../experiments/datasets/index.js';
import { verify } from '../../experiments/math/index.js';
import { deriveSeed } from '../../experiments/domain/rng.js';
import { HfRunner } from '../../worker/runners/hf-runner.js';
import { makeAccess } from '../../worker/runners/access.js';
import { passAtK } from '../../worker/runners/math-tasks.js';
import { ProcessRunner } from '../../worker/runners/process.js';
import { makeCtx, MemoryArtifacts } from './helpers.js';
import { probePython, VENV_HINT } from '../../runners/torch/python.js';

const probe = probePython(['torch']);
const PY = probe.python;
const hasTorch = probe.ok;
if (!hasTorch) console.warn(`hf runner test skipped: ${probe.missing}; ${VENV_HINT}`);

const RUNNER = resolve(import.meta.dirname, '../../runners/torch/limolab_torch_runner.py');
const DECLARED = 1_234_567; // model_ref.params: what the ledger records as params
const plain = getTemplate('plain');

// Problems of the test sets; every character of their rendered prompts is in the alphabet.
const GREEDY = [
  { problem: '700+77=?', answer: '777' }, // greedy "777": right
  { problem: '1+1=?', answer: '2' },
  { problem: '3+4=?', answer: '7' }, // "777" is not 7
];
const DIGITS = [
  { problem: '2+5=?', answer: '7' },
  { problem: '1+2=?', answer: '3' },
  { problem: '2+3=?', answer: '5' }, // never sampled
];
const alphabet = [...new Set([...GREEDY, ...DIGITS].map((p) => renderPrompt(plain, p.problem)).join('') + '0123456789')].join('');

function engineDir(): string {
  const tok = new CharTokenizer(alphabet);
  const config: ModelConfig = { vocab_size: tok.vocabSize, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false };
  const C = config.hidden_size;
  const id = (ch: string) => tok.encode(ch)[0]!;
  const tensors = paramSpecs(config).map((p) => {
    const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    // Every token embeds to ones, attention and MLP add zero, the final norm keeps ones: the
    // hidden state is all-ones at every position, so logits = lm_head rows summed.
    if (p.name === 'model.embed_tokens.weight' || p.init === 'ones') data.fill(1);
    if (p.name === 'lm_head.weight') {
      data.fill(20.5 / C, id('7') * C, (id('7') + 1) * C);
      data.fill(20 / C, id('3') * C, (id('3') + 1) * C);
    }
    return { name: p.name, shape: p.shape, data };
  });
  const dir = mkdtempSync(join(tmpdir(), 'limolab-hf-'));
  const model = join(dir, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'model.safetensors'), encodeSafetensors(tensors, {
    format: 'pt', limolab_format: FORMAT, limolab_format_version: String(FORMAT_VERSION), config: JSON.stringify(config), tokenizer: JSON.stringify(tok.toJSON()),
  }));
  writeFileSync(join(model, 'config.json'), JSON.stringify(toHFConfig(config, tok), null, 2));
  const write = (name: string, items: { problem: string; answer: string }[]) => {
    writeFileSync(join(dir, name), items.map((x, i) => JSON.stringify({ id: `p${i}`, ...x })).join('\n') + '\n');
    return join(dir, name);
  };
  write('greedy.jsonl', GREEDY);
  write('digits.jsonl', DIGITS);
  write('odd.jsonl', [{ problem: '2+é=?', answer: '2' }]);
  return dir;
}

describe.skipIf(!hasTorch)('HfRunner: hf model_ref, sampled by the torch runner, graded here', () => {
  const dir = hasTorch ? engineDir() : '';
  // Model FLOPs by hand (docs/runner-protocol.md): N = 4C^2 + 3CI per layer + V*C (lm_head);
  // a sample row runs prompt + generated - 1 positions n, costing n * (2N + 2 * layers * n * C).
  const V = alphabet.length + 3, C = 16, I = 32;
  const counted = 4 * C * C + 3 * C * I + V * C;
  const fwd = (lengths: number[]) => lengths.reduce((a, n) => a + n * (2 * counted + 2 * 1 * n * C), 0);
  const promptLens = (items: { problem: string }[]) => items.map((x) => renderPrompt(plain, x.problem).length + 1); // + BOS
  const modelRef = { kind: 'hf', path: join(dir, 'model'), params: DECLARED };
  // Its data root is the temp dir holding the model and the datasets (worker/runners/access.ts).
  const runner = new HfRunner({ command: [PY, RUNNER], graceMs: 1000, timeoutMs: 120_000, access: hasTorch ? makeAccess({ dataRoots: [dir] }) : undefined });
  const evalTask = (datasets: unknown[], e: { nSamples: number; k: number[]; temperature: number; max_tokens: number }): Partial<Task> => ({
    kind: TaskKind.TASK_KIND_EVAL, phase: 'evaluation', seed: 11, modelRef,
    spec: { $case: 'eval', value: { splits: [], nSamples: e.nSamples, k: e.k, temperature: e.temperature, keepOutputs: 10, mode: 'model', shots: 0, options: { datasets, max_tokens: e.max_tokens } } },
  });
  const promptTokens = (items: { problem: string }[]) => items.reduce((a, x) => a + renderPrompt(plain, x.problem).length + 1, 0); // + BOS

  it('takes EVAL/ROLLOUT/TRAIN tasks of model_ref kind hf only', () => {
    expect(runner.accepts(makeCtx({ kind: TaskKind.TASK_KIND_EVAL, modelRef }).ctx.task)).toBe(true);
    expect(runner.accepts(makeCtx({ kind: TaskKind.TASK_KIND_EVAL, modelRef: { kind: 'openai' } }).ctx.task)).toBe(false);
    expect(runner.accepts(makeCtx({ kind: TaskKind.TASK_KIND_EVAL }).ctx.task)).toBe(false);
    expect(runner.kinds).toEqual([TaskKind.TASK_KIND_EVAL, TaskKind.TASK_KIND_ROLLOUT, TaskKind.TASK_KIND_TRAIN]);
  });

  it('greedy EVAL of two LIMO-format files: graded pass@1 and the runner\'s ledger with the declared params', async () => {
    const c = makeCtx(evalTask([{ name: 'greedy', path: join(dir, 'greedy.jsonl') }, { name: 'digits', path: join(dir, 'digits.jsonl'), limit: 2 }],
      { nSamples: 1, k: [1], temperature: 0, max_tokens: 3 }));
    const out = await runner.run(c.ctx);
    expect(out.metrics).toMatchObject({ 'pass1.greedy': 1 / 3, 'pass@1.greedy': 1 / 3, 'problems.greedy': 3, 'pass1.digits': 0, 'problems.digits': 2 });
    const d = out.details as Record<string, { output: string; correct: boolean; extracted: string | null }[]>;
    expect(d.greedy!.map((x) => x.output)).toEqual(['777', '777', '777']);
    expect(d.greedy!.map((x) => x.correct)).toEqual([true, false, false]);
    expect(d.digits!.map((x) => [x.output, x.correct])).toEqual([['777', false], ['777', false]]);
    // the ledger: tokens and model FLOPs from the runner's line (no EOS: 3 tokens each), params declared
    const tp = promptTokens(GREEDY) + promptTokens(DIGITS.slice(0, 2));
    expect(out.ledger).toMatchObject({ tokensPrompt: tp, tokensGenerated: 5 * 3, tokensTrained: 0, params: DECLARED });
    expect(out.ledger.flops).toBe(fwd([...promptLens(GREEDY), ...promptLens(DIGITS.slice(0, 2))].map((p) => p + 3 - 1)));
    expect(out.ledger.deviceKind).toMatch(/^(cpu|cuda:.+)$/);
    expect(out.ledger.deviceS).toBeGreaterThan(0);
    expect(out.metrics).toMatchObject({ tokens_prompt: tp, tokens_generated: 15 });
    expect(out.details!.runner_params).toBe(counted);
    expect(c.progress.at(-1)).toEqual([1, 'evaluated']);
  }, 120_000);

  it('sampled EVAL: pass@1 / pass@k are what the samples say, and the samples repeat by seed', async () => {
    const task = evalTask([{ name: 'digits', path: join(dir, 'digits.jsonl') }], { nSamples: 8, k: [1, 4], temperature: 1, max_tokens: 1 });
    const out = await runner.run(makeCtx(task).ctx);
    // The same prompts and seeds straight through the torch runner's sample mode, graded here.
    const direct = new ProcessRunner({ command: [PY, RUNNER], kinds: [TaskKind.TASK_KIND_EVAL], graceMs: 1000, timeoutMs: 120_000 });
    const prompts = DIGITS.map((x) => renderPrompt(plain, x.problem));
    const art = new MemoryArtifacts();
    const raw = await direct.run(makeCtx({ ...task, spec: { $case: 'eval', value: { splits: [], nSamples: 8, k: [], temperature: 1, keepOutputs: 0, mode: 'model', shots: 0,
      options: { prompts, seeds: DIGITS.map((_, i) => deriveSeed(11, `eval:digits:${i}`)), n: 8, temperature: 1, max_tokens: 1, stop: plain.stop } } } }, art).ctx);
    const file = JSON.parse(new TextDecoder().decode(await art.get(raw.outputs.find((o) => o.role === 'samples')!))) as { format: string; samples: { completions: string[]; prompt_tokens: number; generated_tokens: number }[] };
    expect(file.format).toBe('limolab-samples/1');
    expect(file.samples.map((s) => s.generated_tokens)).toEqual([8, 8, 8]);
    for (const s of file.samples) for (const t of s.completions) expect(['7', '3']).toContain(t);
    const correct = file.samples.map((s, i) => s.completions.filter((t) => verify(t, DIGITS[i]!.answer).correct).length);
    expect(correct[2]).toBe(0);
    expect(correct[0]! + correct[1]!).toBeGreaterThan(0);
    expect(out.metrics['pass1.digits']).toBeCloseTo(correct.reduce((a, c) => a + c / 8, 0) / 3, 12);
    expect(out.metrics['pass@1.digits']).toBeCloseTo(out.metrics['pass1.digits']!, 12);
    expect(out.metrics['pass@4.digits']).toBeCloseTo(correct.reduce((a, c) => a + passAtK(8, c, 4), 0) / 3, 12);
    const d = out.details as Record<string, { output: string; correct_of_n: string }[]>;
    expect(d.digits!.map((x) => x.correct_of_n)).toEqual(correct.map((c) => `${c}/8`));
    expect(d.digits!.map((x) => x.output)).toEqual(file.samples.map((s) => s.completions[0]));
    // prompt tokens count once per sample (each sample's forward covers its prompt)
    expect(out.ledger).toMatchObject({ tokensPrompt: 8 * promptTokens(DIGITS), tokensGenerated: 24, params: DECLARED });
    expect(raw.ledger).toMatchObject({ tokensPrompt: 8 * promptTokens(DIGITS), tokensGenerated: 24, params: counted });
    expect(out.ledger.flops).toBe(raw.ledger.flops);
  }, 120_000);

  it('ROLLOUT over a pool: verified samples in the rollouts artifact, accept rate, ledger', async () => {
    const artifacts = new MemoryArtifacts();
    const c = makeCtx({
      kind: TaskKind.TASK_KIND_ROLLOUT, phase: 'rollout', seed: 5, modelRef: { ...modelRef, device_kind: 'cuda:TEST' },
      spec: { $case: 'rollout', value: { shard: 0, numShards: 1, prompts: 3, k: 4, temperature: 1, maxTokens: 1, round: 1, options: { pool: join(dir, 'digits.jsonl'), max_tokens: 99 } } },
    }, artifacts);
    const out = await runner.run(c.ctx);
    const file = JSON.parse(new TextDecoder().decode(await artifacts.get(out.outputs.find((o) => o.role === 'rollouts')!))) as { format: string; samples: { prompt: string; completion: string; answer: string }[] };
    expect(file.format).toBe('limolab-rollouts-text');
    for (const s of file.samples) {
      expect(verify(s.completion, s.answer).correct).toBe(true);
      expect(['7', '3']).toContain(s.answer);
      expect(s.prompt).toBe(renderPrompt(plain, DIGITS.find((x) => x.answer === s.answer)!.problem));
    }
    expect(out.metrics).toMatchObject({ accepted: file.samples.length, sampled: 12, accept_rate: file.samples.length / 12, prompts: 3 });
    expect(out.metrics.accepted).toBeGreaterThan(0);
    expect(out.metrics.prompts_solved).toBe(new Set(file.samples.map((s) => s.answer)).size);
    expect(out.ledger).toMatchObject({ tokensPrompt: 4 * promptTokens(DIGITS), tokensGenerated: 12, params: DECLARED, deviceKind: 'cuda:TEST' });
    expect(out.ledger.flops).toBe(fwd(promptLens(DIGITS).flatMap((p) => [p, p, p, p])));
  }, 120_000);

  it('a prompt outside the model\'s alphabet fails the task with the character named, not retryable', async () => {
    const c = makeCtx(evalTask([{ name: 'odd', path: join(dir, 'odd.jsonl') }], { nSamples: 1, k: [], temperature: 0, max_tokens: 2 }));
    const err = await runner.run(c.ctx).catch((e: unknown) => e as Error & { retryable?: boolean });
    expect(String(err)).toMatch(/"é".*not in the model's tokenizer alphabet/);
    expect(err).toMatchObject({ retryable: false });
  }, 120_000);

  it('a missing dataset file fails before any process starts', async () => {
    const c = makeCtx(evalTask([{ name: 'x', path: join(dir, 'nope.jsonl') }], { nSamples: 1, k: [], temperature: 0, max_tokens: 2 }));
    await expect(runner.run(c.ctx)).rejects.toThrow(/cannot read dataset .*nope\.jsonl on this worker/);
  });
});
