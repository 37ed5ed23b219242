// `limolab serve <checkpoint>`: an OpenAI-compatible HTTP server (/v1/completions,
// /v1/chat/completions, /v1/models) for an embedded-engine checkpoint, a directory written
// by Engine.save or one .safetensors file from Engine.toBytes. Binds loopback by default.
// Prints {"listening": URL, ...} as its first stdout line; stops on SIGINT/SIGTERM.
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LimolabError, SpecError } from '../common/errors.js';
import { Engine } from '../worker/engine/index.js';
import { createOpenAICompatServer, type CompletionHandler, type ServerCompletion, type ServerCompletionOptions } from '../worker/runners/openai-server.js';
import { int, parse } from './args.js';

const USAGE = `Usage: limolab serve <checkpoint-dir | model.safetensors> [options]

Serves an embedded-engine checkpoint over an OpenAI-compatible HTTP API:
POST /v1/completions, POST /v1/chat/completions, GET /v1/models. Usage token counts are
the engine's tokens (prompt with BOS, counted once per sample: each of a request's n samples
runs its own prefill; generated tokens including a final EOS). Stop strings
cut the returned text after generation; usage still counts every generated token. Requests
run one at a time.
  --host HOST          address to bind (default 127.0.0.1; anything else is reachable
                       from the network and has no authentication)
  --port N             port (default 8000; 0 picks a free one)
  --model-name NAME    the model id reported and accepted (default: the checkpoint's name)
  --threads N          ONNX Runtime threads (default: all cores)
Stops on Ctrl-C (SIGINT) or SIGTERM.`;

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    host: { type: 'string' }, port: { type: 'string' }, 'model-name': { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  const path = p[0];
  if (!path) throw new SpecError(`limolab serve needs a checkpoint: a directory written by Engine.save, or a .safetensors file\n\n${USAGE}`);
  const port = int(v.port, 'port', 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SpecError(`--port must be an integer in 0..65535, got ${v.port}`);
  const threads = v.threads === undefined ? undefined : int(v.threads, 'threads', 1);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new SpecError(`--threads must be a positive integer, got ${v.threads}`);
  const host = v.host ?? '127.0.0.1';

  const engine = await loadEngine(path, threads);
  const modelName = v['model-name'] ?? (basename(path).replace(/\.safetensors$/, '') || 'limolab');
  const server = createOpenAICompatServer(engineHandler(engine, modelName));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new LimolabError(`cannot listen on ${host}:${port}: ${e.message}; choose another --port or --host`, { cause: e })));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  console.log(JSON.stringify({ listening: url, model: modelName, params: engine.numParams() }));
  if (!isLoopback(host)) console.error(`limolab serve: listening on ${host}, reachable from the network, with no authentication`);
  console.error(`limolab serve: ${modelName} (${engine.numParams()} parameters) at ${url}/v1`);

  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await engine.dispose();
  return 0;
}

async function loadEngine(path: string, threads: number | undefined): Promise<Engine> {
  const opts = threads === undefined ? {} : { threads };
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw new LimolabError(`cannot read checkpoint ${path}: ${(err as Error).message}; pass a directory written by Engine.save or a .safetensors file`, { cause: err });
  }
  return isDir ? Engine.load(path, opts) : Engine.fromBytes(new Uint8Array(await readFile(path)), opts);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Completions from the engine, one request at a time (the engine's ONNX sessions are shared). */
export function engineHandler(engine: Engine, modelName: string): CompletionHandler {
  const tok = engine.tokenizer;
  const ctx = engine.config.max_position_embeddings;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const run = queue.then(f, f);
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    promptUsage: 'sample',   // complete() runs one sample, its prefill included
    models: [modelName],
    complete: (prompt: string, o: ServerCompletionOptions) => serial(async (): Promise<ServerCompletion> => {
      const ids = [tok.bos, ...tok.encode(prompt)];
      if (ids.length >= ctx) throw new LimolabError(`the prompt is ${ids.length} tokens with BOS; this model's context is ${ctx}: shorten it`);
      const maxNewTokens = Math.max(0, Math.min(Math.floor(o.maxTokens), ctx - ids.length));
      // Without a request seed each sample draws its own; with one, sample k of n uses seed + k.
      const seed = o.seed !== undefined ? o.seed + o.index : Math.floor(Math.random() * 2 ** 31);
      const r = await engine.generate([ids], { maxNewTokens, temperature: o.temperature, ...(o.topP < 1 ? { topP: o.topP } : {}), seed });
      const out = r.tokens[0]!;
      let text = tok.decode(out);
      let finish: 'stop' | 'length' = out.length > 0 && out[out.length - 1] === tok.eos ? 'stop' : 'length';
      let cut = -1;
      for (const s of o.stop) {
        const at = s ? text.indexOf(s) : -1;
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) { text = text.slice(0, cut); finish = 'stop'; }
      return { text, promptTokens: ids.length, completionTokens: out.length, finishReason: finish };
    }),
  };
}
