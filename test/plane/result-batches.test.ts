// Result batches fit the server's max_payload: a worker whose results finish together (256
// at once, each with a 16 KiB log tail: 4 MiB) sends them in as many messages as the
// server's limit needs, read from the connection, and a result too large alone arrives as
// a failed result saying why instead of failing every publish. Real nats-server.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NatsTransport } from '../../common/nats-transport.js';
import { freePort, startNatsServer } from '../../common/nats-server.js';
import { packResults } from '../../common/wire.js';
import { TaskResult, TaskResultBatch } from '../../gen/limolab/v1/task.js';
import { requireNats, waitFor } from '../helpers/cluster.js';
import { startNatsFromConfig } from '../chaos/nats-conf.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

function result(i: number, logBytes: number, detailsBytes = 0): TaskResult {
  const lines = Array.from({ length: Math.ceil(logBytes / 1000) }, (_, j) => ({ tsMs: Date.now(), source: 'runner', line: `${i}.${j} `.padEnd(1000, 'x') }));
  return TaskResult.fromPartial({
    taskId: `s1.t${i}`, sweepId: 's1', attemptId: `s1.t${i}#1.1`, workerId: 'w1', attempt: 1, delivery: 1, startedMs: 1, finishedMs: 2,
    metrics: [{ name: 'i', value: i, step: 0 }], log: lines,
    details: detailsBytes ? { fields: { blob: { kind: { $case: 'stringValue', value: 'y'.repeat(detailsBytes) } } } } : undefined,
  });
}

/** Publishes `results` at once from one transport; another consumes them as the coordinator does. */
async function roundTrip(url: string, results: TaskResult[]) {
  const ncs: NatsConnection[] = [await connect({ servers: url }), await connect({ servers: url })];
  cleanups.push(() => Promise.all(ncs.map((n) => n.close())));
  const coord = await NatsTransport.open(ncs[0]!);
  const worker = await NatsTransport.open(ncs[1]!);
  const got: TaskResult[] = [];
  const sizes: number[] = [];
  const sub = ncs[0]!.subscribe('limolab.result.>', { callback: (_e, m) => { sizes.push(m.data.length); } });
  const closer = coord.consumeResults(async (batch) => { for (const d of batch) { got.push(d.result); d.ack(); } }, (e) => { throw e; });
  cleanups.push(() => { sub.unsubscribe(); return closer.close(); });
  await ncs[0]!.flush(); // the subscription is in place before anything is published
  await Promise.all(results.map((r) => worker.publishResult(r)));
  await waitFor(() => got.length >= results.length, `${results.length} results`, 30_000, 50);
  return { got, sizes, maxPayload: ncs[1]!.info!.max_payload };
}

describe('result batches', () => {
  it('packs results in order into messages under the limit, cutting a too-large one down', () => {
    const rs = [result(0, 3000), result(1, 3000), result(2, 50_000), result(3, 100, 90_000)];
    const msgs = packResults(rs, 16 * 1024);
    expect(msgs.flatMap((m) => m.indexes)).toEqual([0, 1, 2, 3]);
    for (const m of msgs) expect(m.data.length).toBeLessThanOrEqual(16 * 1024 - 1024);
    const back = msgs.flatMap((m) => TaskResultBatch.decode(m.data).results);
    expect(back[0]).toEqual(rs[0]);
    expect(back[1]).toEqual(rs[1]);
    // The long log keeps its newest lines; the huge details make a failed result that says why.
    expect(back[2]!.log.length).toBeGreaterThan(0);
    expect(back[2]!.log.at(-1)).toEqual(rs[2]!.log.at(-1));
    expect(back[2]!.metrics).toEqual(rs[2]!.metrics);
    expect(back[3]!.error?.code).toBe('bad_output');
    expect(back[3]!.error?.message).toMatch(/over the \d+ a NATS message can carry \(the server's max_payload\); put large outputs in artifacts/);
  });

  it('sends 256 results with 16 KiB log tails (4 MiB) through the default 1 MiB max_payload, losing none', async () => {
    requireNats();
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const rs = Array.from({ length: 256 }, (_, i) => result(i, 16 * 1000));
    const { got, sizes, maxPayload } = await roundTrip(nats.url, rs);
    expect(maxPayload).toBe(1024 * 1024);
    expect(new Set(got.map((r) => r.taskId)).size).toBe(256);
    for (const r of got) expect(r.log).toEqual(rs[Number(r.taskId.slice(4))]!.log);
    expect(sizes.length).toBeGreaterThanOrEqual(5); // 4.1 MB in messages of at most 1 MiB
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxPayload);
  });

  it('reads a smaller max_payload from the server it is connected to', async () => {
    requireNats();
    const dir = mkdtempSync(join(tmpdir(), 'limolab-payload-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const nats = await startNatsFromConfig(dir, 'small', port, `listen: 127.0.0.1:${port}\nmax_payload: 65536\njetstream { store_dir: "${join(dir, 'js')}" }\n`);
    cleanups.push(() => nats.stop());
    const rs = [...Array.from({ length: 40 }, (_, i) => result(i, 16 * 1000)), result(40, 1000, 100_000)];
    const { got, sizes, maxPayload } = await roundTrip(nats.url, rs);
    expect(maxPayload).toBe(65536);
    expect(got).toHaveLength(41);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65536);
    expect(got.find((r) => r.taskId === 's1.t40')!.error?.message).toMatch(/over the \d+ a NATS message can carry/);
  });

  it('a backlog waiting in the stream reaches the coordinator about 1000 results a call, each result once; a garbled message among them is refused alone', async () => {
    requireNats();
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const ncs: NatsConnection[] = [await connect({ servers: nats.url }), await connect({ servers: nats.url })];
    cleanups.push(() => Promise.all(ncs.map((n) => n.close())));
    const coord = await NatsTransport.open(ncs[0]!);
    const worker = await NatsTransport.open(ncs[1]!);
    // The backlog a restarted coordinator finds: 3,000 results in batches of 100, and a garbled
    // message in the middle, all in the stream before the coordinator consumes.
    const perMsg: number[] = [];
    for (let b = 0; b < 30; b++) {
      const rs = Array.from({ length: 100 }, (_, i) => TaskResult.fromPartial({ ...result(b * 100 + i, 0), taskId: `s1.t${b * 100 + i}` }));
      await Promise.all(rs.map((r) => worker.publishResult(r)));
      if (b === 15) { ncs[1]!.publish('limolab.result.w1', new Uint8Array([0xff, 0x01, 0x02])); await ncs[1]!.flush(); }
    }
    const jsm = await jetstreamManager(ncs[0]!);
    const info = await jsm.streams.info('LIMOLAB_RESULTS');
    expect(info.state.messages).toBeGreaterThan(30);   // several messages: the backlog is pulled together
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('LIMOLAB_RESULTS', { seq });
      try { perMsg.push(TaskResultBatch.decode(m!.data).results.length); } catch { /* the garbled one */ }
    }
    const calls: number[] = [];
    const got: string[] = [];
    const bad: Error[] = [];
    const closer = coord.consumeResults(async (batch) => { calls.push(batch.length); for (const d of batch) { got.push(d.result.taskId); d.ack(); } }, (e) => { bad.push(e); });
    cleanups.push(() => closer.close());
    await waitFor(() => got.length >= 3000 && bad.length >= 1, '3000 results and the garbled message', 30_000, 50);
    expect(new Set(got).size).toBe(3000);
    expect(got).toHaveLength(3000);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.message).toMatch(/TaskResultBatch/);
    // whole messages to a call, until it holds 1000 results
    expect(Math.max(...calls)).toBeLessThanOrEqual(1000 + Math.max(...perMsg) - 1);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    // every message settled: nothing left for the consumer
    await waitFor(async () => (await jsm.consumers.info('LIMOLAB_RESULTS', 'coordinator')).num_ack_pending === 0, 'every result message acked or refused', 10_000, 100);
  });

  it('gives every result batch its own de-duplication id, across workers and a worker connecting again: none is dropped as a duplicate', async () => {
    requireNats();
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const coordNc = await connect({ servers: nats.url });
    cleanups.push(() => coordNc.close());
    const coord = await NatsTransport.open(coordNc);
    const got: string[] = [];
    const closer = coord.consumeResults(async (batch) => { for (const d of batch) { got.push(d.result.taskId); d.ack(); } }, (e) => { throw e; });
    cleanups.push(() => closer.close());
    const ids: string[] = [];
    const sub = coordNc.subscribe('limolab.result.>', { callback: (_e, m) => { ids.push(m.headers?.get('Nats-Msg-Id') ?? ''); } });
    cleanups.push(() => sub.unsubscribe());
    await coordNc.flush();
    // Two workers, then the first one again on a new connection (a restarted worker process):
    // 20 separate batches each (each publish awaited, so each is a message of its own).
    let n = 0;
    for (const w of ['a', 'b', 'a']) {
      const nc = await connect({ servers: nats.url });
      const worker = await NatsTransport.open(nc);
      for (let i = 0; i < 20; i++) await worker.publishResult(TaskResult.fromPartial({ ...result(n, 0), taskId: `s1.${w}${n++}` }));
      await worker.close();
    }
    await waitFor(() => got.length >= 60, '60 results', 15_000, 50);
    expect(new Set(got).size).toBe(60);
    expect(ids).toHaveLength(60);
    expect(ids.every((id) => /^rb-[\w-]{12}-[0-9a-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(60);
  });
});
