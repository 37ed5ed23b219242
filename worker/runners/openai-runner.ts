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
// worker's working directory), only under its data roots; a path with ".." or not ending in
// .jsonl/.json is refused, and so is a base_url outside the worker's allowed endpoints
// (access.ts: deny by default).
// Ledger: flops = 2 * params * (prompt + generated tokens) from the server's `usage`,
// device_kind "remote:<model>" (or model_ref.device_kind), device_s = wall seconds.
import { z } from 'zod';
import { TaskKind, type LedgerEntry, type Task } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, TaskCancelledError, type RunOutput, type Runner, type TaskContext } from '../runner.js';
import { OpenAICompatClient, OpenAICompatError } from './openai.js';
import { accessFromEnv, checkEndpoint, type WorkerAccess } from './access.js';
import { evaluateMath, makePrompter, parseWith, rolloutMath, type EvalSpec, type Prompter, type RolloutSpec, type SampleFn } from './math-tasks.js';

// Shared with the hf runner; re-exported here for existing importers.
export { ExternalEvalOptionsSchema, ExternalRolloutOptionsSchema, passAtK, readLimoFile } from './math-tasks.js';

// model_ref of kind "openai" lives in model-ref.ts: the coordinator's planners validate with it
// without loading this runner.
import { OpenAIModelRefSchema, type OpenAIModelRef } from './model-ref.js';

function prompter(ref: OpenAIModelRef, override: string | undefined, stop: string[] | undefined): Prompter {
  // api chat: the server applies the model's own chat template; send only the user's message.
  return makePrompter(override ?? ref.template ?? (ref.api === 'chat' ? 'chatml' : 'plain'), ref.api === 'chat' ? 'user' : 'render', stop);
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

export interface OpenAIRunnerOptions {
  /** Environment to read api_key_env from. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Data roots and allowed endpoints. Default: LIMOLAB_DATA_ROOT / LIMOLAB_ALLOW_ENDPOINT, else
   * the working directory and no endpoint at all. */
  access?: WorkerAccess;
}

export class OpenAIRunner implements Runner {
  readonly name = 'openai';
  readonly kinds = [TaskKind.TASK_KIND_EVAL, TaskKind.TASK_KIND_ROLLOUT] as const;

  private readonly access: WorkerAccess;

  constructor(private readonly opts: OpenAIRunnerOptions = {}) {
    this.access = opts.access ?? accessFromEnv();
  }

  accepts(task: Task): boolean {
    return task.modelRef?.kind === 'openai';
  }

  async run(ctx: TaskContext): Promise<RunOutput> {
    if (ctx.signal.aborted) throw new TaskCancelledError(`task ${ctx.task.id} was cancelled before it started`);
    const ref = parseWith(OpenAIModelRefSchema, ctx.task.modelRef, 'model_ref');
    checkEndpoint(ref.base_url, this.access);
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

  /** A SampleFn over the client: one request (and seed) per prompt, so a server that honours
   * `seed` repeats exactly; the client's limiter bounds requests in flight. */
  private sampler(ctx: TaskContext, client: OpenAICompatClient, usage: Usage): SampleFn {
    return async (reqs, s, progress) => {
      let done = 0;
      const inner = new AbortController();
      const onAbort = () => inner.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await Promise.all(reqs.map(async (r) => {
          try {
            const b = await client.complete([r.prompt], { ...s, seed: r.seed }, inner.signal);
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
    };
  }

  private async evaluate(ctx: TaskContext, ref: OpenAIModelRef, client: OpenAICompatClient, s: EvalSpec): Promise<RunOutput> {
    const startedMs = Date.now();
    const usage = new Usage(ref.params);
    const { metrics, details } = await evaluateMath(ctx, s, (t, stop) => prompter(ref, t, stop), this.sampler(ctx, client, usage), this.access);
    metrics.tokens_prompt = usage.prompt;
    metrics.tokens_generated = usage.generated;
    return { metrics, ledger: usage.ledger(ref, startedMs), outputs: [], details: { model: ref.model, base_url: ref.base_url, api: ref.api, ...details } };
  }

  private async rollout(ctx: TaskContext, ref: OpenAIModelRef, client: OpenAICompatClient, s: RolloutSpec): Promise<RunOutput> {
    const startedMs = Date.now();
    const usage = new Usage(ref.params);
    const r = await rolloutMath(ctx, s, (t, stop) => prompter(ref, t, stop), this.sampler(ctx, client, usage), this.access);
    return { metrics: r.metrics, ledger: usage.ledger(ref, startedMs), outputs: [r.output], details: { model: ref.model, ...r.details } };
  }
}
