// Chaos scenarios, issue 10 items 1, 6 and the ingest half of 10: a NaN result in a batch,
// forged results and heartbeats, and a cancel_sweep from an arbitrary NATS client. Real
// nats-server, real SQLite, real workers over NATS; the coordinator in this process.
import { afterEach, describe, expect, it } from 'vitest';
import { ControlRequest, TaskKind } from '../../gen/limolab/v1/task.js';
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
