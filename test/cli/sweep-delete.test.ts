// Deleting a finished sweep from a real SQLite file (the fixture's two sweeps): every row of it
// goes, results and ledger included (found through tasks since those tables lost their
// sweep_id indexes), and the other sweep's rows stay. The result count the dashboard caches
// on goes through tasks the same way.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import { SweepAdminStore } from '../../coordinator/store/sweep-admin.js';
import { SWEEP, SWEEP_EMPTY, fillStore } from './fixture.js';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

describe('sweep delete in the store', () => {
  it('removes a finished sweep\'s results, ledger and metrics rows and keeps the other sweep\'s', () => {
    dir = mkdtempSync(join(tmpdir(), 'limolab-delete-'));
    const path = join(dir, 'x.db');
    fillStore(path);
    const store = new SqliteStore(path);
    try {
      const count = (table: string, sweep: string) => (store.sqlite.prepare(`select count(*) n from ${table} where sweep_id = ?`).get(sweep) as { n: number }).n;
      expect(store.resultCount(SWEEP)).toBe(14);
      expect(store.resultCount(SWEEP_EMPTY)).toBe(1);
      expect([count('results', SWEEP), count('ledger', SWEEP)]).toEqual([14, 14]);

      expect(new SweepAdminStore(store.sqlite).deleteSweep(SWEEP)).toBe(14);
      for (const t of ['results', 'ledger', 'attempts', 'arms', 'tasks']) expect(count(t, SWEEP), t).toBe(0);
      expect((store.sqlite.prepare(`select count(*) n from metrics where task_id like 'sfteval%' or task_id like 'rleval%'`).get() as { n: number }).n).toBe(0);
      expect(store.resultCount(SWEEP)).toBe(0);
      // The other sweep is untouched.
      expect([count('results', SWEEP_EMPTY), count('ledger', SWEEP_EMPTY), count('tasks', SWEEP_EMPTY)]).toEqual([1, 1, 3]);
      expect(store.resultCount(SWEEP_EMPTY)).toBe(1);
    } finally {
      store.close();
    }
  });
});
