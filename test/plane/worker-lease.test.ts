// A worker renews its tasks' leases at a third of its pool consumer's ack wait, which is the
// coordinator's --ack-wait-ms when the coordinator made the consumer. The worker used to size
// its renewals before it opened the consumer, from its own default (30 s): with a 1.5 s ack
// wait, a 4 s task was handed out again while it still ran, and ran twice (here on the same
// worker, whose free slots pull the copy). Real nats-server,
// SQLite, coordinator and worker processes.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

describe('worker leases', () => {
  it('follow the consumer\'s ack wait set by the coordinator: a task longer than it, on a worker with free slots, runs once', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorProcess({ ackWaitMs: 1500, lostAfterMs: 5000 });
    cluster.startWorker('w1', ['--slots', '3']);
    const client = cluster.client();
    await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 1, 'the worker to register');
    const sub = await client.call<object, { sweep: Sweep }>('submitSweep', { spec: 'name: lease\narms: [{name: a, method: diag, params: {tasks: 1, sleep_ms: 4000}}]', specPath: 'lease.yaml' });
    const id = sub.sweep.id;
    const s = await waitFor(async () => { const x = await client.call<object, Sweep>('getSweep', { id }); return x.status !== 'running' && x; }, 'the sweep to finish', 40_000);
    expect(s.status).toBe('succeeded');
    const d = new Database(cluster.db, { readonly: true });
    try {
      // One delivery of one dispatch per task: no second copy while the first ran.
      expect(d.prepare('select dispatch, delivery, status from attempts where sweep_id = ? order by task_id').all(id)).toEqual(Array(1).fill({ dispatch: 1, delivery: 1, status: 'succeeded' }));
    } finally {
      d.close();
    }
    expect(cluster.logs.filter((l) => /succeeded in/.test(l))).toHaveLength(1);
  }, 60_000);
});
