// `limolab sweep submit --watch` / `sweep watch` as child processes against a real
// coordinator, nats-server and worker running diag tasks: per-phase progress, arms reported
// as they finish, the final state on stdout; in place on a TTY (through script(1)).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/cluster.js';
import { BIN, runCli } from './run-cli.js';

const c = new Cluster();

beforeAll(async () => {
  await c.startNats();
  await c.startCoordinatorInProcess();
  c.startWorker('w1', ['--slots', '4']);
});
afterAll(() => c.stop());

const spec = (name: string) => `name: ${name}
seeds: 2
arms:
  - name: quick
    method: diag
    params: { op: sleep, sleep_ms: 100, tasks: 2, stages: 2 }
  - name: slow
    method: diag
    params: { op: sleep, sleep_ms: 2500 }
  - name: broken
    method: diag
    params: { op: fail, fail_times: 0 }
    retries: 0
`;

describe('limolab sweep watch', () => {
  it('logs per-phase progress and each arm as it finishes, then the final state on stdout', async () => {
    const path = join(c.dir, 'watch.yaml');
    writeFileSync(path, spec('watch-log'));
    const r = await runCli(['sweep', 'submit', path, '--watch', '--coordinator', c.address], { timeoutMs: 60_000 });
    // one arm fails, so the sweep fails and watch exits 1
    expect(r.code).toBe(1);
    const err = r.stderr.split('\n');
    const finishedAt = (arm: string) => err.findIndex((l) => l.startsWith(`arm ${arm} finished`));
    expect(finishedAt('quick')).toBeGreaterThanOrEqual(0);
    expect(finishedAt('slow')).toBeGreaterThanOrEqual(0);
    expect(finishedAt('quick')).toBeLessThan(finishedAt('slow')); // reported while the slow arm still ran
    expect(err[finishedAt('broken')]).toBe('arm broken finished (failed)');
    expect(r.stderr).toMatch(/task diag 0 \(broken\) failed: /);
    expect(r.stderr).toMatch(/^running {2}diag \d+\/12 {2}finished arms \d\/3$/m);

    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^submitted sweep \S+: 12 task\(s\)/);
    expect(r.stdout).toMatch(/sweep \S+ \(watch-log\): failed/);
    expect(r.stdout).toMatch(/^ {2}diag {2}12\/12 {2}2 failed$/m);
    const table = out.slice(out.findIndex((l) => /^arm\s+seed\s+status/.test(l)));
    expect(table[0]).toMatch(/^arm\s+seed\s+status\s+acc_id\s+acc_ood\s+flops\s+device_s$/);
    const body = table.slice(2).filter(Boolean);
    // broken has no succeeded record (one line, no seed); quick and slow one line per seed
    expect(body.map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'broken failed', 'quick 0 succeeded', 'quick 1 succeeded', 'slow 0 succeeded', 'slow 1 succeeded',
    ]);
  });

  it('redraws a frame in place on a TTY', async () => {
    const path = join(c.dir, 'watch-tty.yaml');
    writeFileSync(path, spec('watch-tty').replace('sleep_ms: 2500', 'sleep_ms: 3000'));
    const submitted = await runCli(['sweep', 'submit', path, '--coordinator', c.address, '--json']);
    const id = (JSON.parse(submitted.stdout) as { sweep: { id: string } }).sweep.id;
    // script(1) gives the command a pseudo-terminal; its transcript is what a user would see.
    // Asynchronously: the coordinator answering it runs in this process.
    const child = spawn('script', ['-qec', `${process.execPath} ${BIN} sweep watch ${id} --coordinator ${c.address}`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = { stdout: '', status: null as number | null };
    child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    r.status = await new Promise<number | null>((res) => child.on('close', res));
    expect(r.status).toBe(1);
    const frames = r.stdout.split('\x1b[J');
    expect(frames.length).toBeGreaterThan(2);               // redrawn more than once
    expect(r.stdout).toMatch(/\x1b\[\d+F\x1b\[J/);          // cursor up over the last frame, clear below
    expect(r.stdout).toMatch(/diag\s+\[#*\.*\]\s+\d+%\s+\d+\/12/);
    expect(r.stdout).toMatch(/finished arms: [0-3]\/3/);
    expect(r.stdout).not.toMatch(/^arm quick finished/m);    // per-arm log lines are for non-TTY output only
    expect(r.stdout).toMatch(/ {2}diag {2}12\/12 {2}2 failed/);
  });
});
