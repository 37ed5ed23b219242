// Chaos scenarios, issue 10 items 3 and 4: a second coordinator on the same NATS is
// refused with a clear message (or stands by with --standby and takes over a killed
// one's sweep, losing nothing; at once when the dead holder was on this host), and
// --listen on a taken port exits non-zero at once.
// Real nats-server, SQLite, coordinator processes through the CLI.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sweep } from '../../gen/limolab/v1/coordinator.js';
import { acquireCoordinatorLease } from '../../common/nats-lease.js';
import { BIN, exited, waitFor } from '../helpers/cluster.js';
import { FULL, Plane, figure } from './plane.js';

let plane: Plane;
afterEach(async () => { await plane?.stop(); });

function coordinatorProc(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'coordinator', '--nats', plane.nats.url, '--listen', '127.0.0.1:0', '--lease-ttl-ms', '2000', '--ack-wait-ms', '5000', '--lost-after-ms', '2000', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  return { child, out: () => out, err: () => err };
}

describe('chaos: fencing and start-up', () => {
  it('refuses a second coordinator on the same NATS with a message naming the first, and it exits non-zero', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    const t0 = Date.now();
    const b = coordinatorProc(['--db', join(plane.dir, 'b.db')]);
    const code = await exited(b.child);
    expect(code).not.toBe(0);
    expect(b.err()).toMatch(/coordinator .* \(pid \d+ on .*, database .*limolab\.db\) is active on this NATS .* start it with --standby/);
    expect(b.out()).not.toMatch(/listening/);
    figure('second-coordinator', `refused with exit ${code} after ${((Date.now() - t0) / 1000).toFixed(1)} s (process start included)`);
  }, 180_000);

  it('--listen on a taken port exits non-zero and leaves no NATS connection behind', async () => {
    plane = new Plane();
    await plane.startNats();
    const srv = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const a = spawn(process.execPath, [BIN, 'coordinator', '--nats', plane.nats.url, '--db', plane.db, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      a.stderr!.on('data', (d: Buffer) => { err += d; });
      const code = await Promise.race([exited(a), new Promise((r) => setTimeout(() => r('hung'), 120_000))]);
      if (code === 'hung') a.kill('SIGKILL');
      expect(code).toBe(1);
      expect(err).toMatch(/cannot listen on 127\.0\.0\.1:\d+: .*choose another --listen address/);
      // Its lease was released: a coordinator starts at once on the same NATS.
      const t0 = Date.now();
      await plane.startCoord();
      expect(Date.now() - t0).toBeLessThan(30_000);
      figure('listen-taken', `exit ${code}; lease released, next coordinator started in ${Date.now() - t0} ms`);
    } finally { srv.close(); }
  }, 180_000);

  it('a standby takes the lease at once when its holder on this host dies, without waiting out the holder\'s ttl', async () => {
    plane = new Plane();
    await plane.startNats();
    const a = coordinatorProc(['--db', plane.db, '--lease-ttl-ms', '60000']);
    try {
      await waitFor(() => a.out().includes('listening'), 'coordinator A', 120_000);
      const nc = await plane.rawClient();
      const logs: string[] = [];
      const taking = acquireCoordinatorLease(nc, { db: join(plane.dir, 'b.db'), standby: true, ttlMs: 60_000, log: (l) => logs.push(l), onLost: () => {} });
      await waitFor(() => logs.some((l) => /standing by/.test(l)), 'the standby to wait');
      await new Promise((r) => setTimeout(r, 500));
      a.child.kill('SIGKILL');
      await exited(a.child);
      const t0 = Date.now();
      const lease = await taking;
      const took = Date.now() - t0;
      expect(took).toBeLessThan(5000); // the holder's ttl is 60 s
      expect(logs.join('\n')).toMatch(/holding the coordinator lease/);
      await lease.release();
      figure('dead-holder', `holder SIGKILLed on this host: standby took the lease ${took} ms later (holder's ttl 60 s)`);
    } finally { a.child.kill('SIGKILL'); }
  }, 180_000);

  it.skipIf(!FULL)('a --standby coordinator takes over when the active one is SIGKILLed and finishes its sweep, losing and doubling nothing', async () => {
    plane = new Plane();
    await plane.startNats();
    const a = coordinatorProc(['--db', plane.db]);
    await waitFor(() => a.out().includes('listening'), 'coordinator A', 120_000);
    plane.address = (JSON.parse(a.out().trim().split('\n')[0]!) as { listening: string }).listening;
    const b = coordinatorProc(['--db', plane.db, '--standby']);
    await waitFor(() => /standing by/.test(b.err()), 'the standby to wait', 120_000);
    await plane.worker('w1', undefined, 4);
    const client = plane.client();
    const { sweep } = await client.call<object, { sweep: Sweep }>('submitSweep', { spec: 'name: fence\narms: [{name: a, method: diag, params: {tasks: 80, sleep_ms: 100}}]' });
    await waitFor(async () => (await client.call<object, Sweep>('getSweep', { id: sweep.id })).counts!.succeeded >= 10, 'some results', 60_000);
    a.child.kill('SIGKILL');
    const t0 = Date.now();
    await waitFor(() => b.out().includes('listening'), 'the standby to take over', 60_000);
    const took = Date.now() - t0;
    plane.address = (JSON.parse(b.out().trim().split('\n')[0]!) as { listening: string }).listening;
    const c2 = plane.client();
    const s = await waitFor(async () => { const x = await c2.call<object, Sweep>('getSweep', { id: sweep.id }); return x.status !== 'running' && x; }, 'the sweep to finish', 120_000);
    expect(s.status).toBe('succeeded');
    expect(plane.count('select count(*) n from results where sweep_id = ?', sweep.id)).toBe(80);
    b.child.kill('SIGTERM');
    await exited(b.child);
    figure('standby', `standby took over ${(took / 1000).toFixed(1)} s after SIGKILL (lease ttl 2 s); 80/80 results, no doubles`);
  }, 400_000);
});
