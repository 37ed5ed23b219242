// JetStream publishes in bulk with one reply subscription: each message is a core NATS
// publish whose reply subject is an inbox this publisher listens on, and the stream's
// acknowledgement (stream, seq, duplicate) comes back there. The same exchange as
// js.publish() (same headers, same acks), without its per-message request machinery (a
// timer, an Error captured for its stack and a mux entry each), which cost the
// coordinator more than the publish itself when it sends tens of thousands of tasks.
import { createInbox, headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface PubAck { stream: string; seq: number; duplicate: boolean }

/** One publishAll call: its acks by position, settled when none is left. */
const utf8 = new TextDecoder();

interface Batch { base: number; acks: (PubAck | undefined)[]; left: number; error: Error | null; done(): void }

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
          error = new Error(`no JetStream stream takes subject ${m.subject} (${m.headers?.code ?? ''} ${m.headers?.description ?? 'no responders'})`);
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
        if (error) b.error ??= error;
        if (--b.left === 0) b.done();
      },
    });
  }

  private failAll(err: Error): void {
    const bs = new Set(this.waiting.values());
    this.waiting.clear();
    for (const b of bs) { b.error ??= err; b.left = 0; b.done(); }
  }

  /**
   * Publishes every message (msgId becomes Nats-Msg-Id, for the stream's de-duplication) and
   * resolves with their acks in order once all are in; rejects with the first failure, or
   * when timeoutMs pass without every ack.
   */
  publishAll(msgs: { subject: string; data: Uint8Array; msgId: string }[]): Promise<PubAck[]> {
    if (!msgs.length) return Promise.resolve([]);
    this.ensureSub();
    return new Promise<PubAck[]>((resolve, reject) => {
      const base = this.next;
      this.next += msgs.length;
      const b: Batch = {
        base, acks: new Array(msgs.length), left: msgs.length, error: null,
        done: () => {
          clearTimeout(timer);
          for (let i = 0; i < msgs.length; i++) this.waiting.delete(base + i);
          if (b.error) reject(b.error); else resolve(b.acks as PubAck[]);
        },
      };
      const timer = setTimeout(() => {
        b.error ??= new Error(`no JetStream publish ack within ${this.timeoutMs} ms for ${b.left} of ${msgs.length} message(s)`);
        b.left = 0;
        b.done();
      }, this.timeoutMs);
      try {
        for (let i = 0; i < msgs.length; i++) {
          const m = msgs[i]!;
          this.waiting.set(base + i, b);
          const h = headers();
          h.set('Nats-Msg-Id', m.msgId);
          this.nc.publish(m.subject, m.data, { reply: `${this.prefix}.${base + i}`, headers: h });
        }
      } catch (err) {
        b.error ??= err as Error;
        b.left = 0;
        b.done();
      }
    });
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    this.failAll(new Error('publisher closed'));
  }
}
