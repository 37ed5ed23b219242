// `npm run bench:hf`: the same SFT through runners/torch (the worker's HfRunner -> ProcessRunner
// -> limolab_torch_runner.py, as a sweep runs it) and through TRL's SFTTrainer (bench/hf_trl.py):
// same tiny random-init Llama (`limolab hf-tiny`), same prompt/completion rows, steps, batch
// size and lr. Prints both losses and training tokens/s (positions run / training-loop seconds)
// with the load average: torch's numbers collapse when other processes hold the cores, so
// compare only figures from an idle machine.
// Env: BENCH_HF_STEPS (default 32), BENCH_HF_BATCH (16), BENCH_HF_LR (1e-3), BENCH_HF_THREADS (2).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskKind, Task } from '../gen/limolab/v1/task.js';
import { getTemplate, renderExample } from '../experiments/datasets/index.js';
import { HfRunner } from '../worker/runners/hf-runner.js';
import { makeAccess } from '../worker/runners/access.js';
import { MemoryArtifacts } from '../worker/ml/memory-artifacts.js';
import { HF_TINY, probePython, ROOT, TORCH_RUNNER, VENV_HINT } from '../runners/torch/python.js';

const steps = Number(process.env.BENCH_HF_STEPS ?? 32), batch = Number(process.env.BENCH_HF_BATCH ?? 16);
const lr = Number(process.env.BENCH_HF_LR ?? 1e-3), threads = Number(process.env.BENCH_HF_THREADS ?? 2);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const py = probePython(['torch', 'transformers', 'tokenizers', 'trl', 'datasets']);
if (!py.ok) {
  console.error(`bench:hf needs ${py.missing.replace(/^.*has no module /, 'the Python module ')}; ${VENV_HINT}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'limolab-bench-hf-'));
try {
  const model = join(dir, 'model'), data = join(dir, 'data');
  const mk = spawnSync(py.python, [HF_TINY, '-o', model, '--data', data, '--hidden', '128', '--layers', '4', '--heads', '4', '--intermediate', '352'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`hf_tiny.py failed: ${mk.stderr}`);
  const info = JSON.parse(mk.stdout) as { params: number };
  const n = steps * batch; // exactly `steps` full batches: one epoch over n rows
  const rows = readFileSync(join(data, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { problem: string; solution: string });
  const plain = getTemplate('plain');
  const examples = Array.from({ length: n }, (_, i) => renderExample(plain, rows[i % rows.length]!.problem, rows[i % rows.length]!.solution));
  writeFileSync(join(data, 'sft.jsonl'), examples.map((e) => JSON.stringify(e) + '\n').join(''));
  const limo = Array.from({ length: n }, (_, i) => JSON.stringify({ ...rows[i % rows.length], id: `r${i}` }) + '\n').join('');
  writeFileSync(join(data, 'limo.jsonl'), limo);
  console.log(`bench:hf  model ${info.params} params (d=128 L=4), ${n} examples, ${steps} steps x batch ${batch}, lr ${lr}, ${threads} threads`);
  console.log(`load average before: ${load()}`);

  // 1. runners/torch through the worker's HfRunner (the process a sweep's TRAIN runs)
  const runner = new HfRunner({ command: [py.python, TORCH_RUNNER], graceMs: 2000, timeoutMs: 1_800_000, access: makeAccess({ dataRoots: [dir] }) });
  const task = Task.fromPartial({ id: 'bench', kind: TaskKind.TASK_KIND_TRAIN, phase: 'training', seed: 0, modelRef: { kind: 'hf', path: model, params: info.params },
    spec: { $case: 'train', value: { method: 'sft', epochs: 1, lr, batchSize: batch, maxPerPrompt: 0, options: { dataset: join(data, 'limo.jsonl'), max_steps: steps } } } });
  const t0 = Date.now();
  const ours = await runner.run({ task, signal: new AbortController().signal, artifacts: new MemoryArtifacts(), threads, progress: () => {}, log: () => {}, metric: () => {},
    input: () => { throw new Error('no inputs'); } });
  const oursWall = (Date.now() - t0) / 1000;
  console.log(`load average after torch runner: ${load()}`);

  // 2. TRL's SFTTrainer on the same rows
  const t1 = Date.now();
  const trl = spawnSync(py.python, [join(ROOT, 'bench', 'hf_trl.py'), model, join(data, 'sft.jsonl'), String(steps), String(batch), String(lr), '0'],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) }, maxBuffer: 16 << 20 });
  if (trl.status !== 0) throw new Error(`hf_trl.py failed: ${trl.stderr.slice(-2000)}`);
  const t = JSON.parse(trl.stdout.trim().split('\n').pop()!) as { loss_first_step: number; loss_last_step: number; loss_final: number; tokens_per_s: number; train_s: number };
  const trlWall = (Date.now() - t1) / 1000;
  console.log(`load average after TRL: ${load()}`);

  const m = ours.metrics;
  const row = (name: string, first: number, last: number, fin: number, tps: number, s: number, wall: number) =>
    `${name.padEnd(22)} ${first.toFixed(4).padStart(9)} ${last.toFixed(4).padStart(9)} ${fin.toFixed(4).padStart(10)} ${tps.toFixed(0).padStart(11)} ${s.toFixed(1).padStart(8)} ${wall.toFixed(1).padStart(8)}`;
  console.log(`${'runner'.padEnd(22)} ${'loss[0]'.padStart(9)} ${'loss[-1]'.padStart(9)} ${'loss_final'.padStart(10)} ${'train tok/s'.padStart(11)} ${'train s'.padStart(8)} ${'wall s'.padStart(8)}`);
  console.log(row('runners/torch (HfRunner)', m.loss_first_step!, m.loss_last_step!, m.loss_final!, m.train_tokens_per_s!, m.train_s!, oursWall));
  console.log(row('TRL SFTTrainer', t.loss_first_step, t.loss_last_step, t.loss_final, t.tokens_per_s, t.train_s, trlWall));
  console.log(`final loss ratio torch/TRL ${(m.loss_final! / t.loss_final).toFixed(3)}; speed ratio torch/TRL ${(m.train_tokens_per_s! / t.tokens_per_s).toFixed(2)}x (TRL tokens/s is expected positions over trainer.train() seconds)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
