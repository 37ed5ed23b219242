// Interchange with transformers, both ways, through the real commands: `limolab export` of an
// engine checkpoint loads with from_pretrained and gives the engine's logits (within 1e-4) and
// greedy tokens; a Llama built by `limolab hf-tiny --tokenizer char` comes into the engine with
// `limolab import` and passes the same check; `limolab serve` on the imported model answers the
// official openai Python client with the engine's greedy text.
// Skipped, with how to build the venv, when no Python with torch + transformers is found.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharTokenizer, Engine, ModelRunner, packBatch, paramSpecs, type ModelConfig } from '../../worker/engine/index.js';
import { probePython, ROOT, VENV_HINT } from '../../runners/torch/python.js';
import { BIN, runCli } from '../cli/run-cli.js';

const py = probePython(['torch', 'transformers', 'tokenizers']);
const hasOpenAI = py.ok && probePython(['openai']).ok;
if (!py.ok) console.warn(`HF interchange tests skipped: ${py.missing}; ${VENV_HINT}`);
const COMPARE = join(ROOT, 'runners', 'torch', 'hf_compare.py');
const env = { LIMOLAB_PYTHON: py.python };

interface Compared { logits: number[][][]; greedy: number[]; encoded: number[][]; decoded: string[] }

function hfCompare(dir: string, req: unknown): Compared {
  const r = spawnSync(py.python, [COMPARE, dir], { input: JSON.stringify(req), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`hf_compare.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Compared;
}

/** The engine's logits (T, V) for each id sequence, through its own ONNX forward graph. */
async function engineLogits(engine: Engine, seqs: number[][]): Promise<number[][][]> {
  const runner = new ModelRunner(engine.config, 'float32', { threads: 1 });
  const w = engine.getParameters();
  const params = paramSpecs(engine.config).map((p) => w[p.name]!);
  const V = engine.config.vocab_size;
  const out: number[][][] = [];
  for (const ids of seqs) {
    // packBatch feeds tokens[0..n-2] as inputs: append one pad so every id is an input position
    const b = packBatch([{ tokens: [...ids, engine.tokenizer.pad], weights: ids.map(() => 0) }], engine.config, engine.tokenizer.pad);
    const { logits } = await runner.forward(params, b);
    out.push(ids.map((_, t) => Array.from(logits.subarray(t * V, (t + 1) * V))));
  }
  await runner.dispose();
  return out;
}

function maxAbsDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((s, i) => s.forEach((row, t) => row.forEach((x, v) => { m = Math.max(m, Math.abs(x - b[i]![t]![v]!)); })));
  return m;
}

const dir = mkdtempSync(join(tmpdir(), 'limolab-interchange-'));
const TEXTS = ['what is 2+3? 5', 'abc 123\nxyz'];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!py.ok)('limolab export: an engine checkpoint that transformers loads', () => {
  const tok = new CharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789 :+=?\n');
  const config: ModelConfig = { vocab_size: tok.vocabSize + 3, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 80,
    max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true };
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ config, tokenizer: tok, seed: 3, threads: 1 });
    // Larger weights than the 0.02 init, so greedy decoding has clear winners, and norm gains
    // away from 1 so a wrong eps or gain layout would show.
    const w = engine.getParameters();
    for (const [k, v] of Object.entries(w)) for (let i = 0; i < v.length; i++) v[i] = k.endsWith('layernorm.weight') || k === 'model.norm.weight' ? 1 + 0.3 * Math.sin(i) : v[i]! * 15;
    engine.setParameters(w);
    writeFileSync(join(dir, 'engine.safetensors'), engine.toBytes());
  });
  afterAll(async () => engine?.dispose());

  it('writes config, weights and tokenizer files whose logits and greedy tokens match the engine', async () => {
    const out = join(dir, 'exported');
    const r = await runCli(['export', join(dir, 'engine.safetensors'), '-o', out], { env });
    expect(r.code, r.stderr).toBe(0);
    const seqs = [[1, ...tok.encode('what is 2+3?')], [1, ...tok.encode('the quick brown fox jumps over 9 lazy dogs')]];
    const prompt = [1, ...tok.encode('abc')];
    const hf = hfCompare(out, { ids: seqs, greedy: { prompt, max_new_tokens: 40 }, texts: TEXTS });
    const mine = await engineLogits(engine, seqs);
    expect(maxAbsDiff(hf.logits, mine)).toBeLessThan(1e-4);
    const g = await engine.generate([prompt], { maxNewTokens: 40, temperature: 0, seed: 0 });
    expect(hf.greedy).toEqual(g.tokens[0]);
    expect(hf.greedy.length).toBeGreaterThan(5); // not a trivial match on an immediate EOS
    // The exported tokenizer: BOS then one id per character, decoding back to the text.
    expect(hf.encoded).toEqual(TEXTS.map((t) => [tok.bos, ...tok.encode(t)]));
    expect(hf.decoded).toEqual(TEXTS);
  }, 180_000);

  it('refuses to overwrite a non-empty directory without --force, and loses nothing', async () => {
    const out = join(dir, 'occupied');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = await runCli(['export', join(dir, 'engine.safetensors'), '-o', out], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not empty; pass --force/);
  });
});

describe.skipIf(!py.ok)('limolab import: a Hugging Face Llama into the engine', () => {
  const hfDir = join(dir, 'hf-char');
  const engDir = join(dir, 'imported');
  beforeAll(async () => {
    const r = await runCli(['hf-tiny', '-o', hfDir, '--tokenizer', 'char', '--untied', '--hidden', '32', '--layers', '2', '--heads', '4', '--intermediate', '64', '--ctx', '96', '--init-std', '0.3'], { env, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
  }, 200_000);

  it('gives transformers\' logits within 1e-4 and its greedy tokens', async () => {
    const r = await runCli(['import', hfDir, '-o', engDir], { env });
    expect(r.code, r.stderr).toBe(0);
    const engine = await Engine.load(engDir, { threads: 1 });
    try {
      expect(engine.config.tie_word_embeddings).toBe(false);
      const tok = engine.tokenizer;
      const seqs = [[tok.bos, ...tok.encode('What is $2 + 3$?')], [tok.bos, ...tok.encode('Solution: 7 + 1 = 8.')]];
      const prompt = [tok.bos, ...tok.encode('Problem: ')];
      const hf = hfCompare(hfDir, { ids: seqs, greedy: { prompt, max_new_tokens: 30 }, texts: ['What is $2 + 3$?'] });
      expect(maxAbsDiff(hf.logits, await engineLogits(engine, seqs))).toBeLessThan(1e-4);
      const g = await engine.generate([prompt], { maxNewTokens: 30, temperature: 0, seed: 0 });
      expect(hf.greedy).toEqual(g.tokens[0]);
      expect(hf.greedy.length).toBeGreaterThan(5);
      expect(hf.encoded[0]).toEqual(seqs[0]);
    } finally {
      await engine.dispose();
    }
  }, 180_000);

  it('refuses a subword tokenizer, saying why', async () => {
    const bad = join(dir, 'hf-bpe');
    mkdirSync(bad);
    const { readFileSync } = await import('node:fs');
    writeFileSync(join(bad, 'config.json'), readFileSync(join(hfDir, 'config.json')));
    writeFileSync(join(bad, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] } }));
    const r = await runCli(['import', bad, '-o', join(dir, 'never')], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/model is BPE with 1 merges, not character-level.*subword tokenizer cannot be imported/);
  });

  it.skipIf(!hasOpenAI)('serves the imported model to the official openai Python client', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', engDir, '--port', '0', '--threads', '1', '--model-name', 'tiny'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (c) => reject(new Error(`limolab serve exited with ${c}`)));
    });
    const url = (JSON.parse(line) as { listening: string }).listening;
    const script = [
      'import json, sys, openai',
      `c = openai.OpenAI(base_url=${JSON.stringify(url + '/v1')}, api_key="none", max_retries=0)`,
      'r = c.completions.create(model="tiny", prompt="Problem: ", max_tokens=12, temperature=0)',
      'm = c.models.list()',
      'print(json.dumps({"text": r.choices[0].text, "usage": [r.usage.prompt_tokens, r.usage.completion_tokens], "models": [x.id for x in m.data]}))',
    ].join('\n');
    const r = spawnSync(py.python, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { text: string; usage: number[]; models: string[] };
    const engine = await Engine.load(engDir, { threads: 1 });
    const tok = engine.tokenizer;
    const g = await engine.generate([[tok.bos, ...tok.encode('Problem: ')]], { maxNewTokens: 12, temperature: 0, seed: 0 });
    await engine.dispose();
    expect(got.text).toBe(tok.decode(g.tokens[0]!));
    expect(got.usage).toEqual([1 + 'Problem: '.length, g.tokens[0]!.length]);
    expect(got.models).toEqual(['tiny']);
    child.kill('SIGTERM');
  }, 180_000);
});
