import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskKind } from '../../gen/limolab/v1/task.js';
import { ProcessRunner } from '../../worker/runners/process.js';
import { makeCtx, MemoryArtifacts } from './helpers.js';

const PY = '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
if (!hasTorch) console.warn(`torch runner test skipped: ${PY} cannot import torch (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}); install python3-torch`);

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
    const rows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ problem: `${i}+1=`, solution: `${i + 1}` })).join('\n');
    const data = await artifacts.put('dataset', enc(rows));

    const train = makeCtx({ kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 3, inputs: [ckpt, cfg, data], spec: { $case: 'train', value: { method: 'sft', epochs: 30, lr: 0.01, batchSize: 8, maxPerPrompt: 0, options: {} } } }, artifacts);
    const out = await runner.run(train.ctx);
    expect(out.metrics.loss_final).toBeLessThan(out.metrics.loss_first_step! * 0.5);
    expect(train.metrics.filter(([n]) => n === 'train_loss')).toHaveLength(30);
    expect(out.ledger.tokensTrained).toBeGreaterThan(0);
    const nParams = 258 * 32 * 2 + 32 + 2 * (2 * 32 + 4 * 32 * 32 + 3 * 32 * 64);
    expect(out.ledger.params).toBe(nParams);
    expect(out.ledger.flops).toBe(6 * nParams * out.ledger.tokensTrained!);
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
    expect(e.ledger.flops).toBe(2 * nParams * (e.ledger.tokensPrompt! + e.ledger.tokensGenerated!));
  });

  it('reports a task it cannot do on an error line, which fails the attempt with its message', async () => {
    const ctx = makeCtx({ kind: TaskKind.TASK_KIND_TRAIN, spec: { $case: 'train', value: { method: 'sft', epochs: 1, lr: 0.01, batchSize: 8, maxPerPrompt: 0 } } });
    await expect(runner.run(ctx.ctx)).rejects.toThrow(/no input artifact with role 'checkpoint'/);
  });
});
