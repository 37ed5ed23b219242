// A result that never arrives from a live worker: the worker ran the task, its result was
// stored and acked, and the task message acked; then the result message was lost before the
// coordinator read it (here: purged from the stream while the coordinator was stopped; in
// life, a result refused as corrupt, or a database rolled back after the result's ack). The
// worker's heartbeats stop listing the task, and the coordinator, once no result came for as
// long as a gone worker's would take, dispatches it again. Without that the task waited
// forever unless it had a timeout_s. Real nats-server, SQLite, coordinator and worker processes.
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

describe('a lost result', () => {
  it('is noticed from the live worker\'s heartbeats, and its task runs again once; the sweep finishes', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const coord = await cluster.startCoordinatorProcess({ ackWaitMs: 2000, lostAfterMs: 2000 });
    cluster.startWorker('w1');
    const client = cluster.client();
    await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 1, 'the worker to register');
    const sub = await client.call<object, { sweep: Sweep }>('submitSweep', { spec: 'name: lost\narms: [{name: a, method: diag, params: {sleep_ms: 3000}}]', specPath: 'lost.yaml' });
    const id = sub.sweep.id;
    await waitFor(async () => (await client.call<object, Sweep>('getSweep', { id })).counts!.running === 1, 'the task to be reported running');

    // The coordinator stops; its results consumer goes (so the result is not handed to the
    // stopped process); the worker finishes, its result is stored and then purged; the consumer
    // comes back as it was, and so does the coordinator.
    const nc = await connect({ servers: cluster.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      coord.kill('SIGSTOP');
      try {
        const { config } = await jsm.consumers.info('LIMOLAB_RESULTS', 'coordinator');
        await jsm.consumers.delete('LIMOLAB_RESULTS', 'coordinator');
        await waitFor(async () => (await jsm.streams.info('LIMOLAB_RESULTS')).state.messages >= 1, 'the worker\'s result to be stored', 15_000);
        expect((await jsm.streams.purge('LIMOLAB_RESULTS')).purged).toBe(1);
        await jsm.consumers.add('LIMOLAB_RESULTS', config);
      } finally {
        coord.kill('SIGCONT');
      }
    } finally {
      await nc.close();
    }
    // lost-after 2 s + 2 leases of 2 s + grace 2 s after the first heartbeat without the task.
    const s = await waitFor(async () => { const x = await client.call<object, Sweep>('getSweep', { id }); return x.status !== 'running' && x; }, 'the sweep to finish', 40_000);
    expect(s.status).toBe('succeeded');
    expect(cluster.logs.join('\n')).toMatch(/attempt 1 its worker w1 is alive but has not held it for \d+ s \(its heartbeats stopped listing it\) and no result came in: the result was lost on the way; dispatching it again/);
    const d = new Database(cluster.db, { readonly: true });
    try {
      expect(d.prepare('select count(*) n from results where sweep_id = ?').get(id)).toEqual({ n: 1 });
      const attempts = d.prepare('select dispatch, status from attempts where sweep_id = ? order by dispatch').all(id);
      expect(attempts).toEqual([{ dispatch: 1, status: 'lost' }, { dispatch: 2, status: 'succeeded' }]);
    } finally {
      d.close();
    }
  }, 90_000);
});
