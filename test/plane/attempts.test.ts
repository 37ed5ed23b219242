// Attempts that outlive their lease or lose their result. Real nats-server, SQLite, and
// coordinator and worker processes (one worker, w1), with a short task lease.
// - Worker leases: a worker renews its tasks' leases at a third of its pool consumer's ack
//   wait, which is the coordinator's --ack-wait-ms when the coordinator made the consumer. The
//   worker used to size its renewals before it opened the consumer, from its own default
//   (30 s): with a 1.5 s ack wait, a 4 s task was handed out again while it still ran, and ran
//   twice (here on the same worker, whose free slots pull the copy).
// - A lost result: the worker ran the task, its result was stored and acked, and the task
//   message acked; then the result message was lost before the coordinator read it (here:
//   purged from the stream while the coordinator was stopped; in life, a result refused as
//   corrupt, or a database rolled back after the result's ack). The worker's heartbeats stop
//   listing the task, and the coordinator, once no result came for as long as a gone worker's
//   would take, dispatches it again. Without that the task waited forever unless it had a
//   timeout_s.
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

/** nats-server, a coordinator process with the given lease and lost-after, worker w1 registered,
 *  and one sweep of a single diag arm with `params` submitted. */
async function oneSweep(coordOpts: { ackWaitMs: number; lostAfterMs: number }, workerArgs: string[], params: string) {
  cluster = new Cluster();
  await cluster.startNats();
  const coord = await cluster.startCoordinatorProcess(coordOpts);
  cluster.startWorker('w1', workerArgs);
  const client = cluster.client();
  await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 1, 'the worker to register');
  const sub = await client.call<object, { sweep: Sweep }>('submitSweep', { spec: `name: attempts\narms: [{name: a, method: diag, params: ${params}}]`, specPath: 'attempts.yaml' });
  const id = sub.sweep.id;
  return {
    coord, client, id,
    ended: () => waitFor(async () => { const x = await client.call<object, Sweep>('getSweep', { id }); return x.status !== 'running' && x; }, 'the sweep to finish', 40_000),
    /** Every attempt of the sweep, as recorded. */
    attempts: () => {
      const d = new Database(cluster.db, { readonly: true });
      try { return d.prepare('select dispatch, delivery, status from attempts where sweep_id = ? order by task_id, dispatch, delivery').all(id); } finally { d.close(); }
    },
    results: () => {
      const d = new Database(cluster.db, { readonly: true });
      try { return (d.prepare('select count(*) n from results where sweep_id = ?').get(id) as { n: number }).n; } finally { d.close(); }
    },
  };
}

describe('worker leases', () => {
  it('follow the consumer\'s ack wait set by the coordinator: a task longer than it, on a worker with free slots, runs once', async () => {
    const s = await oneSweep({ ackWaitMs: 1500, lostAfterMs: 5000 }, ['--slots', '3'], '{tasks: 1, sleep_ms: 4000}');
    expect((await s.ended()).status).toBe('succeeded');
    // One delivery of one dispatch: no second copy while the first ran.
    expect(s.attempts()).toEqual([{ dispatch: 1, delivery: 1, status: 'succeeded' }]);
    expect(cluster.logs.filter((l) => /succeeded in/.test(l))).toHaveLength(1);
  }, 60_000);
});

describe('a lost result', () => {
  it('is noticed from the live worker\'s heartbeats, and its task runs again once; the sweep finishes', async () => {
    const s = await oneSweep({ ackWaitMs: 2000, lostAfterMs: 2000 }, [], '{sleep_ms: 3000}');
    await waitFor(async () => (await s.client.call<object, Sweep>('getSweep', { id: s.id })).counts!.running === 1, 'the task to be reported running');
    // The coordinator stops; its results consumer goes (so the result is not handed to the
    // stopped process); the worker finishes, its result is stored and then purged; the consumer
    // comes back as it was, and so does the coordinator.
    const nc = await connect({ servers: cluster.nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      s.coord.kill('SIGSTOP');
      try {
        const { config } = await jsm.consumers.info('LIMOLAB_RESULTS', 'coordinator');
        await jsm.consumers.delete('LIMOLAB_RESULTS', 'coordinator');
        await waitFor(async () => (await jsm.streams.info('LIMOLAB_RESULTS')).state.messages >= 1, 'the worker\'s result to be stored', 15_000);
        expect((await jsm.streams.purge('LIMOLAB_RESULTS')).purged).toBe(1);
        await jsm.consumers.add('LIMOLAB_RESULTS', config);
      } finally {
        s.coord.kill('SIGCONT');
      }
    } finally {
      await nc.close();
    }
    // lost-after 2 s + 2 leases of 2 s + grace 2 s after the first heartbeat without the task.
    expect((await s.ended()).status).toBe('succeeded');
    expect(cluster.logs.join('\n')).toMatch(/attempt 1 its worker w1 is alive but has not held it for \d+ s \(its heartbeats stopped listing it\) and no result came in: the result was lost on the way; dispatching it again/);
    expect(s.results()).toBe(1);
    expect(s.attempts()).toEqual([{ dispatch: 1, delivery: 1, status: 'lost' }, { dispatch: 2, delivery: 1, status: 'succeeded' }]);
  }, 90_000);
});
