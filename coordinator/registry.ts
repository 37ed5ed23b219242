// The worker registry: what the coordinator knows of each worker from its heartbeats.
// A worker whose heartbeats stop for `lostAfterMs` is marked lost; the tasks it held
// come back through JetStream redelivery when their lease runs out.
import { Heartbeat, WorkerState, type WorkerInfo } from '../gen/limolab/v1/task.js';
import type { WorkerRow } from './store/store.js';

export interface WorkerView {
  info: WorkerInfo; state: string; running: string[]; lastSeenMs: number; firstSeenMs: number; completed: number; failed: number;
}

const STATE_NAMES: Record<number, string> = {
  [WorkerState.WORKER_STATE_IDLE]: 'idle', [WorkerState.WORKER_STATE_BUSY]: 'busy', [WorkerState.WORKER_STATE_DRAINING]: 'draining',
  [WorkerState.WORKER_STATE_LOST]: 'lost', [WorkerState.WORKER_STATE_STOPPED]: 'stopped',
};

export class WorkerRegistry {
  private workers = new Map<string, WorkerView>();
  private dirty = new Set<string>();

  constructor(private lostAfterMs: number, rows: WorkerRow[] = []) {
    for (const r of rows) {
      this.workers.set(r.id, { info: r.info as WorkerInfo, state: r.state === 'stopped' ? 'stopped' : 'lost', running: [], lastSeenMs: r.lastSeenMs, firstSeenMs: r.firstSeenMs, completed: r.completed, failed: r.failed });
    }
  }

  heartbeat(hb: Heartbeat, now = Date.now()): void {
    const id = hb.info?.id;
    if (!id) return;
    const prev = this.workers.get(id);
    this.workers.set(id, {
      info: hb.info!, state: STATE_NAMES[hb.state] ?? 'idle', running: hb.running, lastSeenMs: now,
      firstSeenMs: prev?.firstSeenMs ?? now, completed: hb.completed, failed: hb.failed,
    });
    this.dirty.add(id);
  }

  /** Marks silent workers lost; returns those that just became lost, with their tasks. */
  sweepLost(now = Date.now()): { id: string; running: string[] }[] {
    const lost: { id: string; running: string[] }[] = [];
    for (const [id, w] of this.workers) {
      if (w.state !== 'lost' && w.state !== 'stopped' && now - w.lastSeenMs > this.lostAfterMs) {
        lost.push({ id, running: w.running });
        w.state = 'lost';
        w.running = [];
        this.dirty.add(id);
      }
    }
    return lost;
  }

  get(id: string): WorkerView | undefined { return this.workers.get(id); }
  list(includeGone = false): [string, WorkerView][] {
    return [...this.workers].filter(([, w]) => includeGone || (w.state !== 'lost' && w.state !== 'stopped')).sort(([a], [b]) => a.localeCompare(b));
  }

  takeDirty(): WorkerRow[] {
    const rows: WorkerRow[] = [];
    for (const id of this.dirty) {
      const w = this.workers.get(id)!;
      rows.push({ id, host: w.info.host, pool: w.info.pool, info: w.info, state: w.state, running: w.running, firstSeenMs: w.firstSeenMs, lastSeenMs: w.lastSeenMs, completed: w.completed, failed: w.failed });
    }
    this.dirty.clear();
    return rows;
  }
}
