// The NATS JetStream implementation of Transport.
//   tasks:    stream <NS>_TASKS (work queue), subject <ns>.task.<pool>.<sweep> (one Task), or
//             <ns>.task.<pool>.<sweep>.bundle (a TaskBundle of short tasks, see publishTasks);
//             one durable pull consumer per pool, shared by that pool's workers.
//   results:  stream <NS>_RESULTS (work queue), subject <ns>.result.<sweep>; published
//             with Nats-Msg-Id = attempt id, so a retried publish is stored once.
//   events:   core subject <ns>.event.<sweep>   (progress, logs: lossy by design)
//   workers:  core <ns>.hb.<worker> heartbeats; <ns>.ctl.<worker> / <ns>.ctl.all control
//   artifacts: object store bucket <ns>_artifacts, named by sha256 digest.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { ControlReply, ControlRequest, Heartbeat, Task, TaskEvent, TaskResult } from '../gen/limolab/v1/task.js';
import { repeatedField1, field1Size, decodeTask, decodeTaskBundle, decodeResultBatch, HEADER_ROOM, packResults } from './wire.js';
import { randomBytes } from 'node:crypto';
import { ObjectStoreArtifacts } from './artifacts.js';
import { withJetStream } from './js-retry.js';
import { BulkPublisher } from './js-publish.js';
import type { Closer, ConsumeResultsOptions, DeliveredResult, DeliveredTask, OutgoingTask, PublishOutcome, Transport } from './transport.js';

export interface NatsTransportOptions {
  namespace?: string;       // subject/stream prefix; default "limolab"
  ackWaitMs?: number;       // lease; default 30 s
  replicas?: number;        // stream and object store replicas (1 on a single server)
  artifactDir?: string;     // where artifacts over maxObjectBytes live (shared filesystem)
  maxObjectBytes?: number;
  /** Where "JetStream not answering yet" is reported while set-up waits for a cluster. */
  log?: (line: string) => void;
}

const NS_RE = /^[a-z][a-z0-9_]*$/;
/** The results watchdog looks after this long without a result message, every WATCH_EVERY_MS. */
const WATCH_IDLE_MS = 500, WATCH_EVERY_MS = 250, WATCH_SLOW_AFTER_MS = 5000, WATCH_SLOW_MS = 2000;
/** Results: messages gathered into one flush at most, and results to one handler call (one SQLite transaction) at most. */
const MSGS_PER_FLUSH = 256, RESULTS_PER_CALL = 1000;
export const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

export class NatsTransport implements Transport {
  readonly kind = 'nats' as const;
  readonly ns: string;
  ackWaitMs: number;
  private js: JetStreamClient;
  private consumers = new Map<string, Promise<Consumer>>();
  private subs: Subscription[] = [];
  private publisher: BulkPublisher;
  artifacts!: ObjectStoreArtifacts;

  private constructor(readonly nc: NatsConnection, private jsm: JetStreamManager, private opts: NatsTransportOptions) {
    this.ns = opts.namespace ?? 'limolab';
    if (!NS_RE.test(this.ns)) throw new Error(`namespace ${JSON.stringify(this.ns)} must match ${NS_RE}`);
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
    this.js = jetstream(nc);
    this.publisher = new BulkPublisher(nc);
  }

  static async open(nc: NatsConnection, opts: NatsTransportOptions = {}): Promise<NatsTransport> {
    // Each set-up call waits (bounded) for a cluster that is still electing its leaders.
    const ready = <T>(what: string, fn: () => Promise<T>) => withJetStream(what, fn, { log: opts.log });
    const jsm = await ready('JetStream API', () => jetstreamManager(nc));
    const t = new NatsTransport(nc, jsm, opts);
    await ready('task and result streams', () => t.ensureStreams());
    const os: ObjectStore = await ready('artifact bucket', () => new Objm(nc).create(`${t.ns}_artifacts`, { replicas: opts.replicas ?? 1, storage: StorageType.File }));
    t.artifacts = new ObjectStoreArtifacts(os, `${t.ns}_artifacts`, opts.artifactDir, opts.maxObjectBytes);
    return t;
  }

  private get upper() { return this.ns.toUpperCase(); }

  private async ensureStreams() {
    const replicas = this.opts.replicas ?? 1;
    for (const [name, subject] of [[`${this.upper}_TASKS`, `${this.ns}.task.>`], [`${this.upper}_RESULTS`, `${this.ns}.result.>`]] as const) {
      try {
        await this.jsm.streams.info(name);
      } catch {
        try {
          await this.jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: replicas, duplicate_window: 120_000_000_000 });
        } catch (err) {
          // Another process created it between our info and add.
          await this.jsm.streams.info(name).catch(() => { throw err; });
        }
      }
    }
  }

  private consumerFor(pool: string): Promise<Consumer> {
    let c = this.consumers.get(pool);
    if (!c) {
      c = (async () => {
        const durable = `pool_${pool}`;
        const stream = `${this.upper}_TASKS`;
        let info;
        try {
          info = await this.jsm.consumers.info(stream, durable);
        } catch {
          info = await this.jsm.consumers.add(stream, {
            durable_name: durable, filter_subject: `${this.ns}.task.${pool}.>`, ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All, ack_wait: this.ackWaitMs * 1_000_000, max_deliver: -1, max_ack_pending: 20_000,
          }).catch(async (err) => { try { return await this.jsm.consumers.info(stream, durable); } catch { throw err; } });
        }
        // The consumer's lease wins over our option when another process made it first.
        this.ackWaitMs = Math.round((info.config.ack_wait ?? this.ackWaitMs * 1_000_000) / 1_000_000);
        return this.js.consumers.get(stream, durable);
      })();
      c.catch(() => this.consumers.delete(pool));
      this.consumers.set(pool, c);
    }
    return c;
  }

  async prepareConsumer(pool: string) { await withJetStream(`consumer pool_${pool}`, () => this.consumerFor(pool), { log: this.opts.log }); }

  async publishTasks(tasks: OutgoingTask[]): Promise<PublishOutcome> {
    const dups: { id: string; seq: number }[] = [];
    const unpublished: string[] = [];
    // In windows of 500, at most four of them awaiting their acks: tens of thousands of
    // messages in flight at once cost more than they gain, and workers can start on the
    // first window while the next ones go out. After a failure no further window is sent
    // (a full stream or a lost server refuses those too); their tasks are unpublished.
    const inFlight: Promise<void>[] = [];
    let error: Error | undefined;
    let i = 0;
    const maxBytes = (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
    for (; i < tasks.length && !error; i += 500) {
      const window = tasks.slice(i, i + 500);
      const { msgs, members } = this.taskMessages(window, maxBytes);
      inFlight.push(this.publisher.publishEach(msgs).then((acks) => {
        for (let j = 0; j < acks.length; j++) {
          const a = acks[j]!, m = members[j]!;
          if (a instanceof Error) { error ??= a; for (const t of m) unpublished.push(t.id); } else if (a.duplicate) for (const t of m) dups.push({ id: t.id, seq: a.seq });
        }
      }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    for (let k = i; k < tasks.length; k++) unpublished.push(tasks[k]!.id);
    // A duplicate (a publish again after a restart, or after a lost ack) names the first
    // message's sequence. Still in the work queue: it is queued or held by a worker. Gone: a
    // worker acked it, and the dedup window kept this publish from putting it back.
    const taken: string[] = [];
    for (const d of dups) {
      // (nats.js answers null for a sequence that is not there; older versions threw.)
      const gone = await this.jsm.streams.getMessage(`${this.upper}_TASKS`, { seq: d.seq }).then((m) => !m, (err: Error) => {
        if (/no message found|not found/i.test(err.message)) return true;
        // Unknown: the task stays queued (the message was stored once); a worker that took it
        // reports its result, which counts.
        this.opts.log?.(`coordinator: could not look up task ${d.id}'s earlier message (${err.message}); counting it as still queued`);
        return false;
      });
      if (gone) taken.push(d.id);
    }
    return { taken, unpublished, ...(error ? { error } : {}) };
  }

  /**
   * The messages for a window of tasks: each alone (a Task, Nats-Msg-Id `<id>#<attempt>`), but
   * runs of consecutive tasks of one pool and sweep that may travel in bundles (OutgoingTask's
   * `bundle`, the same for the run) go as TaskBundle messages of up to that many tasks and
   * maxBytes, with Nats-Msg-Id `<first id>#<attempt>+<count>`. The de-duplication then holds
   * for the bundle as composed: a task published again in another bundle, or alone (a restart
   * re-publishes queued tasks alone), is not recognised as stored, and may run twice; its
   * second result is ignored like a redelivered task's. Only tasks far shorter than a message
   * are bundled, so that costs little.
   */
  private taskMessages(window: OutgoingTask[], maxBytes: number): { msgs: { subject: string; data: Uint8Array; msgId: string }[]; members: OutgoingTask[][] } {
    const msgs: { subject: string; data: Uint8Array; msgId: string }[] = [];
    const members: OutgoingTask[][] = [];
    for (let j = 0; j < window.length;) {
      const t = window[j]!;
      const cap = t.bundle ?? 1;
      let k = j + 1;
      if (cap > 1) {
        let bytes = field1Size(t.data);
        while (k < window.length && k - j < cap) {
          const u = window[k]!;
          if (u.bundle !== cap || u.pool !== t.pool || u.sweepId !== t.sweepId || bytes + field1Size(u.data) > maxBytes) break;
          bytes += field1Size(u.data);
          k++;
        }
      }
      const subject = `${this.ns}.task.${t.pool}.${t.sweepId}`;
      if (k - j === 1) {
        msgs.push({ subject, data: t.data, msgId: `${t.id}#${t.attempt}` });
        members.push([t]);
      } else {
        const part = window.slice(j, k);
        msgs.push({ subject: `${subject}.bundle`, data: repeatedField1(part.map((x) => x.data)), msgId: `${t.id}#${t.attempt}+${part.length}` });
        members.push(part);
      }
      j = k;
    }
    return { msgs, members };
  }

  async purgeSweepTasks(sweepId: string, pools: string[]): Promise<number> {
    let n = 0;
    for (const pool of new Set(pools)) {
      for (const filter of [`${this.ns}.task.${pool}.${sweepId}`, `${this.ns}.task.${pool}.${sweepId}.bundle`]) {
        const r = await this.jsm.streams.purge(`${this.upper}_TASKS`, { filter });
        n += r.purged;
      }
    }
    return n;
  }

  consumeResults(handler: (batch: DeliveredResult[]) => Promise<void>, onBad: (err: Error) => void, opts: ConsumeResultsOptions = {}): Closer {
    // Messages as they came, decoded only when the handler takes them, about RESULTS_PER_CALL
    // results at a time: a backlog (a pull brings up to 2,000 messages, of up to hundreds of
    // results each) waits as bytes. Measured: 2,000 messages of 64 no-op results are 16.5 MB
    // of bytes and 104 MB of heap decoded (852 B a result), which a restarted coordinator
    // decoded at once. (No change in throughput or GC time in bench:dispatch's rows.)
    let pending: JsMsg[] = [];
    let chain = Promise.resolve();
    let scheduled = false;
    // Messages received and not yet settled: their leases are extended while this process
    // holds them (waiting for, or inside, a handler call that may pause, e.g. on a full
    // disk), so JetStream does not hand out copies that would pile up behind them. What a
    // handler call leaves unsettled is let go: its lease runs out and it comes back.
    const held = new Set<JsMsg>();
    /** The results of message m, appended to out; a message that does not decode is refused. */
    const decodeInto = (m: JsMsg, out: HeldResult[]) => {
      let results: TaskResult[];
      try {
        results = decodeResultBatch(m.data);
      } catch (err) {
        held.delete(m);
        onBad(err as Error);
        m.term();
        return;
      }
      const msg = new SharedMessage(m, results.length, held);
      for (const result of results) out.push(new HeldResult(result, msg));
    };
    const flush = () => {
      scheduled = false;
      const msgs = pending;
      pending = [];
      if (!msgs.length) return;
      chain = chain.then(async () => {
        // About RESULTS_PER_CALL results to a handler call (one SQLite transaction), each
        // part decoded just before its call.
        for (let i = 0; i < msgs.length;) {
          const part: HeldResult[] = [];
          for (; i < msgs.length && part.length < RESULTS_PER_CALL; i++) decodeInto(msgs[i]!, part);
          if (part.length) await handler(part);
        }
      }).catch((err) => onBad(err as Error))
        // A message whose results are all settled has left `held` already; the others go.
        .finally(() => { for (const m of msgs) held.delete(m); });
    };
    const keepAlive = setInterval(() => { for (const m of held) m.working(); }, 3000);
    keepAlive.unref();
    let messages: { stop(): void; close(): Promise<void | Error> } | undefined;
    let closed = false;
    let lastMsgAt = Date.now();
    const stream = `${this.upper}_RESULTS`;
    const callback = (m: JsMsg) => {
      lastMsgAt = Date.now();
      held.add(m);
      pending.push(m);
      // Batch what arrives together into one handler call.
      if (pending.length >= MSGS_PER_FLUSH) flush();
      else if (!scheduled) { scheduled = true; setImmediate(flush); }
    };
    let consumer: Consumer | undefined;
    // A pull opened while close() ran (the watchdog's) is stopped at once, not left open.
    const open = async () => {
      const m = await consumer!.consume({
        max_messages: 2000,
        // Idle heartbeats every 2.5 s (nats.js would take half of `expires`): a pull that died
        // with a server (a killed stream or consumer leader in a cluster) is noticed after two
        // missed heartbeats and made again, so results flow again within ~5 s of a new leader.
        // Pull requests live nats.js's 30 s, not 5 s: nats-server before 2.9.16 (Debian ships
        // 2.9.10) drops a request that has just expired without its 408 when a message comes
        // in before its expiry timer runs (fixed upstream in df282a221, "Fix Pull Consumer not
        // sending request timeout"). The client then keeps counting on that request and waits
        // for the watchdog below; the fewer requests expire while results flow, the rarer that is.
        expires: 30_000,
        idle_heartbeat: 2500,
        callback,
      });
      if (closed) m.stop(); else messages = m;
    };
    const start = (async () => {
      // A coordinator that dies holding unacked results gets them back after this lease
      // (its successor then ingests them); ingestion is idempotent, so short is safe.
      await withJetStream('consumer coordinator', () => this.jsm.consumers.info(stream, 'coordinator').catch(() =>
        this.jsm.consumers.add(stream, { durable_name: 'coordinator', filter_subject: `${this.ns}.result.>`, ack_policy: AckPolicy.Explicit, ack_wait: 10_000_000_000, max_ack_pending: 50_000 })), { log: this.opts.log });
      consumer = await this.js.consumers.get(stream, 'coordinator');
      await open();
    })();
    start.catch((err) => onBad(err as Error));
    // The pull's watchdog. nats.js keeps count of the messages its open pull requests may
    // still bring; when the server ends a request without a word (the server bug above;
    // measured: 1 in ~10 runs of 20k tasks at 64 in flight with 5 s requests), the client
    // waits for two missed heartbeats (5-7.5 s) before it pulls again, and every result
    // waits with it. So:
    // while results are expected (opts.expecting), after half a second without a result
    // message, ask the server every quarter second; result messages waiting with no pull
    // request of ours open there, twice in a row (a pull just sent is not yet counted), means
    // the pull is dead: stop it and pull again. Results flow again within about a second.
    // A coordinator with nothing in flight asks nothing; one whose tasks are long asks every 2 s.
    const expecting = opts.expecting ?? (() => true);
    let suspect = 0;
    let checking = false;
    let lastLook = 0;
    const watchdog = setInterval(() => {
      const now = Date.now(), idle = now - lastMsgAt;
      if (closed || checking || !messages || idle < WATCH_IDLE_MS || !expecting()) { suspect = 0; return; }
      // Long tasks leave the results quiet for minutes: past WATCH_SLOW_AFTER_MS idle, a look
      // every WATCH_SLOW_MS. (The server bug needs a message coming in, so a pull that went
      // silent did so while results flowed, when the looks are frequent.)
      if (idle > WATCH_SLOW_AFTER_MS && now - lastLook < WATCH_SLOW_MS) return;
      lastLook = now;
      checking = true;
      this.jsm.consumers.info(stream, 'coordinator').then(async (info) => {
        if (closed || !(info.num_pending > 0 && info.num_waiting === 0)) { suspect = 0; return; }
        if (++suspect < 2) return;
        suspect = 0;
        this.opts.log?.(`coordinator: ${info.num_pending} result message(s) wait in the stream and the server holds no pull request of this coordinator; pulling again`);
        const dead = messages;
        messages = undefined;
        dead?.stop();
        await open();
        lastMsgAt = Date.now();
      }).catch(() => { /* the server is not answering: the next round asks again */ }).finally(() => { checking = false; });
    }, WATCH_EVERY_MS);
    watchdog.unref();
    return {
      close: async () => {
        closed = true;
        clearInterval(watchdog);
        await start.catch(() => {});
        messages?.stop();
        flush();
        await chain;
        clearInterval(keepAlive);
        held.clear();
      },
    };
  }

  subscribeEvents(handler: (ev: TaskEvent) => void, onBad: (err: Error) => void): Closer {
    return this.track(this.nc.subscribe(`${this.ns}.event.>`, {
      callback: (err, m) => {
        if (err) return onBad(err);
        try { handler(TaskEvent.decode(m.data)); } catch (e) { onBad(e as Error); }
      },
    }));
  }

  subscribeHeartbeats(handler: (hb: Heartbeat) => void): Closer {
    return this.track(this.nc.subscribe(`${this.ns}.hb.>`, {
      callback: (err, m) => {
        if (err) return;
        try {
          const hb = Heartbeat.decode(m.data);
          // A worker heartbeats on its own subject (which NATS permissions can pin to it).
          if (m.subject !== `${this.ns}.hb.${hb.info?.id}`) return;
          handler(hb);
        } catch { /* a bad heartbeat is dropped; the worker's next one counts */ }
      },
    }));
  }

  async control(workerId: string, req: ControlRequest, timeoutMs = 5000): Promise<ControlReply | null> {
    if (workerId === 'all') {
      this.nc.publish(`${this.ns}.ctl.all`, ControlRequest.encode(req).finish());
      await this.nc.flush();
      return null;
    }
    const m = await this.nc.request(`${this.ns}.ctl.${workerId}`, ControlRequest.encode(req).finish(), { timeout: timeoutMs });
    return ControlReply.decode(m.data);
  }

  async pullTasks(pool: string, max: number, expiresMs: number, onTask: (t: DeliveredTask) => void, onBad: (err: Error) => void, onBundle?: (ts: DeliveredTask[]) => void): Promise<number> {
    const consumer = await this.consumerFor(pool);
    // No early break: leaving a fetch before it ends would orphan messages the server
    // is still sending to it until their lease runs out.
    const msgs = await consumer.fetch({ max_messages: max, expires: Math.max(1000, expiresMs) });
    let n = 0;
    for await (const m of msgs) {
      if (m.subject.endsWith('.bundle')) {
        let tasks: Task[];
        try {
          // <ns>.task.<pool>.<sweep>.bundle: the sweep is the fourth token.
          tasks = decodeTaskBundle(m.data, m.subject.split('.')[3]);
        } catch (err) {
          onBad(err as Error);
          m.term();
          continue;
        }
        n++;
        const shared = new SharedMessage(m, tasks.length), delivery = m.info.deliveryCount;
        const dts = tasks.map((t) => new BundledTask(t, shared, delivery));
        if (onBundle) onBundle(dts); else for (const dt of dts) onTask(dt);
        continue;
      }
      let task: Task;
      try {
        task = decodeTask(m.data);
      } catch (err) {
        onBad(err as Error);
        m.term();
        continue;
      }
      n++;
      onTask(new NatsDeliveredTask(task, m));
    }
    return n;
  }

  private resultQueue: { r: TaskResult; resolve(): void; reject(e: unknown): void }[] = [];
  /** Result batch message ids (the stream's de-duplication key): 72 random bits drawn once per
   *  connection, then a counter. Unique across workers and restarts like a fresh random id per
   *  batch, without a call into the CSPRNG per batch (measured: ~1.6 us a task in the worker). */
  private readonly batchIdPrefix = `rb-${randomBytes(9).toString('base64url')}-`;
  private batchSeq = 0;
  private resultFlush = false;

  /** Results finishing within the same moment travel together, in as few TaskResultBatch
   * messages as the server's max_payload allows. */
  publishResult(result: TaskResult): Promise<void> {
    return new Promise((resolve, reject) => {
      this.resultQueue.push({ r: result, resolve, reject });
      if (this.resultQueue.length >= 256) this.flushResults();
      else if (!this.resultFlush) { this.resultFlush = true; setImmediate(() => this.flushResults()); }
    });
  }

  private flushResults() {
    this.resultFlush = false;
    const batch = this.resultQueue.splice(0);
    if (!batch.length) return;
    // As many messages as the server's max_payload needs (256 results with 16 KiB log
    // tails are 4 MiB; the default max_payload is 1 MiB).
    for (const { data, indexes } of packResults(batch.map((b) => b.r), this.nc.info?.max_payload ?? 1024 * 1024)) {
      const part = indexes.map((i) => batch[i]!);
      // Through the bulk publisher (one reply subscription), not js.publish: a request per
      // batch, with its timer and captured stack, cost the worker more than the batch's bytes.
      this.publisher.publishAll([{ subject: `${this.ns}.result.batch`, data, msgId: `${this.batchIdPrefix}${(this.batchSeq++).toString(36)}` }])
        .then(() => { for (const b of part) b.resolve(); }, (err) => { for (const b of part) b.reject(err); });
    }
  }

  publishEvent(ev: TaskEvent): void {
    this.nc.publish(`${this.ns}.event.${ev.sweepId}`, TaskEvent.encode(ev).finish());
  }

  publishHeartbeat(hb: Heartbeat): void {
    this.nc.publish(`${this.ns}.hb.${hb.info?.id ?? 'unknown'}`, Heartbeat.encode(hb).finish());
  }

  serveControl(workerId: string, handler: (req: ControlRequest) => Promise<ControlReply>): Closer {
    const cb = (err: Error | null, m: { data: Uint8Array; respond(d: Uint8Array): boolean; reply?: string }) => {
      if (err) return;
      let req: ControlRequest;
      try { req = ControlRequest.decode(m.data); } catch { return; }
      void handler(req).then((r) => { if (m.reply) m.respond(ControlReply.encode(r).finish()); });
    };
    const a = this.track(this.nc.subscribe(`${this.ns}.ctl.${workerId}`, { callback: cb }));
    const b = this.track(this.nc.subscribe(`${this.ns}.ctl.all`, { callback: cb }));
    return { close: () => { a.close(); b.close(); } };
  }

  private track(sub: Subscription): Closer {
    this.subs.push(sub);
    return { close: () => sub.unsubscribe() };
  }

  async close(): Promise<void> {
    this.publisher.close();
    for (const s of this.subs) s.unsubscribe();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

/** A message that carries several items (a worker's results, or a bundle of tasks), settled
 *  once each of them is: acked when every one was acked or termed, given back (nak, the longest
 *  delay asked) when any was given back: then the whole message comes again, and what was
 *  stored of it counts once (ingestion is idempotent). `held` (the coordinator's set of result
 *  messages whose leases it extends) loses it as it settles. */
class SharedMessage {
  private nakMs = -1;
  constructor(readonly m: JsMsg, private left: number, private readonly held?: Set<JsMsg>) {}
  settle(nak?: number): void {
    if (nak !== undefined) this.nakMs = Math.max(this.nakMs, nak);
    if (--this.left > 0) return;
    this.held?.delete(this.m);
    if (this.nakMs >= 0) this.m.nak(this.nakMs); else this.m.ack();
  }
}

/** One item of a SharedMessage. A class rather than an object of closures: thousands a second.
 *  Its first ack, nak or term settles it; term settles like ack (the other items may be good). */
class MessagePart {
  done = false;
  constructor(readonly msg: SharedMessage) {}
  protected finish(nak?: number): void {
    if (this.done) return;
    this.done = true;
    this.msg.settle(nak);
  }
  nak(delayMs = 0): void { this.finish(delayMs); }
  term(): void { this.finish(); }
  working(): void { this.msg.m.working(); }
}

/** One result of a message, as the coordinator's handler gets it. */
class HeldResult extends MessagePart implements DeliveredResult {
  constructor(readonly result: TaskResult, msg: SharedMessage) { super(msg); }
  ack(): void { this.finish(); }
}

/** One task of a bundle: its lease is the message's. */
class BundledTask extends MessagePart implements DeliveredTask {
  constructor(readonly task: Task, msg: SharedMessage, readonly delivery: number) { super(msg); }
  ack(): Promise<void> { this.finish(); return Promise.resolve(); }
}

/** A class, not an object of closures: a worker gets one per task, thousands a second. */
class NatsDeliveredTask implements DeliveredTask {
  readonly delivery: number;
  constructor(readonly task: Task, private readonly m: JsMsg) { this.delivery = m.info.deliveryCount; }
  working(): void { this.m.working(); }
  // Fire-and-forget: the result is already stored durably; an ack lost on the wire only
  // means a redelivery whose second result ingestion ignores.
  ack(): Promise<void> { this.m.ack(); return Promise.resolve(); }
  nak(delayMs?: number): void { this.m.nak(delayMs); }
  term(reason?: string): void { this.m.term(reason); }
}
