// Chaos scenario, issue 10 item 7: `limolab run` keeps its artifacts with the database
// (the workdir's NATS store), reuses them on the next run, computes again (and says so)
// when they are gone, and a second concurrent run on the same database is locked out.
// Real `limolab run` processes (nats-server, coordinator, worker processes, SQLite).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, exited, waitFor } from '../helpers/cluster.js';
import { FULL, figure } from './plane.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-run-chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'run', ...args], { cwd: dir, encoding: 'utf8', timeout: 600_000 }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }));
  });
}

const TINY = `name: tiny
seeds: 1
base:
  model: {hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 128}
  domain: {poolSize: 50, testSize: 8, pretrainSize: 200}
  pretrain: {steps: 3, batchSize: 8, lr: 0.005, warmupSteps: 1}
  eval: {n_samples: 1, k: [1], keep_outputs: 0}
arms: [{name: base, method: base}]
`;

describe('chaos: limolab run', () => {
  it.skipIf(!FULL)('reuses artifacts kept in the workdir, recomputes (and says so) when they are gone, and locks out a second run on the same database', async () => {
    writeFileSync(join(dir, 'tiny.yaml'), TINY);
    writeFileSync(join(dir, 'slow.yaml'), 'name: slow\narms: [{name: a, method: diag, params: {tasks: 4, sleep_ms: 60000}}]\n');
    const args = ['tiny.yaml', '--db', 'r.db', '--workdir', 'w', '--workers', '1'];
    const first = await run(args);
    expect(first.code, first.err).toBe(0);
    const second = await run(args);
    expect(second.code, second.err).toBe(0);
    // Every task of the spec (PRETRAIN, EVAL, ... however many the base method plans) is reused.
    const reused = /sweep \S+: (\d+) task\(s\), (\d+) reused from earlier runs/.exec(second.err);
    expect(reused, second.err).not.toBeNull();
    expect(reused![2]).toBe(reused![1]);
    rmSync(join(dir, 'w', 'nats'), { recursive: true, force: true });
    const third = await run(args);
    expect(third.code, third.err).toBe(0);
    expect(third.err).toMatch(/earlier task\(s\) computed again because their outputs are gone/);
    // Two runs at once on one database.
    const slow = spawn(process.execPath, [BIN, 'run', 'slow.yaml', '--db', 'r.db', '--workdir', 'w2', '--workers', '1'], { cwd: dir, stdio: 'ignore' });
    await waitFor(() => existsSync(join(dir, 'r.db.lock')), 'the first run to take the lock', 120_000);
    const clash = await run(['slow.yaml', '--db', 'r.db', '--workdir', 'w3', '--workers', '1']);
    slow.kill('SIGINT');
    await exited(slow);
    // Ctrl-C while a run is still starting (its nats-server up, the coordinator not yet).
    const early = spawn(process.execPath, [BIN, 'run', 'slow.yaml', '--db', 'r2.db', '--workdir', 'w4', '--workers', '1'], { cwd: dir, stdio: 'ignore' });
    await waitFor(() => existsSync(join(dir, 'w4', 'nats-server.log')), 'the early run to start its nats-server', 120_000, 10);
    early.kill('SIGINT');
    const earlyCode = await exited(early);
    // Interrupted, either run stopped the nats-server it started.
    const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8'); return cmd.includes(join(dir, 'w2', 'nats')) || cmd.includes(join(dir, 'w4', 'nats')); } catch { return false; }
    });
    expect(left, 'nats-server processes left behind by an interrupted run').toEqual([]);
    expect(earlyCode).toBe(1);
    expect(clash.code).toBe(1);
    expect(clash.err).toMatch(/r\.db is in use by limolab run \(pid \d+ .*one process writes a results database at a time/);
    figure('limolab-run', `run 2 reused all ${reused![1]} tasks; after deleting the workdir's store run 3 recomputed and said so; a concurrent run was refused: exit ${clash.code}`);
  }, 900_000);
});
