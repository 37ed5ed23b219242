// The worker registry: what the coordinator knows of each worker from its heartbeats.
// A worker whose heartbeats stop for `lostAfterMs` is marked lost; the tasks it held
// come back through JetStream redelivery when their lease runs out. Heartbeats are
// validated (id and pool are tokens, sizes bounded) and the registry holds at most
// `maxWorkers`: a flood of forged ids evicts only gone workers, never live ones.
import { Heartbeat, WorkerState, type WorkerInfo } from '../gen/limolab/v1/task.js';
import type { WorkerRow } from './store/store.js';

export interface WorkerView {
  info: WorkerInfo; state: string; running: string[]; lastSeenMs: number; firstSeenMs: number; completed: number; failed: number;
}

const STATE_NAMES: Record<number, string> = {
  [WorkerState.WORKER_STATE_IDLE]: 'idle', [WorkerState.WORKER_STATE_BUSY]: 'busy', [WorkerState.WORKER_STATE_DRAINING]: 'draining',
  [WorkerState.WORKER_STATE_LOST]: 'lost', [WorkerState.WORKER_STATE_STOPPED]: 'stopped',
};

const TOKEN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Why a heartbeat is not believable, or null. */
export function badHeartbeat(hb: Heartbeat): string | null {
  const i = hb.info;
  if (!i || !TOKEN.test(i.id)) return `worker id ${JSON.stringify(i?.id ?? '').slice(0, 80)} is not 1-128 letters, digits, _ . -`;
  if (!TOKEN.test(i.pool || 'default')) return `pool ${JSON.stringify(i.pool).slice(0, 80)} is not a token`;
  if (i.host.length > 255 || i.kinds.length > 64 || i.gpus.length > 256 || i.runners.length > 64 || hb.running.length > 100_000) return 'oversized worker info';
  return null;
}

export class WorkerRegistry {
  private workers = new Map<string, WorkerView>();
  private dirty = new Set<string>();
  private refused = 0;
  private evicted: string[] = [];

  constructor(private lostAfterMs: number, rows: WorkerRow[] = [], private maxWorkers = 1000, private log: (line: string) => void = () => {}) {
    for (const r of rows) {
      this.workers.set(r.id, { info: r.info as WorkerInfo, state: r.state === 'stopped' ? 'stopped' : 'lost', running: [], lastSeenMs: r.lastSeenMs, firstSeenMs: r.firstSeenMs, completed: r.completed, failed: r.failed });
    }
  }

  heartbeat(hb: Heartbeat, now = Date.now()): void {
    const bad = badHeartbeat(hb);
    if (bad) { this.refuse(`refused a heartbeat: ${bad}`); return; }
    const id = hb.info!.id;
    const prev = this.workers.get(id);
    if (!prev && this.workers.size >= this.maxWorkers && !this.evictOne()) {
      this.refuse(`refused a heartbeat from new worker ${id}: ${this.workers.size} workers known and none gone (the limit is ${this.maxWorkers})`);
      return;
    }
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

  private refuse(line: string): void {
    this.refused++;
    if (this.refused <= 10 || this.refused % 1000 === 0) this.log(`coordinator: ${line} (${this.refused} refused so far)`);
  }

  /** Forgets the longest-gone worker to make room; false when every known worker is live. */
  private evictOne(): boolean {
    let oldest: [string, WorkerView] | undefined;
    for (const e of this.workers) if ((e[1].state === 'lost' || e[1].state === 'stopped') && (!oldest || e[1].lastSeenMs < oldest[1].lastSeenMs)) oldest = e;
    if (!oldest) return false;
    this.workers.delete(oldest[0]);
    this.dirty.delete(oldest[0]);
    this.evicted.push(oldest[0]);
    return true;
  }

  /** Workers forgotten to make room since the last call: their rows go too. */
  takeEvicted(): string[] { return this.evicted.splice(0); }

  /** Rows whose save failed: saved again with the next batch. */
  redirty(ids: string[]): void { for (const id of ids) if (this.workers.has(id)) this.dirty.add(id); }

  get size(): number { return this.workers.size; }

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
