import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskKind } from '../../gen/limolab/v1/task.js';
import { TaskCancelledError } from '../../worker/runner.js';
import {
  ProcessRunner,
  RunnerArtifactError,
  RunnerExitedError,
  RunnerProtocolError,
  RunnerReportedError,
  RunnerTimeoutError,
} from '../../worker/runners/process.js';
import { lineJsonSchema, LINE_SCHEMAS } from '../../worker/runners/protocol.js';
import { makeCtx, script } from './helpers.js';
import { TaskTiming } from '../../common/task-timing.js';

const KINDS = [TaskKind.TASK_KIND_DIAG];

// A runner in plain node: reads the task, echoes its input artifact back doubled, reports.
const GOOD = `
const fs = require('fs'); const path = require('path');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
console.error('runner starting for ' + input.task.id);
out({ type: 'progress', fraction: 0.5, message: 'half' });
out({ type: 'metric', name: 'loss', value: 1.25, step: 3 });
const data = fs.readFileSync(input.inputs[0].path, 'utf8');
fs.writeFileSync(path.join(input.output_dir, 'double.txt'), data + data);
out({ type: 'artifact', role: 'rollouts', path: 'double.txt', media_type: 'text/plain' });
out({ type: 'ledger', flops: 1e9, tokens_prompt: 10, tokens_generated: 20, tokens_trained: 0, device_kind: 'cpu', device_s: 0.5, params: 1000 });
out({ type: 'ledger', flops: 1e9, tokens_prompt: 1, tokens_generated: 2, tokens_trained: 3, device_kind: 'cpu', device_s: 0.5, params: 1000 });
out({ type: 'log', message: 'kind ' + input.task.kind + ' threads ' + input.threads });
out({ type: 'result', metrics: { accuracy: 0.75 }, details: { seen: input.task.diag.message } });
`;

async function runScript(body: string, opts: Partial<ConstructorParameters<typeof ProcessRunner>[0]> = {}, task = {}) {
  const file = await script('runner.cjs', body);
  const runner = new ProcessRunner({ command: [process.execPath, file], kinds: KINDS, graceMs: 300, timeoutMs: 20_000, ...opts });
  const rec = makeCtx({ spec: { $case: 'diag', value: { op: 2, sleepMs: 0, message: 'hi', failTimes: 0, outputBytes: 0 } }, ...task });
  return { runner, rec };
}

describe('ProcessRunner', () => {
  it('runs a task through a child process and collects metrics, ledger, artifacts and logs', async () => {
    const { runner, rec } = await runScript(GOOD);
    const input = await rec.artifacts.put('prompts', new TextEncoder().encode('abc'));
    rec.ctx.task.inputs.push(input);
    const t0 = performance.now();
    const timing = new TaskTiming();
    const out = await runner.run({ ...rec.ctx, addTime: (part, ms) => timing.add(part, ms) });
    const seconds = timing.seconds();
    const took = (performance.now() - t0) / 1000;
    expect(out.metrics).toEqual({ accuracy: 0.75 });
    expect(out.details).toEqual({ seen: 'hi' });
    // Process start (spawn to the first protocol line) is part of the task's time, and only part.
    expect(seconds.get('process_start')).toBeGreaterThan(0);
    expect(seconds.get('process_start')).toBeLessThan(took);
    expect(out.ledger).toMatchObject({ flops: 2e9, tokensPrompt: 11, tokensGenerated: 22, tokensTrained: 3, deviceKind: 'cpu', deviceS: 1, params: 1000 });
    expect(out.outputs).toHaveLength(1);
    expect(out.outputs[0]!.role).toBe('rollouts');
    expect(new TextDecoder().decode(await rec.artifacts.get(out.outputs[0]!))).toBe('abcabc');
    expect(rec.progress).toEqual([[0.5, 'half']]);
    expect(rec.metrics).toEqual([['loss', 1.25, 3]]);
    expect(rec.logs).toContain('runner starting for t1');
    expect(rec.logs).toContain('kind TASK_KIND_DIAG threads 1');
  });

  it('fails with a protocol error naming the malformed line', async () => {
    const { runner, rec } = await runScript(`
      console.log(JSON.stringify({ type: 'progress', fraction: 0.1 }));
      console.log(JSON.stringify({ type: 'metric', name: 'loss', value: 'high' }));
      setTimeout(() => console.log(JSON.stringify({ type: 'result', metrics: {} })), 5000);`);
    const err = await runner.run(rec.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerProtocolError);
    expect((err as Error).message).toMatch(/line 2 does not match the protocol \(value: .*expected number/);
    expect((err as RunnerProtocolError).retryable).toBe(false);
  });

  it('fails on a stdout line that is not JSON', async () => {
    const { runner, rec } = await runScript(`console.log('hello world'); console.log(JSON.stringify({ type: 'result', metrics: {} }));`);
    await expect(runner.run(rec.ctx)).rejects.toThrow(/line 1 is not JSON: hello world/);
  });

  it('fails an attempt whose runner exits without a result, with its last log lines', async () => {
    const { runner, rec } = await runScript(`console.error('loading model'); console.error('CUDA out of memory'); process.exit(3);`);
    const err = await runner.run(rec.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerExitedError);
    expect((err as Error).message).toMatch(/exit code 3\) without a result line/);
    expect((err as Error).message).toContain('CUDA out of memory');
    expect((err as RunnerExitedError).logTail).toEqual(['loading model', 'CUDA out of memory']);
  });

  it('keeps only the last log lines', async () => {
    const { runner, rec } = await runScript(`for (let i = 0; i < 120; i++) console.error('line ' + i); process.exit(1);`, { logTailLines: 50 });
    const err = (await runner.run(rec.ctx).catch((e: unknown) => e)) as RunnerExitedError;
    expect(err.logTail).toHaveLength(50);
    expect(err.logTail[49]).toBe('line 119');
  });

  it('passes on an error line with its retryable flag', async () => {
    const { runner, rec } = await runScript(`console.log(JSON.stringify({ type: 'error', message: 'model path missing', retryable: false }));`);
    const err = await runner.run(rec.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerReportedError);
    expect((err as Error).message).toContain('model path missing');
  });

  it('kills a runner that exceeds its time limit (SIGTERM ignored -> SIGKILL)', async () => {
    // The limit leaves node time to start and install its SIGTERM handler even on a loaded
    // machine (at 500 ms a slow start let the default SIGTERM action end it at 618 ms).
    const { runner, rec } = await runScript(`process.on('SIGTERM', () => console.error('ignoring TERM')); setInterval(() => {}, 1000);`, { timeoutMs: 2000, graceMs: 300 });
    const t0 = Date.now();
    const err = await runner.run(rec.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerTimeoutError);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2300); // the limit, then the grace: SIGKILL, not SIGTERM, ended it
  });

  it('uses the task timeout when it is shorter than the runner limit', async () => {
    const { runner, rec } = await runScript(`setInterval(() => {}, 1000);`, { timeoutMs: 60_000 }, { timeoutS: 1 });
    await expect(runner.run(rec.ctx)).rejects.toBeInstanceOf(RunnerTimeoutError);
  });

  it('cancels a running task: SIGTERM, and the runner may clean up', async () => {
    const marker = resolve(await script('x', ''), '..', 'cleaned');
    const { runner, rec } = await runScript(`
      process.on('SIGTERM', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'yes'); process.exit(0); });
      console.log(JSON.stringify({ type: 'progress', fraction: 0.1 }));
      setInterval(() => {}, 1000);`);
    const p = runner.run(rec.ctx);
    while (rec.progress.length === 0) await new Promise((r) => setTimeout(r, 20));
    rec.abort.abort();
    await expect(p).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await readFile(marker, 'utf8')).toBe('yes');
  });

  it('rejects artifact paths outside the output dir and symlinks out of it', async () => {
    for (const body of [
      `console.log(JSON.stringify({ type: 'artifact', role: 'x', path: '../escape.txt' })); console.log(JSON.stringify({ type: 'result', metrics: {} }));`,
      `console.log(JSON.stringify({ type: 'artifact', role: 'x', path: '/etc/hostname' })); console.log(JSON.stringify({ type: 'result', metrics: {} }));`,
      `const fs = require('fs'); fs.symlinkSync('/etc/hostname', 'link'); console.log(JSON.stringify({ type: 'artifact', role: 'x', path: 'link' })); console.log(JSON.stringify({ type: 'result', metrics: {} }));`,
      `console.log(JSON.stringify({ type: 'artifact', role: 'x', path: 'missing.bin' })); console.log(JSON.stringify({ type: 'result', metrics: {} }));`,
    ]) {
      const { runner, rec } = await runScript(body);
      const err = await runner.run(rec.ctx).catch((e: unknown) => e);
      expect(err, body).toBeInstanceOf(RunnerArtifactError);
      expect(rec.artifacts.size).toBe(0);
    }
  });

  it('fails clearly when the command does not exist', async () => {
    const runner = new ProcessRunner({ command: ['/nonexistent/runner'], kinds: KINDS, graceMs: 100, timeoutMs: 5000 });
    await expect(runner.run(makeCtx().ctx)).rejects.toThrow(/could not start runner \/nonexistent\/runner/);
  });

  it('runs a python runner too', async () => {
    const { runner, rec } = await runScript('');
    const py = await script('r.py', `import json, sys\nt = json.load(sys.stdin)\nprint(json.dumps({"type": "result", "metrics": {"seed": t["task"].get("seed", 0)}}))\n`);
    const r2 = new ProcessRunner({ command: ['python3', py], kinds: KINDS, graceMs: 100, timeoutMs: 20_000 });
    rec.ctx.task.seed = 7;
    expect((await r2.run(rec.ctx)).metrics).toEqual({ seed: 7 });
    expect(runner.kinds).toEqual(KINDS);
  });
});

describe('runner protocol docs', () => {
  it('documents the JSON Schema generated from the zod schema for every line type', async () => {
    const doc = await readFile(resolve(import.meta.dirname, '../../docs/runner-protocol.md'), 'utf8');
    for (const type of Object.keys(LINE_SCHEMAS) as (keyof typeof LINE_SCHEMAS)[]) {
      const block = new RegExp('<!-- schema:' + type + ' -->\\s*```json\\n([\\s\\S]*?)```').exec(doc);
      expect(block, `docs/runner-protocol.md lacks the schema block for ${type}`).not.toBeNull();
      expect(JSON.parse(block![1]!)).toEqual(lineJsonSchema(type));
    }
  });
});
