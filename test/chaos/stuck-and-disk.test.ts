// Chaos scenarios, issue 10 items 2 and 5: a full disk under the results database (a real
// 24 MB tmpfs when this process may mount one, else SQLite's max_page_count), a worker
// that hangs holding its task's lease, and a worker that vanished after acking, across a
// coordinator restart. Real nats-server, SQLite, workers over NATS. `npm test` runs the
// deadline scenario; `npm run chaos` all three.
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { Task, TaskEvent } from '../../gen/limolab/v1/task.js';
import { waitFor } from '../helpers/cluster.js';
import { FULL, Plane, figure } from './plane.js';

let plane: Plane;
let mounted = '';
afterEach(async () => {
  await plane?.stop().catch(() => {});
  if (mounted) { try { execFileSync('umount', ['-l', mounted]); } catch { /* gone */ } mounted = ''; }
});

const done = (id: string, ms = 120_000) => waitFor(() => { const s = plane.coord!.coord.getSweep(id); return s.status !== 'running' && s; }, `sweep ${id} to end`, ms);

/** A worker that takes one task and then misbehaves: started event, heartbeats, lease kept (or acked). */
async function takeOneTask(workerId: string) {
  const nc = await plane.rawClient();
  const consumer = await jetstream(nc).consumers.get('LIMOLAB_TASKS', 'pool_default');
  const msgs = await consumer.fetch({ max_messages: 1, expires: 30_000 });
  for await (const m of msgs) {
    const task = Task.decode(m.data);
    const attemptId = `${task.id}#${task.attempt}.${m.info.deliveryCount}`;
    await plane.forgeHeartbeat(nc, workerId);
    nc.publish(`limolab.event.${task.sweepId}`, TaskEvent.encode({ taskId: task.id, sweepId: task.sweepId, attemptId, workerId, tsMs: Date.now(), event: { $case: 'started', value: { delivery: m.info.deliveryCount } } }).finish());
    return { nc, m, task };
  }
  throw new Error('no task came');
}

describe('chaos: stuck attempts and a full disk', () => {
  it('re-queues an attempt past its timeout_s whose worker hangs holding the lease; another worker completes it', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    const id = plane.coord!.coord.submit('name: hang\ndefaults: {timeout_s: 2}\narms: [{name: a, method: diag}]').sweep.id;
    const { nc, m } = await takeOneTask('hung-1');
    const keep = setInterval(() => { m.working(); void plane.forgeHeartbeat(nc, 'hung-1'); }, 500);
    try {
      await waitFor(() => plane.coord!.coord.getSweep(id).counts!.running === 1, 'the attempt to be running');
      const t0 = Date.now();
      await plane.worker('w-ok');
      const s = await done(id);
      expect(s.status).toBe('succeeded');
      expect(plane.logs.join('\n')).toMatch(/attempt 1 timed out: running \d+ s, over its timeout_s 2 \(enforced by the coordinator\); dispatching it again/);
      expect(plane.count('select dispatches n from tasks where sweep_id = ?', id)).toBe(2);
      figure('deadline', `hung worker kept the lease; coordinator re-queued after timeout_s 2 + grace, done ${((Date.now() - t0) / 1000).toFixed(1)} s later by another worker`);
    } finally { clearInterval(keep); }
  }, 180_000);

  it.skipIf(!FULL)('re-queues a running attempt whose worker is gone (message acked, heartbeats stopped) after a coordinator restart', async () => {
    plane = new Plane();
    await plane.startNats();
    await plane.startCoord();
    const id = plane.coord!.coord.submit('name: gone\narms: [{name: a, method: diag, params: {tasks: 2}}]').sweep.id;
    // One task's start is reported (the stop writes it: the restarted coordinator knows its
    // worker); the other is taken and acked silently (the row still says queued, and the
    // publish after the restart is a duplicate of a message no longer in the stream).
    const { m } = await takeOneTask('ghost-1');
    await waitFor(() => plane.coord!.coord.getSweep(id).counts!.running === 1, 'the attempt to be running');
    m.ack(); // JetStream will never hand it out again
    const nc = await plane.rawClient();
    const consumer = await jetstream(nc).consumers.get('LIMOLAB_TASKS', 'pool_default');
    for await (const m2 of await consumer.fetch({ max_messages: 1, expires: 30_000 })) m2.ack();
    await plane.coord!.stop();
    await plane.startCoord();
    const t0 = Date.now();
    await plane.worker('w-ok');
    const s = await done(id);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(2);
    const logs = plane.logs.join('\n');
    expect(logs).toMatch(/its worker ghost-1 is gone \(no heartbeat for \d+ s\) and the task did not come back; dispatching it again/);
    expect(logs).toMatch(/1 queued task\(s\) had already been taken off the queue and acked by a worker/);
    expect(logs).toMatch(/was taken off the queue by a worker that never reported, and no result came in \d+ s; dispatching it again/);
    expect(plane.count('select count(*) n from results where sweep_id = ?', id)).toBe(2);
    figure('gone-worker', `worker vanished after acking 2 tasks (one started, one silent); after a coordinator restart both were re-queued and done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 180_000);

  it.skipIf(!FULL)('on a full disk holds results unacked, says "disk full" in the log and in the sweep, and resumes by itself losing nothing', async () => {
    plane = new Plane();
    await plane.startNats();
    const dir = join(plane.dir, 'small');
    mkdirSync(dir);
    let how = 'tmpfs 24 MB';
    try { execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'ignore' }); mounted = dir; } catch { how = 'SQLite max_page_count'; }
    plane.db = join(dir, 'limolab.db');
    const c = await plane.startCoord();
    await plane.worker('w1', undefined, 8);
    const id = c.coord.submit('name: full\narms: [{name: a, method: diag, params: {tasks: 400, sleep_ms: 100}}]').sweep.id;
    await waitFor(() => c.coord.getSweep(id).counts!.succeeded >= 20, 'some results');
    const filler = join(dir, 'filler');
    let unfill: () => void;
    if (mounted) {
      const fd = openSync(filler, 'w');
      const mb = Buffer.alloc(1024 * 1024, 7);
      try { for (;;) writeSync(fd, mb); } catch { /* ENOSPC: the disk is full */ }
      try { for (;;) writeSync(fd, mb.subarray(0, 4096)); } catch { /* every last page */ }
      closeSync(fd);
      unfill = () => rmSync(filler);
    } else {
      const pages = c.store.sqlite.pragma('page_count', { simple: true }) as number;
      c.store.sqlite.pragma(`max_page_count = ${pages}`);
      unfill = () => { c.store.sqlite.pragma('max_page_count = 1073741823'); };
    }
    await waitFor(() => plane.logs.some((l) => /disk full: cannot write the results database/.test(l)), 'the coordinator to say disk full', 60_000);
    const during = c.coord.getSweep(id);
    expect(during.status).toBe('running');
    expect(during.error).toMatch(/disk full since .* results are held unacked and nothing is dispatched/);
    const stored = plane.count('select count(*) n from results where sweep_id = ?', id);
    await new Promise((r) => setTimeout(r, 3000));
    unfill();
    const s = await done(id, 150_000);
    expect(s.status).toBe('succeeded');
    expect(s.counts!.succeeded).toBe(400);
    expect(plane.count('select count(*) n from results where sweep_id = ?', id)).toBe(400);
    expect(plane.logs.join('\n')).toMatch(/writable again after \d+ s \(disk full\); resuming/);
    figure('disk-full', `${how}: paused at ${stored}/400 results stored, said "disk full" in log and sweep; after space returned all 400 stored once, coordinator never exited`);
  }, 240_000);
});
