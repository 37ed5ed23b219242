// External models end to end: sweeps whose base.model_ref names an OpenAI-compatible
// endpoint, through a real nats-server, the coordinator (in this process) and one worker
// process. The endpoint is a real HTTP server in this process (createOpenAICompatServer) with
// a deterministic handler: right answers for some problems, wrong ones for others, usage
// counts from the prompt length. Everything here is async: the worker's HTTP requests are
// served by this process's event loop, so nothing may block it while a sweep runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, waitFor } from '../helpers/cluster.js';
import { createOpenAICompatServer, defaultRenderChat, type ServerCompletionOptions } from '../../worker/runners/openai-server.js';
import { getTemplate, parseLimoJsonl, renderPrompt } from '../../experiments/datasets/index.js';
import { OpenAIRunner, passAtK } from '../../worker/runners/openai-runner.js';
import { makeAccess } from '../../worker/runners/access.js';
import { Task, TaskKind, type ArtifactRef } from '../../gen/limolab/v1/task.js';
import { TaskCancelledError, type TaskContext } from '../../worker/runner.js';
import { parseSweepSpec } from '../../coordinator/spec.js';
import { planSweep } from '../../coordinator/planner.js';
import { defaultPlanners } from '../../coordinator/planners/index.js';

// ../shared/data/limo-eval beside the checkout (read there, never copied into the repo).
const MATH500 = resolve(process.env.LIMO_EVAL_DIR ?? resolve(import.meta.dirname, '../../../shared/data/limo-eval'), 'math500.jsonl');
const PARAMS = 7_615_616_512; // declared parameter count (Qwen2.5-7B)
const GEN_TOKENS = 7;
const promptTokens = (prompt: string) => Math.ceil(prompt.length / 4);

// How the fake model behaves on each problem: 'right' every sample, 'half' sample 0 only,
// 'wrong' never. The answers are in the files the test writes.
type Behaviour = 'right' | 'half' | 'wrong';
interface Item { problem: string; answer: string; behaviour: Behaviour }
const SMALL: Item[] = [
  { problem: 'What is $2+3$?', answer: '5', behaviour: 'right' },
  { problem: 'Compute $\\frac{1}{2}+\\frac{1}{4}$.', answer: '\\frac{3}{4}', behaviour: 'right' },
  { problem: 'Solve $x^2=9$ for $x>0$.', answer: '3', behaviour: 'half' },
  { problem: 'What is $7 \\cdot 6$?', answer: '42', behaviour: 'wrong' },
  { problem: 'Simplify $\\sqrt{8}$.', answer: '2\\sqrt{2}', behaviour: 'wrong' },
  { problem: 'What is $10-4$?', answer: '6', behaviour: 'wrong' },
];
const FLAKY = SMALL[3]!.problem; // its first request gets a 500

let cluster: Cluster;
let server: Server;
let baseUrl = '';
const known: Item[] = [];
let served = 0;
let failedOnce = 0;
let inFlight = 0;
let maxInFlight = 0;

function answerFor(prompt: string, opts: ServerCompletionOptions) {
  const item = known.find((k) => prompt.includes(k.problem));
  const right = item && (item.behaviour === 'right' || (item.behaviour === 'half' && opts.index === 0));
  const text = item ? (right ? `We compute carefully. The answer is $\\boxed{${item.answer}}$.` : 'I think the answer is $\\boxed{-987654}$.') : 'I do not know.';
  return { text, promptTokens: promptTokens(prompt), completionTokens: GEN_TOKENS, finishReason: 'stop' as const };
}

beforeAll(async () => {
  cluster = new Cluster();
  server = createOpenAICompatServer({
    async complete(prompt, opts) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        if (prompt.includes(FLAKY) && opts.index === 0 && failedOnce === 0) {
          failedOnce++;
          throw new Error('transient: the GPU is busy');
        }
        served++;
        return answerFor(prompt, opts);
      } finally {
        inFlight--;
      }
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await cluster.startNats();
  await cluster.startCoordinatorInProcess();
  // The worker reads datasets under the test dir (and MATH500's dir when present) and may call the fake server only.
  const roots = [cluster.dir, ...(existsSync(MATH500) ? [dirname(MATH500)] : [])].flatMap((d) => ['--data-root', d]);
  cluster.startWorker('w1', [...roots, '--allow-endpoint', baseUrl]);
  await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 1, 'one worker');
});
afterAll(async () => {
  await cluster?.stop();
  await new Promise((r) => server?.close(r));
});

function writeJsonl(name: string, items: { problem: string; answer: string }[]): string {
  const path = join(cluster.dir, name);
  writeFileSync(path, items.map((x, i) => JSON.stringify({ id: `p${i}`, problem: x.problem, answer: x.answer })).join('\n') + '\n');
  return path;
}

async function runSweep(spec: string) {
  const { sweep } = cluster.coordinator!.coord.submit(spec, 'e2e-external');
  return waitFor(() => { const x = cluster.coordinator!.coord.getSweep(sweep!.id, true); return x.status !== 'running' && x; }, 'the external sweep', 180_000, 200);
}

function query<T>(sql: string, ...args: unknown[]): T[] {
  const d = new Database(cluster.db, { readonly: true });
  try { return d.prepare(sql).all(...args) as T[]; } finally { d.close(); }
}

const metricsOf = (taskId: string) => Object.fromEntries(query<{ name: string; value: number }>('select name, value from metrics where task_id = ?', taskId).map((m) => [m.name, m.value]));
interface LedgerRow { task_id: string; phase: string; flops: number; tokens_prompt: number; tokens_generated: number; device_kind: string; device_s: number; params: number }

describe('external models (OpenAI-compatible endpoint)', () => {
  it('evaluates a LIMO-format file: pass1/pass@k, declared params, device kind and FLOPs in the ledger; a transient 500 is retried', async () => {
    known.push(...SMALL);
    const path = writeJsonl('small.jsonl', SMALL);
    const s = await runSweep(`
name: ext-eval
seeds: [3]
base:
  model_ref: {kind: openai, base_url: "${baseUrl}/v1", model: qwen-7b, params: ${PARAMS}, api: completions, concurrency: 4, retries: 3, backoff_ms: 20, timeout_ms: 20000}
  datasets: [{name: small, path: "${path}"}]
  eval: {n_samples: 2, k: [2], temperature: 0.7, max_tokens: 64}
arms:
  - {name: qwen, method: external-eval}
`);
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    expect(failedOnce).toBe(1); // the 500 happened, and the sweep still succeeded
    const task = s.tasks!.find((t) => t.phase === 'evaluation')!;
    const m = metricsOf(task.id);
    // right x2 (c=2), half x1 (c=1), wrong x3 (c=0), n=2
    expect(m['pass1.small']).toBeCloseTo((2 * 1 + 0.5) / 6, 10);
    expect(m['pass@2.small']).toBeCloseTo(3 / 6, 10);
    expect(m['pass@2.small']).toBeCloseTo([2, 2, 1, 0, 0, 0].reduce((a, c) => a + passAtK(2, c, 2), 0) / 6, 10);
    expect(m['problems.small']).toBe(6);

    const [l] = query<LedgerRow>('select * from ledger where task_id = ?', task.id);
    const plain = getTemplate('plain');
    const expectedPrompt = SMALL.reduce((a, x) => a + promptTokens(renderPrompt(plain, x.problem)), 0); // one request per problem
    expect(l!.params).toBe(PARAMS);
    expect(l!.device_kind).toBe('remote:qwen-7b');
    expect(l!.phase).toBe('evaluation');
    expect(l!.tokens_prompt).toBe(expectedPrompt);
    expect(l!.tokens_generated).toBe(SMALL.length * 2 * GEN_TOKENS);
    expect(l!.flops).toBe(2 * PARAMS * (l!.tokens_prompt + l!.tokens_generated));
    expect(l!.device_s).toBeGreaterThan(0);

    const [r] = query<{ details_json: string }>('select details_json from results where task_id = ?', task.id);
    const details = JSON.parse(r!.details_json) as Record<string, { output: string; correct: boolean }[]>;
    expect(details.small!.length).toBe(4); // keep_outputs default 4
    expect(details.small![0]!.correct).toBe(true);
  }, 240_000);

  it.skipIf(!existsSync(MATH500))('evaluates the first 20 MATH500 problems over the chat API with a declared device kind', async () => {
    // Read at test time from the shared data directory; never copied into the repository.
    const recs = parseLimoJsonl(readFileSync(MATH500, 'utf8'), MATH500, { limit: 20 });
    recs.forEach((r, i) => known.push({ problem: r.problem, answer: r.answer, behaviour: i % 2 === 0 ? 'right' : 'wrong' }));
    maxInFlight = 0;
    const before = served;
    const s = await runSweep(`
name: ext-math500
seeds: [1]
base:
  model_ref: {kind: openai, base_url: "${baseUrl}", model: served-model, params: 1.5e9, api: chat, concurrency: 3, device_kind: "cuda:H100 (vllm)"}
  datasets: [{name: math500, path: "${MATH500}", limit: 20}]
arms:
  - {name: m, method: external-eval}
`);
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    const task = s.tasks!.find((t) => t.phase === 'evaluation')!;
    expect(metricsOf(task.id)['pass1.math500']).toBe(0.5);
    expect(served - before).toBe(20);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    const [l] = query<LedgerRow>('select * from ledger where task_id = ?', task.id);
    expect(l!.params).toBe(1.5e9);
    expect(l!.device_kind).toBe('cuda:H100 (vllm)');
    const chat = getTemplate('chatml');
    const expectedPrompt = recs.reduce((a, r) => a + promptTokens(defaultRenderChat([{ role: 'user', content: chat.user.split('{problem}').join(r.problem) }])), 0);
    expect(l!.tokens_prompt).toBe(expectedPrompt);
    expect(l!.tokens_generated).toBe(20 * GEN_TOKENS);
    expect(l!.flops).toBe(2 * 1.5e9 * (l!.tokens_prompt + l!.tokens_generated));
  }, 240_000);

  it('samples rollouts from a LIMO-format pool in shards and keeps the verified ones', async () => {
    const pool: Item[] = [
      ...['11', '12', '13'].map((a) => ({ problem: `Rollout: what is ${a} plus zero?`, answer: a, behaviour: 'right' as const })),
      ...['21', '22'].map((a) => ({ problem: `Rollout: what is ${a} times one?`, answer: a, behaviour: 'half' as const })),
      ...['31', '32', '33'].map((a) => ({ problem: `Rollout: what is ${a} minus zero?`, answer: a, behaviour: 'wrong' as const })),
    ];
    known.push(...pool);
    const poolPath = writeJsonl('pool.jsonl', pool);
    const evalPath = writeJsonl('eval-small.jsonl', SMALL);
    const s = await runSweep(`
name: ext-rollout
seeds: [5]
base:
  model_ref: {kind: openai, base_url: "${baseUrl}", model: qwen-7b, params: ${PARAMS}, backoff_ms: 20}
  datasets: [{name: small, path: "${evalPath}"}]
  pool: "${poolPath}"
  rollout: {max_tokens: 32}
arms:
  - {name: rl-sample, method: external-rollout, params: {prompts: 8, k: 3, shards: 2, temperature: 1}}
`);
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    const shards = s.tasks!.filter((t) => t.phase === 'rollout');
    expect(shards).toHaveLength(2);
    let accepted = 0;
    let sampled = 0;
    const samples: { prompt: string; completion: string; answer: string }[] = [];
    for (const t of shards) {
      const m = metricsOf(t.id);
      accepted += m.accepted!;
      sampled += m.sampled!;
      expect(m.prompts).toBe(4);
      const [r] = query<{ outputs_json: string }>('select outputs_json from results where task_id = ?', t.id);
      const refs = JSON.parse(r!.outputs_json) as ArtifactRef[];
      expect(refs.map((x) => x.role)).toEqual(['rollouts']);
      const body = JSON.parse(Buffer.from(await cluster.coordinator!.transport.artifacts.get(refs[0]!)).toString('utf8')) as { format: string; samples: typeof samples };
      expect(body.format).toBe('limolab-rollouts-text');
      samples.push(...body.samples);
      const [l] = query<LedgerRow>('select * from ledger where task_id = ?', t.id);
      expect(l!.phase).toBe('rollout');
      expect(l!.params).toBe(PARAMS);
      expect(l!.flops).toBe(2 * PARAMS * (l!.tokens_prompt + l!.tokens_generated));
      expect(l!.tokens_generated).toBe(4 * 3 * GEN_TOKENS);
    }
    // 3 'right' problems x 3 samples + 2 'half' problems x 1 sample, over all 8 prompts.
    expect(sampled).toBe(24);
    expect(accepted).toBe(3 * 3 + 2 * 1);
    expect(samples).toHaveLength(accepted);
    for (const x of samples) expect(x.completion).toContain(`\\boxed{${x.answer}}`);
    expect(new Set(samples.map((x) => x.answer))).toEqual(new Set(['11', '12', '13', '21', '22']));
    // The arm's EVAL (defaults: n_samples 1, temperature 0): sample 0 is right for 'right' and 'half'.
    const ev = s.tasks!.find((t) => t.phase === 'evaluation')!;
    expect(metricsOf(ev.id)['pass1.small']).toBe(3 / 6);
  }, 240_000);

  it('compares several named models in one sweep (params.model grid); each arm is charged its own declared size', async () => {
    const path = writeJsonl('small2.jsonl', SMALL);
    const s = await runSweep(`
name: ext-models
seeds: [2]
base:
  models:
    small: {kind: openai, base_url: "${baseUrl}", model: small-1b, params: 1.0e9}
    large: {kind: openai, base_url: "${baseUrl}", model: large-70b, params: 7.0e10, api: chat}
  datasets: [{name: small, path: "${path}"}]
arms:
  - {name: cmp, method: external-eval, params: {model: [small, large]}}
`);
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    const rows = query<{ arm: string; params: number; device_kind: string }>(
      'select a.arm, l.params, l.device_kind from arms a join ledger l on l.task_id = a.eval_task_id where a.sweep_id = ? order by a.arm', s.id);
    expect(rows).toEqual([
      { arm: 'cmp[model=large]', params: 7e10, device_kind: 'remote:large-70b' },
      { arm: 'cmp[model=small]', params: 1e9, device_kind: 'remote:small-1b' },
    ]);
  }, 240_000);

  it('fails a task at once, without retries, when the server refuses the request (404: wrong base_url)', async () => {
    const path = writeJsonl('small3.jsonl', SMALL);
    const s = await runSweep(`
name: ext-404
seeds: [4]
defaults: {retries: 2}
base:
  model_ref: {kind: openai, base_url: "${baseUrl}/not-here", model: m, params: 1e9}
  datasets: [{name: small, path: "${path}"}]
arms:
  - {name: a, method: external-eval}
`);
    expect(s.status).toBe('failed');
    const task = s.tasks!.find((t) => t.phase === 'evaluation')!;
    expect(task.error).toMatch(/404/);
    const attempts = query<{ error_code: string }>('select error_code from attempts where task_id = ?', task.id);
    expect(attempts.map((a) => a.error_code)).toEqual(['bad_input']);
  }, 120_000);

  it('rejects sweeps with a bad model_ref or dataset path, with clear messages', () => {
    const bad = `
name: ext-bad
seeds: [1]
base:
  model_ref: {kind: openai, base_url: "${baseUrl}", model: m}
  datasets: [{name: x, path: "../secret.jsonl"}, {name: y, path: /data/y.csv}]
  extra: 1
arms:
  - {name: a, method: external-eval, params: {typo: 1}}
`;
    let err = new Error('did not throw');
    try { cluster.coordinator!.coord.submit(bad, 'e2e-external'); } catch (e) { err = e as Error; }
    const text = err.message;
    expect(text).toMatch(/params/);
    expect(text).toMatch(/model_ref/);
    expect(text).toMatch(/\.\./);
    expect(text).toMatch(/\.jsonl or \.json/);
    expect(text).toMatch(/extra/);
    expect(text).toMatch(/typo/);

    const hfNoPath = bad.replace(/model_ref: .*\n/, 'model_ref: {kind: hf, params: 1e9}\n');
    let err2 = new Error('did not throw');
    try { cluster.coordinator!.coord.submit(hfNoPath, 'e2e-external'); } catch (e) { err2 = e as Error; }
    expect(err2.message).toMatch(/base\.model_ref\.path/);

    // how the torch runner loads and batches an hf model: checked at submit, named in the error
    const hfBadDtype = bad.replace(/model_ref: .*\n/, 'model_ref: {kind: hf, path: /models/m, params: 1e9, dtype: fp8, batch_rows: 0}\n');
    let err3 = new Error('did not throw');
    try { cluster.coordinator!.coord.submit(hfBadDtype, 'e2e-external'); } catch (e) { err3 = e as Error; }
    expect(err3.message).toMatch(/base\.model_ref\.dtype.*float32.*bfloat16.*float16/);
    expect(err3.message).toMatch(/base\.model_ref\.batch_rows/);
  });
});

describe('OpenAIRunner cancellation', () => {
  it('aborts in-flight requests when the task signal aborts', async () => {
    let started = 0;
    let closed = 0;
    const slow = createOpenAICompatServer({
      complete: () => new Promise(() => { started++; }), // never answers
    });
    slow.on('request', (req) => req.socket.once('close', () => closed++));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const path = join(cluster.dir, 'cancel.jsonl');
    writeFileSync(path, SMALL.map((x) => JSON.stringify({ problem: x.problem, answer: x.answer })).join('\n'));
    const task = Task.fromPartial({
      id: 't-cancel', kind: TaskKind.TASK_KIND_EVAL, seed: 1, modelRef: { kind: 'openai', base_url: url, model: 'm', params: 1e9, concurrency: 2 },
    });
    task.spec = { $case: 'eval', value: { splits: [], nSamples: 1, k: [], temperature: 0, keepOutputs: 0, mode: '', shots: 0, options: { datasets: [{ name: 's', path }] } } };
    const runner = new OpenAIRunner({ access: makeAccess({ dataRoots: [cluster.dir], allowEndpoints: [url] }) });
    expect(runner.accepts(task)).toBe(true);
    expect(runner.accepts({ ...task, modelRef: { kind: 'hf', path: '/m', params: 1 } })).toBe(false);
    expect(runner.accepts({ ...task, modelRef: undefined })).toBe(false);
    const ac = new AbortController();
    const ctx = {
      task, signal: ac.signal, threads: 1, progress() {}, log() {}, metric() {},
      artifacts: { get: async () => new Uint8Array(), put: async () => { throw new Error('unused'); } },
      input: () => { throw new Error('unused'); },
    } as unknown as TaskContext;
    const run = runner.run(ctx);
    run.catch(() => {});
    await waitFor(() => started === 2, 'two requests in flight (concurrency 2)', 10_000, 20);
    const t0 = Date.now();
    ac.abort();
    await expect(run).rejects.toBeInstanceOf(TaskCancelledError);
    expect(Date.now() - t0).toBeLessThan(2000);
    await waitFor(() => closed >= 2, 'the in-flight requests to be closed', 5_000, 20);
    expect(started).toBe(2); // nothing more was sent after the abort
    slow.closeAllConnections();
    await new Promise((r) => slow.close(r));
  });
});

describe('experiments/external-example.yaml', () => {
  it('is a valid sweep: one EVAL shared by both arms, 4 rollout shards, model_ref on every task', async () => {
    const file = join(ROOT, 'experiments', 'external-example.yaml');
    const plan = planSweep('s', parseSweepSpec(readFileSync(file, 'utf8'), file), await defaultPlanners());
    expect(plan.arms.map((a) => a.arm)).toEqual(['eval', 'sample']);
    expect(plan.tasks.map((t) => t.kind)).toEqual(['eval', 'rollout', 'rollout', 'rollout', 'rollout']);
    const t = Task.decode(Buffer.from(plan.tasks[0]!.taskProto, 'base64'));
    expect(t.modelRef).toMatchObject({ kind: 'openai', model: 'Qwen/Qwen2.5-7B-Instruct', params: 7615616512 });
  });
});
