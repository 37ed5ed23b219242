// `limolab logs` and `limolab artifacts` through the real CLI: a worker runs diag tasks through
// an external runner (a small node script speaking the runner protocol) whose stderr tail is
// stored with each attempt; live lines of a running attempt; one worker log line per task;
// the artifacts a task wrote and read. Real nats-server, SQLite, gRPC, child processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sweep, TaskArtifact } from '../../gen/limolab/v1/coordinator.js';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { runCli } from './run-cli.js';

const c = new Cluster();
const RUNNER = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
let data = '';
process.stdin.on('data', (d) => (data += d));
process.stdin.on('end', async () => {
  const input = JSON.parse(data.split('\\n')[0]);
  const t = input.task, d = t.diag ?? {};
  console.error('runner: loading ' + t.id);
  for (let i = 1; i <= 2; i++) console.error('runner: step ' + i + ' of 2');
  // a training loss at steps 10, 20, 30 (the coordinator keeps it for the attempt that succeeds)
  for (let i = 1; i <= 3; i++) process.stdout.write(JSON.stringify({ type: 'metric', name: 'loss', value: 1 / i, step: 10 * i }) + '\\n');
  if (d.sleepMs) { console.error('runner: sleeping'); await new Promise((r) => setTimeout(r, d.sleepMs)); }
  if (d.op === 'OP_FAIL') { console.error('runner: out of memory (simulated)'); process.exit(3); }
  writeFileSync(join(input.output_dir, 'out.txt'), 'hello from ' + t.arm);
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  out({ type: 'log', message: 'runner: wrote out.txt' });
  out({ type: 'artifact', role: 'data', path: 'out.txt', media_type: 'text/plain' });
  out({ type: 'result', metrics: { ok: 1 } });
});
`;

beforeAll(async () => {
  await c.startNats();
  await c.startCoordinatorInProcess();
  const script = join(c.dir, 'runner.mjs');
  writeFileSync(script, RUNNER);
  c.startWorker('p1', ['--pool', 'ext', '--slots', '2', '--runner-cmd', `${process.execPath} ${script}`, '--runner-kinds', 'diag']);
  c.startWorker('w1', ['--slots', '2']);
  await waitFor(() => c.coordinator!.coord.listWorkers().length === 2, 'two workers', 280_000);
}, 300_000);
afterAll(() => c.stop());

const cli = (...args: string[]) => runCli([...args, '--coordinator', c.address], { timeoutMs: 120_000 });
// Through the in-process coordinator: submitting is not what these tests are about.
const submit = async (name: string, body: string) => c.coordinator!.coord.submit(`name: ${name}
${body}`, `${name}.yaml`).sweep.id;
const ended = (id: string) => waitFor(() => c.coordinator!.coord.getSweep(id).status !== 'running', `sweep ${id} to end`, 100_000);
const EXT = 'resources: { pool: ext }';

describe('limolab logs', () => {
  let sweep = '';
  let ok = '', bad = '';
  beforeAll(async () => {
    sweep = await submit('logs', `arms:\n  - name: ok\n    method: diag\n    ${EXT}\n    params: { op: sleep }\n  - name: bad\n    method: diag\n    ${EXT}\n    retries: 0\n    params: { op: fail }\n`);
    await ended(sweep);
    const tasks = c.coordinator!.coord.getSweep(sweep, true).tasks;
    ok = tasks.find((t) => t.arm === 'ok')!.id;
    bad = tasks.find((t) => t.arm === 'bad')!.id;
  }, 120_000);

  it('stores the loss a runner reported at steps with the succeeded attempt, and not a failed attempt\'s', async () => {
    const db = new Database(c.db, { readonly: true });
    const stepped = (id: string) => db.prepare('select name, step, value from metrics where task_id = ? and step > 0 order by step').all(id);
    expect(stepped(ok)).toEqual([{ name: 'loss', step: 10, value: 1 }, { name: 'loss', step: 20, value: 0.5 }, { name: 'loss', step: 30, value: 1 / 3 }]);
    expect(stepped(bad)).toEqual([]);
    // the final metrics (step 0) are there as before
    const final = db.prepare('select name, value from metrics where task_id = ? and step = 0 order by name').all(ok) as { name: string; value: number }[];
    expect(final.filter((m) => !m.name.startsWith('time.'))).toEqual([{ name: 'ok', value: 1 }]);
    // ...beside the worker's account of the task's own time: the runner process's start
    expect(final.find((m) => m.name === 'time.process_start_s')?.value).toBeGreaterThan(0);
    db.close();
  });

  it("shows a failed task's attempt: worker, status, the runner's stderr tail and the worker's line", async () => {
    const r = await cli('logs', bad);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^== diag 0 \\[bad, seed 0\\] ${bad.replace('.', '\\.')}: attempt 1\\.1 on p1 \\(\\S+\\): failed in \\d+\\.\\d\\d s$`));
    const body = lines.slice(1).map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{3} /, ''));
    expect(body).toContain('stderr runner: loading ' + bad);
    expect(body).toContain('stderr runner: step 2 of 2');
    expect(body).toContain('stderr runner: out of memory (simulated)');
    expect(body.some((l) => /^worker worker p1: task \S+ \(diag, bad, seed 0\) attempt \S+ failed after [\d.]+ s: runner .* ended \(exit code 3\)/.test(l))).toBe(true);
    // stored in SQLite, in order, with their sources
    const db = new Database(c.db, { readonly: true });
    const rows = db.prepare('select source, line from task_logs where task_id = ? order by seq').all(bad) as { source: string; line: string }[];
    db.close();
    expect(rows.slice(0, 4)).toEqual([
      { source: 'stderr', line: `runner: loading ${bad}` }, { source: 'stderr', line: 'runner: step 1 of 2' },
      { source: 'stderr', line: 'runner: step 2 of 2' }, { source: 'stderr', line: 'runner: out of memory (simulated)' },
    ]);
    expect(rows.at(-1)!.source).toBe('worker');
  });

  it('finds a task by an id prefix and shows runner and stderr lines of a succeeded attempt; --tail keeps the last lines', async () => {
    const r = await cli('logs', ok.slice(0, ok.length - 6));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: attempt 1\.1 on p1 .*: succeeded in /);
    expect(r.stdout).toMatch(/ stderr runner: step 1 of 2$/m);
    expect(r.stdout).toMatch(/ runner runner: wrote out\.txt$/m);
    const tail = await cli('logs', ok, '--tail', '1');
    expect(tail.stdout.trim().split('\n')).toHaveLength(2);
    expect(tail.stdout).toMatch(/runner: wrote out\.txt\n$/);
  });

  it('shows a sweep: --failed keeps the failed tasks only', async () => {
    const all = await cli('logs', sweep);
    expect(all.stdout.match(/^== /gm)).toHaveLength(2);
    const failed = await cli('logs', sweep, '--failed');
    expect(failed.stdout.match(/^== /gm)).toHaveLength(1);
    expect(failed.stdout).toContain('[bad, seed 0]');
    const none = await cli('logs', 'no-such-thing-anywhere');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no sweep or task with id no-such-thing-anywhere; `limolab sweep list` shows sweeps/);
  });

  it('writes one worker log line per task', () => {
    const perTask = c.logs.filter((l) => l.startsWith('[p1] worker p1: task '));
    expect(perTask.filter((l) => l.includes(ok))).toHaveLength(1);
    expect(perTask.filter((l) => l.includes(bad))).toHaveLength(1);
    expect(perTask.find((l) => l.includes(ok))).toMatch(/attempt \S+ succeeded in [\d.]+ s$/);
  });

  it('shows the lines a running attempt has logged so far', async () => {
    const id = await submit('logs-live', `arms:\n  - name: long\n    method: diag\n    ${EXT}\n    params: { op: sleep, sleep_ms: 60000 }\n`);
    const task = (await waitFor(() => c.coordinator!.coord.getSweep(id, true).tasks.find((t) => t.status === 'running'), 'the task to run', 60_000))!;
    const r = await waitFor(async () => { const x = await cli('logs', task.id); return /runner: sleeping/.test(x.stdout) ? x : null; }, 'live lines', 60_000, 500);
    expect(r.stdout).toMatch(/: running \(running; lines so far\)$/m);
    expect(r.stdout).toMatch(/ runner runner: loading /);
    await c.coordinator!.coord.cancel(id);
  }, 120_000);
});

describe('limolab artifacts', () => {
  it("lists what a task wrote (digest, role, size, media type) and, for one task, what it read", async () => {
    const id = await submit('arts', `arms:\n  - name: chain\n    method: diag\n    params: { op: sleep, stages: 2, output_bytes: 3000 }\n  - name: ext\n    method: diag\n    ${EXT}\n    params: { op: sleep }\n`);
    await ended(id);
    const tasks = c.coordinator!.coord.getSweep(id, true).tasks;
    const ext = tasks.find((t) => t.arm === 'ext')!;
    const r = await cli('artifacts', ext.id);
    expect(r.code, r.stderr).toBe(0);
    const digest = createHash('sha256').update('hello from ext').digest('hex');
    const row = r.stdout.split('\n')[2]!.split(/\s{2,}/);
    expect(row).toEqual(['out', digest.slice(0, 16), 'data', `${'hello from ext'.length} B`, 'text/plain', 'diag 0', 'ext', '0']);

    const stage2 = tasks.find((t) => t.name === 'diag 0 stage 2')!;
    const json = JSON.parse((await cli('artifacts', stage2.id, '--json')).stdout) as TaskArtifact[];
    expect(json.map((a) => [a.direction, a.ref!.role, Number(a.ref!.size)])).toEqual([['in', 'data', 3000], ['out', 'data', 3000]]);
    const stage1 = tasks.find((t) => t.name === 'diag 0 stage 1')!;
    const s1 = JSON.parse((await cli('artifacts', stage1.id, '--json')).stdout) as TaskArtifact[];
    expect(json[0]!.ref!.digest).toBe(s1[0]!.ref!.digest);       // stage 2 read what stage 1 wrote

    const sweepWide = await cli('artifacts', id, '--full');
    expect(sweepWide.stdout.split('\n').filter((l) => l.startsWith('out ')).length).toBe(3);
    expect(sweepWide.stdout).toContain(digest);
  }, 120_000);
});
