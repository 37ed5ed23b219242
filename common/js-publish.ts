// JetStream publishes in bulk with one reply subscription: each message is a core NATS
// publish whose reply subject is an inbox this publisher listens on, and the stream's
// acknowledgement (stream, seq, duplicate) comes back there. The same exchange as
// js.publish() (same headers, same acks), without its per-message request machinery (a
// timer, an Error captured for its stack and a mux entry each), which cost the
// coordinator more than the publish itself when it sends tens of thousands of tasks.
import { createInbox, headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface PubAck { stream: string; seq: number; duplicate: boolean }

const utf8 = new TextDecoder();

/** One publishEach call: each message's ack or error by position, settled when none is left. */
interface Batch { base: number; msgs: readonly { subject: string }[]; acks: (PubAck | Error | undefined)[]; left: number; done(err?: Error): void }

export class BulkPublisher {
  private sub: Subscription | null = null;
  private prefix = '';
  private next = 0;
  private waiting = new Map<number, Batch>();

  constructor(private nc: NatsConnection, private timeoutMs = 5000) {}

  private ensureSub(): void {
    if (this.sub && !this.sub.isClosed()) return;
    const inboxPrefix = (this.nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.prefix = createInbox(inboxPrefix);
    this.sub = this.nc.subscribe(`${this.prefix}.*`, {
      callback: (err, m) => {
        if (err) { this.failAll(err); return; }
        const id = Number(m.subject.slice(this.prefix.length + 1));
        const b = this.waiting.get(id);
        if (!b) return; // timed out already
        this.waiting.delete(id);
        let error: Error | null = null;
        if (m.headers?.code === 503 || (!m.data.length && m.headers?.hasError)) {
          error = new Error(`no JetStream stream takes subject ${b.msgs[id - b.base]!.subject} (${m.headers?.code ?? ''} ${m.headers?.description || 'no responders'})`);
        } else {
          try {
            const a = JSON.parse(utf8.decode(m.data)) as { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
            if (a.error) error = new Error(`JetStream refused the message: ${a.error.description ?? 'error'} (${a.error.code ?? '?'})`);
            else if (!a.stream) error = new Error('invalid JetStream publish ack (no stream)');
            else b.acks[id - b.base] = { stream: a.stream, seq: a.seq ?? 0, duplicate: a.duplicate === true };
          } catch (e) {
            error = new Error(`unreadable JetStream publish ack: ${(e as Error).message}`);
          }
        }
        if (error) b.acks[id - b.base] = error;
        if (--b.left === 0) b.done();
      },
    });
  }

  private failAll(err: Error): void {
    const bs = new Set(this.waiting.values());
    this.waiting.clear();
    for (const b of bs) b.done(err);
  }

  /**
   * Publishes every message (msgId becomes Nats-Msg-Id, for the stream's de-duplication) and
   * resolves with their acks in order once all are in; rejects with the first failure, or
   * when timeoutMs pass without every ack.
   */
  async publishAll(msgs: { subject: string; data: Uint8Array; msgId: string }[]): Promise<PubAck[]> {
    const out = await this.publishEach(msgs);
    const failed = out.find((a): a is Error => a instanceof Error);
    if (failed) throw failed;
    return out as PubAck[];
  }

  /**
   * Publishes every message as publishAll does, and resolves once each has its answer: its
   * ack, or the Error that says why it failed (JetStream refused it, no ack came within
   * timeoutMs, the connection failed). Never rejects. A message whose ack did not come may
   * still have been stored; publishing it again with the same msgId is what tells.
   */
  publishEach(msgs: { subject: string; data: Uint8Array; msgId: string }[]): Promise<(PubAck | Error)[]> {
    if (!msgs.length) return Promise.resolve([]);
    return new Promise<(PubAck | Error)[]>((resolve) => {
      const base = this.next;
      this.next += msgs.length;
      const b: Batch = {
        base, msgs, acks: new Array(msgs.length), left: msgs.length,
        done: (err?: Error) => {
          clearTimeout(timer);
          for (let i = 0; i < msgs.length; i++) {
            this.waiting.delete(base + i);
            b.acks[i] ??= err ?? new Error(`no JetStream publish ack within ${this.timeoutMs} ms`);
          }
          b.left = 0;
          resolve(b.acks as (PubAck | Error)[]);
        },
      };
      const timer = setTimeout(() => b.done(), this.timeoutMs);
      try {
        this.ensureSub();
        for (let i = 0; i < msgs.length; i++) {
          const m = msgs[i]!;
          this.waiting.set(base + i, b);
          const h = headers();
          h.set('Nats-Msg-Id', m.msgId);
          this.nc.publish(m.subject, m.data, { reply: `${this.prefix}.${base + i}`, headers: h });
        }
      } catch (err) {
        b.done(err as Error);
      }
    });
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    this.failAll(new Error('publisher closed'));
  }
}
