// Checkpoint robustness and the surrounding validation: a wrong, truncated or corrupt file
// fails with a CheckpointError naming the problem; config.json uses Hugging Face names;
// tokenizer and input errors are clear.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer, CheckpointError, Engine, ModelConfigError, SequenceTooLongError, TokenizerError,
  decodeSafetensors, encodeSafetensors, type ModelConfig,
} from '../../worker/engine/index.js';

const tokenizer = new CharTokenizer('abc xyz');
const config: ModelConfig = {
  vocab_size: tokenizer.vocabSize, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
};

describe('checkpoints', () => {
  let engine: Engine;
  let bytes: Uint8Array;
  beforeAll(async () => {
    engine = await Engine.create({ config, tokenizer, seed: 1, threads: 1 });
    bytes = engine.toBytes();
  });
  afterAll(() => engine.dispose());

  it('round-trips weights, config and tokenizer through one blob', async () => {
    const back = await Engine.fromBytes(bytes, { threads: 1 });
    expect(back.config).toEqual(config);
    expect(back.tokenizer.toJSON()).toEqual(tokenizer.toJSON());
    const a = engine.getParameters(), b = back.getParameters();
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(Array.from(b[k]!)).toEqual(Array.from(a[k]!));
    await back.dispose();
  });

  it('rejects a truncated file', async () => {
    await expect(Engine.fromBytes(bytes.subarray(0, bytes.length - 10))).rejects.toThrow(/truncated/);
    await expect(Engine.fromBytes(bytes.subarray(0, 5))).rejects.toThrow(CheckpointError);
  });

  it('rejects a file whose tensor data was corrupted', async () => {
    const bad = bytes.slice();
    bad[bad.length - 100] ^= 0x40;
    await expect(Engine.fromBytes(bad)).rejects.toThrow(/sha256.*corrupt/);
  });

  it('rejects a corrupt header and a file that is not ours', async () => {
    const bad = bytes.slice();
    bad[12] = 0x7b; // '{' inside the JSON header
    await expect(Engine.fromBytes(bad)).rejects.toThrow(CheckpointError);
    const foreign = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array(2) }], { format: 'pt' });
    await expect(Engine.fromBytes(foreign)).rejects.toThrow(/not a limolab-llama checkpoint/);
    await expect(Engine.fromBytes(new TextEncoder().encode('{"hello": "world"} and more text'))).rejects.toThrow(CheckpointError);
  });

  it('rejects tensors that do not match the config', async () => {
    const { tensors, metadata } = decodeSafetensors(bytes, 't');
    const list = [...tensors.values()];
    const missing = encodeSafetensors(list.slice(1), metadata);
    await expect(Engine.fromBytes(missing)).rejects.toThrow(/model.embed_tokens.weight is missing/);
    const reshaped = encodeSafetensors(list.map((t, i) => (i === 0 ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)), metadata);
    await expect(Engine.fromBytes(reshaped)).rejects.toThrow(/has shape/);
  });

  it('saves a directory with Hugging Face names and loads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'limolab-ckpt-'));
    try {
      await engine.save(dir);
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(cfg).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 16,
        num_key_value_heads: 2, limolab_format: 'limolab-llama', limolab_format_version: 1, tokenizer: { type: 'char', alphabet: 'abc xyz' } });
      const st = decodeSafetensors(await readFile(join(dir, 'model.safetensors')), 'model');
      expect([...st.tensors.keys()]).toContain('model.layers.0.self_attn.q_proj.weight');
      expect([...st.tensors.keys()]).toContain('lm_head.weight');
      expect(st.metadata['format']).toBe('pt');
      const back = await Engine.load(dir, { threads: 1 });
      expect(back.numParams()).toBe(engine.numParams());
      await back.dispose();
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_key_value_heads: 1 }));
      await expect(Engine.load(dir)).rejects.toThrow(/num_key_value_heads/);
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, limolab_format_version: 99 }));
      await expect(Engine.load(dir)).rejects.toThrow(/format version/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('validation', () => {
  it('CharTokenizer encodes, decodes and names unknown characters', () => {
    expect(tokenizer.decode([tokenizer.bos, ...tokenizer.encode('abc x'), tokenizer.eos])).toBe('abc x');
    expect(() => tokenizer.encode('abQ')).toThrow(TokenizerError);
    expect(() => tokenizer.encode('abQ')).toThrow(/"Q"/);
    expect(() => new CharTokenizer('aa')).toThrow(/repeats/);
  });

  it('rejects unknown config keys and inconsistent sizes', async () => {
    await expect(Engine.create({ config: { ...config, dropout: 0.1 } as ModelConfig, tokenizer, seed: 0 })).rejects.toThrow(/unknown model config key "dropout"/);
    await expect(Engine.create({ config: { ...config, num_attention_heads: 3 }, tokenizer, seed: 0 })).rejects.toThrow(ModelConfigError);
    await expect(Engine.create({ config: { ...config, vocab_size: 4 }, tokenizer, seed: 0 })).rejects.toThrow(/vocab_size/);
  });

  it('sequences longer than max_position_embeddings are an error', async () => {
    const e = await Engine.create({ config, tokenizer, seed: 0, threads: 1 });
    const long = Array.from({ length: 17 }, () => 3);
    await expect(e.score([{ tokens: long, weights: long.map(() => 1) }])).rejects.toThrow(SequenceTooLongError);
    await expect(e.generate([[1, 3, 4]], { maxNewTokens: 14, temperature: 1, seed: 0 })).rejects.toThrow(/max_position_embeddings=16/);
    await e.dispose();
  });
});
