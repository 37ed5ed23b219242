// OpenAIRunner: EVAL and ROLLOUT against an external model served over an OpenAI-compatible
// API (/v1/completions or /v1/chat/completions: vLLM, SGLang, llama.cpp server, Ollama). It
// takes only tasks whose model_ref has kind "openai"; everything else goes to the other runners.
//
// model_ref: {kind: openai, base_url, model, params (declared parameter count, required),
//   api: completions|chat, api_key_env?, concurrency?, timeout_ms?, retries?, backoff_ms?,
//   template?, device_kind?}
// EVAL options:    {datasets: [{name, path, limit?}], max_tokens?, top_p?, stop?, template?}
// ROLLOUT options: {pool, max_tokens?, top_p?, stop?, template?}
// Dataset and pool paths are read from the WORKER's filesystem (absolute, or relative to the
// worker's working directory); a path with ".." or not ending in .jsonl/.json is refused.
// Ledger: flops = 2 * params * (prompt + generated tokens) from the server's `usage`,
// device_kind "remote:<model>" (or model_ref.device_kind), device_s = wall seconds.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TaskKind, type LedgerEntry, type Task } from '../../gen/limolab/v1/task.js';
import { getTemplate, LimoDatasetError, parseLimoJsonl, parseLimoLine, renderPrompt, type LimoRecord, type PromptTemplate } from '../../experiments/datasets/index.js';
import { verify } from '../../experiments/math/index.js';
import { deriveSeed, Rng } from '../../experiments/domain/rng.js';
import { BadTaskInputError, TaskCancelledError, type RunOutput, type Runner, type TaskContext } from '../runner.js';
import { OpenAICompatClient, OpenAICompatError, type SampleOptions } from './openai.js';

/** model_ref of kind "openai" (also used by the external planners to validate sweeps). */
export const OpenAIModelRefSchema = z.strictObject({
  kind: z.literal('openai'),
  base_url: z.string({ error: 'base_url is required: the server root, e.g. http://127.0.0.1:8000/v1' }).regex(/^https?:\/\/\S+$/, 'base_url must be an http(s) URL such as http://127.0.0.1:8000 (with or without /v1)'),
  model: z.string({ error: 'model is required: the name the server serves (GET /v1/models lists it)' }).min(1, 'model is the name the server serves, e.g. "Qwen/Qwen2.5-7B-Instruct"'),
  params: z.number({ error: 'params is required: the declared parameter count of the served model (e.g. 7.6e9), for the FLOPs ledger' }).positive('params is the declared parameter count of the served model (e.g. 7.6e9); it is needed for the FLOPs ledger'),
  api: z.enum(['completions', 'chat']).default('completions'),
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'api_key_env names an environment variable on the worker').optional(),
  concurrency: z.number().int().min(1).max(1024).default(8),
  timeout_ms: z.number().int().min(1).default(600_000),
  retries: z.number().int().min(0).max(20).default(4),
  backoff_ms: z.number().int().min(0).default(500),
  template: z.string().optional().describe('prompt template (experiments/datasets/templates.ts); default plain for completions, chatml user text for chat'),
  device_kind: z.string().min(1).optional().describe('what the ledger records as the device; default remote:<model>'),
});
export type OpenAIModelRef = z.output<typeof OpenAIModelRefSchema>;

/** A dataset path the worker may read: no "..", a .jsonl or .json file. "" when fine, else why not. */
export function datasetPathProblem(path: string): string {
  if (path.trim() === '') return 'is empty';
  if (path.split(/[\\/]/).includes('..') || path.includes('..')) return `${JSON.stringify(path)} contains ".."; name the file directly (absolute, or relative to the worker's working directory)`;
  if (!/\.(jsonl|json)$/i.test(path)) return `${JSON.stringify(path)} does not end in .jsonl or .json; LIMO-format data is JSON lines`;
  return '';
}

const DatasetPath = z.string().superRefine((p, c) => {
  const why = datasetPathProblem(p);
  if (why) c.addIssue({ code: 'custom', message: why });
});

const SamplingOptions = {
  max_tokens: z.number().int().min(1).default(1024),
  top_p: z.number().gt(0).max(1).optional(),
  stop: z.array(z.string()).optional().describe('default: the template\'s stop strings (completions api only)'),
  template: z.string().optional().describe('overrides model_ref.template'),
};

export const ExternalEvalOptionsSchema = z.strictObject({
  datasets: z.array(z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a dataset name uses letters, digits, _ . - (it becomes part of metric names)'),
    path: DatasetPath,
    limit: z.number().int().min(1).optional(),
  })).min(1, 'name at least one dataset: datasets: [{name: math500, path: /data/math500.jsonl}]'),
  ...SamplingOptions,
});

export const ExternalRolloutOptionsSchema = z.strictObject({
  pool: DatasetPath.describe('LIMO-format file of problems with answers'),
  ...SamplingOptions,
});

/** Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k). */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`pass@${k} needs at least ${k} samples, got ${n}`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${[what, ...i.path].join('.')}: ${i.message}`);
    throw new BadTaskInputError(msgs.join('; '));
  }
  return r.data;
}

/** Reads a LIMO-format file (JSON lines, or a .json array of records) on the worker. */
export async function readLimoFile(path: string, limit?: number): Promise<LimoRecord[]> {
  const why = datasetPathProblem(path);
  if (why) throw new BadTaskInputError(`dataset path ${why}`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BadTaskInputError(`cannot read dataset ${path} on this worker: ${(err as Error).message}; dataset paths are read from the worker's filesystem`);
  }
  try {
    const trimmed = text.trimStart();
    if (/\.json$/i.test(path) && trimmed.startsWith('[')) {
      const arr = JSON.parse(text) as unknown;
      if (!Array.isArray(arr)) throw new LimoDatasetError(`${path}: expected a JSON array of records`);
      const out = arr.slice(0, limit ?? arr.length).map((o, i) => parseLimoLine(JSON.stringify(o), `${path}:[${i}]`));
      if (out.length === 0) throw new LimoDatasetError(`${path}: no records`);
      return out;
    }
    return parseLimoJsonl(text, path, { limit });
  } catch (err) {
    if (err instanceof LimoDatasetError) throw new BadTaskInputError(err.message, { cause: err });
    throw err;
  }
}

interface Prompter {
  /** The text sent: the whole rendered prompt (completions) or the user message (chat). */
  prompt(problem: string): string;
  stop: string[];
}

function prompter(ref: OpenAIModelRef, override: string | undefined, stop: string[] | undefined): Prompter {
  const name = override ?? ref.template ?? (ref.api === 'chat' ? 'chatml' : 'plain');
  let t: PromptTemplate;
  try {
    t = getTemplate(name);
  } catch (err) {
    throw new BadTaskInputError((err as Error).message);
  }
  if (ref.api === 'chat') {
    // The server applies the model's own chat template; send only the user's message.
    return { prompt: (p) => t.user.split('{problem}').join(p), stop: stop ?? [] };
  }
  return { prompt: (p) => renderPrompt(t, p), stop: stop ?? t.stop };
}

class Usage {
  prompt = 0;
  generated = 0;
  constructor(private readonly params: number) {}
  add(p: number, g: number) { this.prompt += p; this.generated += g; }
  ledger(ref: OpenAIModelRef, startedMs: number): Partial<LedgerEntry> {
    return {
      flops: 2 * this.params * (this.prompt + this.generated),
      tokensPrompt: this.prompt,
      tokensGenerated: this.generated,
      tokensTrained: 0,
      deviceKind: ref.device_kind ?? `remote:${ref.model}`,
      deviceS: (Date.now() - startedMs) / 1000,
      params: Math.round(this.params),
    };
  }
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const clip = (s: string, n = 2000) => (s.length > n ? `${s.slice(0, n)}…[${s.length - n} more chars]` : s);

export interface OpenAIRunnerOptions {
  /** Environment to read api_key_env from. Default process.env. */
  env?: Record<string, string | undefined>;
}

export class OpenAIRunner implements Runner {
  readonly name = 'openai';
  readonly kinds = [TaskKind.TASK_KIND_EVAL, TaskKind.TASK_KIND_ROLLOUT] as const;

  constructor(private readonly opts: OpenAIRunnerOptions = {}) {}

  accepts(task: Task): boolean {
    return task.modelRef?.kind === 'openai';
  }

  async run(ctx: TaskContext): Promise<RunOutput> {
    if (ctx.signal.aborted) throw new TaskCancelledError(`task ${ctx.task.id} was cancelled before it started`);
    const ref = parseWith(OpenAIModelRefSchema, ctx.task.modelRef, 'model_ref');
    let apiKey: string | undefined;
    if (ref.api_key_env) {
      apiKey = (this.opts.env ?? process.env)[ref.api_key_env];
      if (!apiKey) throw new BadTaskInputError(`model_ref.api_key_env names ${ref.api_key_env}, which is not set on worker ${process.pid}; export it where the worker runs`);
    }
    const client = new OpenAICompatClient({
      baseUrl: ref.base_url, model: ref.model, apiKey, concurrency: ref.concurrency, retries: ref.retries, timeoutMs: ref.timeout_ms,
      params: ref.params, endpoint: ref.api, backoffMs: ref.backoff_ms,
    });
    const spec = ctx.task.spec;
    try {
      if (spec?.$case === 'eval' && ctx.task.kind === TaskKind.TASK_KIND_EVAL) return await this.evaluate(ctx, ref, client, spec.value);
      if (spec?.$case === 'rollout' && ctx.task.kind === TaskKind.TASK_KIND_ROLLOUT) return await this.rollout(ctx, ref, client, spec.value);
    } catch (err) {
      throw this.translate(ctx, err);
    } finally {
      if (client.requests > 0) ctx.log(`openai runner: ${client.requests} request(s) to ${ref.base_url} (retries included)`);
    }
    throw new BadTaskInputError(`task ${ctx.task.id}: the openai runner runs EVAL and ROLLOUT tasks with a matching spec, got kind ${TaskKind[ctx.task.kind]} with spec ${spec?.$case ?? 'none'}`);
  }

  private translate(ctx: TaskContext, err: unknown): unknown {
    if (ctx.signal.aborted) return new TaskCancelledError(`task ${ctx.task.id} was cancelled; in-flight requests were aborted`);
    if (err instanceof OpenAICompatError && !err.retryable) return new BadTaskInputError(err.message, { cause: err });
    return err;
  }

  /** Samples for many prompts at once (the client's limiter bounds requests in flight). */
  private async sample(ctx: TaskContext, client: OpenAICompatClient, usage: Usage, prompts: string[], s: Omit<SampleOptions, 'seed'>, seedLabel: string, progress: (done: number) => void): Promise<string[][]> {
    let done = 0;
    // Each prompt gets its own request (and seed), so a server that honours `seed` repeats exactly.
    const inner = new AbortController();
    const onAbort = () => inner.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.all(prompts.map(async (p, i) => {
        try {
          const b = await client.complete([p], { ...s, seed: deriveSeed(ctx.task.seed, `${seedLabel}:${i}`) }, inner.signal);
          usage.add(b.promptTokens, b.generatedTokens);
          progress(++done);
          return b.texts[0]!;
        } catch (err) {
          inner.abort(err); // one failure stops the rest: no point finishing the batch
          throw err;
        }
      }));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  private async evaluate(ctx: TaskContext, ref: OpenAIModelRef, client: OpenAICompatClient, s: NonNullable<Extract<Task['spec'], { $case: 'eval' }>>['value']): Promise<RunOutput> {
    const startedMs = Date.now();
    const o = parseWith(ExternalEvalOptionsSchema, s.options, 'eval.options');
    const n = Math.max(1, s.nSamples);
    const ks = [...new Set(s.k.filter((k) => k >= 1))];
    for (const k of ks) if (k > n) throw new BadTaskInputError(`eval.k ${k} needs n_samples >= ${k} (got ${n})`);
    const temperature = s.temperature;
    if (n > 1 && temperature === 0) throw new BadTaskInputError('eval with n_samples > 1 at temperature 0 draws identical samples; set temperature (e.g. 0.6)');
    const pr = prompter(ref, o.template, o.stop);
    const keep = s.keepOutputs || 4;
    const usage = new Usage(ref.params);
    const sets = [];
    for (const d of o.datasets) sets.push({ ...d, records: await readLimoFile(d.path, d.limit) });
    const total = sets.reduce((a, d) => a + d.records.length, 0);
    let finished = 0;
    const metrics: Record<string, number> = {};
    const details: Record<string, unknown> = { model: ref.model, base_url: ref.base_url, api: ref.api, n_samples: n, temperature };
    for (const d of sets) {
      const prompts = d.records.map((r) => pr.prompt(r.problem));
      const base = finished;
      const texts = await this.sample(ctx, client, usage, prompts, { n, temperature, maxTokens: o.max_tokens, topP: o.top_p, stop: pr.stop }, `eval:${d.name}`,
        (k) => ctx.progress((base + k) / total, `${d.name}: ${k}/${d.records.length} problems`));
      finished += d.records.length;
      const graded = d.records.map((r, i) => texts[i]!.map((t) => verify(t, r.answer)));
      const correct = graded.map((g) => g.filter((v) => v.correct).length);
      metrics[`pass1.${d.name}`] = mean(correct.map((c) => c / n));
      for (const k of ks) metrics[`pass@${k}.${d.name}`] = mean(correct.map((c) => passAtK(n, c, k)));
      metrics[`problems.${d.name}`] = d.records.length;
      details[d.name] = d.records.slice(0, keep).map((r, i) => ({
        id: r.id, prompt: clip(prompts[i]!, 1000), output: clip(texts[i]![0]!), answer: r.answer, extracted: graded[i]![0]!.extracted, correct: graded[i]![0]!.correct, correct_of_n: `${correct[i]}/${n}`,
      }));
    }
    metrics.tokens_prompt = usage.prompt;
    metrics.tokens_generated = usage.generated;
    ctx.progress(1, 'evaluated');
    return { metrics, ledger: usage.ledger(ref, startedMs), outputs: [], details };
  }

  private async rollout(ctx: TaskContext, ref: OpenAIModelRef, client: OpenAICompatClient, s: NonNullable<Extract<Task['spec'], { $case: 'rollout' }>>['value']): Promise<RunOutput> {
    const startedMs = Date.now();
    const o = parseWith(ExternalRolloutOptionsSchema, s.options, 'rollout.options');
    const k = Math.max(1, s.k);
    const shards = Math.max(1, s.numShards);
    if (s.shard < 0 || s.shard >= shards) throw new BadTaskInputError(`rollout.shard ${s.shard} is outside 0..${shards - 1}`);
    const pool = await readLimoFile(o.pool);
    // `prompts` problems for this round, chosen by seed and round; this shard takes every shards-th one.
    const chosen = new Rng(deriveSeed(ctx.task.seed, `rollout-round:${s.round}`)).shuffle(pool).slice(0, s.prompts > 0 ? s.prompts : pool.length);
    const mine = chosen.filter((_, i) => i % shards === s.shard);
    const pr = prompter(ref, o.template, o.stop);
    const usage = new Usage(ref.params);
    const prompts = mine.map((r) => pr.prompt(r.problem));
    const maxTokens = s.maxTokens > 0 ? s.maxTokens : o.max_tokens;
    const texts = mine.length === 0 ? [] : await this.sample(ctx, client, usage, prompts, { n: k, temperature: s.temperature, maxTokens, topP: o.top_p, stop: pr.stop },
      `rollout:${s.round}:${s.shard}`, (d) => ctx.progress(d / mine.length, `${d}/${mine.length} prompts`));
    const samples: { prompt: string; completion: string; answer: string }[] = [];
    let solved = 0;
    mine.forEach((r, i) => {
      const ok = texts[i]!.filter((t) => verify(t, r.answer).correct);
      if (ok.length > 0) solved++;
      for (const t of ok) samples.push({ prompt: prompts[i]!, completion: t, answer: r.answer });
    });
    const sampled = mine.length * k;
    const bytes = new TextEncoder().encode(JSON.stringify({ format: 'limolab-rollouts-text', samples }));
    const out = await ctx.artifacts.put('rollouts', bytes, 'application/json');
    ctx.progress(1, `${samples.length}/${sampled} accepted`);
    return {
      metrics: { accepted: samples.length, sampled, accept_rate: sampled === 0 ? 0 : samples.length / sampled, prompts: mine.length, prompts_solved: solved },
      ledger: usage.ledger(ref, startedMs),
      outputs: [out],
      details: { model: ref.model, shard: s.shard, num_shards: shards, round: s.round, first: samples.slice(0, 2).map((x) => ({ ...x, prompt: clip(x.prompt, 500), completion: clip(x.completion, 1000) })) },
    };
  }
}
