// `limolab sweep submit --watch` / `sweep watch` as child processes against a real
// coordinator, nats-server and worker running diag tasks: per-phase progress, arms reported
// as they finish, a log line only on change, a stall warning, a reconnect across a
// coordinator restart, the final state and `limolab run`'s results table on stdout; in place
// on a TTY (through script(1)).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Cluster, exited, waitFor } from '../helpers/cluster.js';
import { BIN, runCli } from './run-cli.js';

const c = new Cluster();

beforeAll(() => c.startWithOneWorker(4), 300_000);
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

/** The results table of an output: from its header line on, numbers masked (timings differ). */
function tableShape(out: string): string[] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => /^(method\s+)?arm\s+/.test(l));
  expect(at, out).toBeGreaterThanOrEqual(0);
  return lines.slice(at).filter((l) => l.trim() && !/^-[- ]*$/.test(l)).map((l) => l.replace(/[-+]?\$?\d[\d.e+-]*/g, '#').replace(/\s+/g, ' ').trim());
}

const progressLines = (stderr: string) => stderr.split('\n').filter((l) => /^(running|succeeded|failed|cancelled) {2}/.test(l));

describe('limolab sweep watch', () => {
  it('logs per-phase progress only when it changes and each arm as it finishes, then the state and run\'s results table', async () => {
    const path = join(c.dir, 'watch.yaml');
    writeFileSync(path, spec('watch-log'));
    const r = await runCli(['sweep', 'submit', path, '--watch', '--coordinator', c.address], { timeoutMs: 120_000 });
    // one arm fails, so the sweep fails and watch exits 1
    expect(r.code, r.stderr).toBe(1);
    const err = r.stderr.split('\n');
    const finishedAt = (arm: string) => err.findIndex((l) => l.startsWith(`arm ${arm} finished`));
    expect(finishedAt('quick')).toBeGreaterThanOrEqual(0);
    expect(finishedAt('slow')).toBeGreaterThanOrEqual(0);
    expect(finishedAt('quick')).toBeLessThan(finishedAt('slow')); // reported while the slow arm still ran
    expect(err[finishedAt('broken')]).toBe('arm broken finished (failed)');
    expect(r.stderr).toMatch(/task diag 0 \(broken, seed \d\) failed: /);
    const progress = progressLines(r.stderr);
    expect(progress.length).toBeGreaterThan(0);
    for (const l of progress) expect(l).toMatch(/^\w+ {2}diag \d+\/12 {2}running \d+ {2}waiting \d+ {2}finished arms \d\/3( {2}eta \S+)?$/);
    // a line only on change: no two consecutive progress lines say the same (the ETA aside)
    const bare = progress.map((l) => l.replace(/ {2}eta \S+$/, ''));
    for (let i = 1; i < bare.length; i++) expect(bare[i]).not.toBe(bare[i - 1]);

    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^submitted sweep \S+: 12 task\(s\)/);
    expect(out[1]).toMatch(/^sweep \S+ \(watch-log\): failed$/);
    expect(out[2]).toMatch(/^ {2}tasks 12: 10 succeeded, 0 reused, 0 running, 0 queued, 0 pending, 2 failed, 0 skipped, 0 cancelled$/);
    const shape = tableShape(r.stdout);
    // the table `limolab results` prints: the arms with results, one row each, a flag for the
    // failed arm above it and the legend under it
    const rows = r.stdout.split('\n');
    const head = rows.findIndex((l) => /^arm\s+/.test(l));
    const end = rows.indexOf('', head);
    expect(rows.slice(head + 2, end).map((l) => l.split(/\s+/)[0])).toEqual(['quick', 'slow']);
    expect(r.stdout).toMatch(/^warning: sweep \S+ FAILED .*the table covers only the runs that finished$/m);
    expect(r.stdout).toMatch(/^warning: 2 of 6 arm x seed runs have no result \(2 failed\); arms missing seeds: broken 0 of 2$/m);
    expect(r.stdout).toMatch(/^n_seeds +distinct seeds with a result$/m);

    // `limolab run` of the same spec prints the same table (numbers aside)
    const db = join(c.dir, 'run.db');
    const run = await runCli(['run', path, '--db', db, '--workers', '1', '--slots', '4', '--workdir', join(c.dir, 'run-work')], { timeoutMs: 180_000 });
    expect(run.code, run.stderr).toBe(1);
    expect(tableShape(run.stdout)).toEqual(shape);
  }, 300_000);

  it('warns when nothing moves for --stall-s seconds, printing no repeated progress lines meanwhile', async () => {
    const path = join(c.dir, 'stall.yaml');
    writeFileSync(path, 'name: stall\narms:\n  - name: nowhere\n    method: diag\n    resources: { pool: nowhere }\n    params: { op: sleep, sleep_ms: 10 }\n');
    const sub = await runCli(['sweep', 'submit', path, '--coordinator', c.address, '--json']);
    const id = (JSON.parse(sub.stdout) as { sweep: { id: string } }).sweep.id;
    const child = spawn(process.execPath, [BIN, 'sweep', 'watch', id, '--stall-s', '2', '--coordinator', c.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => /warning: no progress for \d+s \(0 running, 1 waiting\)/.test(stderr), 'the stall warning', 60_000);
    await new Promise((r) => setTimeout(r, 3000));   // more polls, nothing new to say
    await c.coordinator!.coord.cancel(id);
    expect(await exited(child)).toBe(1);
    expect(stderr.match(/warning: no progress/g)).toHaveLength(1);
    expect(progressLines(stderr).filter((l) => l.startsWith('running'))).toHaveLength(1);
    expect(stderr).toMatch(/limolab workers/);
  }, 120_000);

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
    expect(r.stdout).toMatch(/running \d+, waiting \d+/);
    expect(r.stdout).toMatch(/finished arms: [0-3]\/3/);
    expect(r.stdout).not.toMatch(/^arm quick finished/m);    // per-arm log lines are for non-TTY output only
    expect(r.stdout).toMatch(/2 failed, 0 skipped, 0 cancelled/);
  }, 120_000);
});

describe('limolab sweep watch across a coordinator restart', () => {
  const r = new Cluster();
  afterAll(() => r.stop());

  const freePort = () => new Promise<number>((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const startCoordinator = async (port: number): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [BIN, 'coordinator', '--nats', r.nats.url, '--db', r.db, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    r.coordinatorProc = child;   // killed by stop() if the test fails midway
    child.stderr!.on('data', (d: Buffer) => r.logs.push(`[coordinator] ${d.toString().trim()}`));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', () => resolve());
      child.once('exit', (code) => reject(new Error(`coordinator exited with ${code}: ${r.logs.join('\n')}`)));
    });
    return child;
  };

  it('reconnects when the coordinator is killed and started again, and follows the sweep to its end', async () => {
    await r.startNats();
    const port = await freePort();
    let coord = await startCoordinator(port);
    r.address = `127.0.0.1:${port}`;
    r.startWorker('rw1', ['--slots', '2']);
    const path = join(r.dir, 'restart.yaml');
    writeFileSync(path, 'name: restart\narms:\n  - name: steady\n    method: diag\n    params: { op: sleep, sleep_ms: 1500, tasks: 4 }\n');
    const child = spawn(process.execPath, [BIN, 'sweep', 'submit', path, '--watch', '--coordinator', r.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => /^running /m.test(stderr), 'watch to show progress', 60_000);
    coord.kill('SIGKILL');
    await exited(coord);
    await waitFor(() => /lost the coordinator at 127\.0\.0\.1:\d+; reconnecting/.test(stderr), 'watch to notice', 30_000);
    coord = await startCoordinator(port);
    expect(await exited(child)).toBe(0);
    coord.kill('SIGKILL');
    expect(stderr).toMatch(/reconnected to the coordinator at 127\.0\.0\.1:\d+ after \d+s/);
    expect(stdout).toMatch(/^sweep \S+ \(restart\): succeeded$/m);
    expect(stdout).toMatch(/tasks 4: 4 succeeded/);
    expect(stderr).not.toMatch(/Call cancelled/);
  }, 180_000);
});
