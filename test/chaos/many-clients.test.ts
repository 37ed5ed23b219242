// Chaos scenario (issue 10, item 12): many clients at once. 1,000 WatchSweep streams on a
// running sweep plus 100 concurrent submits, while ListTasks pages through the sweep's tasks.
// Every call must answer within its 10 s deadline, every watcher must see the sweep end, and
// paging must visit every task exactly once. Prints ListTasks and GetSweep-with-tasks
// p50/p99 and the coordinator's peak RSS (a child process) with the load average. Sizes:
// LIMOLAB_CHAOS_WATCHERS, LIMOLAB_CHAOS_SUBMITS, LIMOLAB_CHAOS_TASKS.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { ListTasksRequest, ListTasksResponse, Sweep, SweepEvent } from '../../gen/limolab/v1/coordinator.js';
import { Client } from '../../cli/client.js';
import { Cluster, waitFor } from '../helpers/cluster.js';

const WATCHERS = Number(process.env.LIMOLAB_CHAOS_WATCHERS ?? 1000);
const SUBMITS = Number(process.env.LIMOLAB_CHAOS_SUBMITS ?? 100);
const TASKS = Number(process.env.LIMOLAB_CHAOS_TASKS ?? 3000);
const PAGE = 500;

let cluster: Cluster;
afterAll(async () => { await cluster?.stop(); });

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };

/** Every task of a sweep through ListTasks, a page at a time; the pages' sizes. */
async function allTasks(client: Client, id: string, latencies: number[]) {
  const ids: string[] = [];
  const sizes: number[] = [];
  let pageToken = '';
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    const r = await client.call<ListTasksRequest, ListTasksResponse>('listTasks', { sweepId: id, pageSize: PAGE, pageToken }, 10_000)
      .finally(() => latencies.push(performance.now() - t0));
    ids.push(...r.tasks.map((t) => t.id));
    sizes.push(r.tasks.length);
    pageToken = r.nextPageToken;
    if (!pageToken) return { ids, sizes, total: r.total };
  }
  throw new Error('more than 1000 pages');
}

describe('chaos: many clients', () => {
  it(`keeps ListTasks answering while ${WATCHERS} watchers follow a running sweep and ${SUBMITS} sweeps are submitted`, async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const coord = await cluster.startCoordinatorProcess();
    cluster.startWorker('w1', ['--slots', '16']);
    const client = cluster.client();
    await waitFor(async () => (await client.call<object, { workers: unknown[] }>('listWorkers', {})).workers.length === 1, 'the worker', 90_000);
    let peakRss = rssMb(coord.pid!);
    const idleRss = peakRss;
    const sampler = setInterval(() => { try { peakRss = Math.max(peakRss, rssMb(coord.pid!)); } catch { /* exited */ } }, 100);

    const big = (await client.call<object, { sweep: Sweep }>('submitSweep', { spec: `name: big\narms: [{name: a, method: diag, params: {tasks: ${TASKS}, sleep_ms: 40}}]` })).sweep.id;

    // The watchers, over 10 channels (as 10 CLI users with 100 terminals each would be).
    const channels = Array.from({ length: 10 }, () => cluster.client());
    const last = new Map<number, SweepEvent>();
    let events = 0;
    const t0 = Date.now();
    const watches = Array.from({ length: WATCHERS }, (_, i) => channels[i % channels.length]!.watch(big, (ev) => { events++; last.set(i, ev); }));
    await waitFor(() => last.size === WATCHERS, 'every watcher\'s first state', 60_000, 50).catch((e: Error) => { throw new Error(`${e.message} (${last.size} of ${WATCHERS} have it)`); });
    const openMs = Date.now() - t0;

    // 100 submits at once, and ListTasks paging through the big sweep meanwhile, each walk
    // followed by one GetSweep with every task (the call the issue saw hit its deadline).
    const latencies: number[] = [];
    const getSweepMs: number[] = [];
    const submitsT0 = Date.now();
    let failures: string[] = [];
    const submits = Promise.allSettled(Array.from({ length: SUBMITS }, (_, i) =>
      client.call<object, { sweep: Sweep }>('submitSweep', { spec: `name: small-${i}\narms: [{name: a, method: diag, params: {tasks: 10, sleep_ms: 1}}]` }, 10_000)));
    const walks = [];
    for (let r = 0; r < 10; r++) {
      if (r === 5) await submits;
      walks.push(await allTasks(client, big, latencies).catch((e: Error) => { failures.push(`ListTasks: ${e.message}`); return null; }));
      const g0 = performance.now();
      await client.call<object, Sweep>('getSweep', { id: big, includeTasks: true }, 10_000)
        .then((x) => { if (x.tasks.length !== TASKS) failures.push(`GetSweep: ${x.tasks.length} tasks, not ${TASKS}`); }, (e: Error) => failures.push(`GetSweep: ${e.message}`))
        .finally(() => getSweepMs.push(performance.now() - g0));
    }
    const settled = await submits;
    const submitsMs = Date.now() - submitsT0;
    failures = [...failures, ...settled.filter((x) => x.status === 'rejected').map((x) => `SubmitSweep: ${(x.reason as Error).message}`)];
    const figures = () => `${WATCHERS} watchers (open ${openMs} ms, ${events} events), ${SUBMITS} submits in ${submitsMs} ms, ${failures.length} calls past the 10 s deadline; ` +
      `ListTasks(page ${PAGE}) x${latencies.length}: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(0)} ms; ` +
      `GetSweep(${TASKS} tasks) x${getSweepMs.length}: p50 ${pct(getSweepMs, 50).toFixed(1)} ms, p99 ${pct(getSweepMs, 99).toFixed(1)} ms; ` +
      `coordinator RSS idle ${idleRss.toFixed(0)} MB, peak ${peakRss.toFixed(0)} MB; loadavg ${loadavg().map((x) => x.toFixed(1)).join(' ')}`;
    console.log(`[chaos many-clients] ${figures()}`);
    expect(failures.slice(0, 3)).toEqual([]);
    const submitted = settled.map((x) => (x as PromiseFulfilledResult<{ sweep: Sweep }>).value);

    // Every walk visits each task once, in pages of at most PAGE.
    for (const w of walks.map((x) => x!)) {
      expect(w.ids.length).toBe(TASKS);
      expect(new Set(w.ids).size).toBe(TASKS);
      expect(Math.max(...w.sizes)).toBeLessThanOrEqual(PAGE);
    }
    expect(walks[0]!.total).toBe(TASKS);
    expect(submitted).toHaveLength(SUBMITS);

    // Every watcher sees the sweep end, and its stream closes.
    await Promise.all(watches);
    clearInterval(sampler);
    for (let i = 0; i < WATCHERS; i++) expect(last.get(i)?.sweep?.status).toBe('succeeded');
    const runMs = Date.now() - t0;
    const small = await Promise.all(submitted.map((s) => waitFor(async () => {
      const x = await client.call<object, Sweep>('getSweep', { id: s.sweep.id }); return x.status !== 'running' && x;
    }, 'a small sweep', 60_000, 200)));
    expect(small.every((s) => s.status === 'succeeded')).toBe(true);

    console.log(`[chaos many-clients] after the sweep: ${figures()}; ${TASKS}-task sweep done in ${runMs} ms`);
    for (const c of channels) c.close();
  }, 300_000);
});
