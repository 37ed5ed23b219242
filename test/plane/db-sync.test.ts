// --db-sync: results are acked to JetStream only after their commit is on the disk (full, the
// default: an fdatasync of the WAL after the commit), or right after the commit (normal). A
// sweep completes under either; under full the acks wait for the flush (a slowed one here)
// and a failed flush leaves its results unacked until JetStream delivers them again; a bad
// mode is refused with one line before anything starts. Real nats-server, real SQLite, real
// worker and CLI processes.
import { existsSync, fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, type NatsServerHandle } from '../../common/nats-server.js';
import { startCoordinator } from '../../coordinator/main.js';
import { requireNats, waitFor, BIN } from '../helpers/cluster.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { hasStackTrace, runCli } from '../cli/run-cli.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

async function natsAndWorker() {
  requireNats();
  const dir = mkdtempSync(join(tmpdir(), 'limolab-dbsync-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const nats: NatsServerHandle = await startNatsServer({ storeDir: join(dir, 'nats') });
  cleanups.push(() => nats.stop());
  const worker: ChildProcess = spawn(process.execPath, [BIN, 'worker', '--nats', nats.url, '--id', 'w1', '--slots', '8', '--heartbeat-ms', '300'], { stdio: 'ignore' });
  cleanups.push(() => { worker.kill('SIGKILL'); });
  return { dir, nats };
}

describe('--db-sync', () => {
  it('runs a sweep under full (the default) and normal, flushing the WAL only under full', async () => {
    const { dir, nats } = await natsAndWorker();
    for (const mode of [undefined, 'normal', 'full'] as const) {
      const db = join(dir, `${mode ?? 'default'}.db`);
      const c = await startCoordinator({ db, nats: { url: nats.url }, listen: '127.0.0.1:0', ...(mode ? { dbSync: mode } : {}), log: () => {} });
      try {
        const store = c.coord.store as unknown as { walFlushes: number };
        await waitFor(() => c.coord.listWorkers().length === 1, 'the worker');
        const id = c.coord.submit('name: s\narms: [{name: a, method: diag, params: {tasks: 50}}]', 'test').sweep!.id;
        const s = await waitFor(() => { const x = c.coord.getSweep(id, true); return x.status !== 'running' && x; }, 'the sweep', 60_000);
        expect([s.status, s.counts!.succeeded]).toEqual(['succeeded', 50]);
        if (mode === 'normal') expect(store.walFlushes).toBe(0);
        else await waitFor(() => store.walFlushes >= 1, 'a WAL flush');
      } finally {
        await c.stop();
      }
      const d = new Database(db, { readonly: true });
      expect((d.prepare('select count(*) n from results').get() as { n: number }).n).toBe(50);
      d.close();
    }
  });

  it('acks stored results only once the flush after their commit returns, and leaves them unacked when it fails', async () => {
    const { dir, nats } = await natsAndWorker();
    const logs: string[] = [];
    const c = await startCoordinator({ db: join(dir, 'slow.db'), nats: { url: nats.url }, listen: '127.0.0.1:0', log: (l) => logs.push(l) });
    cleanups.push(() => c.stop());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const unacked = async () => (await jsm.consumers.info('LIMOLAB_RESULTS', 'coordinator')).num_ack_pending;
    const store = c.coord.store as unknown as { walSync: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void; walFlushes: number; walFlushErrors: number };
    // Every flush takes 1.5 s, and the first one fails.
    let calls = 0;
    store.walSync = (fd, cb) => { const n = ++calls; setTimeout(() => (n === 1 ? cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : fdatasync(fd, cb)), 1500); };
    await waitFor(() => c.coord.listWorkers().length === 1, 'the worker');
    const id = c.coord.submit('name: slow\narms: [{name: a, method: diag, params: {tasks: 20}}]', 'test').sweep!.id;
    await waitFor(() => c.coord.getSweep(id, true).status !== 'running', 'the sweep');
    // Stored and applied, not yet acked: the flush is under way.
    const d = new Database(join(dir, 'slow.db'), { readonly: true });
    expect((d.prepare('select count(*) n from results').get() as { n: number }).n).toBe(20);
    d.close();
    expect(await unacked()).toBeGreaterThan(0);
    await waitFor(() => store.walFlushErrors === 1, 'the failed flush');
    expect(logs.some((l) => /flushing the results database's WAL to the disk failed \(EIO: i\/o error, fdatasync\); \d+ batch\(es\) of results left unacked, to be delivered again/.test(l))).toBe(true);
    // JetStream delivers the unacked ones again after the coordinator consumer's ack wait (10 s); stored again, they change nothing, and are acked after a good flush.
    await waitFor(async () => (await unacked()) === 0, 'every result acked', 40_000);
    expect(store.walFlushes).toBeGreaterThan(0);
    expect(c.coord.getSweep(id, true).counts!.succeeded).toBe(20);
    const d2 = new Database(join(dir, 'slow.db'), { readonly: true });
    expect((d2.prepare('select count(*) n from results').get() as { n: number }).n).toBe(20);
    d2.close();
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
