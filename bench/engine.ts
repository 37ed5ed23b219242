// Embedded-engine benchmark: training and sampling tokens/s at three sizes (context 128,
// batch 32), against Hugging Face transformers LlamaForCausalLM (sdpa, AdamW, generate with KV
// cache) on the project venv's torch at the same shapes and thread count, with MFU for both
// against the best fp32 matmul rate (onnxruntime's or torch's) measured in the same run.
// Run: npm run bench:engine [-- --quick]   (--quick: d=64 L=2 only, 1 step: proves it runs, no figures)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CharTokenizer, Engine, flopsForSequences, type Example, type ModelConfig } from '../worker/engine/index.js';
import { GraphBuilder } from '../worker/engine/onnx-builder.js';

const QUICK = process.argv.includes('--quick') || process.env.QUICK === '1';
const THREADS = Number(process.env.THREADS ?? Math.min(2, availableParallelism()));
const CTX = 128, BATCH = 32, PROMPT = 16, NEW = CTX - PROMPT, STEPS = Number(process.env.STEPS ?? (QUICK ? 1 : 3));
const WARMUP = QUICK ? 1 : 2;
// Sampling is timed SAMPLE_REPEATS times on both sides and the fastest call counts: on a shared
// machine one call can lose its cores to another process, and best-of-N drops that outlier.
const SAMPLE_REPEATS = Number(process.env.SAMPLE_REPEATS ?? (QUICK ? 1 : 3));
const SIZES = QUICK ? [{ d: 64, L: 2 }] : [{ d: 64, L: 2 }, { d: 128, L: 4 }, { d: 256, L: 4 }];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VENV_PY = process.env.LIMOLAB_HF_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const VENV_HINT = 'python3 -m venv .venv && .venv/bin/pip install --no-index --find-links /opt/wheels --find-links /opt/pypi-more/files --find-links /opt/pypi/files torch transformers';
const tokenizer = new CharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789 .,:;=+-*/()[]{}<>!?"\'#$%&@^_|~\n'.slice(0, 61));

function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

/** onnxruntime's (MLAS) best fp32 square-matmul rate at THREADS threads, over a few sizes. */
async function peakMatmul(): Promise<number> {
  let best = 0;
  for (const n of [1024, 2048]) {
    const g = new GraphBuilder('peak', 'float32');
    const a = g.input('a', 'float32', [n, n]), b = g.input('b', 'float32', [n, n]);
    g.output(g.matmul(a, b), 'c', 'float32', [n, n]);
    const s = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000);
    const feeds = { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data, [n, n]) };
    for (let i = 0; i < 2; i++) await s.run(feeds);
    for (let i = 0; i < (n > 1024 ? 5 : 10); i++) {
      const t = performance.now(); await s.run(feeds);
      best = Math.max(best, (2 * n * n * n) / ((performance.now() - t) / 1000));
    }
    await s.release();
  }
  return best;
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
  await engine.train(examples, { steps: WARMUP, batchSize: BATCH, lr: 1e-3, seed: 0 }); // warm-up
  let t = performance.now();
  await engine.train(examples, { steps: STEPS, batchSize: BATCH, lr: 1e-3, seed: 0 });
  const train = (BATCH * CTX * STEPS) / ((performance.now() - t) / 1000);
  const prompts = Array.from({ length: BATCH }, () => Array.from({ length: PROMPT }, rand));
  const opts = { maxNewTokens: NEW, temperature: 1, seed: 0, stopAtEos: false };
  await engine.generate(prompts, opts); // warm-up
  let sample = 0;
  for (let r = 0; r < SAMPLE_REPEATS; r++) { // best of N, as the HF side does
    t = performance.now();
    const g = await engine.generate(prompts, opts);
    sample = Math.max(sample, g.generatedTokens / ((performance.now() - t) / 1000));
  }
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

type HfRow = { train_tokens_per_s: number; sample_tokens_per_s: number; matmul_peak_flops_per_s: number; torch: string; transformers: string; params: number };

/** The strong baseline: bench/hf_engine_baseline.py on the venv's torch + transformers, one size per call. */
function benchHf(config: ModelConfig): HfRow | null {
  const args = [join(ROOT, 'bench', 'hf_engine_baseline.py'), '--sizes', `${config.hidden_size}x${config.num_hidden_layers}`, '--threads', THREADS, '--ctx', CTX,
    '--batch', BATCH, '--vocab', config.vocab_size, '--prompt', PROMPT, '--new-tokens', NEW, '--steps', STEPS, '--warmup', WARMUP, '--sample-repeats', SAMPLE_REPEATS].map(String);
  const r = spawnSync(VENV_PY, args, { encoding: 'utf8', timeout: QUICK ? 900_000 : 1_800_000, env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
  if (r.status !== 0) { console.log(`  HF transformers bench failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.signal}`); return null; }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as HfRow;
}

const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const fmt = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(0));
const started = performance.now();
const hasVenv = existsSync(VENV_PY);
// The weak baseline is off in --quick unless WEAK_BASELINE=1, and off anywhere with WEAK_BASELINE=0.
const weakPy = (QUICK && process.env.WEAK_BASELINE !== '1') || process.env.WEAK_BASELINE === '0' ? null : findTorchPython();
console.log(`threads=${THREADS} context=${CTX} batch=${BATCH} train_steps=${STEPS} sample=${PROMPT}+${NEW} tokens, best of ${SAMPLE_REPEATS} generate calls${QUICK ? '  (--quick: smoke run, not a measurement)' : ''}`);
if (hasVenv) console.log(`baseline: Hugging Face transformers LlamaForCausalLM (sdpa, AdamW, generate use_cache=True do_sample=True) via ${VENV_PY}`);
else console.log(`baseline: no venv python at ${VENV_PY}; engine rows only. Build it with: ${VENV_HINT}`);
if (weakPy) console.log(`weak baseline: hand-written functional Llama (tools/torch-reference.py) on ${weakPy}, LD_LIBRARY_PATH=${torchEnv().LD_LIBRARY_PATH ?? '(default BLAS)'}`);
else if (process.env.WEAK_BASELINE !== '0' && !(QUICK && process.env.WEAK_BASELINE !== '1')) console.log('weak baseline (functional torch): skipped, neither /usr/bin/python3 nor python3 imports torch');
console.log(`load average at start: ${la()} (other processes share these cores; figures are noisy when it exceeds the thread count)`);
// MFU's peak: the best fp32 matmul rate seen in this run, onnxruntime's (1024^2 and 2048^2, before
// and after the sizes) and torch's (1024^2, measured by the HF script). An achieved peak: the
// cores' datasheet rate (FMA width x clock) is higher, so these MFUs are upper bounds.
const peaks: { src: string; flops: number }[] = [{ src: 'onnxruntime', flops: await peakMatmul() }];
const rows: { d: number; L: number; e: { train: number; sample: number }; hf: HfRow | null; weak: ReturnType<typeof benchTorch>; config: ModelConfig; params: number }[] = [];
for (const { d, L } of SIZES) {
  const config = configFor(d, L);
  const e = await benchEngine(config);
  const hf = hasVenv ? benchHf(config) : null;
  const weak = weakPy ? benchTorch(weakPy, config) : null;
  if (hf) peaks.push({ src: 'torch', flops: hf.matmul_peak_flops_per_s });
  const params = (await Engine.create({ config, tokenizer, seed: 0 })).numParams();
  rows.push({ d, L, e, hf, weak, config, params });
  console.log(`  measured d=${d} L=${L} (load average ${la()})`);
}
peaks.push({ src: 'onnxruntime', flops: await peakMatmul() });
const top = peaks.reduce((a, b) => (b.flops > a.flops ? b : a));
const peak = top.flops;
const bestOf = (src: string) => Math.max(0, ...peaks.filter((p) => p.src === src).map((p) => p.flops));
console.log(`\npeak for MFU: ${(peak / 1e9).toFixed(1)} GFLOP/s, the best fp32 matmul rate measured in this run at ${THREADS} threads (${top.src}; onnxruntime ${(bestOf('onnxruntime') / 1e9).toFixed(1)}` +
  `${hasVenv ? `, torch ${(bestOf('torch') / 1e9).toFixed(1)}` : ''})`);
console.log('MFU = tok/s x model FLOPs per counted token / peak. Model FLOPs are the ledger\'s analytic count (worker/engine/flops.ts: 2N per token run forward, 6N per trained token, plus');
console.log(`the attention term) for the work both sides do: train ${BATCH} x ${CTX - 1} predicted tokens per step (tok/s counts ${CTX} per row), sample ${BATCH} x (${PROMPT} prompt + ${NEW - 1} fed back) forward tokens (tok/s counts the ${NEW} generated).`);
for (const { d, L, e, hf, weak, config, params } of rows) {
  // FLOPs per counted token, identical for the engine and HF (same shapes, same work).
  const perToken = {
    train: flopsForSequences(config, Array<number>(BATCH).fill(CTX - 1), 'train') / (BATCH * CTX),
    forward: flopsForSequences(config, Array<number>(BATCH).fill(PROMPT + NEW - 1), 'forward') / (BATCH * NEW),
  };
  const mfu = (tps: number, kind: 'train' | 'forward') => `${((100 * tps * perToken[kind]) / peak).toFixed(1)}%`;
  const side = (kind: 'train' | 'forward', en: number, h: number | undefined) =>
    `engine ${fmt(en)} tok/s` + (h ? `  HF ${fmt(h)} tok/s  ratio ${(en / h).toFixed(2)}x  MFU engine ${mfu(en, kind)} HF ${mfu(h, kind)}` : `  MFU ${mfu(en, kind)}`);
  console.log(`d=${d} L=${L} (${(params / 1e6).toFixed(2)}M params${hf ? `; HF ${(hf.params / 1e6).toFixed(2)}M, torch ${hf.torch}, transformers ${hf.transformers}` : ''})`);
  console.log(`  train : ${side('train', e.train, hf?.train_tokens_per_s)}`);
  console.log(`  sample: ${side('forward', e.sample, hf?.sample_tokens_per_s)}`);
  if (weak) console.log(`  weak baseline (functional torch): train ${fmt(weak.train)} tok/s (${(e.train / weak.train).toFixed(2)}x)  sample ${fmt(weak.sample)} tok/s (${(e.sample / weak.sample).toFixed(2)}x)`);
}
// The targets (issue 15) beside this run's figures: training and sampling at least 1.5x HF at
// d=128 and d=256 (L=4); a size this run did not measure, or measured without the HF baseline, says so.
console.log(`\ntargets (load average ${la()})`);
console.log(`${'figure'.padEnd(36)}  ${'measured'.padStart(8)}  ${'target'.padEnd(7)}  met`);
for (const d of [128, 256]) {
  const r = rows.find((x) => x.d === d && x.L === 4);
  for (const [kind, key] of [['training', 'train'], ['sampling', 'sample']] as const) {
    const h = r?.hf?.[key === 'train' ? 'train_tokens_per_s' : 'sample_tokens_per_s'];
    const ratio = r && h ? r.e[key] / h : NaN;
    const why = !r ? 'not measured in this run' : !h ? 'no HF baseline in this run' : null;
    console.log(`${`${kind} d=${d} L=4, engine / HF`.padEnd(36)}  ${(why ? '-' : `${ratio.toFixed(2)}x`).padStart(8)}  ${'>= 1.5x'.padEnd(7)}  ${why ? `- (${why})` : ratio >= 1.5 ? 'yes' : 'no'}`);
  }
}
console.log(`load average at end: ${la()}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
