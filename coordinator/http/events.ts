// Server-sent events for the dashboard, fed by the scheduler's change events (the same
// ones that feed gRPC WatchSweep). Changes are coalesced: at most one push per flush
// interval, each message built once and written to every client that wants it, so open
// pages cost the dispatch path a Set insert per change, not a query per page. Clients:
//   /api/events                every client: `sweeps` (summaries of changed sweeps), `workers`
//   /api/events?sweep=ID       also `progress` (per-phase bars and ETA of that sweep)
//   /api/events?task=ID        also `task` (that task changed or logged; the page refetches it)
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TaskEvent } from '../../gen/limolab/v1/task.js';
import type { Coordinator } from '../coordinator.js';
import type { SweepChange } from '../scheduler.js';
import type { SweepRow } from '../store/store.js';
import type { LogTails } from './task-view.js';
import { listWorkers, summarize, sweepProgress } from './views.js';

interface Client { res: ServerResponse; sweep?: string; task?: string }

export const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x));

export class EventHub {
  private clients = new Set<Client>();
  private dirtySweeps = new Set<string>();
  private dirtyTasks = new Set<string>();
  private timer?: NodeJS.Timeout;
  private beat?: NodeJS.Timeout;
  private offs: (() => void)[] = [];

  constructor(private coord: Coordinator, private logs: LogTails, private opts: { flushMs?: number; workersMs?: number } = {}) {
    const s = coord.scheduler;
    const onChange = (c: SweepChange) => {
      if (!this.clients.size) return;
      this.dirtySweeps.add(c.sweepId);
      if (c.task) this.dirtyTasks.add(c.task.id);
      this.schedule();
    };
    const onClosed = (row: SweepRow) => { this.dirtySweeps.add(row.id); this.schedule(); };
    // Task events arrive per started/progress/log message; logs are kept even with no page open.
    const onEvent = (ev: TaskEvent) => {
      if (ev.event?.$case === 'log') this.logs.add(ev.taskId, ev.event.value);
      if (!this.clients.size) return;
      if (ev.event?.$case === 'progress' || ev.event?.$case === 'started') this.dirtySweeps.add(ev.sweepId);
      this.dirtyTasks.add(ev.taskId);
      this.schedule();
    };
    s.on('change', onChange); s.on('closed', onClosed); s.on('event', onEvent);
    this.offs.push(() => { s.off('change', onChange); s.off('closed', onClosed); s.off('event', onEvent); });
  }

  get size() { return this.clients.size; }

  open(req: IncomingMessage, res: ServerResponse, url: URL): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    const c: Client = { res, sweep: url.searchParams.get('sweep') || undefined, task: url.searchParams.get('task') || undefined };
    this.clients.add(c);
    res.write('retry: 2000\n\n');
    // The state now, so a page never waits for the first change.
    if (c.sweep) { const p = sweepProgress(this.coord, c.sweep); if (p) this.send(c, 'progress', json(p)); }
    this.send(c, 'workers', json(listWorkers(this.coord)));
    req.on('close', () => this.clients.delete(c));
    this.beat ??= setInterval(() => this.heartbeat(), this.opts.workersMs ?? 2000);
  }

  private send(c: Client, event: string, data: string): void {
    // A page that stopped reading is dropped rather than buffered without bound; it reconnects.
    if (c.res.writableLength > 4 * 1024 * 1024) { c.res.destroy(); this.clients.delete(c); return; }
    c.res.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 300);
  }

  private flush(): void {
    this.timer = undefined;
    const sweeps = [...this.dirtySweeps], tasks = this.dirtyTasks;
    this.dirtySweeps = new Set(); this.dirtyTasks = new Set();
    if (!this.clients.size) return;
    if (sweeps.length) {
      const rows = sweeps.map((id) => this.coord.scheduler.liveSweep(id)?.row ?? this.coord.store.getSweep(id)).filter((r): r is SweepRow => !!r);
      const msg = json(rows.map((r) => summarize(this.coord, r)));
      const progress = new Map<string, string>();
      for (const c of this.clients) {
        this.send(c, 'sweeps', msg);
        if (c.sweep && sweeps.includes(c.sweep)) {
          if (!progress.has(c.sweep)) progress.set(c.sweep, json(sweepProgress(this.coord, c.sweep)));
          this.send(c, 'progress', progress.get(c.sweep)!);
        }
      }
    }
    for (const c of this.clients) if (c.task && tasks.has(c.task)) this.send(c, 'task', json({ id: c.task }));
  }

  /** Heartbeat ages move without any change event: one worker list every few seconds, built once. */
  private heartbeat(): void {
    if (!this.clients.size) { clearInterval(this.beat); this.beat = undefined; return; }
    const msg = json(listWorkers(this.coord));
    for (const c of this.clients) this.send(c, 'workers', msg);
  }

  close(): void {
    clearTimeout(this.timer); clearInterval(this.beat);
    for (const off of this.offs) off();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
