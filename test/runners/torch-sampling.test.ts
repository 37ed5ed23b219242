// Batched sampling in runners/torch/sampling.py on a real transformers model: a `limolab hf-tiny`
// LlamaForCausalLM (random init, --init-std 1 so that greedy text depends on the whole prefix)
// sampled with prompts of different lengths, left-padded into one `generate` call per chunk.
// Greedy decoding must give the same tokens batched, in small chunks, one prompt at a time, and
// with the plain forward (no KV cache, no padding); sampled runs must repeat with the same seeds,
// give k samples per prompt, and count each sample's tokens up to the EOS or stop string that
// ended it (the raw rows of a chunk are replayed and checked token by token). Then the runner
// itself in sample mode and dataset mode: reruns repeat, options.batch_rows chunks, the ledger's
// tokens and FLOPs are those of the real positions (docs/runner-protocol.md, "FLOPs").
// Skipped, with how to build the venv, when no Python with torch + transformers is found.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskKind, type Task } from '../../gen/limolab/v1/task.js';
import { ProcessRunner } from '../../worker/runners/process.js';
import { HF_TINY, probePython, ROOT, TORCH_RUNNER, VENV_HINT } from '../../runners/torch/python.js';
import { makeCtx, MemoryArtifacts } from './helpers.js';

const py = probePython(['torch', 'transformers', 'tokenizers']);
if (!py.ok) console.warn(`torch sampling tests skipped: ${py.missing}; ${VENV_HINT}`);
const dir = mkdtempSync(join(tmpdir(), 'limolab-torch-sampling-'));
const model = join(dir, 'model');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Prompts of 2 to 28 tokens (BOS included). With the stop strings below, greedy rows end by EOS,
// by a stop string and by max_tokens, at different steps.
const PROMPTS = ['What is $1 + 2$?', 'Problem: What is $41 * 7$?\nSolution: ', '7', '12 + 5 = ',
  'Solution: 3 + 4 = 7. The answer is $\\boxed{7}$.\n\nProblem: What is $9 - 2$?', 'Problem: What is $3 + 3$?\nSolution: '];
const STOP = ['boxed', '4'];
const SEEDS = [11, 12, 13, 14, 15, 16];
const MAX = 24;
// hf-tiny defaults: hidden 64, 2 layers, intermediate 176, BPE vocab 384, tied (lm_head counted)
const C = 64, L = 2, I = 176, V = 384;
const N = L * (4 * C * C + 3 * C * I) + V * C;
const fwd = (n: number) => n * (2 * N + 2 * L * n * C);

type Result = [string[], number, number[]]; // generate_many: texts, prompt tokens, generated per sample

// Runs generate_many / generate / sample_hf_rows in one Python process and prints what it saw.
const CHECK = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
from models import HFModel
from sampling import chunk_seed, generate_many, plan_chunks, sample_hf_rows

def generate(m, llm, prompt, k, temperature, top_p, max_tokens, stop, seed, gen):
    # one prompt alone: one generate call of its k rows (a chunk seeded with the prompt's seed)
    return generate_many(m, llm, [prompt], k, temperature, top_p, max_tokens, stop, [seed], gen, (k, 1 << 62))[0]

m = HFModel(sys.argv[2], torch.device("cpu"), {})
a = json.loads(sys.stdin.read())
P, k, T, stop, seeds = a["prompts"], a["k"], a["max_tokens"], a["stop"], a["seeds"]
BIG = 1 << 40
run = lambda t, lim: generate_many(m, None, P, k, t, 1.0, T, stop, seeds, None, lim)
out = {"lens": [len(m.encode(p, bos=True)) for p in P], "tok_lens": [len(m.tok(p, add_special_tokens=False)["input_ids"]) + 1 for p in P]}


def cut(toks):
    text = m.decode([t for t in toks if t != m.eos])
    for st in stop:
        text = text.split(st)[0]
    return text


def ended(toks):
    """How a row of generated tokens ended (eos, stop, max); None if it runs on past its end or stops short."""
    for n in range(1, len(toks) + 1):
        if toks[n - 1] == m.eos or any(st in m.decode(toks[:n]) for st in stop):
            return None if n < len(toks) else ("eos" if toks[n - 1] == m.eos else "stop")
    return "max" if len(toks) == T else None


if a["mode"] == "greedy":
    ref, ends = [], []
    for p in P:  # the plain forward on the unpadded prompt, full recompute per token
        ids, toks = m.encode(p, bos=True), []
        while len(toks) < T and (not toks or ended(toks) is None):
            toks.append(int(m.logits(torch.tensor([ids + toks], device=m.device))[0, -1].argmax()))
        ref.append(([cut(toks)] * k, len(ids), [len(toks)] * k))
        ends.append(ended(toks))
    out.update(batched=run(0.0, (256, BIG)), split=run(0.0, (3, BIG)), tight=run(0.0, (256, 3 * (max(out["lens"]) + T))),
               one=[generate(m, None, p, k, 0.0, 1.0, T, stop, s, None) for p, s in zip(P, seeds)], reference=ref, ends=ends)
else:
    out.update(first=run(1.0, (256, BIG)), again=run(1.0, (256, BIG)), split=run(1.0, (3, BIG)), split_again=run(1.0, (3, BIG)),
               chunks_split=len(plan_chunks(out["lens"], k, T, 3, BIG)), per_prompt=run(1.0, (k, BIG)),
               one=[generate(m, None, p, k, 1.0, 1.0, T, stop, s, None) for p, s in zip(P, seeds)])
    # the one-chunk run's raw rows, replayed with its seed: each ends exactly where it should
    chunks = plan_chunks(out["lens"], k, T, 256, BIG)
    rows = sample_hf_rows(m, [m.encode(p, bos=True) for p in P for _ in range(k)], 1.0, 1.0, T, stop, chunk_seed(chunks[0], seeds, k))
    out.update(chunks=len(chunks), ends=[ended(r) for r in rows],
               replay=[([cut(r) for r in rows[i * k:(i + 1) * k]], out["lens"][i], [len(r) for r in rows[i * k:(i + 1) * k]]) for i in range(len(P))])
print(json.dumps(out))
`;

function check(mode: 'greedy' | 'sampled', k: number): Record<string, unknown> {
  const r = spawnSync(py.python, ['-c', CHECK, join(ROOT, 'runners', 'torch'), model], {
    input: JSON.stringify({ mode, prompts: PROMPTS, k, max_tokens: MAX, stop: STOP, seeds: SEEDS }),
    encoding: 'utf8', timeout: 300_000, env: { ...process.env, HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`sampling check failed: ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe.skipIf(!py.ok)('batched HF sampling (runners/torch/sampling.py)', () => {
  beforeAll(() => {
    const r = spawnSync(py.python, [HF_TINY, '-o', model, '--init-std', '1'], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    expect(r.status, r.stderr).toBe(0);
  }, 240_000);

  it('greedy: the same tokens batched, in chunks, one prompt at a time and with the plain forward', () => {
    const o = check('greedy', 2) as { lens: number[]; ends: string[]; batched: Result[]; split: Result[]; tight: Result[]; one: Result[]; reference: Result[] };
    expect(new Set(o.lens).size).toBe(PROMPTS.length); // every prompt a different length: left padding everywhere
    expect(new Set(o.ends)).toEqual(new Set(['eos', 'stop', 'max'])); // rows end at different steps, then are padded
    expect(o.reference.map((x) => x[2][0]).some((n) => n < MAX)).toBe(true);
    expect(o.batched).toEqual(o.reference);
    expect(o.split).toEqual(o.reference); // batch_rows 3: a prompt's rows across two chunks
    expect(o.tight).toEqual(o.reference); // batch_tokens for 3 rows
    expect(o.one).toEqual(o.reference);
    for (const [i, r] of o.batched.entries()) expect(r[1]).toBe(o.lens[i]); // the prompt's own length, no padding
  }, 300_000);

  it('sampled: k samples per prompt, per-sample counts up to the row\'s end, the same again with the same seeds', () => {
    const k = 4;
    const o = check('sampled', k) as { lens: number[]; chunks: number; chunks_split: number; ends: (string | null)[]; first: Result[]; again: Result[]; split: Result[];
      split_again: Result[]; per_prompt: Result[]; one: Result[]; replay: Result[] };
    expect(o.chunks).toBe(1);
    expect(o.chunks_split).toBe(8); // 24 rows, 3 a chunk
    expect(o.first).toHaveLength(PROMPTS.length);
    for (const [i, r] of o.first.entries()) {
      expect(r[0]).toHaveLength(k);
      expect(r[1]).toBe(o.lens[i]);
      expect(r[2]).toHaveLength(k);
      expect(r[2].every((g) => g > 0 && g <= MAX)).toBe(true);
    }
    expect(o.again).toEqual(o.first);
    expect(o.split_again).toEqual(o.split);
    // chunks of exactly one prompt's k rows are seeded with that prompt's seed: the per-prompt sampler's samples
    expect(o.per_prompt).toEqual(o.one);
    // the batch's raw rows: none runs past its EOS / stop string, none stops short; the counts are theirs
    expect(o.ends.every((e) => e !== null)).toBe(true);
    expect(new Set(o.ends)).toContain('stop');
    expect(new Set(o.ends)).toContain('max');
    expect(o.replay).toEqual(o.first);
  }, 300_000);

  describe('the runner', () => {
    const runner = new ProcessRunner({ command: [py.python, TORCH_RUNNER], kinds: [TaskKind.TASK_KIND_ROLLOUT], graceMs: 2000, timeoutMs: 300_000 });
    const modelRef = { kind: 'hf', path: model, params: 125_248 };
    const k = 4;
    type Samples = { samples: { completions: string[]; prompt_tokens: number; generated_tokens: number; generated_each: number[] }[] };
    const sampleMode = async (extra: Record<string, unknown> = {}) => {
      const artifacts = new MemoryArtifacts();
      const c = makeCtx({ kind: TaskKind.TASK_KIND_ROLLOUT, seed: 3, modelRef, spec: { $case: 'rollout', value: {
        shard: 0, numShards: 1, prompts: PROMPTS.length, k, temperature: 1, maxTokens: 0, round: 1,
        options: { prompts: PROMPTS, seeds: SEEDS, n: k, temperature: 1, max_tokens: MAX, stop: STOP, ...extra } } } } as Partial<Task>, artifacts);
      const out = await runner.run(c.ctx);
      const file = JSON.parse(new TextDecoder().decode(await artifacts.get(out.outputs.find((o) => o.role === 'samples')!))) as Samples;
      return { out, file, progress: c.progress };
    };
    let lens: number[] = [];

    beforeAll(() => {
      // BOS + the tokenizer's own count per prompt
      const code = 'import json, sys\nfrom transformers import AutoTokenizer\nt = AutoTokenizer.from_pretrained(sys.argv[1])\nprint(json.dumps([len(t(x, add_special_tokens=False)["input_ids"]) + 1 for x in json.load(sys.stdin)]))';
      const r = spawnSync(py.python, ['-c', code, model], { input: JSON.stringify(PROMPTS), encoding: 'utf8', timeout: 120_000, env: { ...process.env, HF_HUB_OFFLINE: '1' } });
      expect(r.status, r.stderr).toBe(0);
      lens = JSON.parse(r.stdout) as number[];
    }, 180_000);

    // (That the same seeds give the same samples is checked above, in one process, on the same code.)
    it('sample mode: batch_rows chunks, ledger tokens and FLOPs of the real positions only', async () => {
      const a = await sampleMode();
      const c = await sampleMode({ batch_rows: 3 });
      for (const { file, out, progress } of [a, c]) {
        expect(file.samples.map((s) => s.completions.length)).toEqual(PROMPTS.map(() => k));
        expect(file.samples.map((s) => s.prompt_tokens)).toEqual(lens.map((p) => k * p)); // once per sample row, no padding
        for (const s of file.samples) {
          expect(s.generated_each).toHaveLength(k);
          expect(s.generated_tokens).toBe(s.generated_each.reduce((x, y) => x + y, 0));
          expect(s.generated_each.every((g) => g > 0 && g <= MAX)).toBe(true);
        }
        expect(out.ledger.tokensPrompt).toBe(k * lens.reduce((x, y) => x + y, 0));
        expect(out.ledger.tokensGenerated).toBe(file.samples.reduce((x, s) => x + s.generated_tokens, 0));
        expect(out.ledger.flops).toBe(file.samples.flatMap((s, i) => s.generated_each.map((g) => fwd(lens[i]! + g - 1))).reduce((x, y) => x + y, 0));
        const fractions = progress.map(([f]) => f);
        expect(fractions.at(-1)).toBe(1);
        expect([...fractions].sort((x, y) => x - y)).toEqual(fractions);
      }
      expect(c.progress.length).toBeGreaterThan(a.progress.length); // progress per chunk: one chunk vs eight
      await expect(sampleMode({ batch_rows: 0 })).rejects.toThrow(/options\.batch_rows must be an integer >= 1/);
    }, 600_000);

    it('dataset mode: the prompts of the dataset in batches, seeded from the task seed, the same on rerun', async () => {
      const artifacts = new MemoryArtifacts();
      const data = await artifacts.put('dataset', new TextEncoder().encode(PROMPTS.map((p, i) => JSON.stringify({ prompt: p, answer: String(i) })).join('\n')));
      const task = { kind: TaskKind.TASK_KIND_ROLLOUT, seed: 7, modelRef, inputs: [data], spec: { $case: 'rollout', value: {
        shard: 0, numShards: 1, prompts: PROMPTS.length, k, temperature: 1, maxTokens: MAX, round: 1, options: { stop: STOP } } } } as Partial<Task>;
      const read = async () => {
        const out = await runner.run(makeCtx(task, artifacts).ctx);
        const text = new TextDecoder().decode(await artifacts.get(out.outputs.find((o) => o.role === 'rollouts')!));
        return { out, rows: text.trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; answer: string; samples: string[] }) };
      };
      const a = await read();
      const b = await read();
      expect(b.rows).toEqual(a.rows);
      expect(a.rows.map((r) => [r.prompt, r.answer, r.samples.length])).toEqual(PROMPTS.map((p, i) => [p, String(i), k]));
      expect(a.out.ledger.tokensPrompt).toBe(k * lens.reduce((x, y) => x + y, 0));
      expect(a.out.ledger.tokensGenerated).toBe(b.out.ledger.tokensGenerated);
      expect(a.out.ledger.tokensGenerated).toBeLessThanOrEqual(k * PROMPTS.length * MAX);
    }, 600_000);
  });
});
