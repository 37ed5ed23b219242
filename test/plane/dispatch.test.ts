// The execution plane end to end: real nats-server, real SQLite, real worker processes.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep, WorkerStatus } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, exited, waitFor } from '../helpers/cluster.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

const submit = (c: Cluster, spec: string) => c.coordinator!.coord.submit(spec, 'test spec').sweep.id;
const sweepOf = (c: Cluster, id: string) => c.coordinator!.coord.getSweep(id, true);
const done = (s: Sweep) => s.status !== 'running';

function rows(db: string, sql: string, ...args: unknown[]) {
  const d = new Database(db, { readonly: true });
  try { return d.prepare(sql).all(...args) as Record<string, unknown>[]; } finally { d.close(); }
}

/** Watches the scheduler's per-sweep set of queued and running tasks (what its once-a-second
 *  watch and placement check walk, instead of every task of the sweep) and its in-flight count
 *  (what bounds dispatch) against the tasks' own statuses, every 2 ms: the mismatches seen, and
 *  how many looks found tasks in the set. */
function watchActive(c: Cluster) {
  type T = { id: string; status: string };
  const s = c.coordinator!.coord.scheduler as unknown as { sweeps: Map<string, { taskIds: string[]; active: Set<T> }>; tasks: Map<string, T>; inFlightCount: number };
  const mismatches: string[] = [];
  let busyLooks = 0;
  const timer = setInterval(() => {
    for (const [id, sw] of s.sweeps) {
      const want = sw.taskIds.map((t) => s.tasks.get(t)!).filter((t) => t.status === 'queued' || t.status === 'running');
      if (sw.active.size) busyLooks++;
      if (want.length !== sw.active.size || want.some((t) => !sw.active.has(t))) mismatches.push(`sweep ${id}: ${want.length} task(s) queued or running, ${sw.active.size} in its active set`);
    }
    const queuedOrRunning = [...s.tasks.values()].filter((t) => t.status === 'queued' || t.status === 'running').length;
    if (s.inFlightCount !== queuedOrRunning) mismatches.push(`in-flight count ${s.inFlightCount}, ${queuedOrRunning} task(s) queued or running`);
  }, 2);
  return { stop: () => { clearInterval(timer); return { mismatches, busyLooks }; } };
}

describe('execution plane', () => {
  it('runs a sweep of many tasks over 2 worker processes with exactly one result row per task', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    cluster.startWorker('w1', ['--slots', '8']);
    cluster.startWorker('w2', ['--slots', '8']);
    await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 2, 'both workers to register');
    const id = submit(cluster, `
name: many
arms:
  - {name: a, method: diag, params: {tasks: 300, sleep_ms: 1}}
  - {name: chain, method: diag, params: {tasks: 5, stages: 4, output_bytes: 2048}}
`);
    const active = watchActive(cluster);
    const s = await waitFor(() => { const x = sweepOf(cluster, id); return done(x) && x; }, 'the sweep to finish', 60_000);
    const seen = active.stop();
    expect(seen.mismatches).toEqual([]);
    expect(seen.busyLooks).toBeGreaterThan(0);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.total).toBe(320);
    expect(s.counts!.succeeded).toBe(320);
    const perTask = rows(cluster.db, 'select t.id, count(r.task_id) n from tasks t left join results r on r.task_id = t.id where t.sweep_id = ? group by t.id', id);
    expect(perTask).toHaveLength(320);
    expect(perTask.every((r) => r.n === 1)).toBe(true);
    // Every attempt stood as it ran: none turned failed by an ingestion error after its rows were stored.
    expect(rows(cluster.db, `select status, error from attempts where sweep_id = ? and status != 'succeeded'`, id)).toEqual([]);
    // Both workers took part, and chained stages received their predecessor's artifact.
    const workers = rows(cluster.db, 'select distinct worker_id from attempts where sweep_id = ?', id).map((r) => r.worker_id);
    expect(workers.sort()).toEqual(['w1', 'w2']);
    const inputs = rows(cluster.db, `select m.value from metrics m join tasks t on t.id = m.task_id where t.sweep_id = ? and t.name like '%stage 4' and m.name = 'input_bytes'`, id);
    expect(inputs.map((r) => r.value)).toEqual([2048, 2048, 2048, 2048, 2048]);
  });

  it('completes a task on the other worker after its worker is SIGKILLed mid-task: one result row, two attempts', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess({ ackWaitMs: 2000, lostAfterMs: 1500 });
    const w1 = cluster.startWorker('victim');
    await waitFor(() => cluster.coordinator!.coord.listWorkers().some((w) => w.info!.id === 'victim'), 'the first worker to register');
    const id = submit(cluster, `
name: kill-worker
arms: [{name: slow, method: diag, params: {sleep_ms: 4000}}]
`);
    await waitFor(() => sweepOf(cluster, id).tasks[0]!.status === 'running', 'the task to start on the victim');
    w1.kill('SIGKILL');
    await exited(w1);
    cluster.startWorker('rescuer');
    const s = await waitFor(() => { const x = sweepOf(cluster, id); return done(x) && x; }, 'the sweep to finish', 30_000);
    expect(s.status).toBe('succeeded');
    const taskId = s.tasks[0]!.id;
    expect(rows(cluster.db, 'select count(*) n from results where task_id = ?', taskId)[0]!.n).toBe(1);
    const attempts = rows(cluster.db, 'select worker_id, status, delivery from attempts where task_id = ? order by delivery', taskId);
    expect(attempts).toEqual([
      { worker_id: 'victim', status: 'lost', delivery: 1 },
      { worker_id: 'rescuer', status: 'succeeded', delivery: 2 },
    ]);
    const victim = await waitFor(() => cluster.coordinator!.coord.listWorkers(true).find((w: WorkerStatus) => w.info!.id === 'victim' && w.state === 'lost'), 'the victim to be marked lost');
    expect(victim.state).toBe('lost');
  });

  it('ends an always-failing task failed after its retries, with its error, and skips its dependents', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    cluster.startWorker('w1', ['--slots', '4']);
    const id = submit(cluster, `
name: failing
defaults: {retries: 2, backoff_ms: 50}
arms:
  - {name: bad, method: diag, params: {stages: 3, fail_stage: 2, op: fail, message: "boom on purpose"}}
  - {name: flaky, method: diag, params: {op: fail, fail_times: 2}}
`);
    const active = watchActive(cluster);
    const s = await waitFor(() => { const x = sweepOf(cluster, id); return done(x) && x; }, 'the sweep to finish');
    const seen = active.stop();
    expect(seen.mismatches).toEqual([]);   // through failures, retries after a backoff and skips
    expect(seen.busyLooks).toBeGreaterThan(0);
    expect(s.status).toBe('failed');
    const byName = Object.fromEntries(s.tasks.map((t) => [`${t.arm}/${t.name}`, t]));
    expect(byName['bad/diag 0 stage 1']!.status).toBe('succeeded');
    expect(byName['bad/diag 0 stage 2']).toMatchObject({ status: 'failed', attempts: 3, error: 'boom on purpose' });
    expect(byName['bad/diag 0 stage 3']!.status).toBe('skipped');
    expect(byName['bad/diag 0 stage 3']!.error).toMatch(/dependency diag 0 stage 2 .* failed: boom on purpose/);
    // Fails twice, succeeds on the third dispatch.
    expect(byName['flaky/diag 0']).toMatchObject({ status: 'succeeded', attempts: 3 });
    const att = rows(cluster.db, 'select status, error from attempts where task_id = ? order by dispatch', byName['bad/diag 0 stage 2']!.id);
    expect(att.map((a) => a.status)).toEqual(['failed', 'failed', 'failed']);
  });

  it('cancel stops running tasks within seconds and queues nothing more', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    cluster.startWorker('w1', ['--slots', '2']);
    cluster.startWorker('w2', ['--slots', '2']);
    const id = submit(cluster, `
name: to-cancel
arms: [{name: long, method: diag, params: {tasks: 20, sleep_ms: 60000}}]
`);
    const active = watchActive(cluster);
    await waitFor(() => sweepOf(cluster, id).counts!.running === 4, 'four tasks to run');
    const t0 = Date.now();
    await cluster.coordinator!.coord.cancel(id);
    const seen = active.stop();
    expect(seen.mismatches).toEqual([]);
    expect(seen.busyLooks).toBeGreaterThan(0);
    const s = sweepOf(cluster, id);
    expect(s.status).toBe('cancelled');
    expect(s.counts!.cancelled).toBe(20);
    // The running attempts report back cancelled, and the workers are idle again.
    await waitFor(() => rows(cluster.db, `select count(*) n from attempts where sweep_id = ? and status = 'cancelled'`, id)[0]!.n === 4, 'four cancelled attempts', 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitFor(() => cluster.coordinator!.coord.listWorkers().every((w) => w.state === 'idle'), 'workers to be idle', 5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(rows(cluster.db, 'select count(*) n from attempts where sweep_id = ?', id)[0]!.n).toBe(4);
    expect(rows(cluster.db, 'select count(*) n from results where sweep_id = ?', id)[0]!.n).toBe(0);
  });

  it('drains a worker: its running task finishes, then it takes no more and exits', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    const w = cluster.startWorker('drainee');
    const id = submit(cluster, `
name: drain
arms: [{name: s, method: diag, params: {tasks: 3, sleep_ms: 1500}}]
`);
    await waitFor(() => sweepOf(cluster, id).counts!.running === 1, 'a task to run');
    await waitFor(() => cluster.coordinator!.coord.listWorkers().find((x) => x.info!.id === 'drainee'), 'the worker to register');
    const r = await cluster.coordinator!.coord.drainWorker('drainee');
    expect(r.state).toBe('draining');
    expect(await exited(w)).toBe(0);
    const s = sweepOf(cluster, id);
    expect(s.counts!.succeeded).toBe(1);
    expect(s.counts!.queued + s.counts!.pending).toBe(2);
  });

  it('says when no live worker of the pool can run a task, and the task keeps waiting', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess();
    cluster.startWorker('cpu-only');
    await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 1, 'the worker to register');
    const id = submit(cluster, `
name: needs-gpu
arms: [{name: g, method: diag, resources: {gpus: 1}}, {name: c, method: diag, params: {tasks: 3, sleep_ms: 2500}}]
`);
    const t = await waitFor(() => sweepOf(cluster, id).tasks.find((x) => x.error.startsWith('waiting:')), 'the placement warning', 15_000);
    expect(t.status).toBe('queued');
    expect(t.arm).toMatch(/^g/);
    // The same pool's tasks that need no GPU run one at a time on the one slot, so one of them
    // waits queued through a placement check (every 5 s): it is not flagged (answers per need).
    const cs = await waitFor(() => { const x = sweepOf(cluster, id).tasks.filter((y) => y.arm.startsWith('c')); return x.length === 3 && x.every((y) => y.status === 'succeeded') && x; }, 'the CPU tasks to run', 30_000);
    const log = cluster.logs.join('\n');
    for (const c of cs) expect(log).not.toContain(`(${c.id}) waiting:`);
    expect(log).toContain(`(${t.id}) waiting:`);
    expect(t.error).toMatch(/no live worker in pool "default" can run it \(kind diag, 1 GPU\(s\).*cpu-only \(0 GPU\(s\)/);
    expect(cluster.logs.join('\n')).toMatch(/giving back task .*needs 1 GPU\(s\), this worker has 0/);
    await cluster.coordinator!.coord.cancel(id);
  });
});
