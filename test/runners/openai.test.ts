import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAICompatClient, OpenAICompatError } from '../../worker/runners/openai.js';
import { createOpenAICompatServer, type CompletionHandler } from '../../worker/runners/openai-server.js';

// Deterministic "model": echoes the prompt reversed, tagged with the sample index and seed.
// Tokens are whitespace-separated words.
function echoHandler(extra: { failFirst?: number; delayMs?: (prompt: string) => number } = {}) {
  const state = { calls: 0, failures: extra.failFirst ?? 0, active: 0, maxActive: 0 };
  const handler: CompletionHandler = {
    async complete(prompt, opts) {
      state.calls++;
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      try {
        await new Promise((r) => setTimeout(r, extra.delayMs?.(prompt) ?? 20));
        if (state.failures > 0) {
          state.failures--;
          throw new Error('injected failure');
        }
        let text = `${[...prompt].reverse().join('')} #${opts.index} seed=${opts.seed ?? 'none'} t=${opts.temperature}`;
        for (const s of opts.stop) if (text.includes(s)) text = text.slice(0, text.indexOf(s));
        return { text, promptTokens: prompt.split(/\s+/).length, completionTokens: 3 };
      } finally {
        state.active--;
      }
    },
  };
  return { handler, state };
}

let server: Server | undefined;
async function start(handler: CompletionHandler): Promise<string> {
  server = createOpenAICompatServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const base = { model: 'm', concurrency: 2, retries: 3, timeoutMs: 2000, params: 1000, backoffMs: 20 };

describe('OpenAICompatClient against a real loopback server', () => {
  it('samples n completions per prompt and fills tokens and FLOPs from usage', async () => {
    const { handler, state } = echoHandler();
    const client = new OpenAICompatClient({ ...base, baseUrl: await start(handler) });
    const r = await client.complete(['a b c', 'hello'], { n: 2, temperature: 0.7, maxTokens: 8, seed: 5 });
    expect(r.texts).toEqual([
      ['c b a #0 seed=5 t=0.7', 'c b a #1 seed=5 t=0.7'],
      ['olleh #0 seed=5 t=0.7', 'olleh #1 seed=5 t=0.7'],
    ]);
    expect(r.promptTokens).toBe(3 + 1);
    expect(r.generatedTokens).toBe(4 * 3);
    expect(r.flops).toBe(2 * 1000 * (4 + 12));
    expect(state.calls).toBe(4);
  });

  it('speaks /v1/chat/completions too, and passes stop sequences', async () => {
    const { handler } = echoHandler();
    const client = new OpenAICompatClient({ ...base, baseUrl: (await start(handler)) + '/v1/', endpoint: 'chat' });
    const r = await client.complete(['2+2?'], { n: 1, temperature: 0, maxTokens: 8, stop: ['seed'] });
    expect(r.texts).toEqual([[':tnatsissa\n?2+2 :resu #0 ']]);
  });

  it('retries after a 500 and then succeeds', async () => {
    const { handler, state } = echoHandler({ failFirst: 2 });
    const client = new OpenAICompatClient({ ...base, concurrency: 1, baseUrl: await start(handler) });
    const r = await client.complete(['x'], { n: 1, temperature: 1, maxTokens: 4 });
    expect(r.texts[0]![0]).toContain('x #0');
    expect(client.requests).toBe(3);
    expect(state.calls).toBe(3);
  });

  it('gives up after the configured retries with the last status', async () => {
    const { handler } = echoHandler({ failFirst: 100 });
    const client = new OpenAICompatClient({ ...base, retries: 2, baseUrl: await start(handler) });
    const err = await client.complete(['x'], { n: 1, temperature: 1, maxTokens: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAICompatError);
    expect((err as OpenAICompatError).status).toBe(500);
    expect((err as Error).message).toMatch(/giving up after 3 tries/);
  });

  it('times out a slow response and retries it', async () => {
    let slow = 1;
    const { handler } = echoHandler({ delayMs: () => (slow-- > 0 ? 1500 : 10) });
    const client = new OpenAICompatClient({ ...base, timeoutMs: 300, baseUrl: await start(handler) });
    const t0 = Date.now();
    const r = await client.complete(['x'], { n: 1, temperature: 1, maxTokens: 4 });
    expect(r.texts[0]![0]).toContain('x #0');
    expect(client.requests).toBe(2);
    expect(Date.now() - t0).toBeLessThan(1400);
  });

  it('reports a timeout when every try is too slow', async () => {
    const { handler } = echoHandler({ delayMs: () => 800 });
    const client = new OpenAICompatClient({ ...base, retries: 1, timeoutMs: 150, baseUrl: await start(handler) });
    await expect(client.complete(['x'], { n: 1, temperature: 1, maxTokens: 4 })).rejects.toThrow(/timed out after 150 ms/);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const { handler, state } = echoHandler({ delayMs: () => 60 });
    const client = new OpenAICompatClient({ ...base, concurrency: 3, baseUrl: await start(handler) });
    const r = await client.complete(Array.from({ length: 10 }, (_, i) => `p${i}`), { n: 1, temperature: 1, maxTokens: 4 });
    expect(r.texts).toHaveLength(10);
    expect(state.maxActive).toBe(3);
  });

  it('does not retry a 400 and says what was wrong', async () => {
    const { handler } = echoHandler();
    const client = new OpenAICompatClient({ ...base, baseUrl: await start(handler) });
    const err = await client.complete(['x'], { n: 0, temperature: 1, maxTokens: 4 }).catch((e: unknown) => e);
    expect((err as OpenAICompatError).status).toBe(400);
    expect((err as Error).message).toContain('n must be an integer');
    expect(client.requests).toBe(1);
  });

  it('retries a refused connection and then fails with a hint', async () => {
    const { handler } = echoHandler();
    const url = await start(handler);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const client = new OpenAICompatClient({ ...base, retries: 1, baseUrl: url });
    await expect(client.complete(['x'], { n: 1, temperature: 1, maxTokens: 4 })).rejects.toThrow(/is the server running/);
    expect(client.requests).toBe(2);
  });
});
