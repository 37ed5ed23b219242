// Crashes and bad input: the coordinator SIGKILLed mid-sweep, malformed messages on the
// task and result subjects, malformed sweep specs. Real nats-server, SQLite, processes.
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, BIN, exited, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

function count(db: string, sql: string, ...args: unknown[]): number {
  const d = new Database(db, { readonly: true });
  try { return (d.prepare(sql).get(...args) as { n: number }).n; } finally { d.close(); }
}

describe('recovery', () => {
  it('finishes a sweep after the coordinator is SIGKILLed mid-sweep and restarted, losing and doubling no result', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const coord = await cluster.startCoordinatorProcess();
    cluster.startWorker('w1', ['--slots', '3']);
    cluster.startWorker('w2', ['--slots', '3']);
    let client = cluster.client();
    await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 2, 'workers to register');
    const spec = `
name: crash
arms:
  - {name: flat, method: diag, params: {tasks: 60, sleep_ms: 100}}
  - {name: chain, method: diag, params: {tasks: 3, stages: 5, sleep_ms: 150, output_bytes: 100}}
`;
    const sub = await client.call<object, { sweep: Sweep }>('submitSweep', { spec, specPath: 'crash.yaml' });
    const id = sub.sweep.id;
    await waitFor(async () => (await client.call<object, Sweep>('getSweep', { id })).counts!.succeeded >= 20, 'a third of the tasks to finish');
    coord.kill('SIGKILL');
    await exited(coord);
    const before = count(cluster.db, 'select count(*) n from results where sweep_id = ?', id);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(75);
    await new Promise((r) => setTimeout(r, 1000)); // workers keep finishing tasks; results wait in JetStream
    await cluster.startCoordinatorProcess();
    client = cluster.client();
    const s = await waitFor(async () => { const x = await client.call<object, Sweep>('getSweep', { id }); return x.status !== 'running' && x; }, 'the sweep to finish after the restart', 60_000);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(75);
    expect(count(cluster.db, 'select count(*) n from results where sweep_id = ?', id)).toBe(75);
    expect(count(cluster.db, 'select count(*) n from (select task_id from results where sweep_id = ? group by task_id having count(*) > 1)', id)).toBe(0);
    expect(count(cluster.db, 'select count(*) n from ledger where sweep_id = ?', id)).toBe(75);
  });

  it('drops malformed messages on the task and result subjects with a clear log line and keeps working', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const c = await cluster.startCoordinatorInProcess();
    cluster.startWorker('w1');
    await waitFor(() => c.coord.listWorkers().length === 1, 'the worker to register');
    const nc = await connect({ servers: cluster.nats.url });
    const js = (await import('@nats-io/jetstream')).jetstream(nc);
    await js.publish('limolab.task.default.bogus', new TextEncoder().encode('this is not a protobuf Task'));
    await js.publish('limolab.task.default.bogus', new Uint8Array([0x0a, 0x02, 0x68, 0x69])); // decodes, but no sweep/kind/spec
    await js.publish('limolab.result.bogus', new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await nc.close();
    await waitFor(() => cluster.logs.filter((l) => l.includes('dropped a malformed task message')).length >= 2, 'the worker to report both bad task messages');
    expect(cluster.logs.join('\n')).toMatch(/malformed Task message .*sweep_id is empty; kind 0 is not a known TaskKind/);
    await waitFor(() => cluster.logs.some((l) => l.includes('rejected a result message')), 'the coordinator to report the bad result');
    const id = c.coord.submit('name: after\narms: [{name: a, method: diag, params: {tasks: 5}}]').sweep.id;
    const s = await waitFor(() => { const x = c.coord.getSweep(id); return x.status !== 'running' && x; }, 'a sweep after the bad messages');
    expect(s.status).toBe('succeeded');
    expect(cluster.workers.get('w1')!.exitCode).toBeNull();
  });

  it('rejects a sweep spec with bad keys or types, naming each offending path, and submits nothing', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    const bad = `
name: bad spec
seeds: three
defaults: {retries: -1, resourcez: {}}
arms:
  - {name: a, method: diag, params: {tasks: "many", colour: blue}}
  - {name: b, method: nosuch}
`;
    const client = cluster.client();
    const err = await client.call('submitSweep', { spec: bad }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/nothing was submitted/);
    expect(msg).toMatch(/name: a sweep name uses letters/);
    expect(msg).toMatch(/seeds: /);
    expect(msg).toMatch(/defaults: unknown key "resourcez"/);
    expect(msg).toMatch(/defaults\.retries: /);
    // Second stage (planning) problems appear once the shape is right.
    const bad2 = 'name: ok\narms:\n  - {name: a, method: diag, params: {tasks: "many", colour: blue}}\n  - {name: b, method: nosuch}\n';
    const msg2 = ((await client.call('submitSweep', { spec: bad2 }).catch((e: Error) => e)) as Error).message;
    expect(msg2).toMatch(/arms\[0\] \(a\) params\.tasks: /);
    expect(msg2).toMatch(/params: unknown key "colour"/);
    expect(msg2).toMatch(/arms\[1\]\.method: unknown method "nosuch"; known: .*diag/);
    expect(count(cluster.db, 'select count(*) n from sweeps')).toBe(0);
    // The CLI prints the same as one clear message, no stack trace, exit 1.
    const file = join(cluster.dir, 'bad.yaml');
    writeFileSync(file, bad2);
    // Asynchronous: the coordinator serving this call lives in this process.
    const r = await runCli(['sweep', 'submit', file, '--coordinator', cluster.address]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^limolab sweep: .*nothing was submitted/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('gives one clear line when the coordinator cannot be reached', () => {
    const r = spawnSync(process.execPath, [BIN, 'sweep', 'list', '--coordinator', '127.0.0.1:1'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach the coordinator at 127\.0\.0\.1:1 .*limolab coordinator/);
  });
});
