// Provenance and organisation through the real CLI: tags, note and provenance recorded at
// submit (git commit, limolab and Node versions, the hosts of the workers that ran it);
// `sweep list --tag`; archive hides a sweep from the list; delete is refused while a sweep
// runs and removes every row after; `sweep compare` puts two sweeps' arm tables side by side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import { Cluster, ROOT, waitFor } from '../helpers/cluster.js';
import { runCli } from './run-cli.js';
import { SWEEP, fillStore } from './fixture.js';

const c = new Cluster();
beforeAll(() => c.startWithOneWorker(2), 300_000);
afterAll(() => c.stop());

const cli = (...args: string[]) => runCli([...args, '--coordinator', c.address], { timeoutMs: 120_000 });
const coord = () => c.coordinator!.coord;
const sql = <T>(q: string, ...args: unknown[]) => { const d = new Database(c.db, { readonly: true }); try { return d.prepare(q).get(...args) as T; } finally { d.close(); } };

describe('provenance and tags', () => {
  it('records tags, note and provenance at submit and the worker hosts at the end; status and list --tag show them', async () => {
    const path = join(c.dir, 'tagged.yaml');
    writeFileSync(path, 'name: tagged\narms:\n  - name: a\n    method: diag\n    params: { op: sleep, sleep_ms: 10 }\n');
    const sub = await cli('sweep', 'submit', path, '--tag', 'baseline', '--tag', 'v2', '--note', 'first try at 2 seeds', '--json');
    expect(sub.code, sub.stderr).toBe(0);
    const id = (JSON.parse(sub.stdout) as { sweep: Sweep }).sweep.id;
    await waitFor(() => coord().getSweep(id).status === 'succeeded', 'the sweep to finish', 100_000);

    const row = sql<{ tags_json: string; note: string; provenance_json: string; worker_hosts_json: string }>('select tags_json, note, provenance_json, worker_hosts_json from sweeps where id = ?', id);
    expect(JSON.parse(row.tags_json)).toEqual(['baseline', 'v2']);
    expect(row.note).toBe('first try at 2 seeds');
    const p = JSON.parse(row.provenance_json) as { gitCommit: string; limolabVersion: string; nodeVersion: string; coordinatorHost: string };
    expect(p.limolabVersion).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    expect(p.nodeVersion).toBe(process.version);
    expect(p.coordinatorHost).toBe(hostname());
    const commit = p.gitCommit.replace(/-dirty$/, '');
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(execFileSync('git', ['cat-file', '-t', commit], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('commit');
    expect(JSON.parse(row.worker_hosts_json)).toEqual([hostname()]);

    const st = await cli('sweep', 'status', id);
    expect(st.stdout).toMatch(/^ {2}tags: baseline, v2$/m);
    expect(st.stdout).toMatch(/^ {2}note: first try at 2 seeds$/m);
    expect(st.stdout).toContain(`  provenance: limolab ${p.limolabVersion}, git ${p.gitCommit}, node ${process.version} on ${hostname()}; workers on ${hostname()}`);
    const tagged = await cli('sweep', 'list', '--tag', 'baseline');
    expect(tagged.stdout.split('\n').filter((l) => l.startsWith(id))).toHaveLength(1);
    expect(tagged.stdout).toMatch(/baseline,v2/);
    expect((await cli('sweep', 'list', '--tag', 'nope')).stdout).toMatch(/^no sweeps/);
  }, 240_000);

  it('refuses a malformed tag with a clear message, and so does limolab run before starting anything', async () => {
    const path = join(c.dir, 'bad-tag.yaml');
    writeFileSync(path, 'name: badtag\narms:\n  - name: a\n    method: diag\n');
    const r = await cli('sweep', 'submit', path, '--tag', 'two words');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tag "two words" is not valid: use 1-64 letters, digits/);
    const run = await runCli(['run', path, '--tag', 'two words', '--db', join(c.dir, 'never.db'), '--workdir', join(c.dir, 'never')], { timeoutMs: 120_000 });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/tag "two words" is not valid/);
    expect(run.stderr).not.toMatch(/nats-server|coordinator/);
  }, 240_000);
});

describe('archive and delete', () => {
  it('archive hides a sweep from sweep list unless --all; unarchive brings it back', async () => {
    const id = coord().submit('name: old\narms:\n  - name: a\n    method: diag\n', 'old.yaml').sweep.id;
    await waitFor(() => coord().getSweep(id).status !== 'running', 'the sweep to end', 100_000);
    expect((await cli('sweep', 'archive', id)).stdout).toMatch(/archived: `sweep list` leaves it out unless --all/);
    expect((await cli('sweep', 'list')).stdout).not.toContain(id);
    expect((await cli('sweep', 'list', '--all')).stdout).toMatch(new RegExp(`^${id}\\s+old\\s+succeeded \\(archived\\)`, 'm'));
    await cli('sweep', 'unarchive', id);
    expect((await cli('sweep', 'list')).stdout).toContain(id);
  }, 240_000);

  it('refuses to delete a running sweep, asks for --yes, then deletes every row of it', async () => {
    const id = coord().submit('name: doomed\narms:\n  - name: a\n    method: diag\n    params: { op: sleep, sleep_ms: 60000 }\n', 'doomed.yaml').sweep.id;
    await waitFor(() => coord().getSweep(id).counts!.running === 1, 'the task to run', 60_000);
    const running = await cli('sweep', 'delete', id, '--yes');
    expect(running.code).not.toBe(0);
    expect(running.stderr).toMatch(new RegExp(`sweep ${id} is running; cancel it first \\(\`limolab sweep cancel ${id}\`\\), then delete it`));
    expect(coord().getSweep(id).status).toBe('running');                 // nothing lost
    await coord().cancel(id);
    const ask = await cli('sweep', 'delete', id);
    expect(ask.code).not.toBe(0);
    expect(ask.stderr).toMatch(/rows of its 1 task\(s\): results, metrics, ledger, logs; add --yes to do it/);
    expect(sql<{ n: number }>('select count(*) n from tasks where sweep_id = ?', id).n).toBe(1);
    const del = await cli('sweep', 'delete', id, '--yes');
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe(`deleted sweep ${id} (1 task(s))\n`);
    for (const t of ['sweeps', 'tasks', 'attempts', 'arms', 'task_logs']) {
      expect(sql<{ n: number }>(`select count(*) n from ${t} where ${t === 'sweeps' ? 'id' : 'sweep_id'} = ?`, id).n).toBe(0);
    }
    expect(() => coord().getSweep(id)).toThrow(/no sweep with id/);
  }, 240_000);
});

describe('sweep compare', () => {
  it('puts two sweeps\' arm tables side by side with the difference, from a SQLite file', async () => {
    const db = join(c.dir, 'compare.db');
    fillStore(db);
    // A second sweep: the same SFT arm at accuracy 0.7 (one seed), no RL arm.
    const s = new SqliteStore(db);
    s.createSweep({ id: 'sw-b', name: 'second', status: 'succeeded', priority: 0, specText: '', specJson: '{"name":"second"}', createdMs: 5000, finishedMs: 6000, error: null },
      [{ sweepId: 'sw-b', arm: 'sft[n=10]', armGroup: 'sft', method: 'sft', seed: 0, params: { n: 10, curation: 'limo' }, evalTaskId: 'b-eval' }],
      [{ id: 'b-eval', sweepId: 'sw-b', arm: 'sft[n=10]', seed: 0, name: 'eval', kind: 'eval', phase: 'evaluation', pool: 'default', status: 'succeeded', priority: 0,
        taskProto: '', deps: [], cacheKey: 'ck-b', maxRetries: 0, dispatches: 1, nextDispatchMs: null, workerId: null, createdMs: 1, startedMs: 1, finishedMs: 2, error: null, reusedFrom: null, arms: ['sft[n=10]|0'] }],
      new Map());
    s.apply({ results: [{ taskId: 'b-eval', sweepId: 'sw-b', attemptId: 'b-eval#1.1', phase: 'evaluation', outputs: [], reused: false, createdMs: 5,
      metrics: [{ name: 'pass1.test_id', value: 0.7, step: 0 }, { name: 'pass1.test_ood', value: 0.5, step: 0 }],
      ledger: { flops: 1e8, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS: 1, deviceKind: 'cpu', deviceS: 1, params: 0, curatedExamples: 0 } }] });
    s.close();
    const r = await runCli(['sweep', 'compare', SWEEP, 'sw-b', '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`A: ${SWEEP} (fixture, succeeded)`);
    expect(lines[1]).toBe('B: sw-b (second, succeeded)');
    expect(lines[2]).toMatch(/^arm\s+n A\s+n B\s+acc_id A\s+acc_id B\s+acc_id B-A\s+acc_ood A\s+acc_ood B\s+acc_ood B-A\s+flops A\s+flops B/);
    const row = (arm: string) => lines.find((l) => l.startsWith(arm))!.split(/\s{2,}/);
    // sft: mean of 0.5 and 0.6 in A, 0.7 in B; rl only in A
    expect(row('sft[n=10]').slice(0, 9)).toEqual(['sft[n=10]', '2', '1', '0.550', '0.700', '+0.150', '0.300', '0.500', '+0.200']);
    expect(row('rl[k=4]').slice(0, 9)).toEqual(['rl[k=4]', '2', '-', '0.450', '-', '-', '0.225', '-', '-']);
    const json = JSON.parse((await runCli(['sweep', 'compare', SWEEP, 'sw-b', '--db', db, '--json'])).stdout) as { rows: Record<string, unknown>[] };
    expect(json.rows.find((x) => x.arm === 'sft[n=10]')!.acc_id_diff).toBeCloseTo(0.15, 10);
    const one = await runCli(['sweep', 'compare', SWEEP, '--db', db]);
    expect(one.code).not.toBe(0);
    expect(one.stderr).toMatch(/sweep compare takes two sweep ids/);
  }, 120_000);
});
