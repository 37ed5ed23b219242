// `limolab serve` as a real child process on a tiny checkpoint this test creates, called with
// OpenAICompatClient over loopback: greedy text must equal the engine's own greedy output,
// and usage must count the engine's tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CharTokenizer, Engine, type ModelConfig } from '../../worker/engine/index.js';
import { OpenAICompatClient } from '../../worker/runners/openai.js';
import { defaultRenderChat } from '../../worker/runners/openai-server.js';
import { BIN, hasStackTrace, runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-serve-'));
const ckptDir = join(dir, 'tiny');
const ckptFile = join(dir, 'tiny-file.safetensors');
const tokenizer = new CharTokenizer('abcdefghijklmnopqrstuvwxyz0123456789 :+=\n');
const config: ModelConfig = {
  vocab_size: tokenizer.vocabSize, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 48, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
};
let reference: Engine;
const children: ChildProcess[] = [];

/** The engine's own greedy continuation of a prompt, as the server should produce it. */
async function greedy(prompt: string, maxNewTokens: number): Promise<{ text: string; tokens: number }> {
  const r = await reference.generate([[tokenizer.bos, ...tokenizer.encode(prompt)]], { maxNewTokens, temperature: 0, seed: 0 });
  return { text: tokenizer.decode(r.tokens[0]!), tokens: r.tokens[0]!.length };
}

async function serve(path: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; model: string; params: number }> {
  const child = spawn(process.execPath, [BIN, 'serve', path, '--port', '0', '--threads', '1', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`limolab serve exited with ${c}: ${stderr}`)));
  });
  const info = JSON.parse(line) as { listening: string; model: string; params: number };
  return { child, url: info.listening, model: info.model, params: info.params };
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

beforeAll(async () => {
  const engine = await Engine.create({ config, tokenizer, seed: 7, threads: 1 });
  await engine.save(ckptDir);
  writeFileSync(ckptFile, engine.toBytes());
  await engine.dispose();
  reference = await Engine.load(ckptDir, { threads: 1 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await reference?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('limolab serve', () => {
  it('serves a checkpoint directory: completions and chat match the engine, usage counts its tokens', async () => {
    const s = await serve(ckptDir, ['--model-name', 'tiny-test']);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.model).toBe('tiny-test');
    expect(s.params).toBe(reference.numParams());

    const client = new OpenAICompatClient({ baseUrl: s.url, model: 'tiny-test', concurrency: 2, retries: 0, timeoutMs: 20_000, params: s.params });
    const prompts = ['ab 12', 'x+y=']; // two prompts in flight at once
    const batch = await client.complete(prompts, { n: 2, temperature: 0, maxTokens: 6 });
    const want = await Promise.all(prompts.map((p) => greedy(p, 6)));
    expect(batch.texts).toEqual(want.map((w) => [w.text, w.text]));
    // + BOS; once per sample (n = 2), as each sample runs its own prefill: the ledger counts what ran.
    expect(batch.promptTokens).toBe(2 * prompts.reduce((a, p) => a + p.length + 1, 0));
    expect(batch.generatedTokens).toBe(2 * (want[0]!.tokens + want[1]!.tokens));
    expect(want.map((w) => w.text.length)).toEqual([6, 6]); // random weights never emit EOS this early here
    expect(batch.flops).toBe(2 * s.params * (batch.promptTokens + batch.generatedTokens));

    const chat = new OpenAICompatClient({ baseUrl: `${s.url}/v1`, model: 'tiny-test', concurrency: 1, retries: 0, timeoutMs: 20_000, params: s.params, endpoint: 'chat' });
    const c = await chat.complete(['hello'], { n: 1, temperature: 0, maxTokens: 4 });
    const rendered = defaultRenderChat([{ role: 'user', content: 'hello' }]);
    const cw = await greedy(rendered, 4);
    expect(c.texts).toEqual([[cw.text]]);
    expect(c.promptTokens).toBe(rendered.length + 1);
    expect(c.generatedTokens).toBe(cw.tokens);

    // Sampling with a request seed is reproducible; the model list names the model.
    const sampled = async () => (await client.complete(['abc'], { n: 3, temperature: 1, maxTokens: 8, seed: 11 })).texts;
    expect(await sampled()).toEqual(await sampled());
    const models = await (await fetch(`${s.url}/v1/models`)).json() as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['tiny-test']);

    // A character outside the tokenizer's alphabet is an error response, and the server keeps serving.
    const bad = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'ABC', max_tokens: 2 }) });
    expect(bad.ok).toBe(false);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('not in the tokenizer');
    expect((await client.complete(['ab 12'], { n: 1, temperature: 0, maxTokens: 6 })).texts).toEqual([[want[0]!.text]]);

    s.child.kill('SIGTERM');
    expect(await exited(s.child)).toBe(0);
  });

  it('serves a single .safetensors file, named after it, and stops max_tokens at the context length', async () => {
    const s = await serve(ckptFile);
    expect(s.model).toBe('tiny-file');
    const res = await fetch(`${s.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-file', prompt: 'ab', max_tokens: 500, temperature: 0 }),
    });
    expect(res.status).toBe(200);
    const body = await res.json() as { choices: { text: string; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
    const want = await greedy('ab', config.max_position_embeddings - 3);
    expect(body.choices[0]!.text).toBe(want.text);
    expect(body.usage).toEqual({ prompt_tokens: 3, completion_tokens: want.tokens, total_tokens: 3 + want.tokens });
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(config.max_position_embeddings - 3);
    // A stop string cuts the text; usage still counts every generated token.
    const r = await reference.generate([[tokenizer.bos, ...tokenizer.encode('ab')]], { maxNewTokens: 8, temperature: 1, seed: 11 });
    const sampledText = tokenizer.decode(r.tokens[0]!);
    const stop = sampledText.slice(3, 5);
    const stopped = await (await fetch(`${s.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'ab', max_tokens: 8, temperature: 1, seed: 11, stop: [stop] }),
    })).json() as typeof body;
    expect(stop).toHaveLength(2);
    expect(stopped.choices[0]).toMatchObject({ text: sampledText.slice(0, sampledText.indexOf(stop)), finish_reason: 'stop' });
    expect(stopped.usage.completion_tokens).toBe(r.tokens[0]!.length);
    s.child.kill('SIGINT');
    expect(await exited(s.child)).toBe(0);
  });

  it('names a missing checkpoint in one line', async () => {
    const r = await runCli(['serve', join(dir, 'absent'), '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^limolab serve: cannot read checkpoint .*absent: .*pass a directory written by Engine\.save/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});
