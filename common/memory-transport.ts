// The in-process implementation of Transport: what `limolab run` uses when no
// nats-server is installed. Same semantics as NatsTransport, in one process:
//   tasks:    one work queue per pool, FIFO by publish order (a redelivered or nak'ed
//             task keeps its place, so it goes before later ones, as in JetStream). A
//             delivery holds a lease of ackWaitMs; working() extends it; a task neither
//             acked nor extended in time is redelivered with delivery+1. nak(delay)
//             gives it back after delay; term drops it; ack removes it. Pulls wait in
//             FIFO order and are served as tasks are published.
//   results:  one durable work queue, consumed in batches; unacked results are
//             redelivered after their own lease (resultAckWaitMs). One message per
//             result: NATS batches results into TaskResultBatch messages to save
//             JetStream writes, which costs nothing here; each result is validated as
//             decodeResultBatch validates each of a batch's results.
//   dedup:    publishTasks by `${task.id}#${task.attempt}`, publishResult by attempt id,
//             within duplicateWindowMs (2 min), like Nats-Msg-Id. (NATS result batches
//             carry random msg ids: there a retried publish may store a result twice
//             and idempotent ingestion absorbs it; here the copy is dropped.)
//   events, heartbeats, control: broadcast to subscribers on a microtask, never inside
//             the publisher's call.
//   artifacts: in memory by sha256 digest (checked on get), or DirArtifacts.
// Every message travels as protobuf bytes (tasks are published as bytes) and is decoded (with the same
// validation as over NATS) for each receiver: no object is shared between sender and
// receiver, and what would not survive the wire fails here too.
import { ControlReply, ControlRequest, Heartbeat, Task, TaskEvent, TaskResult } from '../gen/limolab/v1/task.js';
import { DirArtifacts, MemoryArtifacts } from './artifacts.js';
import { ConnectionError } from './errors.js';
import { decodeResult, decodeTask } from './wire.js';
import type { ArtifactStore, Closer, DeliveredResult, DeliveredTask, OutgoingTask, PublishOutcome, Transport } from './transport.js';

export interface MemoryTransportOptions {
  ackWaitMs?: number;          // task lease; default 30 s
  resultAckWaitMs?: number;    // result lease; default 10 s (the NATS coordinator consumer's)
  duplicateWindowMs?: number;  // msg-id de-duplication window; default 2 min
  maxAckPending?: number;      // tasks of one pool delivered and not yet acked; default 20 000
  artifactDir?: string;        // artifacts as files in this directory instead of in memory
}

type Timer = ReturnType<typeof setTimeout>;

/** A queued message. `deliveries` counts deliveries so far; the current one is that number. */
interface QMsg {
  seq: number;
  data: Uint8Array;
  key: string;                 // the sweep id, for purges
  deliveries: number;
  state: 'ready' | 'delayed' | 'inflight';
  timer?: Timer;
}

/** A binary min-heap of sequence numbers. */
class SeqHeap {
  private a: number[] = [];
  get size() { return this.a.length; }
  push(x: number): void {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number | undefined {
    const a = this.a;
    if (!a.length) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i, v = last;
        if (l < a.length && a[l]! < v) { m = l; v = a[l]!; }
        if (r < a.length && a[r]! < v) { m = r; v = a[r]!; }
        if (m === i) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
  clear(): void { this.a = []; }
}

/**
 * A work queue with leases: the part JetStream's work-queue stream plus one durable
 * explicit-ack consumer provide. Final dispositions (ack, term) count from any delivery
 * of a message that still exists (as a JetStream ack does, by stream sequence); working
 * and nak only from the current one, so a holder whose lease ran out cannot extend or
 * requeue a delivery that is now someone else's.
 */
class LeaseQueue {
  private msgs = new Map<number, QMsg>();
  private ready = new SeqHeap();
  private seq = 0;
  private inflight = 0;
  private delayed = 0;

  constructor(private leaseMs: number, private maxAckPending: number, private onReady: () => void) {}

  add(data: Uint8Array, key: string): void {
    const m: QMsg = { seq: ++this.seq, data, key, deliveries: 0, state: 'ready' };
    this.msgs.set(m.seq, m);
    this.ready.push(m.seq);
    this.onReady();
  }

  /** The next ready message, now delivered (leased); undefined if none or at maxAckPending. */
  take(): QMsg | undefined {
    if (this.inflight >= this.maxAckPending) return undefined;
    for (;;) {
      const seq = this.ready.pop();
      if (seq === undefined) return undefined;
      const m = this.msgs.get(seq);
      if (!m || m.state !== 'ready') continue; // purged since it was queued
      m.state = 'inflight';
      m.deliveries++;
      this.inflight++;
      const d = m.deliveries;
      m.timer = setTimeout(() => this.expire(m, d), this.leaseMs);
      m.timer.unref();
      return m;
    }
  }

  private current(m: QMsg, d: number) { return this.msgs.get(m.seq) === m && m.state === 'inflight' && m.deliveries === d; }

  private expire(m: QMsg, d: number): void {
    if (!this.current(m, d)) return;
    m.timer = undefined;
    this.inflight--;
    this.requeue(m);
  }

  private requeue(m: QMsg): void {
    m.state = 'ready';
    this.ready.push(m.seq);
    this.onReady();
  }

  working(m: QMsg, d: number): void {
    if (this.current(m, d)) m.timer?.refresh();
  }

  nak(m: QMsg, d: number, delayMs = 0): void {
    if (!this.current(m, d)) return;
    clearTimeout(m.timer);
    this.inflight--;
    if (delayMs > 0) {
      m.state = 'delayed';
      this.delayed++;
      m.timer = setTimeout(() => {
        if (this.msgs.get(m.seq) !== m || m.state !== 'delayed') return;
        m.timer = undefined;
        this.delayed--;
        this.requeue(m);
      }, delayMs);
      m.timer.unref();
    } else {
      m.timer = undefined;
      this.requeue(m);
    }
    // A slot under maxAckPending may have opened.
    this.onReady();
  }

  /** ack and term: the message is gone. True if it was still there. */
  remove(m: QMsg): boolean {
    if (this.msgs.get(m.seq) !== m) return false;
    clearTimeout(m.timer);
    if (m.state === 'inflight') { this.inflight--; this.onReady(); }
    if (m.state === 'delayed') this.delayed--;
    this.msgs.delete(m.seq);
    return true;
  }

  /** Removes every message with this key. Returns how many were not delivered (ready or delayed). */
  purge(key: string): number {
    let n = 0;
    for (const m of [...this.msgs.values()]) {
      if (m.key !== key) continue;
      if (m.state !== 'inflight') n++;
      this.remove(m);
    }
    if (n) {
      this.ready.clear();
      for (const m of this.msgs.values()) if (m.state === 'ready') this.ready.push(m.seq);
    }
    return n;
  }

  counts() { return { ready: this.msgs.size - this.inflight - this.delayed, delayed: this.delayed, inflight: this.inflight }; }

  clear(): void {
    for (const m of this.msgs.values()) clearTimeout(m.timer);
    this.msgs.clear();
    this.ready.clear();
    this.inflight = this.delayed = 0;
  }
}

/** Remembers msg ids for a window; ids expire in insertion order, as the window is fixed. */
class Dedup {
  private seen = new Map<string, number>();
  constructor(private windowMs: number) {}
  /** True the first time an id is seen within the window. */
  fresh(id: string): boolean {
    const now = Date.now();
    for (const [k, exp] of this.seen) {
      if (exp > now) break;
      this.seen.delete(k);
    }
    if (this.seen.has(id)) return false;
    this.seen.set(id, now + this.windowMs);
    return true;
  }
}

interface Pull {
  max: number;
  taken: number;               // messages this pull took, malformed ones included (count toward max)
  received: number;            // tasks handed to onTask (what the pull resolves with)
  onTask: (t: DeliveredTask) => void;
  onBad: (err: Error) => void;
  resolve: (n: number) => void;
  reject: (err: Error) => void;
  timer?: Timer;
  done: boolean;
}

interface Pool { name: string; q: LeaseQueue; pulls: Pull[]; scheduled: boolean }

interface ResultConsumer {
  handler: (batch: DeliveredResult[]) => Promise<void>;
  onBad: (err: Error) => void;
  pending: DeliveredResult[];
  chain: Promise<void>;
  closed: boolean;
}

interface Sub<T> { handler: (v: T) => void; onBad: (err: Error) => void; closed: boolean }

type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

const RESULT_BATCH = 1000;

export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly ackWaitMs: number;
  readonly artifacts: ArtifactStore;
  private readonly resultAckWaitMs: number;
  private heldResults = new Set<{ m: QMsg; d: number }>();
  private readonly maxAckPending: number;
  private closed = false;
  private pools = new Map<string, Pool>();
  private taskIds: Dedup;
  private resultIds: Dedup;
  private results: LeaseQueue;
  private resultsScheduled = false;
  private consumers: ResultConsumer[] = [];
  private rr = 0;
  private eventSubs = new Set<Sub<TaskEvent>>();
  private hbSubs = new Set<Sub<Heartbeat>>();
  private controlServers = new Map<string, Set<ControlHandler>>();
  private requests = new Set<{ timer: Timer; reject: (err: Error) => void }>();

  constructor(opts: MemoryTransportOptions = {}) {
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
    this.resultAckWaitMs = opts.resultAckWaitMs ?? 10_000;
    this.maxAckPending = opts.maxAckPending ?? 20_000;
    const window = opts.duplicateWindowMs ?? 120_000;
    for (const [name, v] of Object.entries({ ackWaitMs: this.ackWaitMs, resultAckWaitMs: this.resultAckWaitMs, maxAckPending: this.maxAckPending, duplicateWindowMs: window })) {
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`MemoryTransport option ${name} must be a positive number, got ${v}`);
    }
    this.taskIds = new Dedup(window);
    this.resultIds = new Dedup(window);
    this.results = new LeaseQueue(this.resultAckWaitMs, 50_000, () => this.scheduleResults());
    this.artifacts = opts.artifactDir ? new DirArtifacts(opts.artifactDir) : new MemoryArtifacts();
  }

  private live(what: string): void {
    if (this.closed) throw new ConnectionError(`${what}: the in-process transport is closed`);
  }

  /** Messages per state, for diagnostics and tests: tasks by pool, and results. */
  stats(): { pools: Record<string, { ready: number; delayed: number; inflight: number; waitingPulls: number }>; results: { ready: number; inflight: number } } {
    const pools: Record<string, { ready: number; delayed: number; inflight: number; waitingPulls: number }> = {};
    for (const p of this.pools.values()) pools[p.name] = { ...p.q.counts(), waitingPulls: p.pulls.length };
    const r = this.results.counts();
    return { pools, results: { ready: r.ready, inflight: r.inflight } };
  }

  // ------------------------------------------------------------------ tasks

  private pool(name: string): Pool {
    let p = this.pools.get(name);
    if (!p) {
      const pool: Pool = { name, q: undefined as unknown as LeaseQueue, pulls: [], scheduled: false };
      pool.q = new LeaseQueue(this.ackWaitMs, this.maxAckPending, () => this.schedulePool(pool));
      this.pools.set(name, pool);
      p = pool;
    }
    return p;
  }

  private schedulePool(p: Pool): void {
    if (p.scheduled || this.closed || !p.pulls.length) return;
    p.scheduled = true;
    setImmediate(() => { p.scheduled = false; this.servePulls(p); });
  }

  /** Hands ready tasks to waiting pulls, oldest pull first. */
  private servePulls(p: Pool): void {
    while (!this.closed && p.pulls.length) {
      const pull = p.pulls[0]!;
      const m = p.q.take();
      if (!m) return;
      pull.taken++;
      try {
        let task: Task | undefined;
        try {
          task = decodeTask(m.data);
        } catch (err) {
          p.q.remove(m);
          pull.onBad(err as Error);
        }
        if (task) {
          pull.received++;
          const q = p.q, d = m.deliveries;
          pull.onTask({
            task, delivery: d,
            working: () => q.working(m, d),
            ack: async () => { q.remove(m); },
            nak: (delayMs) => q.nak(m, d, delayMs),
            term: () => { q.remove(m); },
          });
        }
      } catch (err) {
        // Like an exception inside the NATS fetch loop: the pull rejects, and the task
        // stays delivered and comes back after its lease.
        this.endPull(p, pull);
        pull.reject(err as Error);
        continue;
      }
      if (pull.taken >= pull.max) this.finishPull(p, pull);
    }
  }

  private endPull(p: Pool, pull: Pull): boolean {
    if (pull.done) return false;
    pull.done = true;
    clearTimeout(pull.timer);
    const i = p.pulls.indexOf(pull);
    if (i >= 0) p.pulls.splice(i, 1);
    return true;
  }

  private finishPull(p: Pool, pull: Pull): void {
    if (this.endPull(p, pull)) pull.resolve(pull.received);
  }

  /** (Never reports a task as taken: this queue lives and dies with the coordinator's process.) */
  async publishTasks(tasks: OutgoingTask[]): Promise<PublishOutcome> {
    this.live('publishing tasks');
    for (const t of tasks) {
      if (!this.taskIds.fresh(`${t.id}#${t.attempt}`)) continue;
      this.pool(t.pool).q.add(t.data, t.sweepId);
    }
    return { taken: [], unpublished: [] };
  }

  async purgeSweepTasks(sweepId: string, pools: string[]): Promise<number> {
    this.live('purging tasks');
    let n = 0;
    for (const name of new Set(pools)) n += this.pools.get(name)?.q.purge(sweepId) ?? 0;
    return n;
  }

  pullTasks(pool: string, max: number, expiresMs: number, onTask: (t: DeliveredTask) => void, onBad: (err: Error) => void): Promise<number> {
    if (this.closed) return Promise.reject(new ConnectionError('pulling tasks: the in-process transport is closed'));
    if (!(max >= 1)) return Promise.resolve(0);
    const p = this.pool(pool);
    return new Promise<number>((resolve, reject) => {
      const pull: Pull = { max: Math.floor(max), taken: 0, received: 0, onTask, onBad, resolve, reject, done: false };
      p.pulls.push(pull);
      // When the pull ends by time, whatever is ready by then is still handed over.
      pull.timer = setTimeout(() => { this.servePulls(p); this.finishPull(p, pull); }, Math.max(0, expiresMs));
      this.schedulePool(p);
    });
  }

  // ------------------------------------------------------------------ results

  async publishResult(result: TaskResult): Promise<void> {
    this.live('publishing a result');
    if (!this.resultIds.fresh(result.attemptId)) return;
    this.results.add(TaskResult.encode(result).finish(), result.sweepId);
  }

  private scheduleResults(): void {
    if (this.resultsScheduled || this.closed || !this.consumers.length) return;
    this.resultsScheduled = true;
    setImmediate(() => { this.resultsScheduled = false; this.serveResults(); });
  }

  private serveResults(): void {
    const active = () => this.consumers.filter((c) => !c.closed);
    let cs = active();
    while (!this.closed && cs.length) {
      const m = this.results.take();
      if (!m) break;
      const c = cs[this.rr++ % cs.length]!;
      try {
        const d = m.deliveries;
        const result = decodeResult(m.data);
        // Held until settled: its lease is extended meanwhile (see consumeResults).
        const h = { m, d };
        this.heldResults.add(h);
        const done = () => this.heldResults.delete(h);
        c.pending.push({
          held: h,
          result,
          ack: () => { done(); this.results.remove(m); },
          term: () => { done(); this.results.remove(m); },
          nak: (delayMs) => { done(); this.results.nak(m, d, delayMs); },
          working: () => this.results.working(m, d),
        } as DeliveredResult);
      } catch (err) {
        this.results.remove(m);
        try { c.onBad(err as Error); } catch { /* the consumer's own error handler failed; the message is dropped either way */ }
      }
      // Batch what arrives together into one handler call (one SQLite transaction).
      if (c.pending.length >= RESULT_BATCH) this.flush(c);
      cs = active();
    }
    for (const c of this.consumers) this.flush(c);
  }

  private flush(c: ResultConsumer): void {
    const batch = c.pending;
    c.pending = [];
    if (batch.length) {
      // What the handler call leaves unsettled is let go: its lease runs out and it comes back.
      c.chain = c.chain.then(() => c.handler(batch)).catch((err) => c.onBad(err as Error))
        .finally(() => { for (const d of batch) this.heldResults.delete((d as { held?: { m: QMsg; d: number } }).held!); });
    }
  }

  consumeResults(handler: (batch: DeliveredResult[]) => Promise<void>, onBad: (err: Error) => void): Closer {
    this.live('consuming results');
    const c: ResultConsumer = { handler, onBad, pending: [], chain: Promise.resolve(), closed: false };
    this.consumers.push(c);
    this.scheduleResults();
    // Results handed over and not yet settled keep their leases while this consumer holds
    // them (a paused ingest, e.g. on a full disk), as the NATS transport does.
    const keepAlive = setInterval(() => { for (const h of this.heldResults) this.results.working(h.m, h.d); }, Math.max(50, Math.floor(this.resultAckWaitMs / 3)));
    keepAlive.unref();
    return {
      close: async () => {
        if (c.closed) return c.chain;
        c.closed = true;
        this.consumers = this.consumers.filter((x) => x !== c);
        this.flush(c);
        await c.chain;
        clearInterval(keepAlive);
      },
    };
  }

  // ------------------------------------------------------------------ events, heartbeats

  private broadcast<T>(subs: Set<Sub<T>>, data: Uint8Array, decode: (b: Uint8Array) => T): void {
    if (!subs.size) return;
    const targets = [...subs];
    queueMicrotask(() => {
      for (const s of targets) {
        if (s.closed) continue;
        try { s.handler(decode(data)); } catch (err) { s.onBad(err as Error); }
      }
    });
  }

  private subscribe<T>(subs: Set<Sub<T>>, handler: (v: T) => void, onBad: (err: Error) => void): Closer {
    this.live('subscribing');
    const s: Sub<T> = { handler, onBad, closed: false };
    subs.add(s);
    return { close: () => { s.closed = true; subs.delete(s); } };
  }

  subscribeEvents(handler: (ev: TaskEvent) => void, onBad: (err: Error) => void): Closer {
    return this.subscribe(this.eventSubs, handler, onBad);
  }

  subscribeHeartbeats(handler: (hb: Heartbeat) => void): Closer {
    return this.subscribe(this.hbSubs, handler, () => { /* a bad heartbeat is dropped; the worker's next one counts */ });
  }

  publishEvent(ev: TaskEvent): void {
    this.live('publishing an event');
    this.broadcast(this.eventSubs, TaskEvent.encode(ev).finish(), (b) => TaskEvent.decode(b));
  }

  publishHeartbeat(hb: Heartbeat): void {
    this.live('publishing a heartbeat');
    this.broadcast(this.hbSubs, Heartbeat.encode(hb).finish(), (b) => Heartbeat.decode(b));
  }

  // ------------------------------------------------------------------ control

  async control(workerId: string, req: ControlRequest, timeoutMs = 5000): Promise<ControlReply | null> {
    this.live('sending a control request');
    const data = ControlRequest.encode(req).finish();
    const handlers = [...(this.controlServers.get(workerId) ?? [])];
    if (workerId === 'all') {
      queueMicrotask(() => {
        for (const h of handlers) void Promise.resolve().then(() => h(ControlRequest.decode(data))).catch(() => {});
      });
      return null;
    }
    if (!handlers.length) throw new ConnectionError(`no responders: no worker ${workerId} serves control requests`);
    return new Promise<ControlReply>((resolve, reject) => {
      const pending = {
        timer: setTimeout(() => { this.requests.delete(pending); reject(new ConnectionError(`control request to worker ${workerId} timed out after ${timeoutMs} ms`)); }, timeoutMs),
        reject: (err: Error) => { clearTimeout(pending.timer); this.requests.delete(pending); reject(err); },
      };
      this.requests.add(pending);
      // Like a NATS request to a subject several subscribe to: the first reply wins.
      queueMicrotask(() => {
        for (const h of handlers) {
          void Promise.resolve().then(() => h(ControlRequest.decode(data))).then((reply) => {
            if (!this.requests.delete(pending)) return;
            clearTimeout(pending.timer);
            resolve(ControlReply.decode(ControlReply.encode(reply).finish()));
          }, () => { /* no reply from this one; the request times out unless another answers */ });
        }
      });
    });
  }

  serveControl(workerId: string, handler: (req: ControlRequest) => Promise<ControlReply>): Closer {
    this.live('serving control requests');
    const subjects = [...new Set([workerId, 'all'])];
    for (const s of subjects) {
      let set = this.controlServers.get(s);
      if (!set) this.controlServers.set(s, (set = new Set()));
      set.add(handler);
    }
    return {
      close: () => {
        for (const s of subjects) {
          const set = this.controlServers.get(s);
          set?.delete(handler);
          if (set && !set.size) this.controlServers.delete(s);
        }
      },
    };
  }

  // ------------------------------------------------------------------ close

  /** Ends waiting pulls (with what they got), stops every delivery, drops queued messages. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pools.values()) {
      for (const pull of [...p.pulls]) this.finishPull(p, pull);
      p.q.clear();
    }
    for (const r of [...this.requests]) r.reject(new ConnectionError('the in-process transport closed before the worker replied'));
    for (const s of this.eventSubs) s.closed = true;
    for (const s of this.hbSubs) s.closed = true;
    this.eventSubs.clear();
    this.hbSubs.clear();
    this.controlServers.clear();
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) { c.closed = true; this.flush(c); }
    this.results.clear();
    await Promise.all(consumers.map((c) => c.chain));
  }
}

export { MemoryArtifacts };

