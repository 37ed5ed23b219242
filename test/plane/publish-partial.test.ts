// Dispatches whose publish fails for part of the batch: the tasks stream is full (it holds 4
// messages and refuses the rest). The tasks JetStream stored are queued for real: a worker
// runs them and their results count. The refused ones stay queued under the same attempt and
// are published again after a delay (which doubles while publishes keep failing) until all
// are in. A task cancelled meanwhile is not published again. Real nats-server, real SQLite,
// a real worker process.
import Database from 'better-sqlite3';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
let nc: NatsConnection | undefined;
afterEach(async () => { await nc?.close(); nc = undefined; await cluster?.stop(); });

function rows(db: string, sql: string, ...args: unknown[]) {
  const d = new Database(db, { readonly: true });
  try { return d.prepare(sql).all(...args) as Record<string, unknown>[]; } finally { d.close(); }
}

/** The coordinator's tasks stream, made to hold at most `max` messages and refuse more. */
async function limitTasksStream(c: Cluster, max: number): Promise<{ jsm: JetStreamManager; name: string; cfg: StreamConfig }> {
  nc = await connect({ servers: c.nats.url });
  const jsm = await jetstreamManager(nc);
  let name = '';
  for await (const n of jsm.streams.names()) if (n.endsWith('_TASKS')) name = n;
  const cfg = (await jsm.streams.info(name)).config;
  await jsm.streams.update(name, { ...cfg, max_msgs: max, discard: DiscardPolicy.New });
  return { jsm, name, cfg };
}

const statuses = (c: Cluster) => [...(c.coordinator!.coord.scheduler as unknown as { tasks: Map<string, { status: string }> }).tasks.values()].map((t) => t.status);

describe('a publish that fails for part of a batch', () => {
  it('keeps the stored tasks queued and their results, publishes the refused ones again, and runs every task once', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    await limitTasksStream(cluster, 4);
    cluster.startWorker('w1', ['--slots', '4']);
    await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 1, 'the worker');
    const t0 = Date.now();
    const id = cluster.coordinator!.coord.submit('name: full\narms: [{name: a, method: diag, params: {tasks: 10}}]', 'test').sweep.id;
    const sweep = await waitFor(() => { const x = cluster.coordinator!.coord.getSweep(id, true); return x.status !== 'running' && x; }, 'the sweep to finish', 60_000);
    const secs = (Date.now() - t0) / 1000;
    expect(sweep.status).toBe('succeeded');
    expect(sweep.counts!.succeeded).toBe(10);
    // The first publish stored 4 of 10; the others went out again 1 s later, then 2 s, ...
    const failures = cluster.logs.filter((l) => /publishing \d+ of \d+ task\(s\) failed/.test(l));
    expect(failures[0]).toMatch(/publishing 6 of 10 task\(s\) failed \(JetStream refused the message: maximum messages exceeded.*\); they stay queued and are published again in 1 s/);
    // Every task ran once: one attempt each, first dispatch, one result; no result refused.
    expect(rows(cluster.db, 'select count(*) n, max(dispatch) d from attempts where sweep_id = ?', id)[0]).toEqual({ n: 10, d: 1 });
    expect(rows(cluster.db, 'select count(*) n from results r join tasks t on t.id = r.task_id where t.sweep_id = ?', id)[0]!.n).toBe(10);
    expect(cluster.logs.filter((l) => /refused a result|never dispatched|given up|taken off the queue/.test(l))).toEqual([]);
    // Done in a few republish rounds, not after the watch's 30 s floor for vanished messages.
    expect(secs).toBeLessThan(20);
  });

  it('does not publish again a task whose sweep was cancelled while it waited', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    const { jsm, name } = await limitTasksStream(cluster, 1);
    const id = cluster.coordinator!.coord.submit('name: cancelled\narms: [{name: a, method: diag, params: {tasks: 5}}]', 'test').sweep.id;
    await waitFor(() => cluster.logs.some((l) => /publishing 4 of 5 task\(s\) failed/.test(l)), 'the refused publish');
    expect(statuses(cluster).filter((s) => s === 'queued')).toHaveLength(5);
    await cluster.coordinator!.coord.cancel(id);
    expect(statuses(cluster).every((s) => s === 'cancelled')).toBe(true);
    await new Promise((r) => setTimeout(r, 2500));   // past the 1 s republish
    expect(cluster.logs.filter((l) => /publishing \d+ of \d+ task\(s\) failed/.test(l))).toHaveLength(1);
    expect(statuses(cluster).every((s) => s === 'cancelled')).toBe(true);
    expect((await jsm.streams.info(name)).state.messages).toBe(0);
    expect(rows(cluster.db, `select count(*) n from tasks where sweep_id = ? and status != 'cancelled'`, id)[0]!.n).toBe(0);
  });
});
