// The in-process transport: its queue semantics tested directly (leases, nak, term, ack,
// dedup, purge, results, broadcast, control, artifacts), then the real coordinator,
// SQLite store and real Worker objects running sweeps over it in one process.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiagSpec, Heartbeat, Task, TaskKind, TaskResult, WorkerState, type TaskEvent } from '../../gen/limolab/v1/task.js';
import { SweepEvent, type Sweep } from '../../gen/limolab/v1/coordinator.js';
import { IntegrityError, NotFoundError, WireError } from '../../common/errors.js';
import { outgoingTask } from '../../common/wire.js';
import { sha256Hex } from '../../common/hash.js';
import { MemoryArtifacts, MemoryTransport } from '../../common/memory-transport.js';
import type { DeliveredResult, DeliveredTask } from '../../common/transport.js';
import { startCoordinator } from '../../coordinator/main.js';
import { chainRanks } from '../../coordinator/scheduler.js';
import { phasesFrom, phasesOf, sweepProgress } from '../../coordinator/http/views.js';
import { WatchHub } from '../../coordinator/watch-hub.js';
import { startWorker } from '../../worker/main.js';
import { waitFor } from '../helpers/cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function task(id: string, opts: { sweep?: string; attempt?: number; pool?: string } = {}): Task {
  return Task.fromPartial({
    id, sweepId: opts.sweep ?? 'sw1', kind: TaskKind.TASK_KIND_DIAG, phase: 'diag', attempt: opts.attempt ?? 1,
    resources: opts.pool ? { pool: opts.pool } : undefined,
    spec: { $case: 'diag', value: DiagSpec.fromPartial({ sleepMs: 0 }) },
  });
}

function result(taskId: string, attemptId: string): TaskResult {
  return TaskResult.fromPartial({ taskId, sweepId: 'sw1', attemptId, workerId: 'w', attempt: 1, delivery: 1 });
}

/** Pulls and collects what came. */
async function pull(t: MemoryTransport, max: number, expiresMs: number, pool = 'default') {
  const got: DeliveredTask[] = [];
  const bad: Error[] = [];
  const n = await t.pullTasks(pool, max, expiresMs, (d) => got.push(d), (e) => bad.push(e));
  return { n, got, bad, ids: got.map((d) => d.task.id) };
}

let transports: MemoryTransport[] = [];
const open = (o: ConstructorParameters<typeof MemoryTransport>[0] = {}) => { const t = new MemoryTransport(o); transports.push(t); return t; };
afterEach(async () => { for (const t of transports) await t.close(); transports = []; });

describe('MemoryTransport: task queue', () => {
  it('serves a waiting pull as tasks are published, FIFO, and resolves once max came', async () => {
    const t = open();
    const seen: string[] = [];
    const t0 = Date.now();
    const p = t.pullTasks('default', 3, 10_000, (d) => seen.push(d.task.id), () => {});
    await sleep(50);
    expect(seen).toEqual([]);
    await t.publishTasks([task('a'), task('b')].map(outgoingTask));
    await t.publishTasks([task('c'), task('d')].map(outgoingTask));
    expect(await p).toBe(3);
    expect(Date.now() - t0).toBeLessThan(2000); // did not wait for expiry
    expect(seen).toEqual(['a', 'b', 'c']);
    // 'd' is still queued for the next pull; pools are separate queues.
    expect((await pull(t, 5, 50, 'gpu')).n).toBe(0);
    // A pull finds what is already queued at once, not at its expiry.
    const t1 = Date.now();
    const next = await pull(t, 1, 10_000);
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(next).toMatchObject({ n: 1, ids: ['d'] });
    expect(next.got[0]!.delivery).toBe(1);
  });

  it('resolves with fewer than max when expiresMs passes', async () => {
    const t = open();
    await t.publishTasks([task('a'), task('b', { pool: 'gpu' })].map(outgoingTask));
    const t0 = Date.now();
    const r = await pull(t, 5, 300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(r).toMatchObject({ n: 1, ids: ['a'] });
    expect((await pull(t, 5, 50, 'gpu')).ids).toEqual(['b']);
  });

  it('redelivers an unacked task after the lease with delivery+1, and not before', async () => {
    const t = open({ ackWaitMs: 400 });
    await t.publishTasks([task('a')].map(outgoingTask));
    const first = await pull(t, 1, 1000);
    expect(first.got[0]!.delivery).toBe(1);
    const t0 = Date.now();
    // Nothing while the lease holds...
    expect((await pull(t, 1, 200)).n).toBe(0);
    // ...then the waiting pull gets it back.
    const second = await pull(t, 1, 3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(second.ids).toEqual(['a']);
    expect(second.got[0]!.delivery).toBe(2);
    // The stale holder cannot extend or requeue the new delivery...
    first.got[0]!.nak(0);
    first.got[0]!.working();
    expect(t.stats().pools.default).toMatchObject({ ready: 0, inflight: 1 });
    // ...and an ack (from the current holder) removes it for good.
    await second.got[0]!.ack();
    expect(t.stats().pools.default).toMatchObject({ ready: 0, delayed: 0, inflight: 0 });
    expect((await pull(t, 1, 700)).n).toBe(0);
  });

  it('working() extends the lease', async () => {
    const t = open({ ackWaitMs: 300 });
    await t.publishTasks([task('a')].map(outgoingTask));
    const held = (await pull(t, 1, 500)).got[0]!;
    const keep = setInterval(() => held.working(), 100);
    try {
      expect((await pull(t, 1, 900)).n).toBe(0); // three leases' worth
    } finally { clearInterval(keep); }
    await held.ack();
    expect((await pull(t, 1, 500)).n).toBe(0);
  });

  it('nak(delay) requeues after the delay with delivery+1; term drops; ack removes', async () => {
    const t = open({ ackWaitMs: 10_000 });
    await t.publishTasks([task('n'), task('x'), task('k')].map(outgoingTask));
    const { got } = await pull(t, 3, 500);
    const [n, x, k] = got;
    n!.nak(300);
    x!.term('test');
    await k!.ack();
    expect(t.stats().pools.default).toEqual({ ready: 0, delayed: 1, inflight: 0, waitingPulls: 0 });
    expect((await pull(t, 1, 150)).n).toBe(0);
    const again = await pull(t, 5, 1000);
    expect(again.ids).toEqual(['n']);
    expect(again.got[0]!.delivery).toBe(2);
    again.got[0]!.nak(); // no delay: straight back
    const third = await pull(t, 5, 200);
    expect(third.ids).toEqual(['n']);
    expect(third.got[0]!.delivery).toBe(3);
  });

  it('a redelivered task goes before tasks published after it', async () => {
    const t = open({ ackWaitMs: 10_000 });
    await t.publishTasks([task('first')].map(outgoingTask));
    const d = (await pull(t, 1, 200)).got[0]!;
    await t.publishTasks([task('second')].map(outgoingTask));
    d.nak(0);
    expect((await pull(t, 2, 200)).ids).toEqual(['first', 'second']);
  });

  it('de-duplicates publishTasks by task id and attempt within the window', async () => {
    const t = open({ duplicateWindowMs: 300 });
    await t.publishTasks([task('a'), task('a')].map(outgoingTask));
    await t.publishTasks([task('a'), task('a', { attempt: 2 })].map(outgoingTask));
    const r = await pull(t, 10, 100);
    expect(r.got.map((d) => `${d.task.id}#${d.task.attempt}`)).toEqual(['a#1', 'a#2']);
    // Still a duplicate after the first copy was acked...
    for (const d of r.got) await d.ack();
    await t.publishTasks([task('a')].map(outgoingTask));
    expect((await pull(t, 10, 50)).n).toBe(0);
    // ...but not once the window has passed.
    await sleep(350);
    await t.publishTasks([task('a')].map(outgoingTask));
    expect((await pull(t, 10, 50)).ids).toEqual(['a']);
  });

  it('purgeSweepTasks removes the undelivered tasks of one sweep only, and the in-flight ones do not come back', async () => {
    const t = open({ ackWaitMs: 300 });
    await t.publishTasks([task('x1', { sweep: 'x' }), task('y1', { sweep: 'y' }), task('x2', { sweep: 'x' }), task('x3', { sweep: 'x', pool: 'gpu' })].map(outgoingTask));
    const inflight = await pull(t, 1, 100);
    expect(inflight.ids).toEqual(['x1']);
    const held = inflight.got[0]!;
    held.working();
    expect(await t.purgeSweepTasks('x', ['default', 'gpu', 'default', 'nosuchpool'])).toBe(2);
    await sleep(400); // past x1's lease
    expect((await pull(t, 10, 100)).ids).toEqual(['y1']);
    expect((await pull(t, 10, 50, 'gpu')).n).toBe(0);
    await held.ack(); // a no-op now, not an error
  });

  it('rejects malformed task messages through onBad (same validation as over NATS) and drops them', async () => {
    const t = open({ ackWaitMs: 200 });
    const noSpec = Task.fromPartial({ id: 'bad', sweepId: 'sw1', kind: TaskKind.TASK_KIND_DIAG, attempt: 1 });
    await t.publishTasks([noSpec, task('good')].map(outgoingTask));
    // The malformed message counts toward max (the pull ends after 2 messages) but not
    // toward what it resolves with: only tasks handed to onTask are counted.
    const t0 = Date.now();
    const r = await pull(t, 2, 5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.n).toBe(1);
    expect(r.ids).toEqual(['good']);
    expect(r.bad).toHaveLength(1);
    expect(r.bad[0]).toBeInstanceOf(WireError);
    expect(r.bad[0]!.message).toMatch(/spec .* is missing/);
    await r.got[0]!.ack();
    await sleep(300);
    expect((await pull(t, 2, 100)).n).toBe(0);
  });

  it('shares no object between publisher and receiver', async () => {
    const t = open({ ackWaitMs: 100 });
    const a = task('a');
    await t.publishTasks([a].map(outgoingTask));
    a.id = 'changed';
    (a.spec as { value: DiagSpec }).value.sleepMs = 99;
    const d1 = (await pull(t, 1, 200)).got[0]!;
    expect(d1.task.id).toBe('a');
    expect((d1.task.spec as { value: DiagSpec }).value.sleepMs).toBe(0);
    d1.task.sweepId = 'mutated';
    const d2 = (await pull(t, 1, 1000)).got[0]!;
    expect(d2.delivery).toBe(2);
    expect(d2.task).not.toBe(d1.task);
    expect(d2.task.sweepId).toBe('sw1');
  });

  it('a pull that throws in onTask rejects, and the task returns after its lease', async () => {
    const t = open({ ackWaitMs: 200 });
    await t.publishTasks([task('a')].map(outgoingTask));
    await expect(t.pullTasks('default', 1, 500, () => { throw new Error('handler blew up'); }, () => {})).rejects.toThrow('handler blew up');
    const r = await pull(t, 1, 1000);
    expect(r.ids).toEqual(['a']);
    expect(r.got[0]!.delivery).toBe(2);
  });

  it('close() ends waiting pulls with what they got and refuses further use', async () => {
    const t = open();
    const p = pull(t, 5, 60_000);
    await t.publishTasks([task('a')].map(outgoingTask));
    await sleep(20);
    await t.close();
    expect(await p).toMatchObject({ n: 1, ids: ['a'] });
    await expect(t.publishTasks([task('b')].map(outgoingTask))).rejects.toThrow(/closed/);
    await expect(t.pullTasks('default', 1, 10, () => {}, () => {})).rejects.toThrow(/closed/);
  });
});

describe('MemoryTransport: results', () => {
  it('delivers results in batches, de-duplicates by attempt id, and redelivers unacked ones after the lease', async () => {
    const t = open({ resultAckWaitMs: 300 });
    // Published before anyone consumes: the queue is durable.
    await t.publishResult(result('a', 'a#1.1'));
    await t.publishResult(result('a', 'a#1.1'));
    await t.publishResult(result('b', 'b#1.1'));
    const batches: DeliveredResult[][] = [];
    let ackB = true;
    const c = t.consumeResults(async (batch) => {
      batches.push(batch);
      for (const r of batch) if (r.result.taskId === 'a' || ackB) r.ack();
    }, (e) => { throw e; });
    await waitFor(() => batches.length === 1, 'the first batch', 2000, 10);
    expect(batches[0]!.map((r) => r.result.attemptId)).toEqual(['a#1.1', 'b#1.1']);
    expect(t.stats().results).toEqual({ ready: 0, inflight: 0 });
    // A result left unacked comes back after the lease.
    ackB = false;
    await t.publishResult(result('b', 'b#2.1'));
    await waitFor(() => batches.length === 2, 'the second batch', 2000, 10);
    const t0 = Date.now();
    ackB = true;
    await waitFor(() => batches.length === 3, 'the redelivery', 3000, 10);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(batches[2]!.map((r) => r.result.attemptId)).toEqual(['b#2.1']);
    await sleep(400);
    expect(batches).toHaveLength(3);
    await c.close();
  });

  it('passes malformed results and handler errors to onBad; a failed batch is redelivered', async () => {
    const t = open({ resultAckWaitMs: 200 });
    const bad: Error[] = [];
    let calls = 0;
    const c = t.consumeResults(async (batch) => {
      calls++;
      if (calls === 1) throw new Error('store is busy');
      for (const r of batch) r.ack();
    }, (e) => bad.push(e));
    await t.publishResult(TaskResult.fromPartial({ taskId: 'x', sweepId: 'sw1', attemptId: '' }));
    await t.publishResult(result('ok', 'ok#1.1'));
    await waitFor(() => calls === 2, 'the batch to be retried', 3000, 10);
    expect(bad.map((e) => e.message)).toEqual([expect.stringMatching(/malformed TaskResult/), 'store is busy']);
    await c.close();
  });
});

describe('MemoryTransport: events, heartbeats, control', () => {
  it('broadcasts events and heartbeats to every subscriber, after the publisher returns, as copies', async () => {
    const t = open();
    const a: TaskEvent[] = [];
    const b: TaskEvent[] = [];
    const hbs: Heartbeat[] = [];
    const sa = t.subscribeEvents((e) => a.push(e), () => {});
    t.subscribeEvents((e) => b.push(e), () => {});
    t.subscribeHeartbeats((h) => hbs.push(h));
    const ev: TaskEvent = { taskId: 'a', sweepId: 'sw1', attemptId: 'a#1.1', workerId: 'w', tsMs: 1, event: { $case: 'log', value: 'hello' } };
    t.publishEvent(ev);
    t.publishHeartbeat(Heartbeat.fromPartial({ state: WorkerState.WORKER_STATE_IDLE, info: { id: 'w1' } }));
    expect(a).toHaveLength(0); // not inside the publisher's call
    await sleep(0);
    expect(a).toEqual([ev]);
    expect(b).toEqual([ev]);
    expect(a[0]).not.toBe(ev);
    expect(a[0]).not.toBe(b[0]);
    expect(hbs.map((h) => h.info?.id)).toEqual(['w1']);
    sa.close();
    t.publishEvent(ev);
    await sleep(0);
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(2);
  });

  it('answers a request to one worker, broadcasts to all without a reply, and fails when nobody serves', async () => {
    const t = open();
    const got: string[] = [];
    const s1 = t.serveControl('w1', async (req) => { got.push(`w1:${req.op?.$case}:${req.op?.value}`); return { ok: true, message: 'from w1' }; });
    t.serveControl('w2', async (req) => { got.push(`w2:${req.op?.$case}:${req.op?.value}`); return { ok: false, message: 'from w2' }; });
    expect(await t.control('w2', { op: { $case: 'drainWorker', value: 'w2' } })).toEqual({ ok: false, message: 'from w2' });
    expect(await t.control('all', { op: { $case: 'cancelSweep', value: 'sw1' } })).toBeNull();
    await sleep(0);
    expect(got.sort()).toEqual(['w1:cancelSweep:sw1', 'w2:cancelSweep:sw1', 'w2:drainWorker:w2']);
    await expect(t.control('w3', { op: { $case: 'drainWorker', value: 'w3' } })).rejects.toThrow(/no responders/);
    s1.close();
    await expect(t.control('w1', { op: { $case: 'drainWorker', value: 'w1' } })).rejects.toThrow(/no responders/);
    t.serveControl('slow', () => new Promise(() => {}));
    await expect(t.control('slow', { op: { $case: 'drainWorker', value: 'slow' } }, 100)).rejects.toThrow(/timed out/);
  });
});

describe('MemoryTransport: artifacts', () => {
  it('stores by digest in memory, returns copies, and checks digests', async () => {
    const t = open();
    expect(t.artifacts).toBeInstanceOf(MemoryArtifacts);
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const ref = await t.artifacts.put(bytes, { role: 'data' });
    expect(ref).toMatchObject({ digest: sha256Hex(bytes), size: 4, role: 'data', mediaType: 'application/octet-stream' });
    bytes[0] = 9; // the store kept its own copy
    const got = await t.artifacts.get(ref);
    expect([...got]).toEqual([1, 2, 3, 4]);
    got[1] = 9;
    expect([...(await t.artifacts.get(ref))]).toEqual([1, 2, 3, 4]);
    expect(await t.artifacts.has(ref.digest)).toBe(true);
    expect(await t.artifacts.has('../../etc/passwd')).toBe(false);
    await expect(t.artifacts.get({ ...ref, digest: '../../etc/passwd' })).rejects.toBeInstanceOf(IntegrityError);
    await expect(t.artifacts.get({ ...ref, digest: sha256Hex('other') })).rejects.toBeInstanceOf(NotFoundError);
    // Bytes that no longer hash to their digest are refused.
    (t.artifacts as unknown as { blobs: Map<string, Uint8Array> }).blobs.get(ref.digest)![0] = 7;
    await expect(t.artifacts.get(ref)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('uses a directory when artifactDir is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limolab-memart-'));
    try {
      const t = open({ artifactDir: dir });
      const ref = await t.artifacts.put(new Uint8Array([5, 6]), { role: 'model' });
      expect(ref.uri).toBe(`file://${join(dir, ref.digest)}`);
      writeFileSync(join(dir, ref.digest), new Uint8Array([5, 7]));
      await expect(t.artifacts.get(ref)).rejects.toBeInstanceOf(IntegrityError);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

// ---------------------------------------------------------------------- end to end

type Coord = Awaited<ReturnType<typeof startCoordinator>>;
type W = Awaited<ReturnType<typeof startWorker>>;

class Plane {
  dir = mkdtempSync(join(tmpdir(), 'limolab-mem-'));
  db = join(this.dir, 'limolab.db');
  transport: MemoryTransport;
  coord!: Coord;
  workers: W[] = [];
  logs: string[] = [];
  constructor(opts: { ackWaitMs?: number } = {}) { this.transport = new MemoryTransport({ ackWaitMs: opts.ackWaitMs ?? 30_000 }); }

  async start(lostAfterMs = 10_000, maxInFlight?: number) {
    this.coord = await startCoordinator({ db: this.db, transport: this.transport, listen: '127.0.0.1:0', lostAfterMs, maxInFlight, log: (l) => this.logs.push(l) });
    return this;
  }
  async worker(id: string, slots = 1) {
    const w = await startWorker({ transport: this.transport, id, slots, heartbeatMs: 200, log: (l) => this.logs.push(`[${id}] ${l}`) });
    this.workers.push(w);
    return w;
  }
  submit(spec: string) { return this.coord.coord.submit(spec, 'test spec').sweep.id; }
  sweep(id: string): Sweep { return this.coord.coord.getSweep(id, true); }
  finished(id: string, timeoutMs = 30_000) { return waitFor(() => { const s = this.sweep(id); return s.status !== 'running' && s; }, `sweep ${id} to finish`, timeoutMs); }
  rows(sql: string, ...args: unknown[]) {
    const d = new Database(this.db, { readonly: true });
    try { return d.prepare(sql).all(...args) as Record<string, unknown>[]; } finally { d.close(); }
  }
  async stop() {
    await this.coord?.stop().catch(() => {});
    for (const w of this.workers) w.worker.abort();
    await this.transport.close();
    await Promise.all(this.workers.map((w) => w.done.catch(() => {})));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a two-task sweep on one worker with free slots (a task whose lease ran out would come
 *  back to it) and expects each task delivered once and succeeded. */
async function expectOneDeliveryEach(p: Plane, spec: string) {
  await p.worker('w1', 4);
  const id = p.submit(spec);
  const s = await p.finished(id, 15_000);
  expect(s.status).toBe('succeeded');
  expect(p.rows('select delivery, status from attempts where sweep_id = ?', id)).toEqual([{ delivery: 1, status: 'succeeded' }, { delivery: 1, status: 'succeeded' }]);
}

let plane: Plane | undefined;
afterEach(async () => { await plane?.stop(); plane = undefined; });

describe('execution plane over MemoryTransport (real coordinator, SQLite, workers; one process)', () => {
  it('runs a sweep of diag tasks on two workers with exactly one result row per task', async () => {
    plane = await new Plane().start();
    await plane.worker('w1', 4);
    await plane.worker('w2', 4);
    await waitFor(() => plane!.coord.coord.listWorkers().length === 2, 'both workers to register', 5000);
    const id = plane.submit(`
name: mem-many
defaults: {retries: 2, backoff_ms: 20}
arms:
  - {name: a, method: diag, params: {tasks: 120, sleep_ms: 2}}
  - {name: chain, method: diag, params: {tasks: 3, stages: 3, output_bytes: 1500}}
  - {name: flaky, method: diag, params: {op: fail, fail_times: 1}}
`);
    const s = await plane.finished(id);
    expect(s.status).toBe('succeeded');
    expect(s.counts).toMatchObject({ total: 130, succeeded: 130 });
    const perTask = plane.rows('select t.id, count(r.task_id) n from tasks t left join results r on r.task_id = t.id where t.sweep_id = ? group by t.id', id);
    expect(perTask).toHaveLength(130);
    expect(perTask.every((r) => r.n === 1)).toBe(true);
    const workers = plane.rows('select distinct worker_id from attempts where sweep_id = ?', id).map((r) => r.worker_id);
    expect(workers.sort()).toEqual(['w1', 'w2']);
    // Chained stages got their predecessor's artifact through the in-memory store.
    const inputs = plane.rows(`select m.value from metrics m join tasks t on t.id = m.task_id where t.sweep_id = ? and t.name like '%stage 3' and m.name = 'input_bytes'`, id);
    expect(inputs.map((r) => r.value)).toEqual([1500, 1500, 1500]);
    // The flaky task failed once, then succeeded on its second dispatch.
    const flaky = s.tasks.find((t) => t.arm.startsWith('flaky'))!;
    expect(flaky).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(plane.rows('select status from attempts where task_id = ? order by dispatch', flaky.id).map((r) => r.status)).toEqual(['failed', 'succeeded']);
    // Nothing is left in the queues. The last results are acked only once the WAL flush after
    // their commit returns (--db-sync full), which may be just after the sweep is recorded ended:
    // the result queue is waited for, not read at once.
    expect(plane.transport.stats().pools.default).toMatchObject({ ready: 0, delayed: 0, inflight: 0 });
    await waitFor(() => plane!.transport.stats().results.inflight === 0, 'the last result messages acked', 5000, 10);
    expect(plane.transport.stats().results).toEqual({ ready: 0, inflight: 0 });
  });

  it('reads a sweep without its tasks the same way while it runs (from memory) and once it has ended (counts and arms from SQL)', async () => {
    plane = await new Plane().start();
    const other = plane.submit('name: other\narms: [{name: o, method: diag, params: {tasks: 2}}]');
    const id = plane.submit(`
name: views
arms:
  - {name: b, method: diag, params: {tasks: 3, sleep_ms: 400}}
  - {name: a, method: diag, params: {tasks: 2, stages: 2}}
  - {name: c, method: diag, params: {tasks: 1, sleep_ms: 1}}
`);
    // What the views derive without reading the tasks, against what the tasks say.
    const expectSame = (light: Sweep, full: Sweep) => {
      expect(light.tasks).toEqual([]);
      expect(light.arms).toEqual([...new Set(full.tasks.map((t) => t.arm))]);
      expect(light.arms.length).toBe(3);
      const counts: Record<string, number> = { total: full.tasks.length };
      for (const t of full.tasks) counts[t.status] = (counts[t.status] ?? 0) + 1;
      expect(Object.fromEntries(Object.entries(light.counts ?? {}).filter(([, n]) => (n as number) > 0))).toEqual(counts);
    };
    expectSame(plane.coord.coord.getSweep(id), plane.sweep(id));
    const live = plane.coord.coord.scheduler.liveSweep(id)!;
    const mine = plane.sweep(id).tasks[0]!.id, theirs = plane.sweep(other).tasks[0]!.id;
    expect(live.task(mine)?.id).toBe(mine);
    expect(live.task(theirs)).toBeUndefined();
    // counts is a copy: a caller that keeps it does not see (or change) the live one.
    live.counts.total = -1;
    expect(live.counts.total).toBe(8);   // b 3, a 2 x 2 stages, c 1
    // Per-phase progress as the scheduler counts it, against a walk over every task: before
    // any task ran, and with some done and some running.
    const now = Date.now();
    expect(phasesFrom(live.phaseGroups(), now)).toEqual(phasesOf(live.tasks, now));
    await plane.worker('w1', 2);
    await waitFor(() => live.counts.succeeded > 0 && live.counts.running > 0, 'some tasks done and some running', 10_000);
    expect(phasesFrom(live.phaseGroups(), now)).toEqual(phasesOf(live.tasks, now));
    expect(phasesFrom(live.phaseGroups(), now)[0]!.etaS).not.toBeNull();
    // Its worker hosts while it runs come from the workers its stored attempts named (kept in
    // memory, not a scan of every attempt), and are recorded with it when it ends.
    await waitFor(() => plane!.coord.coord.getSweep(id).provenance?.workerHosts?.[0] === hostname(), 'the running sweep to name its worker host', 10_000);
    const done = await plane.finished(id);
    expect(done.status).toBe('succeeded');
    expect(plane.coord.coord.scheduler.liveSweep(id)).toBeNull();
    expect(plane.rows('select worker_hosts_json h from sweeps where id = ?', id)).toEqual([{ h: JSON.stringify([hostname()]) }]);
    // Once ended: first from the scheduler's summary of the sweeps that ended last, then (that
    // dropped, as for an older sweep) counted in SQL; both are what its task rows give.
    const sched = plane.coord.coord.scheduler;
    for (const from of ['memory', 'sql'] as const) {
      if (from === 'sql') sched.forgetEnded(id);
      expect(sched.sweepState(id) !== undefined).toBe(from === 'memory');
      expectSame(plane.coord.coord.getSweep(id), done);
      expect(plane.coord.coord.getSweep(id).counts?.succeeded).toBe(8);
      const phases = sweepProgress(plane.coord.coord, id)!.phases;
      expect(phases).toEqual(phasesOf(plane.coord.coord.store.sweepTasks(id)));
      expect(phases.map((p) => [p.phase, p.total, p.succeeded, p.etaS])).toEqual([['diag', 8, 8, 0]]);
    }
  });

  it('a watcher hears each task end and the sweep end, and the last update, after the sweep left memory, reads no task rows back', async () => {
    plane = await new Plane().start();
    const id = plane.submit('name: watched\narms: [{name: a, method: diag, params: {tasks: 3, sleep_ms: 150}}]');
    const store = plane.coord.coord.store as { sweepTasks(id: string): unknown };
    const sweepTasks = store.sweepTasks.bind(store);
    let reads = 0;
    store.sweepTasks = (sid: string) => { reads++; return sweepTasks(sid); };
    const events: SweepEvent[] = [];
    const ac = new AbortController();
    const watching = new WatchHub(plane.coord.coord).watch(id, (b) => events.push(SweepEvent.decode(b)), ac.signal);
    await plane.worker('w1', 3);
    await watching;   // resolves when the sweep has ended
    const last = events.at(-1)!;
    expect(last.sweep?.status).toBe('succeeded');
    expect(last.sweep?.counts?.succeeded).toBe(3);
    // Each task's own events, in the order they came: the last one of each says succeeded.
    const final = new Map<string, string>();
    for (const e of events) if (e.task) final.set(e.task.id, e.task.status);
    expect([...final.values()]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(reads).toBe(0);
  });

  it('dispatches a failed task again once its backoff is over, not before, while thousands of others wait', async () => {
    plane = await new Plane().start();
    await plane.worker('w1', 2);
    await waitFor(() => plane!.coord.coord.listWorkers().length === 1, 'the worker to register', 5000);
    // The retry waits in the delayed queue; tick() (every 250 ms) moves it to the ready queue when due.
    const id = plane.submit(`
name: backoff
defaults: {retries: 2, backoff_ms: 700}
arms:
  - {name: flaky, method: diag, params: {op: fail, fail_times: 1}}
  - {name: many, method: diag, params: {tasks: 2000}}
`);
    const s = await plane.finished(id);
    expect(s.status).toBe('succeeded');
    const flaky = s.tasks.find((t) => t.arm.startsWith('flaky'))!;
    const [first, second] = plane.rows('select started_ms, finished_ms from attempts where task_id = ? order by dispatch', flaky.id) as { started_ms: number; finished_ms: number }[];
    const waited = second!.started_ms - first!.finished_ms;
    expect(waited).toBeGreaterThanOrEqual(700);
    expect(waited).toBeLessThan(700 + 250 + 1500);   // the next tick or so after it was due (slack for a loaded machine)
  });

  it('ranks a task by the longest chain of dependents starting at it (hand-computed on a diamond and a chain)', () => {
    const t = (id: string, ...deps: string[]) => ({ id, deps: deps.map((task) => ({ task })) });
    // a -> b -> d, a -> c -> d -> e; f alone; g -> h -> ... 5000 long (no recursion limit).
    const long = Array.from({ length: 5000 }, (_, i) => t(`g${i}`, ...(i ? [`g${i - 1}`] : [])));
    const r = chainRanks([t('e', 'd'), t('d', 'b', 'c'), t('b', 'a'), t('c', 'a'), t('a'), t('f'), ...long]);
    expect([r.get('a'), r.get('b'), r.get('c'), r.get('d'), r.get('e'), r.get('f')]).toEqual([4, 3, 3, 2, 1, 1]);
    expect(r.get('g0')).toBe(5000);
  });

  it('weights ranks by the planner\'s cost estimates: the most estimated work left along the chain (hand-computed)', () => {
    const t = (id: string, cost: number | undefined, ...deps: string[]) => ({ id, cost, deps: deps.map((task) => ({ task })) });
    // a(1) -> b(10) -> d(2); a -> c(3) -> d; e(20) alone; f without an estimate counts 1; a bad estimate counts 1.
    const r = chainRanks([t('d', 2, 'b', 'c'), t('b', 10, 'a'), t('c', 3, 'a'), t('a', 1), t('e', 20), t('f', undefined), t('g', Number.NaN), t('h', -5)]);
    expect(Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => [k, r.get(k)]))).toEqual({ a: 13, b: 12, c: 5, d: 2, e: 20, f: 1, g: 1, h: 1 });
    // A sweep without any dependency (ranked without the topological pass): each task its own work.
    const alone = chainRanks([t('e', 20), t('f', undefined), t('g', Number.NaN), t('h', -5), t('i', 0.5)]);
    expect(Object.fromEntries([...alone])).toEqual({ e: 20, f: 1, g: 1, h: 1, i: 0.5 });
  });

  it('gives every task the work on its longest chain of dependents, whatever order the tasks come in', () => {
    const t = (id: string, cost: number | undefined, ...deps: string[]) => ({ id, cost, deps: deps.map((task) => ({ task })) });
    // The hand-computed DAG above, in plan order (dependencies first).
    const r = chainRanks([t('a', 1), t('b', 10, 'a'), t('c', 3, 'a'), t('d', 2, 'b', 'c'), t('e', 20), t('f', undefined), t('g', Number.NaN), t('h', -5)]);
    expect(Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => [k, r.get(k)]))).toEqual({ a: 13, b: 12, c: 5, d: 2, e: 20, f: 1, g: 1, h: 1 });
    // A random DAG of 3,000 tasks (each depends on up to 3 earlier ones, some on a task not in
    // the list), against the definition computed by memoized recursion, in plan order and shuffled.
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const dag = Array.from({ length: 3000 }, (_, i) => t(`n${i}`, rnd() < 0.2 ? undefined : 1 + Math.floor(rnd() * 50),
      ...Array.from({ length: i ? Math.floor(rnd() * 4) : 0 }, () => `n${Math.floor(rnd() * i)}`), ...(rnd() < 0.01 ? ['elsewhere'] : [])));
    const dependents = new Map<string, string[]>(dag.map((x) => [x.id, []]));
    for (const x of dag) for (const d of x.deps) dependents.get(d.task)?.push(x.id);
    const byId = new Map(dag.map((x) => [x.id, x]));
    const memo = new Map<string, number>();
    const expected = (id: string): number => {
      let v = memo.get(id);
      if (v === undefined) {
        v = (byId.get(id)!.cost ?? 1) + Math.max(0, ...dependents.get(id)!.map(expected));
        memo.set(id, v);
      }
      return v;
    };
    const shuffled = [...dag].sort(() => rnd() - 0.5);
    for (const ranks of [chainRanks(dag), chainRanks(shuffled)]) {
      expect(ranks.size).toBe(3000);
      for (const x of dag) expect(ranks.get(x.id)).toBe(expected(x.id));
    }
  });

  it('dispatches the most estimated work first: one long task before a chain of short ones', async () => {
    plane = await new Plane().start(10_000, 1);
    await plane.worker('w1', 1);
    await waitFor(() => plane!.coord.coord.listWorkers().length === 1, 'the worker to register', 5000);
    // By chain length the three-stage chain would go first (ranks 3, 2, 1 against 1); by
    // estimated work the 400 ms task (0.401) outranks the chain (3 x 0.011 = 0.033).
    const id = plane.submit(`
name: mem-work-first
arms:
  - {name: chain, method: diag, params: {tasks: 1, stages: 3, sleep_ms: 10}}
  - {name: long, method: diag, params: {tasks: 1, sleep_ms: 400}}
`);
    expect((await plane.finished(id)).status).toBe('succeeded');
    const order = plane.rows('select t.name, t.arm from attempts a join tasks t on t.id = a.task_id where a.sweep_id = ? order by a.started_ms, a.id', id).map((r) => `${r.arm} ${r.name}`);
    expect(order).toEqual(['long diag 0', 'chain diag 0 stage 1', 'chain diag 0 stage 2', 'chain diag 0 stage 3']);
  });

  it('dispatches the longest chain of dependents first among ready tasks of equal priority', async () => {
    // One slot and a one-task window: the order of starts is the coordinator's choice alone.
    plane = await new Plane().start(10_000, 1);
    await plane.worker('w1', 1);
    await waitFor(() => plane!.coord.coord.listWorkers().length === 1, 'the worker to register', 5000);
    const id = plane.submit(`
name: mem-chain-first
arms:
  - {name: wide, method: diag, params: {tasks: 5, sleep_ms: 20}}
  - {name: chain, method: diag, params: {tasks: 1, stages: 4, sleep_ms: 20}}
`);
    expect((await plane.finished(id)).status).toBe('succeeded');
    const order = plane.rows('select t.name from attempts a join tasks t on t.id = a.task_id where a.sweep_id = ? order by a.started_ms, a.id', id).map((r) => String(r.name));
    // The wide arm was planned first; FIFO would run its five tasks before the chain starts.
    // By chain length, each stage with stages after it goes as soon as it is ready (ranks 4, 3,
    // 2); the last stage (rank 1, like every wide task) then waits its turn, first in first out.
    expect(order).toEqual(['diag 0 stage 1', 'diag 0 stage 2', 'diag 0 stage 3', 'diag 0', 'diag 1', 'diag 2', 'diag 3', 'diag 4', 'diag 0 stage 4']);
  });

  it('redelivers a task whose worker died without acking after the lease; a real worker completes it: one result, two attempts', async () => {
    const ackWaitMs = 800;
    plane = await new Plane({ ackWaitMs }).start();
    const id = plane.submit(`
name: mem-dead-worker
arms: [{name: one, method: diag, params: {sleep_ms: 50}}]
`);
    // The "victim": takes the delivery, says it started (as a Worker does), then dies:
    // no ack, no working(), no result.
    const t = plane.transport;
    let victim: DeliveredTask | undefined;
    await t.pullTasks('default', 1, 5000, (d) => { victim = d; }, (e) => { throw e; });
    const takenMs = Date.now();
    expect(victim!.delivery).toBe(1);
    const taskId = victim!.task.id;
    t.publishEvent({ taskId, sweepId: id, attemptId: `${taskId}#1.1`, workerId: 'victim', tsMs: Date.now(), event: { $case: 'started', value: { delivery: 1 } } });
    await waitFor(() => plane!.sweep(id).tasks[0]!.status === 'running', 'the task to show as running on the victim', 5000);
    // A real worker waits for work; it gets the task only when the lease runs out.
    await plane.worker('rescuer');
    const s = await plane.finished(id, 15_000);
    expect(s.status).toBe('succeeded');
    expect(plane.rows('select count(*) n from results where task_id = ?', taskId)[0]!.n).toBe(1);
    // The scheduler records the lost attempt on its next tick (every 250 ms) after the
    // rescuer's started event, which can be after the result.
    const attemptsOf = () => plane!.rows('select worker_id, status, delivery, started_ms from attempts where task_id = ? order by delivery', taskId);
    await waitFor(() => attemptsOf()[0]?.status === 'lost', 'the victim attempt to be marked lost', 2000);
    const attempts = attemptsOf();
    expect(attempts.map(({ worker_id, status, delivery }) => ({ worker_id, status, delivery }))).toEqual([
      { worker_id: 'victim', status: 'lost', delivery: 1 },
      { worker_id: 'rescuer', status: 'succeeded', delivery: 2 },
    ]);
    expect(Number(attempts[1]!.started_ms)).toBeGreaterThanOrEqual(takenMs + ackWaitMs - 50);
    // The victim's late ack changes nothing.
    await victim!.ack();
    expect(plane.rows('select count(*) n from results where task_id = ?', taskId)[0]!.n).toBe(1);
  });

  it('keeps the lease of a task that runs for several lease periods: one delivery, one attempt', async () => {
    // ackWaitMs 700: the worker renews every 250 ms (a half of its 500 ms minimum period).
    plane = await new Plane({ ackWaitMs: 700 }).start();
    await expectOneDeliveryEach(plane, 'name: mem-long-lease\narms: [{name: long, method: diag, params: {tasks: 2, sleep_ms: 2500}}]');
  });

  it('keeps the lease while a result waits to be stored (a slow results path): no second delivery', async () => {
    plane = await new Plane({ ackWaitMs: 700 }).start();
    // Results take 2 s to be accepted (as while a cluster elects a new stream leader): longer
    // than the 700 ms lease. The worker still holds the task, so it must keep renewing it.
    const t = plane.transport;
    const publish = t.publishResult.bind(t);
    t.publishResult = async (r) => { await new Promise((res) => setTimeout(res, 2000)); return publish(r); };
    await expectOneDeliveryEach(plane, 'name: mem-slow-results\narms: [{name: quick, method: diag, params: {tasks: 2, sleep_ms: 10}}]');
  });

  it('a result the database refuses is stored alone as its attempt\'s failure; the rest of its batch is stored', async () => {
    plane = await new Plane().start();
    // A real constraint failure inside the batch's transaction: SQLite refuses one task's metrics.
    const w = new Database(plane.db);
    w.exec(`create trigger poison before insert on metrics when new.task_id in (select id from tasks where name = 'diag 1')
      begin select raise(abort, 'poisoned row'); end`);
    w.close();
    await plane.worker('w1', 8);
    const id = plane.submit(`
name: mem-refused-row
arms: [{name: few, method: diag, params: {tasks: 6}}]
`);
    const s = await plane.finished(id, 15_000);
    expect(s.status).toBe('failed');
    const rows = plane.rows(`select t.name, t.status, a.status attempt, a.error_code code, a.error, (select count(*) from results r where r.task_id = t.id) results
      from tasks t join attempts a on a.task_id = t.id where t.sweep_id = ? order by t.name`, id);
    expect(rows).toHaveLength(6);
    const bad = rows.find((r) => r.name === 'diag 1')!;
    expect(bad).toMatchObject({ status: 'failed', attempt: 'failed', code: 'bad_output', results: 0 });
    expect(String(bad.error)).toMatch(/^result could not be stored: .*poisoned row/);
    for (const r of rows.filter((x) => x.name !== 'diag 1')) expect(r).toMatchObject({ status: 'succeeded', attempt: 'succeeded', results: 1 });
    // Every delivery was acked (once the WAL flush after its commit returned, which may come just
    // after the sweep is recorded ended): nothing is left for the transport to hand out again.
    await waitFor(() => plane!.transport.stats().results.inflight === 0, 'the last result messages acked', 5000, 10);
    expect(plane.transport.stats().results).toEqual({ ready: 0, inflight: 0 });
  });

  it('cancel stops running tasks, purges the queued ones, and records no results', async () => {
    plane = await new Plane().start();
    await plane.worker('w1', 2);
    await plane.worker('w2', 2);
    const id = plane.submit(`
name: mem-cancel
arms: [{name: long, method: diag, params: {tasks: 12, sleep_ms: 60000}}]
`);
    await waitFor(() => plane!.sweep(id).counts!.running === 4, 'four tasks to run', 10_000);
    expect(plane.transport.stats().pools.default).toMatchObject({ ready: 8, inflight: 4 });
    const t0 = Date.now();
    const s = await plane.coord.coord.cancel(id);
    expect(s.status).toBe('cancelled');
    expect(s.counts!.cancelled).toBe(12);
    await waitFor(() => plane!.rows(`select count(*) n from attempts where sweep_id = ? and status = 'cancelled'`, id)[0]!.n === 4, 'four cancelled attempts', 5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor(() => plane!.coord.coord.listWorkers().every((w) => w.state === 'idle'), 'workers to be idle', 5000);
    expect(plane.transport.stats().pools.default).toMatchObject({ ready: 0, delayed: 0, inflight: 0 });
    await sleep(500);
    expect(plane.rows('select count(*) n from attempts where sweep_id = ?', id)[0]!.n).toBe(4);
    expect(plane.rows('select count(*) n from results where sweep_id = ?', id)[0]!.n).toBe(0);
    expect(plane.logs.some((l) => /8 queued message\(s\) purged/.test(l))).toBe(true);
  });

  it('drains a worker through control request/reply: its task finishes, then it stops', async () => {
    plane = await new Plane().start();
    const w = await plane.worker('drainee');
    const id = plane.submit(`
name: mem-drain
arms: [{name: s, method: diag, params: {tasks: 3, sleep_ms: 500}}]
`);
    await waitFor(() => plane!.sweep(id).counts!.running === 1, 'a task to run', 5000);
    await waitFor(() => plane!.coord.coord.listWorkers().find((x) => x.info!.id === 'drainee'), 'the worker to register', 5000);
    expect((await plane.coord.coord.drainWorker('drainee')).state).toBe('draining');
    await w.done; // resolves once the worker has finished its task and stopped
    await waitFor(() => plane!.sweep(id).counts!.succeeded === 1, 'the running task to be recorded', 5000);
    const s = plane.sweep(id);
    expect(s.counts!.queued + s.counts!.pending).toBe(2);
    expect(plane.transport.stats().pools.default).toMatchObject({ ready: 2, inflight: 0 });
  });
});
