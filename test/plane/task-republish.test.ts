// Publishing a task again (a restarted coordinator re-publishes what it had recorded queued)
// is de-duplicated by task id and attempt; when the first message has already left the work
// queue (a worker acked it), publishTasks says so, since nothing of that task is queued any
// more. Real nats-server.
import { afterEach, describe, expect, it } from 'vitest';
import { NatsTransport } from '../../common/nats-transport.js';
import { outgoingTask } from '../../common/wire.js';
import { Task, TaskKind } from '../../gen/limolab/v1/task.js';
import { natsWithConnection } from '../helpers/cluster.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

const task = (id: string) => Task.fromPartial({ id, sweepId: 's1', kind: TaskKind.TASK_KIND_DIAG, attempt: 1, spec: { $case: 'diag', value: { sleepMs: 0 } } as Task['spec'] });

describe('task republish', () => {
  it('reports tasks whose earlier message a worker already took and acked, and only those', async () => {
    const { nc } = await natsWithConnection(cleanups);
    const t = await NatsTransport.open(nc, { ackWaitMs: 5000 });
    expect(await t.publishTasks([task('a'), task('b'), task('c')].map(outgoingTask))).toEqual({ taken: [], unpublished: [] });
    // A worker takes 'a' and acks it, takes 'b' and holds it; 'c' stays queued.
    const got: string[] = [];
    await t.pullTasks('default', 2, 2000, (d) => { got.push(d.task.id); if (d.task.id === 'a') void d.ack(); }, (e) => { throw e; });
    expect(got.sort()).toEqual(['a', 'b']);
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(await t.publishTasks([task('a'), task('b'), task('c')].map(outgoingTask))).toEqual({ taken: ['a'], unpublished: [] });
    // A new attempt of the same task is a new message, not a duplicate.
    expect(await t.publishTasks([{ ...task('a'), attempt: 2 }].map(outgoingTask))).toEqual({ taken: [], unpublished: [] });
  });
});
