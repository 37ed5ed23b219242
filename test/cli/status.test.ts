// Status views through the real CLI against a real coordinator, nats-server and worker:
// `sweep status --tasks` shows each task's id, name and seed; `workers` shows the name of the
// task a worker runs; a cancelled task is counted as cancelled, not failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerStatus } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { runCli } from './run-cli.js';

const c = new Cluster();

beforeAll(() => c.startWithOneWorker(2), 300_000);
afterAll(() => c.stop());

// Through the in-process coordinator: submitting is not what these tests are about.
const submit = async (name: string, body: string) => c.coordinator!.coord.submit(`name: ${name}
${body}`, `${name}.yaml`).sweep.id;
const cli = (...args: string[]) => runCli([...args, '--coordinator', c.address], { timeoutMs: 120_000 });

describe('status views', () => {
  it('sweep status --tasks lists each task with its id, name and seed', async () => {
    const id = await submit('status-seeds', 'seeds: 2\narms:\n  - name: two\n    method: diag\n    params: { op: sleep, sleep_ms: 10, tasks: 2 }\n');
    await waitFor(() => c.coordinator!.coord.getSweep(id).status === 'succeeded', 'the sweep to finish');
    const r = await cli('sweep', 'status', id, '--tasks');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => /^id\s+task\s+arm\s+seed\s+phase\s+status/.test(l));
    expect(head).toBeGreaterThan(0);
    const rows = lines.slice(head + 2).filter(Boolean).map((l) => l.trim().split(/\s{2,}/));
    const tasks = c.coordinator!.coord.getSweep(id, true).tasks;
    expect(rows).toHaveLength(4);
    // every task id, its name and its seed, as the coordinator has them
    expect(rows.map((r) => `${r[0]} ${r[1]} ${r[3]}`).sort()).toEqual(tasks.map((t) => `${t.id} ${t.name} ${t.seed}`).sort());
    expect(new Set(tasks.map((t) => t.seed))).toEqual(new Set([0, 1]));
    expect(new Set(rows.map((r) => r[1]))).toEqual(new Set(['diag 0', 'diag 1']));
  });

  it('workers shows the name of the task a worker runs, not its id', async () => {
    const id = await submit('status-busy', 'arms:\n  - name: long\n    method: diag\n    params: { op: sleep, sleep_ms: 60000 }\n');
    const task = (await waitFor(() => c.coordinator!.coord.getSweep(id, true).tasks.find((t) => t.status === 'running'), 'the task to run'))!;
    await waitFor(() => c.coordinator!.coord.listWorkers()[0]!.running.includes(task.id), 'a heartbeat naming the task');
    const r = await cli('workers');
    expect(r.code, r.stderr).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith('w1'))!;
    expect(row).toContain('diag 0');
    expect(row).not.toContain(task.id);
    const json = JSON.parse((await cli('workers', '--json')).stdout) as WorkerStatus[];
    expect(json[0]!.runningNames).toEqual(['diag 0']);
    await c.coordinator!.coord.cancel(id);
  });

  it('counts a cancelled task as cancelled, not failed, in status, list and the worker', async () => {
    const before = c.coordinator!.coord.listWorkers()[0]!.failed;
    const id = await submit('status-cancel', 'arms:\n  - name: long\n    method: diag\n    params: { op: sleep, sleep_ms: 20000, tasks: 2 }\n');
    await waitFor(() => c.coordinator!.coord.getSweep(id).counts!.running === 2, 'both tasks to run');
    expect((await cli('sweep', 'cancel', id)).code).toBe(0);
    const status = await cli('sweep', 'status', id);
    expect(status.code).toBe(0);  // cancelled is not failed: exit 0
    expect(status.stdout).toMatch(/^sweep \S+ \(status-cancel\): cancelled$/m);
    expect(status.stdout).toMatch(/0 failed, 0 skipped, 2 cancelled/);
    const list = (await cli('sweep', 'list')).stdout.split('\n').find((l) => l.startsWith(id))!;
    expect(list.split(/\s{2,}/).slice(2, 7)).toEqual(['cancelled', '2', '0', '0', '2']);
    // the worker reports the two aborted attempts, and does not count them as failures
    const w = await waitFor(() => { const x = c.coordinator!.coord.listWorkers()[0]!; return x.running.length === 0 && x.lastSeenMs > Date.now() - 1000 ? x : null; }, 'the worker to report');
    expect(w.failed).toBe(before);
    const attempts = c.coordinator!.store.sweepTasks(id).flatMap((t) => c.coordinator!.store.attemptsOf(t.id));
    await waitFor(() => c.coordinator!.store.sweepTasks(id).flatMap((t) => c.coordinator!.store.attemptsOf(t.id)).every((a) => a.status === 'cancelled'), 'the attempts to be recorded cancelled');
    expect(attempts.length).toBe(2);
  });
});
