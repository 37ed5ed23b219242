// Chaos scenarios, issue 10 items 1, 6 and the ingest half of 10: a NaN result in a batch,
// forged results and heartbeats, a stale cancel for a superseded attempt, and a cancel_sweep
// from an arbitrary NATS client. Real nats-server, real SQLite, real workers over NATS; the
// coordinator in this process.
import { afterEach, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { ControlRequest, Task, TaskEvent, TaskKind } from '../../gen/limolab/v1/task.js';
import { diagRunner } from '../../worker/diag.js';
import type { Runner } from '../../worker/runner.js';
import { waitFor } from '../helpers/cluster.js';
import { Plane, figure, result } from './plane.js';

let plane: Plane;
afterEach(async () => { await plane?.stop(); });

const done = (id: string) => waitFor(() => { const s = plane.coord!.coord.getSweep(id); return s.status !== 'running' && s; }, `sweep ${id} to end`, 90_000);

describe('chaos: results path', () => {
  it('refuses a NaN result alone: its task fails with the reason, the rest of its batch is stored, the sweep ends failed', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    // A runner that reports NaN for every third task (as a diverged SFT arm does), in the
    // same moment as the others, so they travel in one result batch.
    const nanRunner: Runner = {
      name: 'diag', kinds: [TaskKind.TASK_KIND_DIAG],
      async run(ctx) {
        const out = await diagRunner.run(ctx);
        // Task ids end in hex: about 6 in 16 of them report NaN.
        if (Number.parseInt(ctx.task.id.slice(-1), 16) % 3 === 0) out.metrics.loss = Number.NaN;
        return out;
      },
    };
    await plane.worker('w-nan', [nanRunner], 10);
    const id = plane.coord!.coord.submit('name: nan\ndefaults: {retries: 2}\narms: [{name: a, method: diag, params: {tasks: 30}}]').sweep.id;
    const s = await done(id);
    const c = s.counts!;
    expect(c.queued + c.pending + c.running).toBe(0);
    expect(c.failed).toBeGreaterThan(0);
    expect(c.succeeded).toBe(30 - c.failed);
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/task\(s\) failed/);
    expect(plane.count('select count(*) n from results where sweep_id = ?', id)).toBe(c.succeeded);
    const full = plane.coord!.coord.getSweep(id, true);
    for (const t of full.tasks.filter((x) => x.status === 'failed')) expect(t.error).toMatch(/result refused: metric loss = NaN.*diverged/);
    // Refused, not retried: NaN comes back every time.
    expect(plane.count("select max(dispatches) n from tasks where sweep_id = ? and status = 'failed'", id)).toBe(1);
    expect(plane.logs.join('\n')).not.toMatch(/NOT NULL/);
    figure('nan-result', `30 tasks in batches, ${c.failed} NaN results refused alone, ${c.succeeded} stored, 0 left queued, sweep ${s.status}`);
  }, 180_000);

  it('refuses forged results (no such task, undispatched attempt, another worker) and forged heartbeats without creating rows', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord({ maxWorkers: 50 });
    await plane.worker('w1', [diagRunner], 2);
    const id = plane.coord!.coord.submit('name: forged\narms: [{name: a, method: diag, params: {tasks: 4, sleep_ms: 1500}}]').sweep.id;
    const running = await waitFor(() => plane.coord!.coord.getSweep(id, true).tasks.find((t) => t.status === 'running'), 'a task to run');
    const attempts0 = plane.count('select count(*) n from attempts');
    // 5000 results for tasks that do not exist, one for an attempt never dispatched, one
    // from a worker other than the one running the attempt.
    // (The coordinator logs the first 20 refusals, then every 1000th: the two named ones go first.)
    await plane.forgeResults([result(running.id, id, { attempt: 7, attemptId: `${running.id}#7.1` })]);
    await plane.forgeResults([result(running.id, id, { workerId: 'mallory' })]);
    const fakes = Array.from({ length: 5000 }, (_, i) => result(`${id}.nosuchtask${i}`, id));
    for (let i = 0; i < fakes.length; i += 500) await plane.forgeResults(fakes.slice(i, i + 500));
    const nc = await plane.rawClient();
    for (let i = 0; i < 2000; i++) await plane.forgeHeartbeat(nc, `fake-${i}`);
    await nc.flush();
    const s = await done(id);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(4);
    await waitFor(() => plane.logs.some((l) => /was leased to worker w1, not mallory/.test(l)), 'the other-worker refusal');
    expect(plane.logs.join('\n')).toMatch(/refused a result .*no task .*nosuchtask/);
    expect(plane.logs.join('\n')).toMatch(/attempt 7 of task .* was never dispatched/);
    const attempts = plane.count('select count(*) n from attempts') - attempts0;
    expect(plane.count("select count(*) n from attempts where worker_id in ('forger', 'mallory')")).toBe(0);
    expect(plane.count("select count(*) n from attempts where task_id like '%nosuchtask%'")).toBe(0);
    await waitFor(() => plane.count('select count(*) n from workers') > 1, 'worker rows to be saved');
    await new Promise((r) => setTimeout(r, 600));
    const workers = plane.count('select count(*) n from workers');
    expect(workers).toBeLessThanOrEqual(50);
    expect(plane.coord!.coord.listWorkers().some((w) => w.info!.id === 'w1')).toBe(true);
    figure('forged-ingest', `5000 results for missing tasks + 2 forged attempts: 0 rows (attempt rows ${attempts}, all the real worker's); 2000 fake heartbeats -> ${workers} worker rows (cap 50), real worker kept`);
  }, 180_000);

  it('ignores a stale cancel for an attempt that was since superseded: the redelivered task and its dependents carry on', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    const id = plane.coord!.coord.submit('name: stale\narms: [{name: a, method: diag, params: {tasks: 1, stages: 2}}]').sweep.id;
    const nc = await plane.rawClient();
    const consumer = await jetstream(nc).consumers.get('LIMOLAB_TASKS', 'pool_default');
    /** Takes the next delivery of stage 1 as worker `w` and reports its start; the message is held, not acked. */
    const take = async (w: string) => {
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 30_000 })) {
        const task = Task.decode(m.data);
        const attemptId = `${task.id}#${task.attempt}.${m.info.deliveryCount}`;
        await plane.forgeHeartbeat(nc, w);
        nc.publish(`limolab.event.${id}`, TaskEvent.encode({ taskId: task.id, sweepId: id, attemptId, workerId: w, tsMs: Date.now(), event: { $case: 'started', value: { delivery: m.info.deliveryCount } } }).finish());
        return { m, task, attemptId };
      }
      throw new Error('no task came');
    };
    // Worker slow-1 takes stage 1 and stalls without extending its lease: after the lease
    // (5 s) JetStream hands the same dispatch to worker w-2 as delivery 2.
    const first = await take('slow-1');
    const second = await take('w-2');
    expect(second.attemptId).toBe(`${first.task.id}#1.2`);
    const t = () => plane.coord!.coord.getSweep(id, true).tasks.find((x) => x.id === first.task.id)!;
    await waitFor(() => t().workerId === 'w-2', 'delivery 2 to be reported started');
    // slow-1 then reports its attempt cancelled (as an aborted attempt does, late).
    await plane.forgeResults([result(first.task.id, id, { workerId: 'slow-1', error: { message: 'aborted', code: 'cancelled', retryable: false, logTail: [] } })]);
    await waitFor(() => plane.logs.some((l) => /ignored the cancel of attempt .*#1\.1: delivery 1 was superseded by .*#1\.2 \(its lease ran out\)/.test(l)), 'the stale cancel to be ignored');
    expect(t().status).toBe('running');
    expect(plane.coord!.coord.getSweep(id).counts).toMatchObject({ cancelled: 0, skipped: 0, pending: 1 });
    // w-2 gives it back; a real worker finishes both stages.
    second.m.nak();
    await plane.worker('w-ok');
    const s = await done(id);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(2);
    expect(plane.count("select count(*) n from attempts where id = ? and status = 'cancelled'", `${first.task.id}#1.1`)).toBe(1);
    figure('stale-cancel', `a cancel for superseded delivery 1 changed nothing: the task ran on as a later delivery and the sweep ${s.status} (2/2)`);
  }, 120_000);

  it('a cancel_sweep control message from an arbitrary NATS client skips dependents and ends the sweep failed, never succeeded', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    await plane.worker('w1', [diagRunner], 6);
    const id = plane.coord!.coord.submit('name: stray\narms: [{name: a, method: diag, params: {tasks: 6, stages: 2, sleep_ms: 3000}}]').sweep.id;
    await waitFor(() => plane.coord!.coord.getSweep(id).counts!.running >= 3, 'stage-1 tasks to run', 60_000);
    const nc = await plane.rawClient();
    nc.publish('limolab.ctl.all', ControlRequest.encode({ op: { $case: 'cancelSweep', value: id } }).finish());
    await nc.flush();
    const s = await done(id);
    const c = s.counts!;
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/cancelled without a sweep cancel/);
    expect(c.cancelled).toBeGreaterThan(0);
    expect(c.succeeded).toBeLessThan(12);
    expect(c.pending + c.queued + c.running).toBe(0);
    const tasks = plane.coord!.coord.getSweep(id, true).tasks;
    for (const t of tasks.filter((x) => x.status === 'skipped')) expect(t.error).toMatch(/skipped: cancelled by worker w1 without a cancel from this coordinator/);
    figure('stray-cancel', `forged cancel_sweep: ${c.cancelled} cancelled, ${c.skipped} skipped, ${c.succeeded} succeeded of 12; sweep ${s.status}: ${s.error}`);
  }, 180_000);
});
