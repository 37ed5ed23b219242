// The body of scripts/gpu-check.sh (read its header): checks CUDA first, builds the model with
// runners/torch/hf_tiny.py, writes a two-arm sweep (external-sft: TRAIN -> EVAL; external-rollout:
// ROLLOUT -> EVAL), runs it with `limolab run --runner-cmd <torch runner>` and reads the ledger
// rows back from the run's SQLite file. MFU = task FLOPs / device seconds / peak FLOP/s.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HF_TINY, probePython, ROOT, TORCH_RUNNER, VENV_HINT } from '../runners/torch/python.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const device = value('--device') ?? 'cuda';
const tiny = flag('--tiny');
const die = (msg: string): never => { console.error(`gpu-check: ${msg}`); process.exit(2); };
if (device !== 'cuda' && device !== 'cpu') die(`--device must be cuda or cpu, got ${device}`);
const unknown = args.filter((a, i) => a.startsWith('--') && !['--device', '--tiny', '--peak-tflops', '--keep'].includes(a) && args[i - 1] !== '--device');
if (unknown.length) die(`unknown option ${unknown[0]}; usage: scripts/gpu-check.sh [--device cuda|cpu] [--tiny] [--peak-tflops N] [--keep]`);

const py = probePython(['torch', 'transformers', 'tokenizers']);
if (!py.ok) die(`${py.missing}; ${VENV_HINT}`);
// Fail fast: one short Python call says whether CUDA is there before anything is built.
const probe = spawnSync(py.python, ['-c', 'import json, torch; ok = torch.cuda.is_available(); print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "ok": ok, "name": torch.cuda.get_device_name(0) if ok else None}))'], { encoding: 'utf8', timeout: 300_000 });
if (probe.status !== 0) die(`${py.python} could not import torch: ${probe.stderr.trim().split('\n').pop()}`);
const cuda = JSON.parse(probe.stdout) as { torch: string; cuda: string | null; ok: boolean; name: string | null };
if (device === 'cuda' && !cuda.ok) {
  die(`no CUDA device: torch ${cuda.torch} (${cuda.cuda ? `built for CUDA ${cuda.cuda}` : 'a CPU-only build'}) sees no GPU. Run this on a machine with an NVIDIA GPU and a CUDA build of torch, or use --device cpu --tiny for the CPU dry run.`);
}
// Dense peak FLOP/s for float32 matmuls (no TF32), by GPU name; --peak-tflops overrides.
const PEAK_FP32_TFLOPS: [RegExp, number][] = [[/H200|H100.*SXM|GH200/i, 67], [/H100/i, 51], [/A100/i, 19.5], [/L40S/i, 91.6], [/L4\b/i, 30.3], [/A10\b/i, 31.2], [/4090/i, 82.6], [/V100/i, 15.7]];
const peakTflops = value('--peak-tflops') !== undefined ? Number(value('--peak-tflops'))
  : device === 'cuda' ? PEAK_FP32_TFLOPS.find(([re]) => re.test(cuda.name ?? ''))?.[1] : undefined;

const dir = mkdtempSync(join(tmpdir(), 'limolab-gpu-check-'));
const shape = tiny ? ['--hidden', '64', '--layers', '2', '--heads', '4', '--intermediate', '176', '--ctx', '256']
  : ['--hidden', '768', '--layers', '14', '--heads', '12', '--intermediate', '2048', '--ctx', '512']; // ~100M
console.log(`gpu-check: ${device}${cuda.name ? ` (${cuda.name})` : ''}, torch ${cuda.torch}, work dir ${dir}`);
const t0 = Date.now();
const mk = spawnSync(py.python, [HF_TINY, '-o', join(dir, 'model'), '--data', join(dir, 'data'), ...shape], { encoding: 'utf8', timeout: 300_000 });
if (mk.status !== 0) die(`building the model failed: ${mk.stderr.slice(-1500)}`);
const info = JSON.parse(mk.stdout) as { params: number };
console.log(`gpu-check: model ${(info.params / 1e6).toFixed(1)}M parameters built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const [steps, prompts, k, maxTokens] = tiny ? [4, 4, 2, 16] : [32, 32, 8, 128];
writeFileSync(join(dir, 'gpu-check.yaml'), `name: gpu-check
seeds: [0]
defaults: {retries: 0, timeout_s: 420}
prices: {per_device_hour: {cpu: 0.05, cuda: 2.5}}
base:
  model_ref: {kind: hf, path: ${join(dir, 'model')}, params: ${info.params}}
  datasets: [{name: sums, path: ${join(dir, 'data', 'test.jsonl')}, limit: 2}]
  pool: ${join(dir, 'data', 'train.jsonl')}
  eval: {n_samples: 1, temperature: 0, max_tokens: 16}
  rollout: {max_tokens: ${maxTokens}}
arms:
  - {name: train, method: external-sft, params: {dataset: ${join(dir, 'data', 'train.jsonl')}, n: 256, epochs: 1, lr: 0.0003, batch_size: 16, max_steps: ${steps}}}
  - {name: rollout, method: external-rollout, params: {prompts: ${prompts}, k: ${k}, shards: 1, temperature: 1}}
`);
const db = join(dir, 'gpu-check.db');
const run = spawn(process.execPath, [join(ROOT, 'bin', 'limolab.js'), 'run', join(dir, 'gpu-check.yaml'), '--db', db, '--workdir', join(dir, 'run'), '--workers', '1',
  '--runner-cmd', `${py.python} ${TORCH_RUNNER}`], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, LIMOLAB_TORCH_DEVICE: device, LIMOLAB_DATA_ROOT: dir } });
const code = await new Promise<number>((r) => run.once('exit', (c) => r(c ?? 1)));

interface Row { name: string; arm: string; kind: string; phase: string; flops: number; tokens_prompt: number; tokens_generated: number; tokens_trained: number; device_kind: string; device_s: number; wall_s: number; params: number; metrics: string | null }
const sql = new Database(db, { readonly: true });
const rows = sql.prepare(`select t.name, t.arm, t.kind, l.phase, l.flops, l.tokens_prompt, l.tokens_generated, l.tokens_trained, l.device_kind, l.device_s, l.wall_s, l.params,
  (select json_group_object(m.name, m.value) from metrics m where m.task_id = l.task_id) as metrics
  from ledger l join tasks t on t.id = l.task_id order by t.kind`).all() as Row[];
sql.close();
console.log('\nledger rows:');
console.table(rows.map(({ metrics: _m, ...r }) => r));
for (const r of rows) {
  const tokens = r.tokens_trained > 0 ? r.tokens_trained : r.tokens_prompt + r.tokens_generated;
  const fps = r.flops / Math.max(r.device_s, 1e-9);
  const mfu = peakTflops ? `${((100 * fps) / (peakTflops * 1e12)).toFixed(2)}% of ${peakTflops} TFLOP/s fp32` : 'n/a (pass --peak-tflops)';
  const m = r.metrics ? JSON.parse(r.metrics) as Record<string, number> : {};
  const loop = m.train_tokens_per_s ? `, training loop ${m.train_tokens_per_s.toFixed(0)} tok/s (${((m.train_flops ?? 0) / Math.max(m.train_s ?? 1, 1e-9) / 1e12).toFixed(2)} TFLOP/s)` : '';
  console.log(`${r.name.padEnd(22)} ${(tokens / Math.max(r.device_s, 1e-9)).toFixed(0).padStart(9)} tok/s over the task's device seconds, ${(fps / 1e12).toFixed(3)} TFLOP/s, MFU ${mfu}${loop}`);
}
console.log(`gpu-check: ${code === 0 ? 'ok' : `limolab run exited ${code}`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
// The model, data, database and task work directories: kept with --keep, else removed.
if (flag('--keep')) console.log(`gpu-check: kept ${dir}`); else rmSync(dir, { recursive: true, force: true });
const kinds = new Set(rows.map((r) => r.kind));
process.exit(code === 0 && rows.length >= 3 && rows.some((r) => r.tokens_trained > 0) && rows.some((r) => r.tokens_generated > 0) && kinds.size >= 3 ? 0 : 1);
