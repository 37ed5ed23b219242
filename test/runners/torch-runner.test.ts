import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskKind } from '../../gen/limolab/v1/task.js';
import { ProcessRunner } from '../../worker/runners/process.js';
import { makeCtx, MemoryArtifacts } from './helpers.js';
import { probePython, VENV_HINT } from '../../runners/torch/python.js';
import { flopsForSequences, type ModelConfig } from '../../worker/engine/index.js';

const probe = probePython(['torch']);
const PY = probe.python;
const hasTorch = probe.ok;
if (!hasTorch) console.warn(`torch runner test skipped: ${probe.missing}; ${VENV_HINT}`);

const RUNNER = resolve(import.meta.dirname, '../../runners/torch/limolab_torch_runner.py');
const config = { vocab_size: 258, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 256, eos_token_id: 257 };

/** A safetensors file written from TS: 8-byte LE header length, JSON header, float32 data. */
function safetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  const names = Object.keys(tensors).sort();
  for (const n of names) {
    const bytes = tensors[n]!.data.byteLength;
    header[n] = { dtype: 'F32', shape: tensors[n]!.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (h.length % 8)) % 8);
  const out = new Uint8Array(8 + h.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(new TextEncoder().encode(h), 8);
  let p = 8 + h.length;
  for (const n of names) {
    out.set(new Uint8Array(tensors[n]!.data.buffer), p);
    p += tensors[n]!.data.byteLength;
  }
  return out;
}

function tinyLlama(seed = 1): Uint8Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const t = (shape: number[], scale = 0.08, ones = false) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (ones ? 1 : rand() * scale)) });
  const { hidden_size: C, intermediate_size: F, vocab_size: V } = config;
  const w: Record<string, { shape: number[]; data: Float32Array }> = {
    'model.embed_tokens.weight': t([V, C], 0.5),
    'model.norm.weight': t([C], 0, true),
    'lm_head.weight': t([V, C]),
  };
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    w[`${p}input_layernorm.weight`] = t([C], 0, true);
    w[`${p}post_attention_layernorm.weight`] = t([C], 0, true);
    for (const q of ['q', 'k', 'v', 'o']) w[`${p}self_attn.${q}_proj.weight`] = t([C, C]);
    w[`${p}mlp.gate_proj.weight`] = t([F, C]);
    w[`${p}mlp.up_proj.weight`] = t([F, C]);
    w[`${p}mlp.down_proj.weight`] = t([C, F]);
  }
  return safetensors(w);
}

const enc = (s: string) => new TextEncoder().encode(s);

describe.skipIf(!hasTorch)('PyTorch runner through ProcessRunner', () => {
  const runner = new ProcessRunner({
    command: [PY, RUNNER],
    kinds: [TaskKind.TASK_KIND_TRAIN, TaskKind.TASK_KIND_ROLLOUT, TaskKind.TASK_KIND_EVAL],
    graceMs: 1000,
    timeoutMs: 120_000,
  });

  it('trains the built-in Llama checkpoint (loss goes down) and samples from the result', async () => {
    const artifacts = new MemoryArtifacts();
    const ckpt = await artifacts.put('checkpoint', tinyLlama());
    const cfg = await artifacts.put('config', enc(JSON.stringify(config)));
    const rowsText = Array.from({ length: 8 }, (_, i) => ({ problem: `${i}+1=`, solution: `${i + 1}` }));
    const rows = rowsText.map((r) => JSON.stringify(r)).join('\n');
    const data = await artifacts.put('dataset', enc(rows));

    const train = makeCtx({ kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 3, inputs: [ckpt, cfg, data], spec: { $case: 'train', value: { method: 'sft', epochs: 30, lr: 0.01, batchSize: 8, maxPerPrompt: 0, options: {} } } }, artifacts);
    const out = await runner.run(train.ctx);
    expect(out.metrics.loss_final).toBeLessThan(out.metrics.loss_first_step! * 0.5);
    expect(train.metrics.filter(([n]) => n === 'train_loss')).toHaveLength(30);
    // Model FLOPs as the engine counts them (worker/engine/flops.ts): N = 4C^2 + 3CI per layer +
    // V*C; a training sequence of n tokens runs n - 1 positions at 3 x n(2N + 2Ln*C).
    // Rows "i+1=" -> "i+1": BOS + 4 prompt chars + completion digits + EOS (bytes tokenizer).
    const N = 2 * (4 * 32 * 32 + 3 * 32 * 64) + 258 * 32;
    const lengths = rowsText.map((r) => 1 + r.problem.length + r.solution.length + 1 - 1);
    const engineCfg: ModelConfig = { vocab_size: 258, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false };
    expect(out.ledger.params).toBe(N);
    expect(out.ledger.tokensTrained).toBe(30 * lengths.reduce((a, b) => a + b, 0)); // 30 epochs of one full batch
    const perEpoch = lengths.reduce((a, n) => a + 3 * n * (2 * N + 2 * 2 * n * 32), 0);
    expect(perEpoch).toBe(flopsForSequences(engineCfg, lengths, 'train'));
    // + one forward over the set for loss_final
    expect(out.ledger.flops).toBe(30 * perEpoch + flopsForSequences(engineCfg, lengths, 'forward'));
    const newCkpt = out.outputs.find((o) => o.role === 'checkpoint')!;
    expect(newCkpt.digest).not.toBe(ckpt.digest);

    const prompts = await artifacts.put('dataset', enc(JSON.stringify({ problem: '3+1=', answer: '4' }) + '\n' + JSON.stringify({ problem: '5+1=', answer: '6' })));
    const roll = makeCtx({ kind: TaskKind.TASK_KIND_ROLLOUT, phase: 'rollout', seed: 1, inputs: [newCkpt, prompts], spec: { $case: 'rollout', value: { shard: 0, numShards: 1, prompts: 2, k: 3, temperature: 0.7, maxTokens: 4, round: 0, options: {} } } }, artifacts);
    const r = await runner.run(roll.ctx);
    expect(r.metrics).toMatchObject({ prompts: 2, samples: 6 });
    const rolled = new TextDecoder().decode(await artifacts.get(r.outputs.find((o) => o.role === 'rollouts')!)).trim().split('\n').map((l) => JSON.parse(l));
    expect(rolled).toHaveLength(2);
    expect(rolled[0].samples).toHaveLength(3);
    // greedy decoding on a trained prompt reproduces the training target
    const ev = makeCtx({ kind: TaskKind.TASK_KIND_EVAL, phase: 'evaluation', inputs: [newCkpt, prompts], spec: { $case: 'eval', value: { splits: [], nSamples: 1, k: [1], temperature: 0, keepOutputs: 0, mode: 'model', shots: 0, options: {} } } }, artifacts);
    const e = await runner.run(ev.ctx);
    const samples = new TextDecoder().decode(await artifacts.get(e.outputs[0]!)).trim().split('\n').map((l) => JSON.parse(l).samples[0]);
    expect(samples).toEqual(['4', '6']);
    expect(e.ledger.tokensGenerated).toBeGreaterThan(0);
    // greedy "4" then EOS: 2 generated tokens, 1 + 4 + 2 - 1 = 6 positions run per prompt
    expect(e.ledger).toMatchObject({ tokensPrompt: 10, tokensGenerated: 4 });
    expect(e.ledger.flops).toBe(2 * 6 * (2 * N + 2 * 2 * 6 * 32));
  }, 240_000);

  it('reports a task it cannot do on an error line, which fails the attempt with its message', async () => {
    const ctx = makeCtx({ kind: TaskKind.TASK_KIND_TRAIN, spec: { $case: 'train', value: { method: 'sft', epochs: 1, lr: 0.01, batchSize: 8, maxPerPrompt: 0 } } });
    await expect(runner.run(ctx.ctx)).rejects.toThrow(/no input artifact with role 'checkpoint'/);
  }, 120_000);
});
