// --db-sync: the results database's commits reach the disk before results are acked (full,
// the default), or survive only process crashes (normal). The mode is the live connection's
// synchronous setting, a sweep completes under either, and a bad mode is refused with one
// line before anything starts. Real nats-server, real SQLite, real worker and CLI processes.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../common/nats-server.js';
import { startCoordinator } from '../../coordinator/main.js';
import { requireNats, waitFor, BIN } from '../helpers/cluster.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { hasStackTrace, runCli } from '../cli/run-cli.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

describe('--db-sync', () => {
  it('runs a sweep with every commit flushed (full, the default) or not (normal), as the connection says', async () => {
    requireNats();
    const dir = mkdtempSync(join(tmpdir(), 'limolab-dbsync-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const nats: NatsServerHandle = await startNatsServer({ storeDir: join(dir, 'nats') });
    cleanups.push(() => nats.stop());
    const worker: ChildProcess = spawn(process.execPath, [BIN, 'worker', '--nats', nats.url, '--id', 'w1', '--slots', '8', '--heartbeat-ms', '300'], { stdio: 'ignore' });
    cleanups.push(() => { worker.kill('SIGKILL'); });
    for (const mode of [undefined, 'normal', 'full'] as const) {
      const db = join(dir, `${mode ?? 'default'}.db`);
      const c = await startCoordinator({ db, nats: { url: nats.url }, listen: '127.0.0.1:0', ...(mode ? { dbSync: mode } : {}), log: () => {} });
      try {
        const sqlite = (c.coord.store as unknown as { sqlite: Database.Database }).sqlite;
        expect(sqlite.pragma('synchronous', { simple: true })).toBe(mode === 'normal' ? 1 : 2);
        await waitFor(() => c.coord.listWorkers().length === 1, 'the worker');
        const id = c.coord.submit('name: s\narms: [{name: a, method: diag, params: {tasks: 50}}]', 'test').sweep!.id;
        const s = await waitFor(() => { const x = c.coord.getSweep(id, true); return x.status !== 'running' && x; }, 'the sweep', 60_000);
        expect([s.status, s.counts!.succeeded]).toEqual(['succeeded', 50]);
      } finally {
        await c.stop();
      }
      const d = new Database(db, { readonly: true });
      expect((d.prepare('select count(*) n from results').get() as { n: number }).n).toBe(50);
      d.close();
    }
  });

  it('refuses a mode it does not know with one line, creating no database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limolab-dbsync-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await runCli(['coordinator', '--db', join(dir, 'x.db'), '--db-sync', 'fast']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('limolab coordinator: --db-sync must be one of normal, full, not "fast"');
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(existsSync(join(dir, 'x.db'))).toBe(false);
  });
});
