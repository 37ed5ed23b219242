// scripts/gpu_runner_check.py: the GPU check of runners/torch that needs no Node.js (python3 with
// torch + transformers only), run on an H200 on 2026-12-04 (see its header). Here, without a GPU:
// its copy of the runner protocol's line schemas agrees with the worker's (RunnerLine, zod) on
// good and bad lines, so that it cannot pass a runner the worker would fail; and it refuses at
// once, saying why, where torch sees no CUDA device. Its CPU dry run (--device cpu --tiny) goes
// through the same runner path as scripts/gpu-check.sh's, tested in test/e2e/hf-tiny.test.ts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probePython, ROOT, VENV_HINT } from '../../runners/torch/python.js';
import { RunnerLine } from '../../worker/runners/protocol.js';
import { deriveSeed, Rng } from '../../experiments/domain/rng.js';

const SCRIPT = join(ROOT, 'scripts', 'gpu_runner_check.py');
const py = probePython(['torch', 'transformers', 'tokenizers']);
if (!py.ok) console.warn(`gpu_runner_check.py refusal test skipped: ${py.missing}; ${VENV_HINT}`);

const LINES = [
  '{"type":"progress","fraction":0.5}', '{"type":"progress","fraction":1.5}', '{"type":"progress","fraction":0.5,"message":"x"}', '{"type":"progress"}',
  '{"type":"metric","name":"loss","value":1.25,"step":3}', '{"type":"metric","name":"loss","value":1.25,"step":-1}', '{"type":"metric","name":"loss","value":1.25,"step":1.5}',
  '{"type":"metric","name":"","value":1}', '{"type":"metric","name":"loss","value":true}', '{"type":"metric","name":"loss","value":NaN}', '{"type":"metric","name":"loss","value":1e400}',
  '{"type":"ledger","flops":1e12,"tokens_prompt":10,"tokens_generated":5,"tokens_trained":0,"device_kind":"cuda:NVIDIA H200","device_s":1.5,"params":1000}',
  '{"type":"ledger","flops":-1,"tokens_prompt":10,"tokens_generated":5,"tokens_trained":0,"device_kind":"cpu","device_s":1.5,"params":1000}',
  '{"type":"ledger","flops":1,"tokens_prompt":10,"tokens_generated":5,"tokens_trained":0,"device_kind":"cpu","device_s":1.5}',
  '{"type":"ledger","flops":1,"tokens_prompt":10.5,"tokens_generated":5,"tokens_trained":0,"device_kind":"cpu","device_s":1.5,"params":1}',
  '{"type":"artifact","role":"checkpoint","path":"ckpt.tar"}', '{"type":"artifact","role":"checkpoint","path":"ckpt.tar","media_type":"application/x-tar"}', '{"type":"artifact","role":"","path":"a"}',
  '{"type":"result","metrics":{"loss":1}}', '{"type":"result","metrics":{"loss":"1"}}', '{"type":"result","metrics":{},"details":{"a":[1]}}', '{"type":"result"}',
  '{"type":"error","message":"out of memory","retryable":true}', '{"type":"error","message":""}', '{"type":"error","message":"x","retryable":"yes"}',
  '{"type":"log","message":""}', '{"type":"log","message":"hi","extra":1}', '{"type":"nope"}', '[1,2]', 'not json', '"log"',
];

describe('scripts/gpu_runner_check.py', () => {
  it('accepts and refuses exactly the runner lines the worker does', () => {
    const python = py.ok ? py.python : 'python3';
    const r = spawnSync(python, ['-c', `import sys, json; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'scripts'))}); import gpu_runner_check as g
print(json.dumps([g.parse_line(l)[0] is not None for l in json.load(sys.stdin)]))`], { input: JSON.stringify(LINES), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const python_ok = JSON.parse(r.stdout) as boolean[];
    const worker_ok = LINES.map((l) => { try { return RunnerLine.safeParse(JSON.parse(l)).success; } catch { return false; } });
    expect(python_ok).toEqual(worker_ok);
    expect(worker_ok.filter(Boolean).length).toBeGreaterThanOrEqual(8);   // both kinds are in the list
    expect(worker_ok.filter((x) => !x).length).toBeGreaterThanOrEqual(15);
  });

  it('derives seeds and shuffles exactly as experiments/domain/rng.ts', () => {
    const cases: [number, string][] = [[0, 'rollout-round:1'], [7, 'eval:sums:3'], [2 ** 40 + 5, 'rollout:1:0:31'], [123456789, 'é∑ label']];
    const r = spawnSync(py.ok ? py.python : 'python3', ['-c', `import sys, json; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'scripts'))}); import gpu_runner_check as g
cases = json.load(sys.stdin)
print(json.dumps({"seeds": [g.derive_seed(s, l) for s, l in cases], "shuffles": [g.Rng(g.derive_seed(s, l)).shuffle(list(range(20))) for s, l in cases]}))`], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { seeds: number[]; shuffles: number[][] };
    expect(got.seeds).toEqual(cases.map(([s, l]) => deriveSeed(s, l)));
    expect(got.shuffles).toEqual(cases.map(([s, l]) => new Rng(deriveSeed(s, l)).shuffle(Array.from({ length: 20 }, (_, i) => i))));
    expect(new Set(got.seeds).size).toBe(cases.length);
  });

  it.skipIf(!py.ok)('refuses at once, saying why, where torch sees no CUDA device', () => {
    const probe = spawnSync(py.python, ['-c', 'import torch; print(torch.cuda.is_available())'], { encoding: 'utf8', timeout: 300_000 });
    if (probe.stdout.trim().endsWith('True')) return; // a GPU machine: nothing to refuse
    const r = spawnSync(py.python, [SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/no CUDA device: torch .* sees no GPU.*--device cpu --tiny/);
    expect(r.stdout + r.stderr).not.toMatch(/parameters .*built/);
  }, 300_000);
});
