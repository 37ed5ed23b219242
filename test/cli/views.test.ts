// The analyst views of migration 0001_views (arm_summary, ledger_by_phase, task_attempts):
// applied on a fresh SQLite file by SqliteStore, and checked against a store filled through
// its real API, where every expected number is a sum the fixture makes by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from '../../coordinator/store/schema.js';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import type { TaskStatus } from '../../coordinator/store/store.js';
import { loadRunRecords } from '../../coordinator/results.js';
import { deviceSeconds, flopsTotal } from '../../coordinator/analysis/index.js';
import { ACC, ACC_OOD, CURATED, DEVICE_S, FLOPS, SWEEP, SWEEP_EMPTY, fillStore } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-views-'));
const db = join(dir, 'limolab.db');
let sql: Database.Database;

beforeAll(() => {
  fillStore(db);
  sql = new Database(db, { readonly: true });
});
afterAll(() => {
  sql?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('migration 0001_views', () => {
  it('applies on a fresh file and again on reopen (idempotent), creating the three views', () => {
    const fresh = join(dir, 'fresh.db');
    new SqliteStore(fresh).close();
    const s = new SqliteStore(fresh);
    const views = s.sqlite.prepare("select name from sqlite_master where type = 'view' order by name").pluck().all();
    const applied = s.sqlite.prepare('select count(*) from __drizzle_migrations').pluck().get();
    s.close();
    expect(views).toEqual(['arm_summary', 'arm_tasks', 'ledger_by_phase', 'task_attempts']);
    const journal = JSON.parse(readFileSync(join(import.meta.dirname, '../../coordinator/store/migrations/meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    expect(applied).toBe(journal.entries.length);
    expect(journal.entries.map((e) => e.tag)).toContain('0001_views');
  });
});

describe('arm_summary', () => {
  type Row = Record<string, number | string | null>;
  const row = (arm: string, seed: number) => sql.prepare('select * from arm_summary where sweep_id = ? and arm = ? and seed = ?').get(SWEEP, arm, seed) as Row;

  it('gives each arm and seed its eval metrics, and flops without pretrain, by phase', () => {
    for (const seed of [0, 1]) {
      const sft = row('sft[n=10]', seed);
      expect(sft).toMatchObject({
        method: 'sft', status: 'succeeded', acc_id: ACC.sft[seed], acc_ood: ACC_OOD.sft[seed],
        // Method cost: evaluation stands beside it, as in the analysis layer.
        flops: FLOPS.curate + FLOPS.sftTrain, flops_pretrain: FLOPS.pretrain, flops_curation: FLOPS.curate, flops_tuning: 0,
        flops_training: FLOPS.sftTrain, flops_rollout: 0, flops_evaluation: FLOPS.evaluation,
        device_s: DEVICE_S.curate + DEVICE_S.train, device_s_pretrain: DEVICE_S.pretrain, device_s_evaluation: DEVICE_S.evaluation,
        curated_examples: CURATED, tasks: 4, tasks_done: 4,
      });
      const rl = row('rl[k=4]', seed);
      expect(rl).toMatchObject({
        method: 'rl', status: 'succeeded', acc_id: ACC.rl[seed], acc_ood: ACC_OOD.rl[seed],
        flops: FLOPS.rollout + FLOPS.rlTrain, flops_pretrain: FLOPS.pretrain, flops_curation: 0, flops_evaluation: FLOPS.evaluation,
        curated_examples: 0, tasks: 4,
      });
    }
  });

  it('charges a shared pretrain to every arm it serves, and agrees with loadRunRecords', () => {
    const store = new SqliteStore(db);
    const records = loadRunRecords(store, SWEEP);
    store.close();
    expect(records).toHaveLength(4);
    for (const r of records) {
      const v = row(r.arm, r.seed);
      expect(v.flops).toBeCloseTo(flopsTotal(r), 0); // method cost, as the analysis counts it
      expect(v.device_s).toBeCloseTo(deviceSeconds(r), 6);
      expect(v.flops_pretrain).toBe(r.flopsByPhase.pretrain);
      expect(v.acc_id).toBe(r.metrics['pass1.test_id']);
      expect(v.status).toBe(r.status);
    }
  });

  it('marks an arm whose sweep was cancelled "cancelled" (not failed), with no accuracy', () => {
    const r = sql.prepare('select status, acc_id, flops, flops_pretrain, tasks, tasks_done from arm_summary where sweep_id = ?').get(SWEEP_EMPTY);
    expect(r).toEqual({ status: 'cancelled', acc_id: null, flops: 0, flops_pretrain: FLOPS.pretrain, tasks: 3, tasks_done: 1 });
    const store = new SqliteStore(db);
    try { expect(loadRunRecords(store, SWEEP_EMPTY).map((x) => x.status)).toEqual(['cancelled']); } finally { store.close(); }
  });
});

describe('a failed PROBE', () => {
  it('leaves the arms of its base succeeded (it measures the base; no arm step depends on it), in the view and in loadRunRecords', () => {
    const path = join(dir, 'probe.db');
    const s = new SqliteStore(path);
    const task = (id: string, kind: string, phase: string, status: TaskStatus) => ({
      id, sweepId: 'P', arm: 'base', seed: 0, name: id, kind, phase, pool: 'default', status, priority: 0, taskProto: '', deps: [],
      cacheKey: id, maxRetries: 0, dispatches: 1, nextDispatchMs: null, workerId: null, createdMs: 1, startedMs: 1, finishedMs: 2,
      error: status === 'failed' ? 'probe broke' : null, reusedFrom: null, arms: ['base|0'] });
    s.createSweep({ id: 'P', name: 'p', status: 'succeeded', priority: 0, specText: '', specJson: '{}', createdMs: 1, finishedMs: 2, error: null },
      [{ sweepId: 'P', arm: 'base', armGroup: 'base', method: 'base', seed: 0, params: {}, evalTaskId: 'ev' }],
      [task('pt', 'pretrain', 'pretrain', 'succeeded'), task('pr', 'probe', 'pretrain', 'failed'), task('ev', 'eval', 'evaluation', 'succeeded')], new Map());
    const view = s.sqlite.prepare('select status, tasks, tasks_done from arm_summary').all();
    const recs = loadRunRecords(s, 'P');
    s.close();
    expect(view).toEqual([{ status: 'succeeded', tasks: 2, tasks_done: 2 }]);
    expect(recs.map((r) => r.status)).toEqual(['succeeded']);
    expect(recs[0]!.metrics['latent.forced_chain.test_id']).toBeUndefined();
  });
});

describe('arm_tasks', () => {
  it("splits '<arm>|<seed>' at the last '|', whatever the arm name holds", () => {
    const s = new SqliteStore(join(dir, 'split.db'));
    const arm = 'icl[sep=a|b,n=12]7';
    s.createSweep({ id: 'X', name: 'x', status: 'running', priority: 0, specText: '', specJson: '{}', createdMs: 1, finishedMs: null, error: null },
      [{ sweepId: 'X', arm, armGroup: 'icl', method: 'icl', seed: 12, params: {}, evalTaskId: null }],
      [{ id: 'x1', sweepId: 'X', arm, seed: 12, name: 'x', kind: 'eval', phase: 'evaluation', pool: 'default', status: 'pending', priority: 0, taskProto: '', deps: [],
        cacheKey: 'k', maxRetries: 0, dispatches: 0, nextDispatchMs: null, workerId: null, createdMs: 1, startedMs: null, finishedMs: null, error: null, reusedFrom: null,
        arms: [`${arm}|12`, 'other|3'] }], new Map());
    const rows = s.sqlite.prepare('select arm, seed, task_id from arm_tasks').all();
    const summary = s.sqlite.prepare('select arm, seed, status, tasks from arm_summary').all();
    s.close();
    expect(rows).toEqual([{ arm, seed: 12, task_id: 'x1' }, { arm: 'other', seed: 3, task_id: 'x1' }]);
    expect(summary).toEqual([{ arm, seed: 12, status: 'partial', tasks: 1 }]);
  });
});

describe('ledger_by_phase', () => {
  it('has one row per arm, seed and phase with summed flops, seconds and tokens', () => {
    const rows = sql.prepare("select phase, tasks, reused_tasks, flops, device_s, tokens_prompt, tokens_trained, curated_examples from ledger_by_phase where sweep_id = ? and arm = 'sft[n=10]' and seed = 1 order by phase").all(SWEEP);
    expect(rows).toEqual([
      { phase: 'curation', tasks: 1, reused_tasks: 0, flops: FLOPS.curate, device_s: DEVICE_S.curate, tokens_prompt: 100, tokens_trained: 200, curated_examples: CURATED },
      { phase: 'evaluation', tasks: 1, reused_tasks: 0, flops: FLOPS.evaluation, device_s: DEVICE_S.evaluation, tokens_prompt: 100, tokens_trained: 200, curated_examples: 0 },
      { phase: 'pretrain', tasks: 1, reused_tasks: 1, flops: FLOPS.pretrain, device_s: DEVICE_S.pretrain, tokens_prompt: 100, tokens_trained: 200, curated_examples: 0 },
      { phase: 'training', tasks: 1, reused_tasks: 0, flops: FLOPS.sftTrain, device_s: DEVICE_S.train, tokens_prompt: 100, tokens_trained: 200, curated_examples: 0 },
    ]);
    const total = sql.prepare("select sum(flops) from ledger_by_phase where sweep_id = ? and phase = 'pretrain'").pluck().get(SWEEP);
    expect(total).toBe(4 * FLOPS.pretrain); // 2 seeds x 2 arms, each charged its seed's pretrain
  });
});

describe('task_attempts', () => {
  it('counts attempts and keeps the last error of a task that needed a retry', () => {
    const r = sql.prepare("select attempts, failed_attempts, lost_attempts, last_error, last_error_code, status, wall_s from task_attempts where task_id = 'rltrain0'").get();
    expect(r).toEqual({ attempts: 2, failed_attempts: 1, lost_attempts: 0, last_error: 'out of memory', last_error_code: 'OOM', status: 'succeeded', wall_s: 2.5 });
    const n = sql.prepare('select count(*) from task_attempts where sweep_id = ?').pluck().get(SWEEP);
    expect(n).toBe(14);
  });
});

describe('docs/schema.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/schema.md'), 'utf8');
  const queries = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const LATEST = '(select id from sweeps order by created_ms desc limit 1)';

  it('documents every table of schema.ts and every view', () => {
    const tables = Object.values(schema).filter((t) => is(t, SQLiteTable)).map((t) => getTableName(t as SQLiteTable));
    expect(tables).toHaveLength(10);
    const names = [...tables, 'arm_summary', 'arm_tasks', 'ledger_by_phase', 'task_attempts'];
    for (const n of names) expect(doc).toContain(`### \`${n}\``);
  });

  it('has example queries that run, and the accuracy-per-FLOP one gives the fixture numbers', () => {
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const q of queries) expect(() => sql.prepare(q).all()).not.toThrow();
    const perFlop = sql.prepare(queries[0]!.replaceAll(LATEST, `'${SWEEP}'`)).all() as Record<string, string | number>[];
    expect(perFlop.map((r) => [r.method, r.arm, r.seeds, r.acc_id])).toEqual([['rl', 'rl[k=4]', 2, 0.45], ['sft', 'sft[n=10]', 2, 0.55]]);
    const sftFlops = FLOPS.curate + FLOPS.sftTrain; // method cost: evaluation beside it
    expect(Number(perFlop[1]!.acc_per_tflop)).toBeCloseTo(0.55 / (sftFlops / 1e12), 0);
  });
});
