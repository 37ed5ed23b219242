// Sampling against an OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama):
// /v1/completions or /v1/chat/completions, a concurrency limit, retries with exponential
// backoff on 429/5xx/network errors/timeouts, a per-request timeout, token counts from the
// response's `usage`, and FLOPs = 2 * params * (prompt + generated tokens).
import { LimolabError } from '../../common/errors.js';

export interface OpenAICompatOptions {
  /** Server root, e.g. http://127.0.0.1:8000 (with or without a trailing /v1). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Requests in flight at once. */
  concurrency: number;
  /** Retries after the first try of each request. */
  retries: number;
  /** Per-request timeout in ms (each try). */
  timeoutMs: number;
  /** Declared parameter count of the served model (for the FLOPs ledger). */
  params: number;
  /** 'completions' sends the prompt as is; 'chat' sends it as one user message. Default 'completions'. */
  endpoint?: 'completions' | 'chat';
  /** First backoff in ms; doubles each retry, with jitter, capped at 30 s. Default 250. */
  backoffMs?: number;
}

export interface SampleOptions {
  n: number;
  temperature: number;
  topP?: number;
  maxTokens: number;
  stop?: string[];
  seed?: number;
}

export interface CompletionBatch {
  /** texts[i][j]: sample j of prompt i. */
  texts: string[][];
  promptTokens: number;
  generatedTokens: number;
  flops: number;
}

/** A request failed after all retries, or with a status retrying cannot fix. */
export class OpenAICompatError extends LimolabError {
  override name = 'OpenAICompatError';
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server answered without a `usage` object, so the ledger cannot be filled. */
export class UsageMissingError extends OpenAICompatError {
  override name = 'UsageMissingError';
}

/** A tiny semaphore: at most `limit` callers inside at once. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface WireResponse {
  choices?: { index?: number; text?: string; message?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

export class OpenAICompatClient {
  private readonly limiter: Limiter;
  private readonly root: string;
  /** Requests sent, retries included (for tests and logs). */
  requests = 0;

  constructor(private readonly opts: OpenAICompatOptions) {
    if (!(opts.concurrency >= 1)) throw new Error('OpenAICompatClient: concurrency must be >= 1');
    if (!(opts.params > 0)) throw new Error('OpenAICompatClient: params (the model parameter count) must be > 0 for the FLOPs ledger');
    this.limiter = new Limiter(opts.concurrency);
    this.root = opts.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  async complete(prompts: string[], sample: SampleOptions, signal?: AbortSignal): Promise<CompletionBatch> {
    const results = await Promise.all(prompts.map((p) => this.limiter.run(() => this.one(p, sample, signal))));
    const promptTokens = results.reduce((a, r) => a + r.promptTokens, 0);
    const generatedTokens = results.reduce((a, r) => a + r.generatedTokens, 0);
    return { texts: results.map((r) => r.texts), promptTokens, generatedTokens, flops: 2 * this.opts.params * (promptTokens + generatedTokens) };
  }

  private async one(prompt: string, s: SampleOptions, signal?: AbortSignal): Promise<{ texts: string[]; promptTokens: number; generatedTokens: number }> {
    const chat = this.opts.endpoint === 'chat';
    const url = `${this.root}/v1/${chat ? 'chat/completions' : 'completions'}`;
    const body = {
      model: this.opts.model,
      ...(chat ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
      n: s.n,
      temperature: s.temperature,
      ...(s.topP !== undefined ? { top_p: s.topP } : {}),
      max_tokens: s.maxTokens,
      ...(s.stop && s.stop.length > 0 ? { stop: s.stop } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let lastError: OpenAICompatError | null = null;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (signal?.aborted) throw signal.reason;
      if (attempt > 0) {
        const base = Math.min(30_000, (this.opts.backoffMs ?? 250) * 2 ** (attempt - 1));
        const retryAfter = (lastError as (OpenAICompatError & { retryAfterMs?: number }) | null)?.retryAfterMs;
        await sleep(retryAfter ?? base * (0.5 + Math.random() / 2), signal);
      }
      const timeout = AbortSignal.timeout(this.opts.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      this.requests++;
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: combined });
        text = await res.text();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const timedOut = timeout.aborted;
        lastError = new OpenAICompatError(
          timedOut ? `request to ${url} timed out after ${this.opts.timeoutMs} ms` : `request to ${url} failed: ${(err as Error).message}; is the server running?`,
          null,
          true,
          { cause: err },
        );
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        lastError = new OpenAICompatError(`${url} answered ${res.status}: ${text.slice(0, 300)}`, res.status, true);
        const ra = Number(res.headers.get('retry-after'));
        if (res.status === 429 && Number.isFinite(ra) && ra >= 0) Object.assign(lastError, { retryAfterMs: Math.min(ra * 1000, 60_000) });
        continue;
      }
      if (!res.ok) throw new OpenAICompatError(`${url} answered ${res.status}: ${text.slice(0, 300)}; check the model name and sampling options`, res.status, false);
      let json: WireResponse;
      try {
        json = JSON.parse(text) as WireResponse;
      } catch {
        throw new OpenAICompatError(`${url} answered 200 with a body that is not JSON: ${text.slice(0, 200)}`, res.status, false);
      }
      const choices = [...(json.choices ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      if (choices.length !== s.n) throw new OpenAICompatError(`${url} returned ${choices.length} choices for n=${s.n}`, res.status, false);
      const u = json.usage;
      if (!u || typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') {
        throw new UsageMissingError(`${url} returned no usage.prompt_tokens/completion_tokens; the FLOPs ledger needs them (vLLM, SGLang and llama.cpp send usage; enable it on the server)`, res.status, false);
      }
      return {
        texts: choices.map((c) => (chat ? (c.message?.content ?? '') : (c.text ?? ''))),
        promptTokens: u.prompt_tokens,
        generatedTokens: u.completion_tokens,
      };
    }
    throw new OpenAICompatError(`giving up after ${this.opts.retries + 1} tries: ${lastError?.message}`, lastError?.status ?? null, true, { cause: lastError });
  }
}
