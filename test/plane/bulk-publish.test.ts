// BulkPublisher: JetStream publishes through one reply-inbox subscription (what the
// coordinator sends tasks with). Acks come back in order with their sequences, a message
// seen before within the stream's de-duplication window is flagged, a subject no stream
// takes fails with an error that says so (publishEach: that message alone, beside the others' acks), and the transport's task encoding with the
// attempt appended decodes as the task. Real nats-server.
import { jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { BulkPublisher } from '../../common/js-publish.js';
import { withAttempt } from '../../coordinator/scheduler.js';
import { Task, TaskKind, TaskResult } from '../../gen/limolab/v1/task.js';
import { encodeResult, encodeTask } from '../../common/wire.js';
import { natsWithConnection } from '../helpers/cluster.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

describe('bulk publish', () => {
  it('returns every ack in order, flags duplicates by message id, and refuses a subject no stream takes', async () => {
    const { nc } = await natsWithConnection(cleanups);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BP', subjects: ['bp.>'], retention: RetentionPolicy.Workqueue });
    const p = new BulkPublisher(nc, 5000);
    cleanups.push(async () => p.close());

    const msgs = Array.from({ length: 1200 }, (_, i) => ({ subject: `bp.${i % 3}`, data: new TextEncoder().encode(`m${i}`), msgId: `id-${i}` }));
    const acks = await p.publishAll(msgs);
    expect(acks).toHaveLength(1200);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
    expect(acks.every((a) => a.stream === 'BP' && !a.duplicate)).toBe(true);
    expect((await jsm.streams.info('BP')).state.messages).toBe(1200);

    // Ids 5 and 7 again (stored once), one new id.
    const again = await p.publishAll([msgs[5]!, { ...msgs[7]!, data: new TextEncoder().encode('other') }, { subject: 'bp.x', data: new Uint8Array(1), msgId: 'new' }]);
    expect(again.map((a) => [a.seq, a.duplicate])).toEqual([[6, true], [8, true], [1201, false]]);
    expect((await jsm.streams.info('BP')).state.messages).toBe(1201);

    await expect(p.publishAll([{ subject: 'nostream.x', data: new Uint8Array(1), msgId: 'n1' }])).rejects.toThrow(/no JetStream stream takes subject nostream\.x/);
    // publishEach: each message's own answer, the refused one among stored ones.
    const each = await p.publishEach([{ subject: 'bp.z', data: new Uint8Array(1), msgId: 'e1' }, { subject: 'nostream.y', data: new Uint8Array(1), msgId: 'e2' }, { subject: 'bp.z', data: new Uint8Array(1), msgId: 'e3' }]);
    expect(each.map((a) => (a instanceof Error ? a.message : a.seq))).toEqual([1202, 'no JetStream stream takes subject nostream.y (503 no responders)', 1203]);
    // Still usable after a refusal.
    expect((await p.publishAll([{ subject: 'bp.y', data: new Uint8Array(1), msgId: 'after' }]))[0]!.seq).toBe(1204);
  });

  it('encodes with one shared writer to the generated encoders\' bytes, message after message', () => {
    // A large message grows the shared buffer; the small ones after it must carry nothing of it.
    const tasks = [2000, 3, 0, 500, 1].map((n, i) => Task.fromPartial({ id: `sw.t${i}`, sweepId: 'sw', arm: 'a'.repeat(n), kind: TaskKind.TASK_KIND_DIAG, attempt: i, spec: { $case: 'diag', value: { sleepMs: n } } as Task['spec'] }));
    for (const t of tasks) expect(encodeTask(t)).toEqual(Task.encode(t).finish());
    const results = [3000, 0, 7].map((n, i) => TaskResult.fromPartial({ taskId: `t${i}`, sweepId: 'sw', attemptId: `t${i}#1.1`, log: [{ tsMs: 1, source: 'w', line: 'x'.repeat(n) }], metrics: [{ name: 'm', value: n / 3, step: i }] }));
    for (const r of results) expect(encodeResult(r)).toEqual(TaskResult.encode(r).finish());
    // What one call returned is its own copy: the next call does not change it.
    const first = encodeTask(tasks[0]!);
    const copy = first.slice();
    encodeTask(tasks[3]!);
    expect(first).toEqual(copy);
  });

  it('sends a stored task with this dispatch\'s attempt appended, decoding to the same task', () => {
    const t = Task.fromPartial({ id: 'sw.t1', sweepId: 'sw', kind: TaskKind.TASK_KIND_DIAG, timeoutS: 30, attempt: 0, spec: { $case: 'diag', value: { sleepMs: 5 } } as Task['spec'] });
    const stored = Buffer.from(Task.encode(t).finish()).toString('base64');
    for (const attempt of [1, 2, 127, 128, 300, 1_000_000]) {
      expect(Task.decode(withAttempt(stored, attempt))).toEqual({ ...t, attempt });
    }
  });
});
