// WatchSweep fan-out: one change feed per watched sweep, shared by all of its watchers. The
// scheduler's changes are coalesced per sweep into one flush every `intervalMs`; each flush
// reads the sweep once and encodes its events once, and every watcher is sent the same bytes.
// A thousand watchers of one sweep therefore cost one read and one encode per flush, not a
// thousand (which is what let GetSweep calls time out behind them).
import { SweepEvent, type TaskSummary } from '../gen/limolab/v1/coordinator.js';
import { summary, type Coordinator } from './coordinator.js';
import type { SweepChange } from './scheduler.js';
import type { SweepRow, TaskRow } from './store/store.js';

/** Encoded SweepEvent bytes, written to a stream as they are. */
export type EncodedEvent = Buffer;

interface Watcher { send(ev: EncodedEvent): void; done(): void }

interface Feed {
  watchers: Set<Watcher>;
  /** The tasks that changed since the last flush, by id: the scheduler's own task objects, which
   *  keep their final state after the sweep ends and leaves memory (so the last flush reads no
   *  task rows back from the store). */
  pending: Map<string, TaskRow & { progress?: number }>;
  timer?: NodeJS.Timeout;
  state?: EncodedEvent;          // the sweep's state as of the last flush, for joiners
}

const encode = (ev: SweepEvent): EncodedEvent => Buffer.from(SweepEvent.encode(ev).finish());

export class WatchHub {
  private feeds = new Map<string, Feed>();
  private readonly onChange = (c: SweepChange) => {
    const f = this.feeds.get(c.sweepId);
    if (!f) return;
    if (c.task) f.pending.set(c.task.id, c.task);
    f.timer ??= setTimeout(() => this.flush(c.sweepId), c.task ? this.intervalMs : 0);
  };
  private readonly onClosed = (row: SweepRow) => {
    const f = this.feeds.get(row.id);
    if (f) { clearTimeout(f.timer); this.flush(row.id); }
  };

  /** intervalMs: how often a busy sweep's watchers hear of it; maxTaskEvents: above this many
   * changed tasks in one flush, watchers get one summary event instead of one per task;
   * maxWrites: the same when events x watchers would pass this many stream writes (each
   * costs the event loop, and a thousand watchers x 50 events every 200 ms was enough to
   * keep unary calls waiting for seconds). */
  constructor(private readonly coord: Coordinator, private readonly intervalMs = 200, private readonly maxTaskEvents = 50, private readonly maxWrites = 2000) {}

  /** Sends the sweep's state now and after each change until it ends (then resolves) or `signal` aborts. */
  watch(id: string, send: (ev: EncodedEvent) => void, signal: AbortSignal): Promise<void> {
    let f = this.feeds.get(id);
    let first = f?.state;
    if (!first) {
      const sweep = this.coord.getSweep(id); // throws NotFoundError for a wrong id
      first = encode({ tsMs: Date.now(), sweep, task: undefined, message: 'state' });
      if (sweep.status !== 'running') { send(first); return Promise.resolve(); }
    }
    send(first);
    if (!f) {
      f = { watchers: new Set(), pending: new Map(), state: first };
      if (this.feeds.size === 0) {
        this.coord.scheduler.on('change', this.onChange);
        this.coord.scheduler.on('closed', this.onClosed);
      }
      this.feeds.set(id, f);
    }
    const feed = f;
    return new Promise((resolve) => {
      const w: Watcher = { send, done: () => { signal.removeEventListener('abort', w.done); this.leave(id, feed, w); resolve(); } };
      feed.watchers.add(w);
      signal.addEventListener('abort', w.done, { once: true });
    });
  }

  /** How many sweeps have a feed, and how many watchers in all (for tests and logs). */
  get size() { return { feeds: this.feeds.size, watchers: [...this.feeds.values()].reduce((a, f) => a + f.watchers.size, 0) }; }

  private flush(id: string) {
    const f = this.feeds.get(id);
    if (!f) return;
    f.timer = undefined;
    const changed = f.pending;
    f.pending = new Map();
    const few = changed.size > 0 && changed.size <= this.maxTaskEvents && changed.size * f.watchers.size <= this.maxWrites;
    // The sweep without its tasks, and summaries of the changed ones alone (not of every task,
    // filtered: O(sweep) every flush, and every task row read back once the sweep had ended).
    const sweep = this.coord.getSweep(id, false);
    const tasks: TaskSummary[] = few ? [...changed.values()].map(summary) : [];
    const view = { ...sweep, tasks: [] };
    const now = Date.now();
    const events = few
      ? tasks.map((task) => encode({ tsMs: now, sweep: view, task, message: '' }))
      : [encode({ tsMs: now, sweep: view, task: undefined, message: changed.size ? `${changed.size} task updates` : 'state' })];
    f.state = encode({ tsMs: now, sweep: view, task: undefined, message: 'state' });
    for (const w of f.watchers) for (const ev of events) w.send(ev);
    if (sweep.status !== 'running') for (const w of [...f.watchers]) w.done();
  }

  private leave(id: string, f: Feed, w: Watcher) {
    f.watchers.delete(w);
    if (f.watchers.size > 0 || this.feeds.get(id) !== f) return;
    clearTimeout(f.timer);
    this.feeds.delete(id);
    if (this.feeds.size === 0) {
      this.coord.scheduler.off('change', this.onChange);
      this.coord.scheduler.off('closed', this.onClosed);
    }
  }
}
