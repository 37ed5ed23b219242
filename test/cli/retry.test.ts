// `limolab sweep retry` and Coordinator.retrySweep against a real coordinator, nats-server and
// worker processes: failed and skipped tasks run again while succeeded ones are kept (their
// attempts and outputs reused); a cancelled sweep's tasks run again; a task stuck on a worker
// that was killed is re-queued at once, without waiting for its lease.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, exited, waitFor } from '../helpers/cluster.js';
import { runCli } from './run-cli.js';

const c = new Cluster();

beforeAll(async () => {
  await c.startNats();
  // A long lease: only a retry (not a redelivery) can bring back a task stuck on a dead worker in time.
  await c.startCoordinatorInProcess({ ackWaitMs: 60_000, lostAfterMs: 1500 });
  c.startWorker('w1', ['--slots', '2']);
  await waitFor(() => c.coordinator!.coord.listWorkers().length === 1, 'worker w1', 280_000);
}, 300_000);
afterAll(() => c.stop());

const coord = () => c.coordinator!.coord;
const cli = (...args: string[]) => runCli([...args, '--coordinator', c.address], { timeoutMs: 120_000 });
// Through the in-process coordinator: submitting is not what these tests are about.
const submit = async (name: string, body: string) => c.coordinator!.coord.submit(`name: ${name}
${body}`, `${name}.yaml`).sweep.id;
const ended = (id: string, ms = 100_000) => waitFor(() => coord().getSweep(id).status !== 'running', `sweep ${id} to end`, ms);
const attempts = (taskId: string) => c.coordinator!.store.attemptsOf(taskId).sort((a, b) => a.dispatch - b.dispatch);

describe('sweep retry', () => {
  it('re-runs a failed task and the dependents it skipped, keeping the tasks that succeeded', async () => {
    const id = await submit('retry-failed', `arms:
  - name: chain
    method: diag
    retries: 0
    params: { op: fail, fail_stage: 2, fail_times: 1, stages: 3, output_bytes: 100 }
  - name: fine
    method: diag
    params: { op: sleep, sleep_ms: 10 }
`);
    await ended(id);
    const before = coord().getSweep(id, true);
    expect(before.status).toBe('failed');
    const byName = (s: Sweep, n: string) => s.tasks.find((t) => t.name === n)!;
    expect([1, 2, 3].map((k) => byName(before, `diag 0 stage ${k}`).status)).toEqual(['succeeded', 'failed', 'skipped']);

    const r = await cli('sweep', 'retry', id, '--watch');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^sweep ${id}: 2 task\\(s\\) will run again; 2 succeeded task\\(s\\) kept$`, 'm'));
    expect(r.stdout).toMatch(/^sweep \S+ \(retry-failed\): succeeded$/m);
    const after = coord().getSweep(id, true);
    expect(after.status).toBe('succeeded');
    expect(after.tasks.every((t) => t.status === 'succeeded')).toBe(true);
    // kept: one attempt each, as before the retry
    for (const n of ['diag 0 stage 1', 'diag 0']) expect(attempts(byName(after, n).id)).toHaveLength(1);
    // re-run: a new dispatch number, the failed attempt kept beside it
    expect(attempts(byName(after, 'diag 0 stage 2').id).map((a) => [a.dispatch, a.status])).toEqual([[1, 'failed'], [2, 'succeeded']]);
    expect(attempts(byName(after, 'diag 0 stage 3').id).map((a) => a.status)).toEqual(['succeeded']);
    // stage 3 ran on stage 2's new output
    expect(c.coordinator!.store.outputsOf([byName(after, 'diag 0 stage 3').id]).get(byName(after, 'diag 0 stage 3').id)).toHaveLength(1);

    const again = await cli('sweep', 'retry', id);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to retry .* it is succeeded/);
  }, 240_000);

  it('Coordinator.retrySweep runs a cancelled sweep\'s cancelled tasks again', async () => {
    const id = await submit('retry-cancelled', 'arms:\n  - name: nap\n    method: diag\n    params: { op: sleep, sleep_ms: 3000, tasks: 2 }\n');
    await waitFor(() => coord().getSweep(id).counts!.running === 2, 'both tasks to run', 60_000);
    await coord().cancel(id);
    expect(coord().getSweep(id).counts!.cancelled).toBe(2);
    // at once: the workers, told the sweep was cancelled, must take its tasks again
    await expect(coord().retrySweep(id)).resolves.toEqual({ requeued: 2 });
    expect(coord().getSweep(id).status).toBe('running');
    await ended(id);
    const s = coord().getSweep(id, true);
    expect(s.status).toBe('succeeded');
    for (const t of s.tasks) expect(attempts(t.id).map((a) => a.status)).toEqual(['cancelled', 'succeeded']);
  }, 120_000);

  it('runs a task stuck on a worker that was killed again on a live worker, without waiting for its lease', async () => {
    const gone = c.startWorker('gone', ['--pool', 'stuck']);
    const id = await submit('retry-stuck', 'arms:\n  - name: nap\n    method: diag\n    resources: { pool: stuck }\n    params: { op: sleep, sleep_ms: 6000 }\n');
    const task = (await waitFor(() => coord().getSweep(id, true).tasks.find((t) => t.status === 'running' && t.workerId === 'gone'), 'the task to run on "gone"', 60_000))!;
    gone.kill('SIGKILL');
    await exited(gone);
    await waitFor(() => !coord().listWorkers().some((w) => w.info!.id === 'gone'), '"gone" to be marked lost', 30_000);
    c.startWorker('fresh', ['--pool', 'stuck']);
    await waitFor(() => coord().listWorkers().some((w) => w.info!.id === 'fresh'), 'worker "fresh"', 280_000);
    const retriedAt = Date.now();
    const r = await cli('sweep', 'retry', id, '--json');
    expect(r.code, r.stderr).toBe(0);
    // 1 when the retry took it back; 0 when the coordinator had already re-queued the lost
    // worker's task by itself (its own grace is lostAfterMs): either way it must run again now.
    expect((JSON.parse(r.stdout) as { requeued: number }).requeued).toBeLessThanOrEqual(1);
    await ended(id, 50_000);
    expect(Date.now() - retriedAt).toBeLessThan(50_000);      // well before the 60 s lease would have returned it
    expect(coord().getSweep(id).status).toBe('succeeded');
    const done = attempts(task.id).find((a) => a.status === 'succeeded')!;
    expect(done.workerId).toBe('fresh');
    // Dispatch 2 from the retry (or the coordinator's own re-queue); on a slow machine the
    // queue's lease on the first message can run out while "fresh" starts, and the first
    // dispatch is then redelivered to it instead: a later delivery, never the dead worker's.
    expect(done.dispatch === 2 || done.delivery > 1, `dispatch ${done.dispatch} delivery ${done.delivery}`).toBe(true);
  }, 240_000);

  it('says what is wrong with an unknown sweep id', async () => {
    const r = await cli('sweep', 'retry', 'no-such-sweep');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no sweep with id no-such-sweep; `limolab sweep list --all` shows the sweeps/);
  });
});
