// Task bundles: several short tasks in one JetStream message (TaskBundle, subject
// <ns>.task.<pool>.<sweep>.bundle). The wire format and its checks; the NATS transport's
// grouping, settling (ack when every task is acked, the whole bundle again when one is given
// back), de-duplication and purge, on a real nats-server; a worker that runs a bundle's tasks
// one after another in one slot, finishes a bundle while draining and gives the rest back on
// abort; and the coordinator, which bundles a phase only once its tasks are measured short
// (never a slow arm), with exactly one result row per task. Real nats-server, SQLite, workers.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { NatsTransport } from '../../common/nats-transport.js';
import { startNatsServer } from '../../common/nats-server.js';
import { repeatedField1, decodeTaskBundle, encodeTask } from '../../common/wire.js';
import type { DeliveredTask, OutgoingTask } from '../../common/transport.js';
import { DiagSpec_Op, Task, TaskBundle, TaskKind, TaskResult } from '../../gen/limolab/v1/task.js';
import { Worker } from '../../worker/worker.js';
import { diagRunner } from '../../worker/diag.js';
import { Cluster, exited, requireNats, waitFor } from '../helpers/cluster.js';
import { hasStackTrace, runCli } from '../cli/run-cli.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

function task(sweepId: string, i: number, sleepMs = 0, extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    id: `${sweepId}.t${String(i).padStart(3, '0')}`, sweepId, arm: 'a', kind: TaskKind.TASK_KIND_DIAG, phase: 'diag', attempt: 1,
    spec: { $case: 'diag', value: { op: DiagSpec_Op.OP_SLEEP, sleepMs, message: '', failTimes: 0, outputBytes: 0 } }, ...extra,
  });
}
const outgoing = (t: Task, bundle?: number): OutgoingTask => ({ id: t.id, sweepId: t.sweepId, attempt: t.attempt, pool: 'default', data: encodeTask(t), ...(bundle ? { bundle } : {}) });

async function transports(n: number) {
  requireNats();
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  const ncs: NatsConnection[] = [];
  for (let i = 0; i < n; i++) ncs.push(await connect({ servers: nats.url }));
  cleanups.push(() => Promise.all(ncs.map((c) => c.close())));
  const ts = await Promise.all(ncs.map((c) => NatsTransport.open(c)));
  const jsm = await jetstreamManager(ncs[0]!);
  return { nats, ts, jsm, queued: async () => (await jsm.streams.info('LIMOLAB_TASKS')).state.messages };
}

/** Pulls up to `max` messages: lone tasks and bundles, in the order they came. */
async function pull(t: NatsTransport, max: number, expiresMs = 1000) {
  const got: DeliveredTask[][] = [];
  const bad: Error[] = [];
  const n = await t.pullTasks('default', max, expiresMs, (d) => got.push([d]), (e) => bad.push(e), (ds) => got.push(ds));
  return { got, bad, n };
}

describe('task bundles: the wire', () => {
  it('writes a TaskBundle from encoded tasks without re-encoding them, and checks every task and its sweep', () => {
    const ts = [task('s1', 1), task('s1', 2, 5), task('s1', 3, 0, { inputs: [{ digest: 'd'.repeat(64), size: 3, uri: 'x', mediaType: 'a/b', role: 'data' }] })];
    const bytes = repeatedField1(ts.map(encodeTask));
    expect(Buffer.from(bytes)).toEqual(Buffer.from(TaskBundle.encode({ tasks: ts }).finish()));
    expect(decodeTaskBundle(bytes, 's1')).toEqual(ts);
    // A task of 200 bytes or more has a two-byte length prefix.
    const big = task('s1', 4, 0, { cacheKey: 'k'.repeat(300) });
    expect(decodeTaskBundle(repeatedField1([encodeTask(big)]), 's1')).toEqual([big]);

    expect(() => decodeTaskBundle(new Uint8Array(0), 's1')).toThrow(/malformed TaskBundle message \(0 bytes\): no tasks/);
    expect(() => decodeTaskBundle(Uint8Array.from([10, 200, 1, 1]), 's1')).toThrow(/undecodable TaskBundle message \(4 bytes\).*only limolab\.v1\.TaskBundle protobuf belongs on the \.bundle task subjects/);
    const noSpec = encodeTask(Task.fromPartial({ id: 's1.x', sweepId: 's1', kind: TaskKind.TASK_KIND_DIAG }));
    expect(() => decodeTaskBundle(repeatedField1([encodeTask(ts[0]!), noSpec]), 's1')).toThrow(/task 2 of 2: spec \(one of diag\/pretrain\/curate\/train\/rollout\/eval\) is missing/);
    expect(() => decodeTaskBundle(repeatedField1([encodeTask(task('s2', 1))]), 's1')).toThrow(/task 1 of 1: sweep_id "s2" is not the subject's "s1"/);
  });
});

describe('task bundles: the NATS transport', () => {
  it('groups runs of bundleable tasks of one sweep into messages, settles a bundle as one, and redelivers it whole when a task is given back', async () => {
    const { ts: [coord, worker], queued } = await transports(2);
    const a = Array.from({ length: 10 }, (_, i) => task('s1', i));
    const lone = task('s1', 50);
    const other = task('s2', 1);
    // 10 bundleable (at most 4 a message), then one alone, then one of another sweep.
    const out = await coord!.publishTasks([...a.map((t) => outgoing(t, 4)), outgoing(lone), outgoing(other, 4)]);
    expect(out).toEqual({ taken: [], unpublished: [] });
    expect(await queued()).toBe(5);   // 4 + 4 + 2, the lone one, s2's

    const first = await pull(worker!, 5);
    expect(first.bad).toEqual([]);
    expect(first.n).toBe(5);
    expect(first.got.map((g) => g.map((d) => d.task.id))).toEqual([a.slice(0, 4), a.slice(4, 8), a.slice(8), [lone], [other]].map((g) => g.map((t) => t.id)));
    expect(first.got.flat().every((d) => d.delivery === 1)).toBe(true);
    const [b1, b2, b3, [l1], [o1]] = first.got as [DeliveredTask[], DeliveredTask[], DeliveredTask[], DeliveredTask[], DeliveredTask[]];
    // Every task of b1 acked (one of them twice, one termed): its message leaves the queue.
    for (const d of b1) await d.ack();
    await b1[0]!.ack();
    // b2: three acked, one given back: nothing leaves until the last, then the whole bundle comes again.
    await b2[0]!.ack(); await b2[1]!.ack(); b2[2]!.term();
    await l1!.ack(); await o1!.ack();
    await waitFor(async () => (await queued()) === 2, 'b1, the lone task and s2 acked: b2 and b3 left', 5000, 25);
    b2[3]!.nak(0);
    for (const d of b3) await d.ack();
    const again = await pull(worker!, 2, 1500);
    expect(again.got.map((g) => g.map((d) => [d.task.id, d.delivery]))).toEqual([b2.map((d) => [d.task.id, 2])]);
    for (const d of again.got[0]!) await d.ack();
    await waitFor(async () => (await queued()) === 0, 'every message acked', 5000, 25);
  });

  it('keeps each bundle under the server max_payload, and de-duplicates a bundle published again as composed', async () => {
    const { ts: [coord, worker], queued } = await transports(2);
    // Tasks of ~300 KB (a long cache key): at most three fit in a 1 MiB message.
    const big = Array.from({ length: 7 }, (_, i) => task('s1', i, 0, { cacheKey: String(i).repeat(300_000) }));
    expect((await coord!.publishTasks(big.map((t) => outgoing(t, 64)))).unpublished).toEqual([]);
    expect(await queued()).toBe(3);   // 3 + 3 + 1
    const got = await pull(worker!, 3);
    expect(got.got.map((g) => g.length)).toEqual([3, 3, 1]);
    for (const g of got.got) for (const d of g) await d.ack();
    await waitFor(async () => (await queued()) === 0, 'acked', 5000, 25);
    // The same bundles again (a publish retried after a lost ack): stored once, and the tasks of
    // the taken ones are reported as taken.
    const again = await coord!.publishTasks(big.map((t) => outgoing(t, 64)));
    expect(again.unpublished).toEqual([]);
    expect(again.taken.sort()).toEqual(big.map((t) => t.id).sort());
    expect(await queued()).toBe(0);
  });

  it('purges a cancelled sweep\'s bundles with its lone tasks', async () => {
    const { ts: [coord], queued } = await transports(1);
    const ts = Array.from({ length: 9 }, (_, i) => task('s1', i));
    await coord!.publishTasks([...ts.slice(0, 8).map((t) => outgoing(t, 4)), outgoing(ts[8]!), outgoing(task('s2', 1))]);
    expect(await queued()).toBe(4);
    expect(await coord!.purgeSweepTasks('s1', ['default'])).toBe(3);
    expect(await queued()).toBe(1);
  });

  it('refuses a forged bundle whole (term) and says why, without handing any of its tasks over', async () => {
    const { ts: [coord, worker], queued } = await transports(2);
    const nc = (coord as unknown as { nc: NatsConnection }).nc;
    const js = (await import('@nats-io/jetstream')).jetstream(nc);
    await js.publish('limolab.task.default.s1.bundle', repeatedField1([encodeTask(task('s1', 1)), encodeTask(task('s9', 2))]));
    const got = await pull(worker!, 1);
    expect(got.n).toBe(0);
    expect(got.got).toEqual([]);
    expect(got.bad.map((e) => e.message)).toEqual([expect.stringMatching(/malformed TaskBundle message .*task 2 of 2: sweep_id "s9" is not the subject's "s1"/)]);
    await waitFor(async () => (await queued()) === 0, 'the forged message termed', 5000, 25);
  });
});

describe('task bundles: a worker', () => {
  async function workerOn(slots: number) {
    const { ts: [coord, wt], queued } = await transports(2);
    const results: TaskResult[] = [];
    const closer = coord!.consumeResults(async (batch) => { for (const d of batch) { results.push(d.result); d.ack(); } }, (e) => { throw e; });
    cleanups.push(() => closer.close());
    const w = new Worker(wt!, { id: 'bw', slots, runners: [diagRunner], heartbeatMs: 200, pullExpiresMs: 1000, log: () => {} });
    const running = w.run();
    cleanups.push(async () => { w.abort(); await running; });
    return { coord: coord!, w, running, results, queued };
  }

  it('runs a bundle\'s tasks one after another in one slot, and a lone task beside it in the other', async () => {
    const { coord, results } = await workerOn(2);
    const b = Array.from({ length: 5 }, (_, i) => task('s1', i, 40));
    const lone = task('s1', 9, 40);
    await coord.publishTasks([...b.map((t) => outgoing(t, 8)), outgoing(lone)]);
    await waitFor(() => results.length === 6, 'six results', 10_000, 20);
    const byId = new Map(results.map((r) => [r.taskId, r]));
    expect(results.every((r) => !r.error && r.delivery === 1)).toBe(true);
    // In plan order, each starting once the one before it finished: one slot for the bundle.
    for (let i = 1; i < b.length; i++) expect(byId.get(b[i]!.id)!.startedMs).toBeGreaterThanOrEqual(byId.get(b[i - 1]!.id)!.finishedMs);
    // The lone task ran in the other slot, while the bundle did.
    const l = byId.get(lone.id)!;
    expect(l.startedMs).toBeLessThan(byId.get(b[4]!.id)!.startedMs);
  });

  it('runs at most 8 bundles at once, whatever its slots, and still fills its slots with lone tasks', async () => {
    const { coord, results } = await workerOn(256);
    // 30 bundles of 3 tasks of 15 ms each: taken a slot each, all 30 would run at once.
    const b = Array.from({ length: 90 }, (_, i) => task('s4', i, 15));
    await coord.publishTasks(b.map((t) => outgoing(t, 3)));
    await waitFor(() => results.length === 90, 'every bundled result', 20_000, 20);
    const byId = new Map(results.map((r) => [r.taskId, r]));
    const spans = Array.from({ length: 30 }, (_, k) => [byId.get(b[3 * k]!.id)!.startedMs, byId.get(b[3 * k + 2]!.id)!.finishedMs] as const);
    const most = Math.max(...spans.map(([s0]) => spans.filter(([s, f]) => s <= s0 && s0 < f).length));
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThanOrEqual(2);
    // Lone tasks: 40 of 300 ms each all run at once on the 256 slots, taken 8 a pull.
    const lone = Array.from({ length: 40 }, (_, i) => task('s5', i, 300));
    await coord.publishTasks(lone.map((t) => outgoing(t)));
    await waitFor(() => results.length === 130, 'every lone result', 20_000, 20);
    const ls = lone.map((t) => results.find((r) => r.taskId === t.id)!);
    const at = Math.max(...ls.map((r) => r.startedMs));
    expect(ls.filter((r) => r.startedMs <= at && at < r.finishedMs).length).toBe(40);
  });

  it('finishes a bundle it holds when drained, and on abort gives back its tasks not yet run, with the bundle', async () => {
    const drained = await workerOn(1);
    const b = Array.from({ length: 4 }, (_, i) => task('s1', i, 60));
    await drained.coord.publishTasks(b.map((t) => outgoing(t, 8)));
    await waitFor(() => drained.results.length >= 1, 'the first result', 10_000, 10);
    drained.w.drain();
    await drained.running;
    await waitFor(() => drained.results.length === 4, 'every result of the bundle', 5000, 20);
    expect(drained.results.map((r) => r.taskId).sort()).toEqual(b.map((t) => t.id));
    await waitFor(async () => (await drained.queued()) === 0, 'the bundle acked', 5000, 25);

    const aborted = await workerOn(1);
    const c = Array.from({ length: 4 }, (_, i) => task('s2', i, 60));
    await aborted.coord.publishTasks(c.map((t) => outgoing(t, 8)));
    await waitFor(() => aborted.results.length >= 1, 'the first result', 10_000, 10);
    aborted.w.abort();
    await aborted.running;
    // The task running at the abort left no result; the bundle is back in the queue, whole.
    const done = aborted.results.map((r) => r.taskId);
    expect(done.length).toBeLessThan(4);
    expect(done).toEqual(c.slice(0, done.length).map((t) => t.id));
    await waitFor(async () => (await aborted.queued()) === 1, 'the bundle given back', 5000, 25);
  });
});

describe('task bundles: the coordinator', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => { await cluster?.stop(); cluster = undefined; });

  /** Dispatch rounds after a probe (the first round) keep to the ramp: by `p` whole periods of
   *  25 ms after the probe, at most 16 * (2^p - 1) more tasks (16, 48, 112, ...). One
   *  millisecond of slack for the clocks' rounding. */
  function onRamp(rounds: { n: number; ms: number }[]) {
    let sent = 0;
    for (const r of rounds.slice(1)) {
      sent += r.n;
      const p = Math.floor((r.ms + 1 - rounds[0]!.ms) / 25);
      expect(sent, `${sent} tasks out after the probe by ${r.ms - rounds[0]!.ms} ms`).toBeLessThanOrEqual(16 * (2 ** p - 1));
    }
  }

  /** Every task message the coordinator publishes, seen on the core subjects: ids per message. */
  async function tap(c: Cluster) {
    const nc = await connect({ servers: c.nats.url });
    const msgs: { bundle: boolean; ids: string[] }[] = [];
    nc.subscribe('limolab.task.>', { callback: (_e, m) => {
      const bundle = m.subject.endsWith('.bundle');
      msgs.push({ bundle, ids: bundle ? decodeTaskBundle(m.data).map((t) => t.id) : [Task.decode(m.data).id] });
    } });
    await nc.flush();
    return { msgs, close: () => nc.close() };
  }

  /** nats-server, an in-process coordinator and one worker process `w1` with `slots`, registered. */
  async function withWorker(coordinator: { maxInFlight: number; maxBundle?: number }, slots: number): Promise<Cluster> {
    const c = cluster = new Cluster();
    await c.startNats();
    await c.startCoordinatorInProcess(coordinator);
    c.startWorker('w1', ['--slots', String(slots)]);
    await waitFor(() => c.coordinator!.coord.listWorkers().length === 1, 'worker w1', 60_000);
    return c;
  }

  async function run(maxBundle?: number) {
    const c = await withWorker({ maxInFlight: 16, ...(maxBundle ? { maxBundle } : {}) }, 8);
    const t = await tap(c);
    const id = c.coordinator!.coord.submit(`
name: bundles
arms:
  - {name: quick, method: diag, params: {tasks: 400}}
  - {name: slow, method: diag, params: {tasks: 50, sleep_ms: 5}}
`, 'test spec').sweep.id;
    const s = await waitFor(() => { const x = c.coordinator!.coord.getSweep(id, false); return x.status !== 'running' && x; }, 'the sweep to end', 120_000, 50);
    await t.close();
    const d = new Database(c.db, { readonly: true });
    const perTask = d.prepare('select t.arm, t.id, (select count(*) from results r where r.task_id = t.id) n from tasks t where t.sweep_id = ?').all(id) as { arm: string; id: string; n: number }[];
    d.close();
    return { s, msgs: t.msgs, perTask };
  }

  it('bundles an arm\'s tasks once they are measured short, never a slow arm\'s, with one result row per task', async () => {
    const { s, msgs, perTask } = await run();
    expect(s.status).toBe('succeeded');
    expect(perTask).toHaveLength(450);
    expect(perTask.every((r) => r.n === 1)).toBe(true);
    const arm = new Map(perTask.map((r) => [r.id, r.arm]));
    const bundled = msgs.filter((m) => m.bundle);
    // The quick arm went mostly in bundles (after its first 16 results), the slow one never.
    expect(bundled.length).toBeGreaterThan(0);
    expect(bundled.flatMap((m) => m.ids).every((i) => arm.get(i) === 'quick')).toBe(true);
    expect(bundled.every((m) => m.ids.length >= 2 && m.ids.length <= 16)).toBe(true);
    expect(msgs.length).toBeLessThan(450 / 2);
    // Each task published once: no task went twice.
    const ids = msgs.flatMap((m) => m.ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sizes the bundles of sub-millisecond tasks from their run time to the microsecond: full bundles of 64, not the luck of where the millisecond ticked', async () => {
    // From the workers' whole-millisecond start and finish times a no-op task ran 0 or 1 ms,
    // and the mean of the probe's 16 put anything from 5 to 64 tasks in a message.
    const c = await withWorker({ maxInFlight: 4000 }, 4);
    const t = await tap(c);
    const id = c.coordinator!.coord.submit('name: full\narms: [{name: quick, method: diag, params: {tasks: 3000}}]', 'test spec').sweep.id;
    await waitFor(() => c.coordinator!.coord.getSweep(id, false).status !== 'running', 'the sweep to end', 120_000, 50);
    await t.close();
    const sizes = t.msgs.filter((m) => m.bundle).map((m) => m.ids.length);
    expect(sizes.length).toBeGreaterThan(0);
    const full = sizes.filter((n) => n === 64).length;
    // Every bundle full but the last of each publish (what was left of its window).
    expect(full, `bundle sizes: ${sizes.join(' ')}`).toBeGreaterThanOrEqual(sizes.length - Math.ceil(3000 / 500));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(2500);
  });

  it('finishes a bundled sweep after the coordinator is SIGKILLed mid-sweep and restarted, with one result row per task', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const args = { args: ['--max-in-flight', '32'] };
    const coord = await cluster.startCoordinatorProcess(args);
    cluster.startWorker('w1', ['--slots', '4']);
    let client = cluster.client();
    await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 1, 'worker w1', 60_000);
    const t = await tap(cluster);
    const { sweep } = await client.call<object, { sweep: { id: string } }>('submitSweep', { spec: 'name: crash\narms: [{name: quick, method: diag, params: {tasks: 3000}}]', specPath: 'crash.yaml' });
    const id = sweep.id;
    await waitFor(() => t.msgs.filter((m) => m.bundle).length >= 5, 'bundles to go out', 60_000, 5);
    coord.kill('SIGKILL');
    await exited(coord);
    const d0 = new Database(cluster.db, { readonly: true });
    const before = (d0.prepare('select count(*) n from results where sweep_id = ?').get(id) as { n: number }).n;
    d0.close();
    expect(before).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 500));   // the worker finishes what it holds; its results wait in JetStream
    await cluster.startCoordinatorProcess(args);
    client = cluster.client();
    await waitFor(async () => (await client.call<object, { status: string }>('getSweep', { id })).status !== 'running', 'the sweep to end after the restart', 120_000, 100);
    await t.close();
    const d = new Database(cluster.db, { readonly: true });
    const one = (sql: string) => (d.prepare(sql).get(id) as { n: number }).n;
    expect((d.prepare('select status from sweeps where id = ?').get(id) as { status: string }).status).toBe('succeeded');
    expect(one('select count(*) n from results where sweep_id = ?')).toBe(3000);
    expect(one('select count(*) n from (select task_id from results where sweep_id = ? group by task_id having count(*) > 1)')).toBe(0);
    expect(one('select count(*) n from ledger where sweep_id = ?')).toBe(3000);
    d.close();
  });

  it('sends a new phase\'s first 16 tasks alone and holds the rest back, stored queued, until their results, letting them out on the ramp from 25 ms after the probe\'s publish, at a submit and behind another sweep', async () => {
    const c = await withWorker({ maxInFlight: 64 }, 64);
    const coord = c.coordinator!.coord;
    // A first sweep warms the coordinator's submit path.
    const warm = coord.submit('name: warm\narms: [{name: w, method: diag, params: {tasks: 1}}]', 'test spec').sweep.id;
    await waitFor(() => coord.getSweep(warm, false).status !== 'running', 'the warm-up sweep to end', 60_000, 20);
    const t = await tap(c);
    // When each task was handed to the transport, by the coordinator's clock (its 'dispatched' event).
    const rounds: { n: number; ms: number }[] = [];
    coord.scheduler.on('dispatched', (ids: string[], ms: number) => { rounds.push({ n: ids.length, ms }); });
    const db = new Database(c.db, { readonly: true });
    cleanups.push(() => db.close());
    const queued = (id: string) => (db.prepare(`select count(*) n from tasks where sweep_id = ? and status = 'queued'`).get(id) as { n: number }).n;
    // 100 ms tasks: no result comes back within the probe, so after it (PROBE_MS) the rest go
    // alone, on the ramp: 16 more after 25 ms, the last 8 (of the 32 allowed) after 50 ms.
    const id = coord.submit('name: probe\narms: [{name: slow, method: diag, params: {tasks: 40, sleep_ms: 100}}]', 'test spec').sweep.id;
    // The whole first round is stored queued by the submit itself (one write a task), the probe's 16 and the 24 it holds.
    expect(queued(id)).toBe(40);
    await waitFor(() => coord.getSweep(id, false).status !== 'running', 'the sweep to end', 60_000, 20);
    await t.close();
    expect(coord.getSweep(id, false).status).toBe('succeeded');
    expect(t.msgs.filter((m) => m.bundle)).toEqual([]);
    expect(t.msgs).toHaveLength(40);
    // The probe's 16 went out together; the others no sooner than the probe's end (25 ms from
    // the probe's publish; 24 for the clocks' rounding), and no more than the ramp allows.
    expect(rounds[0]!.n).toBe(16);
    expect(rounds.reduce((a, r) => a + r.n, 0)).toBe(40);
    expect(rounds[1]!.ms - rounds[0]!.ms).toBeGreaterThanOrEqual(24);
    onRamp(rounds);

    // A sweep whose planning takes longer than the probe (20,000 tasks): the probe's time runs
    // from its publish, not from the plan, so it still holds the rest of the first round back.
    rounds.length = 0;
    const big = coord.submit('name: probe-big\narms: [{name: slow, method: diag, params: {tasks: 20000, sleep_ms: 100}}]', 'test spec').sweep.id;
    expect(queued(big)).toBe(64);
    // (Once the probe's 100 ms tasks end, their room goes to tasks known to be long, alone.)
    const firstRound = () => { let n = 0; const k = rounds.findIndex((r) => (n += r.n) >= 64); return k < 0 ? null : rounds.slice(0, k + 1); };
    const first = await waitFor(firstRound, 'the big sweep\'s first round to go out', 60_000, 5);
    expect(first[0]!.n).toBe(16);
    expect(first.reduce((a, r) => a + r.n, 0)).toBe(64);
    expect(first[1]!.ms - first[0]!.ms).toBeGreaterThanOrEqual(24);
    onRamp(first);

    // A sweep submitted behind another (the ready queue is not empty) goes out through the pump,
    // as room frees (a few at a time): the same probe, its first 16 tasks and the rest no sooner
    // than 25 ms after the first of them.
    const sent: { id: string; ms: number }[] = [];
    coord.scheduler.on('dispatched', (ids: string[], ms: number) => { for (const i of ids) sent.push({ id: i, ms }); });
    const later = coord.submit('name: probe-later\npriority: 10\narms: [{name: slow, method: diag, params: {tasks: 40, sleep_ms: 100}}]', 'test spec').sweep.id;
    expect(queued(later)).toBe(0);   // no room at the submit: all 64 in flight are the big sweep's
    const mine = () => sent.filter((x) => x.id.startsWith(`${later}.`));
    await waitFor(() => mine().length === 40, 'the later sweep\'s 40 tasks to go out', 60_000, 5);
    const t0 = mine()[0]!.ms;
    expect(mine()[16]!.ms - t0).toBeGreaterThanOrEqual(24);
    await coord.cancel(big);
  });

  it('lets a big submit\'s held tasks out on a ramp (16, 32, 64, ... every 25 ms) while the probe\'s results are late, and the rest bundled once they are in', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess({ maxInFlight: 20_000 });
    const coord = cluster.coordinator!.coord;
    const rounds: { ids: string[]; ms: number }[] = [];
    coord.scheduler.on('dispatched', (ids: string[], ms: number) => { rounds.push({ ids, ms }); });
    // A worker that runs the tasks at once but whose results stay with it until `release()`
    // (as a fresh worker process's first results came back 23-85 ms after the probe in
    // bench:dispatch): the results then go over the real nats-server as usual.
    const wt = await NatsTransport.open(await connect({ servers: cluster.nats.url }));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const publish = wt.publishResult.bind(wt);
    wt.publishResult = (r) => gate.then(() => publish(r));
    // The tasks it received alone, and how many in bundles.
    const alone = new Set<string>();
    let bundled = 0;
    const pull = wt.pullTasks.bind(wt);
    wt.pullTasks = (pool, max, expiresMs, onTask, onBad, onBundle) => pull(pool, max, expiresMs, (d) => { alone.add(d.task.id); onTask(d); }, onBad, (ds) => { bundled += ds.length; onBundle!(ds); });
    const w = new Worker(wt, { id: 'late-w', slots: 256, runners: [diagRunner], heartbeatMs: 200, pullExpiresMs: 1000, log: () => {} });
    const running = w.run();
    cleanups.push(async () => { release(); w.abort(); await running; });
    await waitFor(() => coord.listWorkers().length === 1, 'the worker', 30_000, 10);
    const N = 20_000;
    let succeeded = 0, known = 0;
    coord.scheduler.on('change', (c: { task?: { status: string } }) => { if (c.task?.status === 'succeeded' && ++succeeded === 16) known = Date.now(); });
    const id = coord.submit(`name: late\narms: [{name: quick, method: diag, params: {tasks: ${N}}}]`, 'test spec').sweep.id;
    await waitFor(() => rounds.reduce((a, r) => a + r.ids.length, 0) >= 64, 'the probe and two ramp periods', 30_000, 2);
    release();
    // The probe, then 16, 32, ... more, a period (25 ms) apart, all alone.
    expect(rounds[0]!.ids).toHaveLength(16);
    expect(rounds[1]!.ms - rounds[0]!.ms).toBeGreaterThanOrEqual(24);
    const s = await waitFor(() => { const x = coord.getSweep(id, false); return x.status !== 'running' && x; }, 'the sweep to end', 120_000, 50);
    expect(s.status).toBe('succeeded');
    expect(alone.size + bundled).toBe(N);
    const before = rounds.filter((r) => r.ms < known), after = rounds.filter((r) => r.ms > known);
    onRamp(before.map((r) => ({ n: r.ids.length, ms: r.ms })));
    // Before the 16th result, every task went alone; after it, what still waited went in
    // bundles (before the ramp all 19,984 held went alone 25 ms after the probe).
    expect(before.flatMap((r) => r.ids).every((t) => alone.has(t))).toBe(true);
    expect(after.length, `no publish after the 16th result (${known - rounds[0]!.ms} ms after the probe)`).toBeGreaterThan(0);
    expect(after.flatMap((r) => r.ids).filter((t) => alone.has(t))).toEqual([]);
    expect(bundled).toBeGreaterThan(N / 2);
    const d = new Database(cluster.db, { readonly: true });
    const perTask = d.prepare('select (select count(*) from results r where r.task_id = t.id) n from tasks t where t.sweep_id = ?').all(id) as { n: number }[];
    d.close();
    expect(perTask).toHaveLength(N);
    expect(perTask.every((r) => r.n === 1)).toBe(true);
  });

  it('sends every task alone with --max-bundle 1', async () => {
    const { s, msgs, perTask } = await run(1);
    expect(s.status).toBe('succeeded');
    expect(perTask.every((r) => r.n === 1)).toBe(true);
    expect(msgs.filter((m) => m.bundle)).toEqual([]);
    expect(msgs).toHaveLength(450);
  });
});

describe('task bundles: --max-bundle', () => {
  it('refuses a bundle size that is not a whole number from 1 to 1024 with one line, creating no database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limolab-bundle-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    for (const bad of ['0', '2.5', '5000', 'many']) {
      const r = await runCli(['coordinator', '--db', join(dir, 'x.db'), '--max-bundle', bad]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toBe(bad === 'many'
        ? 'limolab coordinator: --max-bundle must be a number, got "many"'
        : `limolab coordinator: --max-bundle must be a whole number from 1 (every task in a message of its own) to 1024, not "${bad}"`);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(existsSync(join(dir, 'x.db'))).toBe(false);
  });
});
