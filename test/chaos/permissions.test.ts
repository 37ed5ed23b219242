// Chaos scenario (issue 10, item 10): the NATS permissions block shipped in docs/cluster.md,
// run verbatim by a real nats-server on loopback. A full sweep (tasks, results, artifacts,
// heartbeats) runs with the coordinator and worker users; a worker user cannot publish a
// task or a control message, touch a stream, or read the coordinator's reply inboxes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../common/nats-connect.js';
import { freePort } from '../../common/nats-server.js';
import { startCoordinator } from '../../coordinator/main.js';
import { ControlRequest, Task, TaskKind } from '../../gen/limolab/v1/task.js';
import { WORKER_INBOX_PREFIX } from '../../worker/main.js';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { docsPermissionsBlock, startNatsFromConfig, type ConfiguredNats } from './nats-conf.js';

const PASS = { LIMOLAB_COORD_PASS: 'coord-secret-1', LIMOLAB_WORKER_PASS: 'worker-secret-2' };
let cluster: Cluster;
let server: ConfiguredNats;
let coordNc: NatsConnection;
let workerNc: NatsConnection;
const figures: string[] = [];

beforeAll(async () => {
  cluster = new Cluster();
  const port = await freePort();
  mkdirSync(join(cluster.dir, 'js'));
  server = await startNatsFromConfig(cluster.dir, 'nats', port,
    `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(cluster.dir, 'js')}" }\n${docsPermissionsBlock()}`, PASS);
  cluster.nats = server; // Cluster.stop() stops it; workers get its URL
  const t0 = Date.now();
  cluster.coordinator = await startCoordinator({
    db: cluster.db, nats: { url: server.url, user: 'coordinator', pass: PASS.LIMOLAB_COORD_PASS }, listen: '127.0.0.1:0', ackWaitMs: 30_000, lostAfterMs: 10_000,
    log: (l) => cluster.logs.push(l),
  });
  cluster.address = cluster.coordinator.grpc.address;
  // Credentials from the environment for one worker, from flags for the other.
  process.env.NATS_USER = 'worker';
  process.env.NATS_PASSWORD = PASS.LIMOLAB_WORKER_PASS;
  cluster.startWorker('w1', ['--slots', '4']);
  delete process.env.NATS_USER;
  delete process.env.NATS_PASSWORD;
  cluster.startWorker('w2', ['--slots', '4', '--nats-user', 'worker', '--nats-pass', PASS.LIMOLAB_WORKER_PASS]);
  await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 2, 'both permissioned workers', 90_000);
  figures.push(`start with permissions ${Date.now() - t0} ms`);
  coordNc = await connectNats({ url: server.url, user: 'coordinator', pass: PASS.LIMOLAB_COORD_PASS });
  workerNc = await connectNats({ url: server.url, user: 'worker', pass: PASS.LIMOLAB_WORKER_PASS, inboxPrefix: WORKER_INBOX_PREFIX });
}, 120_000);

afterAll(async () => {
  console.log(`[chaos permissions] ${figures.join('; ')}`);
  await coordNc?.close();
  await workerNc?.close();
  await cluster?.stop();
});

function violations(): string[] {
  return server.log().split('\n').filter((l) => /(Publish|Subscription) Violation/.test(l));
}

describe('chaos: NATS permissions from docs/cluster.md', () => {
  it('runs a full sweep (tasks, results, artifacts between stages, heartbeats) with the coordinator and worker users', async () => {
    const t0 = Date.now();
    const { sweep } = cluster.coordinator!.coord.submit(`
name: permissioned
arms:
  - {name: a, method: diag, params: {tasks: 40, sleep_ms: 1}}
  - {name: chain, method: diag, params: {tasks: 3, stages: 3, output_bytes: 4096}}
`, 'chaos-permissions');
    const s = await waitFor(() => { const x = cluster.coordinator!.coord.getSweep(sweep!.id, true); return x.status !== 'running' && x; }, 'the sweep', 120_000, 100);
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(49);
    const d = new Database(cluster.db, { readonly: true });
    const perTask = d.prepare('select count(r.task_id) n from tasks t left join results r on r.task_id = t.id where t.sweep_id = ? group by t.id').all(sweep!.id) as { n: number }[];
    const inputs = d.prepare(`select m.value from metrics m join tasks t on t.id = m.task_id where t.sweep_id = ? and t.name like '%stage 3' and m.name = 'input_bytes'`).all(sweep!.id) as { value: number }[];
    const workers = d.prepare('select distinct worker_id from attempts where sweep_id = ? order by 1').all(sweep!.id) as { worker_id: string }[];
    d.close();
    expect(perTask.every((r) => r.n === 1)).toBe(true);
    expect(inputs.map((r) => r.value)).toEqual([4096, 4096, 4096]); // artifacts went through the object store
    expect(workers.map((w) => w.worker_id)).toEqual(['w1', 'w2']);
    // The sweep needed nothing the workers were not granted.
    expect(violations(), violations().join('\n')).toEqual([]);
    figures.push(`49-task sweep with artifacts ${Date.now() - t0} ms, 0 violations`);
  }, 150_000);

  it('refuses a worker user that publishes a task or a control message; the coordinator user can', async () => {
    const seen: string[] = [];
    const spy = coordNc.subscribe('limolab.>', { callback: (_e, m) => { if (/^limolab\.(task|ctl)\./.test(m.subject)) seen.push(m.subject); } });
    await coordNc.flush();
    const jsm = await jetstreamManager(coordNc);
    const before = (await jsm.streams.info('LIMOLAB_TASKS')).state.last_seq;
    const forged = Task.encode(Task.fromPartial({ id: 'forged', sweepId: 'x', kind: TaskKind.TASK_KIND_DIAG })).finish();
    const drainAll = ControlRequest.encode({ op: { $case: 'drainWorker', value: 'all' } }).finish();

    // Core publishes: the server drops them and reports a violation.
    workerNc.publish('limolab.task.default.x', forged);
    workerNc.publish('limolab.ctl.all', drainAll);
    workerNc.publish('limolab.ctl.w1', drainAll);
    await workerNc.flush();
    // A JetStream publish of a task is refused too (no ack, an error).
    await expect(jetstream(workerNc).publish('limolab.task.default.x', forged, { timeout: 2000 })).rejects.toThrow();
    // Nor may it purge or delete streams, or read the coordinator's replies.
    const wjsm = await jetstreamManager(workerNc, { timeout: 2000 }).catch((e: Error) => e);
    if (!(wjsm instanceof Error)) {
      await expect(wjsm.streams.purge('LIMOLAB_TASKS')).rejects.toThrow();
      await expect(wjsm.streams.delete('LIMOLAB_RESULTS')).rejects.toThrow();
    }
    const snoopErr = await new Promise<Error | null>((resolve) => {
      const sub = workerNc.subscribe('_INBOX.>', { callback: () => {} });
      void sub.closed.then((e) => resolve(e ?? null));
      setTimeout(() => resolve(null), 3000);
    });
    expect(String(snoopErr)).toMatch(/permission/i);

    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    expect((await jsm.streams.info('LIMOLAB_TASKS')).state.last_seq).toBe(before);
    // The workers did not drain: no one but the coordinator can tell them to.
    expect(cluster.coordinator!.coord.listWorkers().map((w) => w.state).sort()).toEqual(['idle', 'idle']);
    const v = violations();
    expect(v.some((l) => l.includes('Subject "limolab.task.default.x"'))).toBe(true);
    expect(v.some((l) => l.includes('Subject "limolab.ctl.all"'))).toBe(true);

    // Positive control: the same publish from the coordinator user arrives.
    coordNc.publish('limolab.ctl.none', ControlRequest.encode({ op: { $case: 'drainWorker', value: 'none' } }).finish());
    await coordNc.flush();
    await waitFor(() => seen.includes('limolab.ctl.none'), 'the coordinator\'s control message', 5000, 20);
    spy.unsubscribe();
    figures.push(`worker-user forgeries: task (core + JetStream), ctl.all, ctl.w1, purge, delete, _INBOX.> all refused; ${v.length} violations logged`);
  }, 60_000);

  it('refuses a wrong password with a clear connection error', async () => {
    await expect(connectNats({ url: server.url, user: 'worker', pass: 'wrong' })).rejects.toThrow(/cannot connect to NATS .*check the URL and credentials/);
  });
});
