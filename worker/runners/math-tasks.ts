// EVAL and ROLLOUT of an external model on LIMO-format math data, independent of how samples
// are drawn: dataset loading (paths read on the worker), prompt templating, grading with
// experiments/math, pass@k, and the rollouts artifact. The OpenAI-compatible runner
// (openai-runner.ts) and the Hugging Face runner (hf-runner.ts) each bring a SampleFn.
//
// EVAL options:    {datasets: [{name, path, limit?}], max_tokens?, top_p?, stop?, template?}
// ROLLOUT options: {pool, max_tokens?, top_p?, stop?, template?}
import { passAtK } from '../ml/eval.js';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ArtifactRef, Task } from '../../gen/limolab/v1/task.js';
import { getTemplate, LimoDatasetError, parseLimoJsonl, parseLimoLine, renderPrompt, type LimoRecord, type PromptTemplate } from '../../experiments/datasets/index.js';
import { verify } from '../../experiments/math/index.js';
import { deriveSeed, Rng } from '../../experiments/domain/rng.js';
import { BadTaskInputError, type TaskContext } from '../runner.js';
import { resolveDataPath, type WorkerAccess } from './access.js';
import { datasetPathProblem, DatasetPath } from './model-ref.js';

export type EvalSpec = NonNullable<Extract<Task['spec'], { $case: 'eval' }>>['value'];
export type RolloutSpec = NonNullable<Extract<Task['spec'], { $case: 'rollout' }>>['value'];

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

// Unbiased pass@k (1 - C(n-c, k) / C(n, k)): one implementation, the built-in EVAL's.
export { passAtK };

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${[what, ...i.path].join('.')}: ${i.message}`);
    throw new BadTaskInputError(msgs.join('; '));
  }
  return r.data;
}

/** Reads a LIMO-format file (JSON lines, or a .json array of records) on the worker, only
 * from under the worker's data roots (symlinks resolved first). */
export async function readLimoFile(path: string, access: WorkerAccess, limit?: number): Promise<LimoRecord[]> {
  const why = datasetPathProblem(path);
  if (why) throw new BadTaskInputError(`dataset path ${why}`);
  const real = await resolveDataPath(path, access);
  let text: string;
  try {
    text = await readFile(real, 'utf8');
  } catch (err) {
    throw new BadTaskInputError(`cannot read dataset ${path} on this worker: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}; dataset paths are read from the worker's filesystem`);
  }
  try {
    const trimmed = text.trimStart();
    if (/\.json$/i.test(path) && trimmed.startsWith('[')) {
      let arr: unknown;
      // JSON.parse's message quotes the text it choked on: never pass it on.
      try { arr = JSON.parse(text); } catch { throw new LimoDatasetError(`${path}: not valid JSON; a .json dataset is one array of records`); }
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

export interface Prompter {
  /** The text sent: the whole rendered prompt (completions) or the user message (chat). */
  prompt(problem: string): string;
  stop: string[];
}

/** `render`: the full template (a model that continues text); `user`: only the user message
 * (a server that applies the model's own chat template). */
export function makePrompter(templateName: string, mode: 'render' | 'user', stop: string[] | undefined): Prompter {
  let t: PromptTemplate;
  try {
    t = getTemplate(templateName);
  } catch (err) {
    throw new BadTaskInputError((err as Error).message);
  }
  if (mode === 'user') return { prompt: (p) => t.user.split('{problem}').join(p), stop: stop ?? [] };
  return { prompt: (p) => renderPrompt(t, p), stop: stop ?? t.stop };
}

export interface SampleRequest {
  prompt: string;
  /** Per-prompt seed, derived from the task seed and the prompt's place in the task. */
  seed: number;
}
export interface SampleSettings {
  n: number;
  temperature: number;
  maxTokens: number;
  topP?: number;
  stop: string[];
}
/** n completions per request, in request order; progress(done) counts finished requests. */
export type SampleFn = (reqs: SampleRequest[], s: SampleSettings, progress: (done: number) => void) => Promise<string[][]>;

export const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
export const clip = (s: string, n = 2000) => (s.length > n ? `${s.slice(0, n)}…[${s.length - n} more chars]` : s);

export interface MathEvalOut {
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

/** EVAL on options.datasets: one SampleFn call for every problem of every set, then grading. */
export async function evaluateMath(ctx: TaskContext, s: EvalSpec, prompterFor: (template: string | undefined, stop: string[] | undefined) => Prompter, sample: SampleFn, access: WorkerAccess): Promise<MathEvalOut> {
  const o = parseWith(ExternalEvalOptionsSchema, s.options, 'eval.options');
  const n = Math.max(1, s.nSamples);
  const ks = [...new Set(s.k.filter((k) => k >= 1))];
  for (const k of ks) if (k > n) throw new BadTaskInputError(`eval.k ${k} needs n_samples >= ${k} (got ${n})`);
  const temperature = s.temperature;
  if (n > 1 && temperature === 0) throw new BadTaskInputError('eval with n_samples > 1 at temperature 0 draws identical samples; set temperature (e.g. 0.6)');
  const pr = prompterFor(o.template, o.stop);
  const keep = s.keepOutputs || 4;
  const sets = [];
  for (const d of o.datasets) sets.push({ ...d, records: await readLimoFile(d.path, access, d.limit) });
  const total = sets.reduce((a, d) => a + d.records.length, 0);
  const reqs: SampleRequest[] = [];
  const prompts = sets.map((d) => d.records.map((r, i) => {
    const prompt = pr.prompt(r.problem);
    reqs.push({ prompt, seed: deriveSeed(ctx.task.seed, `eval:${d.name}:${i}`) });
    return prompt;
  }));
  const all = total === 0 ? [] : await sample(reqs, { n, temperature, maxTokens: o.max_tokens, topP: o.top_p, stop: pr.stop },
    (k) => ctx.progress(k / total, `${k}/${total} problems`));
  const metrics: Record<string, number> = {};
  const details: Record<string, unknown> = { n_samples: n, temperature };
  let at = 0;
  sets.forEach((d, j) => {
    const texts = all.slice(at, at + d.records.length);
    at += d.records.length;
    const graded = d.records.map((r, i) => texts[i]!.map((t) => verify(t, r.answer)));
    const correct = graded.map((g) => g.filter((v) => v.correct).length);
    metrics[`pass1.${d.name}`] = mean(correct.map((c) => c / n));
    for (const k of ks) metrics[`pass@${k}.${d.name}`] = mean(correct.map((c) => passAtK(n, c, k)));
    metrics[`problems.${d.name}`] = d.records.length;
    details[d.name] = d.records.slice(0, keep).map((r, i) => ({
      id: r.id, prompt: clip(prompts[j]![i]!, 1000), output: clip(texts[i]![0]!), answer: r.answer, extracted: graded[i]![0]!.extracted, correct: graded[i]![0]!.correct, correct_of_n: `${correct[i]}/${n}`,
    }));
  });
  ctx.progress(1, 'evaluated');
  return { metrics, details };
}

export interface MathRolloutOut {
  metrics: Record<string, number>;
  details: Record<string, unknown>;
  output: ArtifactRef;
}

/** ROLLOUT over options.pool: `prompts` problems drawn by seed and round, this shard's share,
 * k samples each; verified samples go into the `rollouts` artifact. */
export async function rolloutMath(ctx: TaskContext, s: RolloutSpec, prompterFor: (template: string | undefined, stop: string[] | undefined) => Prompter, sample: SampleFn, access: WorkerAccess): Promise<MathRolloutOut> {
  const o = parseWith(ExternalRolloutOptionsSchema, s.options, 'rollout.options');
  const k = Math.max(1, s.k);
  const shards = Math.max(1, s.numShards);
  if (s.shard < 0 || s.shard >= shards) throw new BadTaskInputError(`rollout.shard ${s.shard} is outside 0..${shards - 1}`);
  const pool = await readLimoFile(o.pool, access);
  // `prompts` problems for this round, chosen by seed and round; this shard takes every shards-th one.
  const chosen = new Rng(deriveSeed(ctx.task.seed, `rollout-round:${s.round}`)).shuffle(pool).slice(0, s.prompts > 0 ? s.prompts : pool.length);
  const mine = chosen.filter((_, i) => i % shards === s.shard);
  const pr = prompterFor(o.template, o.stop);
  const prompts = mine.map((r) => pr.prompt(r.problem));
  const maxTokens = s.maxTokens > 0 ? s.maxTokens : o.max_tokens;
  const label = `rollout:${s.round}:${s.shard}`;
  const texts = mine.length === 0 ? [] : await sample(prompts.map((prompt, i) => ({ prompt, seed: deriveSeed(ctx.task.seed, `${label}:${i}`) })),
    { n: k, temperature: s.temperature, maxTokens, topP: o.top_p, stop: pr.stop }, (d) => ctx.progress(d / mine.length, `${d}/${mine.length} prompts`));
  const samples: { prompt: string; completion: string; answer: string }[] = [];
  let solved = 0;
  mine.forEach((r, i) => {
    const ok = texts[i]!.filter((t) => verify(t, r.answer).correct);
    if (ok.length > 0) solved++;
    for (const t of ok) samples.push({ prompt: prompts[i]!, completion: t, answer: r.answer });
  });
  const sampled = mine.length * k;
  const bytes = new TextEncoder().encode(JSON.stringify({ format: 'limolab-rollouts-text', samples }));
  const output = await ctx.artifacts.put('rollouts', bytes, 'application/json');
  ctx.progress(1, `${samples.length}/${sampled} accepted`);
  return {
    metrics: { accepted: samples.length, sampled, accept_rate: sampled === 0 ? 0 : samples.length / sampled, prompts: mine.length, prompts_solved: solved },
    details: { shard: s.shard, num_shards: shards, round: s.round, first: samples.slice(0, 2).map((x) => ({ ...x, prompt: clip(x.prompt, 500), completion: clip(x.completion, 1000) })) },
    output,
  };
}
