// `limolab run --ui` as a child process: it serves the dashboard while the sweep runs and
// prints its URL, answering the API from that address; a non-loopback address is refused
// before anything starts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-run-ui-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('limolab run --ui', () => {
  it('prints the dashboard URL and serves the running sweep there', async () => {
    const spec = join(dir, 'ui.yaml');
    writeFileSync(spec, 'name: run-ui\narms: [{name: a, method: diag, params: {tasks: 3, sleep_ms: 1500}}]\n');
    const child = spawn(process.execPath, [BIN, 'run', spec, '--ui', '127.0.0.1:0', '--in-process', '--workers', '1', '--db', join(dir, 'l.db'), '--workdir', join(dir, 'w')],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIMOLAB_DEBUG: '' } });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`run exited with ${code} before printing a URL:\n${stderr}`)));
    });
    const r = await fetch(`${url}api/sweeps`);
    expect(r.status).toBe(200);   // a local run has no token
    const { sweeps } = await r.json() as { sweeps: { name: string }[] };
    expect(sweeps.map((s) => s.name)).toContain('run-ui');
    const code = await new Promise<number | null>((res) => (child.exitCode !== null ? res(child.exitCode) : child.once('exit', res)));
    expect(code).toBe(0);
  }, 90_000);

  it('refuses a non-loopback --ui address with a hint, starting nothing', async () => {
    const spec = join(dir, 'ui2.yaml');
    writeFileSync(spec, 'name: run-ui2\narms: [{name: a, method: diag}]\n');
    const r = await runCli(['run', spec, '--ui', '0.0.0.0:8470', '--in-process', '--db', join(dir, 'l2.db'), '--workdir', join(dir, 'w2')], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/loopback only.*limolab coordinator --http/);
  }, 90_000);
});
