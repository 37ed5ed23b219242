// Embedded-engine benchmark: training and sampling tokens/s at three sizes (context 128,
// batch 32), against PyTorch CPU on the same architecture, batch and thread count when a
// python with torch is importable, plus MFU against the peak matmul rate measured here.
// Run: node bin/limolab-tsx.js bench/engine.ts   (prints figures; not a timed test)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CharTokenizer, Engine, flopsPerToken, type Example, type ModelConfig } from '../worker/engine/index.js';
import { GraphBuilder } from '../worker/engine/onnx-builder.js';

const THREADS = Number(process.env.THREADS ?? availableParallelism());
const CTX = 128, BATCH = 32, PROMPT = 16, NEW = CTX - PROMPT, STEPS = Number(process.env.STEPS ?? 3);
const SIZES = [{ d: 64, L: 2 }, { d: 128, L: 4 }, { d: 256, L: 4 }];
const tokenizer = new CharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789 .,:;=+-*/()[]{}<>!?"\'#$%&@^_|~\n'.slice(0, 61));

function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

async function peakMatmul(): Promise<number> {
  const n = 1024, g = new GraphBuilder('peak', 'float32');
  const a = g.input('a', 'float32', [n, n]), b = g.input('b', 'float32', [n, n]);
  g.output(g.matmul(a, b), 'c', 'float32', [n, n]);
  const s = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000);
  const feeds = { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data, [n, n]) };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  let best = Infinity;
  for (let i = 0; i < 10; i++) { const t = performance.now(); await s.run(feeds); best = Math.min(best, performance.now() - t); }
  await s.release();
  return (2 * n * n * n) / (best / 1000);
}

function configFor(d: number, L: number): ModelConfig {
  return { vocab_size: 64, hidden_size: d, num_hidden_layers: L, num_attention_heads: d / 32, intermediate_size: Math.round((8 * d) / 3 / 4) * 4,
    max_position_embeddings: CTX, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true };
}

async function benchEngine(config: ModelConfig): Promise<{ train: number; sample: number }> {
  const engine = await Engine.create({ config, tokenizer, seed: 0, threads: THREADS });
  let s = 1;
  const rand = () => (s = (s * 48271) % 2147483647) % (tokenizer.vocabSize - 3) + 3;
  const examples: Example[] = Array.from({ length: BATCH }, () => {
    const tokens = Array.from({ length: CTX }, rand);   // 127 inputs, padded to the 128 bucket
    return { tokens, weights: tokens.map(() => 1) };
  });
  await engine.train(examples, { steps: 2, batchSize: BATCH, lr: 1e-3, seed: 0 }); // warm-up
  let t = performance.now();
  await engine.train(examples, { steps: STEPS, batchSize: BATCH, lr: 1e-3, seed: 0 });
  const train = (BATCH * CTX * STEPS) / ((performance.now() - t) / 1000);
  const prompts = Array.from({ length: BATCH }, () => Array.from({ length: PROMPT }, rand));
  const opts = { maxNewTokens: NEW, temperature: 1, seed: 0, stopAtEos: false };
  await engine.generate(prompts, opts); // warm-up
  t = performance.now();
  const g = await engine.generate(prompts, opts);
  const sample = g.generatedTokens / ((performance.now() - t) / 1000);
  await engine.dispose();
  return { train, sample };
}

/**
 * Debian's python3-torch links the reference BLAS (~6 GFLOP/s here, 15x below onnxruntime):
 * comparing against it flatters the engine. Point torch at OpenBLAS when one is present
 * (LIMOLAB_TORCH_BLAS_DIR, or Debian's libopenblas0-pthread location) for a fair baseline.
 */
function torchEnv(): NodeJS.ProcessEnv {
  const dirs = [process.env.LIMOLAB_TORCH_BLAS_DIR, '/usr/lib/x86_64-linux-gnu/openblas-pthread'].filter((d): d is string => !!d && existsSync(join(d, 'libblas.so.3')));
  if (dirs.length === 0) return process.env;
  return { ...process.env, LD_LIBRARY_PATH: [dirs[0], process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'), OPENBLAS_NUM_THREADS: String(THREADS) };
}

function benchTorch(py: string, config: ModelConfig): { train: number; sample: number; matmul: number } | null {
  const script = fileURLToPath(new URL('../tools/torch-reference.py', import.meta.url));
  const args = ['bench', '--hidden', config.hidden_size, '--layers', config.num_hidden_layers, '--heads', config.num_attention_heads,
    '--intermediate', config.intermediate_size, '--vocab', config.vocab_size, '--ctx', CTX, '--batch', BATCH, '--threads', THREADS,
    '--steps', STEPS, '--prompt', PROMPT, '--new-tokens', NEW].map(String);
  const r = spawnSync(py, [script, ...args], { encoding: 'utf8', timeout: 150_000, env: torchEnv() });
  if (r.status !== 0) { console.log(`  torch bench failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.signal}`); return null; }
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { train_tokens_per_s: number; sample_tokens_per_s: number; matmul_flops_per_s: number };
  return { train: j.train_tokens_per_s, sample: j.sample_tokens_per_s, matmul: j.matmul_flops_per_s };
}

const fmt = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(0));
const started = performance.now();
const py = findTorchPython();
let peak = await peakMatmul(); // re-measured before each size; the best seen is the peak (other load only lowers it)
console.log(`threads=${THREADS} context=${CTX} batch=${BATCH} train_steps=${STEPS} sample=${PROMPT}+${NEW} tokens`);
console.log(`peak matmul (onnxruntime, 1024^3 fp32): ${(peak / 1e9).toFixed(1)} GFLOP/s`);
console.log(py ? `pytorch: ${py}, LD_LIBRARY_PATH=${torchEnv().LD_LIBRARY_PATH ?? '(default BLAS)'}` : 'pytorch: not importable (tried /usr/bin/python3, python3); engine figures only');
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes share these cores; figures are noisy when it exceeds the thread count)`);
for (const { d, L } of SIZES) {
  const config = configFor(d, L);
  peak = Math.max(peak, await peakMatmul());
  const e = await benchEngine(config);
  const tr = py ? benchTorch(py, config) : null;
  const params = (await Engine.create({ config, tokenizer, seed: 0 })).numParams();
  const mfuTrain = (e.train * flopsPerToken(config, CTX, 'train')) / peak;
  const mfuSample = (e.sample * flopsPerToken(config, CTX, 'forward')) / peak;
  console.log(`d=${d} L=${L} (${(params / 1e6).toFixed(2)}M params)` + (tr ? `  torch's own 1024^3 matmul: ${(tr.matmul / 1e9).toFixed(1)} GFLOP/s` : ''));
  console.log(`  train : engine ${fmt(e.train)} tok/s` + (tr ? `  torch ${fmt(tr.train)} tok/s  ratio ${(e.train / tr.train).toFixed(2)}x` : '') + `  MFU ${(100 * mfuTrain).toFixed(1)}%`);
  console.log(`  sample: engine ${fmt(e.sample)} tok/s` + (tr ? `  torch ${fmt(tr.sample)} tok/s  ratio ${(e.sample / tr.sample).toFixed(2)}x` : '') + `  MFU ${(100 * mfuSample).toFixed(1)}%`);
}
console.log(`peak matmul used for MFU (best of all measurements): ${(peak / 1e9).toFixed(1)} GFLOP/s`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
