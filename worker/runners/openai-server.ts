// A minimal OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions, /v1/models)
// over a completion handler: what `limolab serve` will put in front of the embedded engine, and
// what the client tests run against. Chat messages are rendered with a plain role: text prompt
// unless the handler renders them itself.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ServerCompletionOptions {
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed?: number;
  /** Index of this sample among the request's n. */
  index: number;
}

export interface ServerCompletion {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason?: 'stop' | 'length';
}

export interface CompletionHandler {
  complete(prompt: string, opts: ServerCompletionOptions): Promise<ServerCompletion>;
  /** Renders chat messages to a prompt; default "role: content" lines then "assistant:". */
  renderChat?(messages: { role: string; content: string }[]): string;
  /** Model names for /v1/models. Default ["limolab"]. */
  models?: string[];
  /** How usage.prompt_tokens counts a request's n samples. 'request' (default): once, as OpenAI,
   *  vLLM and SGLang do (they prefill a prompt once for all n). 'sample': once per sample, for a
   *  handler whose complete() runs each sample's prefill (limolab serve), so that the client's
   *  FLOPs ledger (2 x params x tokens) counts the compute that ran. */
  promptUsage?: 'request' | 'sample';
}

class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY = 8 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new HttpError(400, `request body is not a JSON object: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function num(v: unknown, name: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `${name} must be a number`);
  return v;
}

function options(body: Record<string, unknown>): { n: number; base: Omit<ServerCompletionOptions, 'index'> } {
  const n = num(body.n, 'n', 1);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new HttpError(400, 'n must be an integer in 1..1024');
  const stop = body.stop === undefined || body.stop === null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  if (!stop.every((s) => typeof s === 'string')) throw new HttpError(400, 'stop must be a string or a list of strings');
  const seed = body.seed === undefined || body.seed === null ? undefined : num(body.seed, 'seed', 0);
  return {
    n,
    base: {
      maxTokens: num(body.max_tokens ?? body.max_completion_tokens, 'max_tokens', 16),
      temperature: num(body.temperature, 'temperature', 1),
      topP: num(body.top_p, 'top_p', 1),
      stop: stop as string[],
      ...(seed !== undefined ? { seed } : {}),
    },
  };
}

export function defaultRenderChat(messages: { role: string; content: string }[]): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:';
}

export function createOpenAICompatServer(handler: CompletionHandler): Server {
  let seq = 0;
  return createServer((req, res) => {
    void (async () => {
      try {
        const url = (req.url ?? '').split('?')[0];
        if (req.method === 'GET' && url === '/v1/models') {
          return send(res, 200, { object: 'list', data: (handler.models ?? ['limolab']).map((id) => ({ id, object: 'model', owned_by: 'limolab' })) });
        }
        if (req.method !== 'POST' || (url !== '/v1/completions' && url !== '/v1/chat/completions')) {
          throw new HttpError(404, `no route ${req.method} ${url}; this server implements POST /v1/completions and /v1/chat/completions`);
        }
        const body = await readJson(req);
        const { n, base } = options(body);
        const chat = url === '/v1/chat/completions';
        let prompts: string[];
        if (chat) {
          const msgs = body.messages;
          if (!Array.isArray(msgs) || !msgs.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
            throw new HttpError(400, 'messages must be a list of {role, content} strings');
          }
          prompts = [(handler.renderChat ?? defaultRenderChat)(msgs as { role: string; content: string }[])];
        } else {
          const p = body.prompt;
          prompts = typeof p === 'string' ? [p] : Array.isArray(p) && p.every((x) => typeof x === 'string') ? (p as string[]) : [];
          if (prompts.length === 0) throw new HttpError(400, 'prompt must be a string or a non-empty list of strings');
        }
        const choices: unknown[] = [];
        let promptTokens = 0;
        let completionTokens = 0;
        for (const [pi, prompt] of prompts.entries()) {
          for (let k = 0; k < n; k++) {
            const c = await handler.complete(prompt, { ...base, index: k });
            if (k === 0 || handler.promptUsage === 'sample') promptTokens += c.promptTokens;
            completionTokens += c.completionTokens;
            const finish = c.finishReason ?? (c.completionTokens >= base.maxTokens ? 'length' : 'stop');
            const index = pi * n + k;
            choices.push(chat ? { index, message: { role: 'assistant', content: c.text }, finish_reason: finish } : { index, text: c.text, finish_reason: finish, logprobs: null });
          }
        }
        send(res, 200, {
          id: `${chat ? 'chatcmpl' : 'cmpl'}-${++seq}`,
          object: chat ? 'chat.completion' : 'text_completion',
          created: Math.floor(Date.now() / 1000),
          model: typeof body.model === 'string' ? body.model : 'limolab',
          choices,
          usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        });
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 500;
        if (!res.headersSent) send(res, status, { error: { message: (err as Error).message, type: status === 500 ? 'server_error' : 'invalid_request_error' } });
        else res.destroy();
      }
    })();
  });
}
