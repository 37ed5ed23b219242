// `limolab timing` on a real SQLite file filled through SqliteStore's API: a five-task sweep
// with hand-set attempt times, one retried task and one task reused from an earlier sweep, so
// every figure (wall, waits, run and in-task time per phase, the critical path) is a
// hand-computed number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import type { ResultRecord, TaskRow } from '../../coordinator/store/store.js';
import { sweepTiming } from '../../cli/timing.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-timing-'));
const db = join(dir, 't.db');
const BIN = join(import.meta.dirname, '../../bin/limolab.js');
const T0 = 1_000_000;

function task(id: string, kind: string, phase: string, deps: string[], reusedFrom: string | null = null): TaskRow {
  return {
    id, sweepId: 'S', arm: 'a', seed: 0, name: `${kind} ${id}`, kind, phase, pool: 'default', status: reusedFrom ? 'cached' : 'succeeded', priority: 0, taskProto: '',
    deps: deps.map((d) => ({ task: d, role: 'checkpoint' })), cacheKey: `ck-${id}`, maxRetries: 2, dispatches: 1, nextDispatchMs: null, workerId: null,
    createdMs: T0, startedMs: null, finishedMs: null, error: null, reusedFrom, arms: ['a|0'],
  };
}
// The worker's breakdown of a task's own time (common/task-timing.ts), in seconds.
const parts = (p: Partial<Record<'input' | 'output' | 'graph_build' | 'process_start', number>>) =>
  Object.entries(p).map(([k, value]) => ({ name: `time.${k}_s`, value, step: 0 }));
const result = (id: string, phase: string, wallS: number, metrics: ResultRecord['metrics'] = []): ResultRecord => ({
  taskId: id, sweepId: 'S', attemptId: `${id}#1.1`, phase, outputs: [], metrics,
  ledger: { flops: 1, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS, deviceKind: 'cpu', deviceS: wallS, params: 1, curatedExamples: 0 },
  reused: false, createdMs: T0,
});
const attempt = (taskId: string, n: number, worker: string, start: number, end: number, status: 'succeeded' | 'failed') => ({
  id: `${taskId}#${n}.1`, taskId, sweepId: 'S', dispatch: n, delivery: 1, workerId: worker, status, startedMs: T0 + start, finishedMs: T0 + end,
  error: status === 'failed' ? 'boom' : null, errorCode: null,
});

beforeAll(() => {
  const s = new SqliteStore(db);
  s.createSweep({ id: 'S', name: 'timed', status: 'succeeded', priority: 0, specText: '', specJson: '{}', createdMs: T0, finishedMs: T0 + 22_000, error: null },
    [{ sweepId: 'S', arm: 'a', armGroup: 'a', method: 'sft', seed: 0, params: {}, evalTaskId: 'ev' }],
    [task('pre', 'pretrain', 'pretrain', []), task('old', 'curate', 'curation', [], 'X.old'), task('cur', 'curate', 'curation', ['pre', 'old']),
      task('base', 'eval', 'evaluation', ['pre']), task('tr', 'train', 'training', ['cur']), task('ev', 'eval', 'evaluation', ['tr'])], new Map());
  s.apply({
    attempts: [
      attempt('pre', 1, 'w1', 1_000, 11_000, 'succeeded'),
      attempt('base', 1, 'w2', 11_500, 12_500, 'succeeded'),
      attempt('cur', 1, 'w1', 12_000, 14_000, 'succeeded'),
      attempt('tr', 1, 'w2', 14_000, 15_000, 'failed'),
      attempt('tr', 2, 'w1', 16_000, 20_000, 'succeeded'),
      attempt('ev', 1, 'w2', 21_000, 22_000, 'succeeded'),
    ],
    results: [result('pre', 'pretrain', 9, parts({ graph_build: 2, output: 0.5 })), result('base', 'evaluation', 0.5, parts({ input: 0.1, graph_build: 0.2 })),
      result('cur', 'curation', 1.5), result('tr', 'training', 3.5, parts({ input: 0.25, output: 0.25, graph_build: 1 })),
      result('ev', 'evaluation', 0.8, parts({ process_start: 0.3, input: 0.1 }))],
  });
  s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('limolab timing', () => {
  it('splits the wall time per phase and finds the critical path, from hand-set attempt times', () => {
    const s = new SqliteStore(db);
    const t = sweepTiming(s.sqlite, 'S', T0);
    s.close();
    expect(t.wall_s).toBe(22);
    expect(t.workers).toBe(2);
    expect(t.busy_s).toBe(10 + 1 + 2 + 6 + 1); // the reused task took no time
    expect(t.utilisation).toBeCloseTo(20 / 44, 9);
    const ph = Object.fromEntries(t.phases.map((p) => [p.phase, p]));
    expect(t.phases.map((p) => p.phase)).toEqual(['pretrain', 'curation', 'training', 'evaluation']);
    expect(ph.pretrain).toMatchObject({ tasks: 1, run_s: 10, in_task_s: 9, io_s: 0.5, graph_s: 2, start_s: 0, compute_s: 6.5, around_s: 1, wait_s: 1, wait_max_s: 1 });
    expect(ph.curation).toMatchObject({ tasks: 1, run_s: 2, in_task_s: 1.5, io_s: 0, graph_s: 0, compute_s: 1.5, wait_s: 1 });
    // The retried train: first start to last end (6 s), ready when curation ended (no wait).
    expect(ph.training).toMatchObject({ tasks: 1, run_s: 6, in_task_s: 3.5, io_s: 0.5, graph_s: 1, compute_s: 2, around_s: 2.5, wait_s: 0 });
    expect(ph.evaluation!.io_s).toBeCloseTo(0.2, 9);
    expect(ph.evaluation!.graph_s).toBeCloseTo(0.2, 9);
    expect(ph.evaluation!.start_s).toBeCloseTo(0.3, 9);
    expect(ph.evaluation!.compute_s).toBeCloseTo(0.5 + 0.8 - 0.2 - 0.2 - 0.3, 9);
    expect(ph.evaluation!.tasks).toBe(2);
    expect(ph.evaluation!.run_s).toBeCloseTo(2, 9);
    expect(ph.evaluation!.wait_s).toBeCloseTo((0.5 + 1) / 2, 9);
    expect(ph.evaluation!.wait_max_s).toBe(1);
    expect(t.critical.path.map((p) => p.name)).toEqual(['pretrain pre', 'curate cur', 'train tr', 'eval ev']);
    expect(t.critical.run_s).toBe(10 + 2 + 6 + 1);
    expect(t.critical.wait_s).toBe(1 + 1 + 0 + 1);
    expect(t.critical.run_s + t.critical.wait_s).toBe(t.wall_s);
  });

  it('prints the same figures from the command line, as text and as JSON', () => {
    const json = JSON.parse(execFileSync('node', [BIN, 'timing', '--db', db, '--json'], { encoding: 'utf8' })) as ReturnType<typeof sweepTiming>;
    expect(json.wall_s).toBe(22);
    expect(json.critical.tasks).toBe(4);
    const text = execFileSync('node', [BIN, 'timing', '--db', db, '--sweep', 'S'], { encoding: 'utf8' });
    expect(text).toContain('22.0 s wall, 2 worker(s) busy 20.0 s');
    expect(text).toMatch(/pretrain\s+1\s+10\s+9\s+0\.5\s+2\s+0\s+6\.5\s+1\s/);   // tasks run in_task io graph start compute around
    expect(text).toMatch(/Critical path: 4 tasks, 19\.0 s running \+ 3\.0 s waiting in the queue \(100% of the wall time\)/);
    expect(text).toContain('pretrain 10.0 s (1 task), curation 2.0 s (1 task), training 6.0 s (1 task), evaluation 1.0 s (1 task)');
  });

  it('refuses a missing database with a clear error and a non-zero exit', () => {
    let err: { status?: number; stderr?: string } = {};
    try { execFileSync('node', [BIN, 'timing', '--db', join(dir, 'none.db')], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) { err = e as typeof err; }
    expect(err.status).not.toBe(0);
    expect(err.stderr).toMatch(/none\.db/);
  });
});
