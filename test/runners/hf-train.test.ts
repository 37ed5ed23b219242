// A real Hugging Face model through the worker's HfRunner and runners/torch, on CPU: a tiny
// LlamaForCausalLM from `limolab hf-tiny` (BPE tokenizer trained locally) is fine-tuned (every
// weight, then LoRA through peft), sampled with generate, and graded in TypeScript. Each TRAIN's
// loss must fall, and every ledger's FLOPs must equal the hand-computed model FLOPs
// (docs/runner-protocol.md "FLOPs") from the tokenizer's own token counts.
// Skipped, with how to build the venv, when no Python with torch + transformers + peft is found.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import { getTemplate, renderExample, renderPrompt } from '../../experiments/datasets/index.js';
import { HfRunner } from '../../worker/runners/hf-runner.js';
import { makeAccess } from '../../worker/runners/access.js';
import { ProcessRunner } from '../../worker/runners/process.js';
import { probePython, TORCH_RUNNER, VENV_HINT } from '../../runners/torch/python.js';
import { runCli } from '../cli/run-cli.js';
import { makeCtx, MemoryArtifacts } from './helpers.js';

const py = probePython(['torch', 'transformers', 'tokenizers', 'peft']);
if (!py.ok) console.warn(`HF train tests skipped: ${py.missing}; ${VENV_HINT}`);
const dir = mkdtempSync(join(tmpdir(), 'limolab-hf-train-'));
const model = join(dir, 'model'), data = join(dir, 'data');
const plain = getTemplate('plain');
// the hf-tiny defaults: hidden 64, 2 layers, 4 heads, intermediate 176, BPE vocab 384, tied
const C = 64, L = 2, I = 176, V = 384;
const N = L * (4 * C * C + 3 * C * I) + V * C; // lm_head counts even when tied
const fwd = (n: number, nMM = N) => n * (2 * nMM + 2 * L * n * C);
const modelRef = { kind: 'hf', path: model, params: 125_248 };
const EXAMPLES = 32;

/** Token counts under the model's own tokenizer (BOS + prompt, completion + EOS). */
function tokenCounts(texts: string[]): number[] {
  const code = `import json, sys\nfrom transformers import AutoTokenizer\nt = AutoTokenizer.from_pretrained(sys.argv[1])\nprint(json.dumps([len(t(x, add_special_tokens=False)["input_ids"]) for x in json.load(sys.stdin)]))`;
  const r = spawnSync(py.python, ['-c', code, model], { input: JSON.stringify(texts), encoding: 'utf8', timeout: 120_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as number[];
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!py.ok)('HfRunner on a real transformers model (CPU)', () => {
  const runner = new HfRunner({ command: [py.python, TORCH_RUNNER], graceMs: 2000, timeoutMs: 300_000, access: py.ok ? makeAccess({ dataRoots: [dir] }) : undefined });
  const artifacts = new MemoryArtifacts();
  let records: { problem: string; solution: string; answer: string }[] = [];
  let trainLengths: number[] = [];
  let full: ArtifactRef;

  /** Positions run per example of `recs`: BOS + prompt + completion + EOS, minus the last (only a target). */
  const trainedPositions = (recs: typeof records) => {
    const ex = recs.map((r) => renderExample(plain, r.problem, r.solution));
    const counts = tokenCounts(ex.flatMap((e) => [e.prompt, e.completion]));
    return ex.map((_, i) => 1 + counts[2 * i]! + counts[2 * i + 1]! + 1 - 1);
  };

  beforeAll(async () => {
    const r = await runCli(['hf-tiny', '-o', model, '--data', data], { env: { LIMOLAB_PYTHON: py.python }, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    records = readFileSync(join(data, 'train.jsonl'), 'utf8').trim().split('\n').slice(0, EXAMPLES).map((l) => JSON.parse(l) as (typeof records)[number]);
    trainLengths = trainedPositions(records);
  }, 240_000);

  const trainTask = (lora: boolean): Partial<Task> => ({
    kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 1, modelRef,
    spec: { $case: 'train', value: { method: 'sft', epochs: 3, lr: 3e-3, batchSize: 8, maxPerPrompt: 0,
      options: { dataset: join(data, 'train.jsonl'), limit: EXAMPLES, ...(lora ? { lora: { r: 8, alpha: 16 } } : {}) } } },
  });

  it('full fine-tune: the loss falls, a checkpoint tar comes back, FLOPs are 6N-style model FLOPs', async () => {
    const c = makeCtx(trainTask(false), artifacts);
    const out = await runner.run(c.ctx);
    expect(out.metrics.loss_final).toBeLessThan(out.metrics.loss_first_step! * 0.6);
    expect(out.metrics).toMatchObject({ steps: 12, examples: EXAMPLES, examples_dataset: EXAMPLES, lora: 0 });
    expect(c.metrics.filter(([n]) => n === 'train_loss')).toHaveLength(12);
    const perEpoch = trainLengths.reduce((a, n) => a + 3 * fwd(n), 0);
    const finalPass = trainLengths.reduce((a, n) => a + fwd(n), 0);
    expect(out.ledger).toMatchObject({ tokensTrained: 3 * trainLengths.reduce((a, b) => a + b, 0), params: modelRef.params });
    expect(out.ledger.flops).toBe(3 * perEpoch + finalPass);
    expect(out.details!.runner_params).toBe(N);
    full = out.outputs.find((o) => o.role === 'checkpoint')!;
    expect(full.mediaType).toBe('application/x-tar');
  }, 300_000);

  it('LoRA through peft: only adapters train, the loss falls, N counts the adapters', async () => {
    const out = await runner.run(makeCtx(trainTask(true), artifacts).ctx);
    expect(out.metrics.loss_final).toBeLessThan(out.metrics.loss_first_step!);
    expect(out.metrics.lora).toBe(1);
    const nLora = N + L * 4 * (8 * C + C * 8); // A (r x C) + B (C x r) on q, k, v, o
    expect(out.details!.runner_params).toBe(nLora);
    expect(out.ledger.flops).toBe(3 * trainLengths.reduce((a, n) => a + 3 * fwd(n, nLora), 0) + trainLengths.reduce((a, n) => a + fwd(n, nLora), 0));
  }, 300_000);

  it('RFT: a TRAIN on rollouts inputs trains on their samples, at most maxPerPrompt per problem across shards; the loss falls', async () => {
    const recs = records.slice(0, 8);
    // Verified samples as the ROLLOUT writes them: the prompt as sampled, the completion without
    // the end-of-turn marker (the TRAIN adds it). Each problem 2x in one shard and 1x in the other.
    const sample = (r: (typeof recs)[number]) => ({ prompt: renderPrompt(plain, r.problem), completion: r.solution, answer: r.answer });
    const shard = async (samples: ReturnType<typeof sample>[]) => artifacts.put('rollouts', new TextEncoder().encode(JSON.stringify({ format: 'limolab-rollouts-text', samples })), 'application/json');
    const inputs = [await shard(recs.flatMap((r) => [sample(r), sample(r)])), await shard(recs.map(sample))];
    const out = await runner.run(makeCtx({
      kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 4, modelRef, inputs,
      spec: { $case: 'train', value: { method: 'rft', epochs: 3, lr: 3e-3, batchSize: 8, maxPerPrompt: 2, options: {} } },
    }, artifacts).ctx);
    expect(out.metrics).toMatchObject({ examples: 16, examples_rollouts: 16, examples_dataset: 0, steps: 6 });
    expect(out.metrics.loss_final).toBeLessThan(out.metrics.loss_first_step! * 0.8);
    expect(out.ledger.tokensTrained).toBe(3 * 2 * trainedPositions(recs).reduce((a, b) => a + b, 0));
    expect(out.outputs.find((o) => o.role === 'checkpoint')?.mediaType).toBe('application/x-tar');
  }, 300_000);

  it('the model_ref\'s dtype, batch_rows and batch_tokens reach the torch runner in TRAIN and EVAL', async () => {
    const evalTask = (ref: Record<string, unknown>): Partial<Task> => ({
      kind: TaskKind.TASK_KIND_EVAL, phase: 'evaluation', seed: 2, modelRef: ref,
      spec: { $case: 'eval', value: { splits: [], nSamples: 2, k: [1], temperature: 1, keepOutputs: 0, mode: 'model', shots: 0, options: { datasets: [{ name: 'test', path: join(data, 'test.jsonl'), limit: 3 }], max_tokens: 8 } } },
    });
    const logOf = async (t: Partial<Task>) => {
      const c = makeCtx(t, artifacts);
      const out = await runner.run(c.ctx);
      return { out, log: c.logs.join('\n') };
    };
    // the defaults: float32, every row in one generate call
    const plainRun = await logOf(evalTask(modelRef));
    expect(plainRun.log).toContain('loaded model with transformers on cpu, float32');
    expect(plainRun.log).toContain('sampling 3 prompt(s) x 2: 1 generate call(s) (batch_rows 256, batch_tokens 131072), float32');
    // from the model_ref: bfloat16, two rows a call
    const tuned = await logOf(evalTask({ ...modelRef, dtype: 'bfloat16', batch_rows: 2 }));
    expect(tuned.log).toContain('loaded model with transformers on cpu, bfloat16');
    expect(tuned.log).toContain('sampling 3 prompt(s) x 2: 3 generate call(s) (batch_rows 2, batch_tokens 131072), bfloat16');
    expect(tuned.out.metrics['problems.test']).toBe(3);
    // a token budget under one row's length: each row runs alone
    const tight = await logOf(evalTask({ ...modelRef, batch_tokens: 1 }));
    expect(tight.log).toContain('6 generate call(s) (batch_rows 256, batch_tokens 1), float32');
    // TRAIN: the model_ref's dtype, unless the task's own options name one
    const train = (ref: Record<string, unknown>, dtype?: string): Partial<Task> => ({
      kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 1, modelRef: ref,
      spec: { $case: 'train', value: { method: 'sft', epochs: 1, lr: 1e-3, batchSize: 8, maxPerPrompt: 0, options: { dataset: join(data, 'train.jsonl'), limit: 8, max_steps: 1, ...(dtype ? { dtype } : {}) } } },
    });
    expect((await logOf(train({ ...modelRef, dtype: 'bfloat16' }))).log).toContain('loaded model with transformers on cpu, bfloat16');
    expect((await logOf(train({ ...modelRef, dtype: 'bfloat16' }, 'float32'))).log).toContain('loaded model with transformers on cpu, float32');
  }, 300_000);

  it('EVAL and ROLLOUT of the trained checkpoint through generate, graded here, FLOPs per sample row', async () => {
    const ev = await runner.run(makeCtx({
      kind: TaskKind.TASK_KIND_EVAL, phase: 'evaluation', seed: 2, modelRef, inputs: [full],
      spec: { $case: 'eval', value: { splits: [], nSamples: 1, k: [1], temperature: 0, keepOutputs: 2, mode: 'model', shots: 0, options: { datasets: [{ name: 'test', path: join(data, 'test.jsonl'), limit: 4 }], max_tokens: 24 } } },
    }, artifacts).ctx);
    expect(ev.metrics['problems.test']).toBe(4);
    expect(ev.metrics['pass1.test']).toBeGreaterThanOrEqual(0);
    expect(ev.ledger.tokensGenerated).toBeGreaterThan(0);
    // the same prompts straight through sample mode: per-row token counts, then FLOPs by hand
    const prompts = ['What is $1 + 2$?', 'What is $4 + 4$?'].map((p) => renderPrompt(plain, p));
    const direct = new ProcessRunner({ command: [py.python, TORCH_RUNNER], kinds: [TaskKind.TASK_KIND_ROLLOUT], graceMs: 2000, timeoutMs: 300_000 });
    const raw = await direct.run(makeCtx({ kind: TaskKind.TASK_KIND_ROLLOUT, seed: 3, modelRef, inputs: [full], spec: { $case: 'rollout', value: {
      shard: 0, numShards: 1, prompts: 2, k: 3, temperature: 1, maxTokens: 0, round: 1, options: { prompts, n: 3, temperature: 1, max_tokens: 16 } } } }, artifacts).ctx);
    const file = JSON.parse(new TextDecoder().decode(await artifacts.get(raw.outputs.find((o) => o.role === 'samples')!))) as { samples: { completions: string[]; prompt_tokens: number; generated_tokens: number; generated_each: number[] }[] };
    const pLens = tokenCounts(prompts).map((n) => n + 1); // + BOS
    expect(file.samples.map((s) => s.prompt_tokens)).toEqual(pLens.map((p) => 3 * p)); // once per sample row
    expect(raw.ledger.tokensGenerated).toBe(file.samples.reduce((a, s) => a + s.generated_tokens, 0));
    // each sample row runs its prompt and its generated tokens but the last
    const each = file.samples.flatMap((s, i) => s.generated_each.map((g) => pLens[i]! + g - 1));
    expect(raw.ledger.flops).toBe(each.reduce((a, n) => a + fwd(n), 0));
  }, 300_000);
});
