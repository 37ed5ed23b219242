// Fencing: one active coordinator per NATS stream set. The lease is the last message on
// <ns>.lease.coordinator in stream <NS>_LEASE (one message kept per subject), written
// with compare-and-set on the subject's last sequence (Nats-Expected-Last-Subject-Sequence),
// so of two writers only one wins. The holder renews it every ttl/3; a contender takes it
// only after watching it go unrenewed for a whole ttl by its own clock (no clock skew
// involved), at once when the holder released it on a clean stop, when the holder's
// process on this same host is gone (checked while standing by too), or when the
// server's timestamp of the last renewal is older than 2 x ttl. A holder whose renewal
// loses the compare-and-set has been replaced: it stops (onLost) and never acks another
// result.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { LimolabError } from './errors.js';
import { withJetStream } from './js-retry.js';

export interface LeaseValue { holder: string; host: string; pid: number; db: string; ttlMs: number; released?: boolean }

export interface LeaseOptions {
  namespace?: string;
  ttlMs?: number;               // default 10 s
  db: string;                   // shown to a contender
  standby?: boolean;            // wait for the lease instead of refusing
  replicas?: number;
  log?: (line: string) => void;
  onLost: (by: LeaseValue | null) => void;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as { code?: string }).code === 'EPERM'; }
}

export class LeaseHeldError extends LimolabError { override name = 'LeaseHeldError'; }

export interface Lease { id: string; release(): Promise<void> }

export async function acquireCoordinatorLease(nc: NatsConnection, opts: LeaseOptions): Promise<Lease> {
  const ns = opts.namespace ?? 'limolab';
  const stream = `${ns.toUpperCase()}_LEASE`;
  const subject = `${ns}.lease.coordinator`;
  const ttl = opts.ttlMs ?? 10_000;
  const log = opts.log ?? (() => {});
  // On a cluster that is still forming, JetStream answers only after its leaders are elected.
  const ready = <T>(what: string, fn: () => Promise<T>) => withJetStream(what, fn, { log });
  const jsm = await ready('JetStream API', () => jetstreamManager(nc));
  const js = jetstream(nc);
  await ready(`stream ${stream}`, () => ensureStream(jsm, stream, `${ns}.lease.>`, opts.replicas ?? 1));
  const me: LeaseValue = { holder: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, host: hostname(), pid: process.pid, db: opts.db, ttlMs: ttl };
  const enc = (v: LeaseValue) => new TextEncoder().encode(JSON.stringify(v));
  const read = async () => {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch((err: Error) => {
      if (/no message found|not found/i.test(err.message)) return null;
      throw err;
    });
    if (!m) return null;
    let value: LeaseValue | null = null;
    try { value = m.json<LeaseValue>(); } catch { /* unreadable: treat as expired */ }
    return { seq: m.seq, time: m.time.getTime(), value };
  };
  const cas = async (last: number, v: LeaseValue): Promise<number | null> => {
    try {
      const ack = await js.publish(subject, enc(v), { expect: { lastSubjectSequence: last } });
      return ack.seq;
    } catch (err) {
      if (/wrong last sequence|10071/i.test((err as Error).message)) return null;
      throw err;
    }
  };
  // A holder on this host whose process is gone (e.g. SIGKILLed) is provably dead: no need
  // to wait out its ttl. Only provable on the same host; elsewhere the ttl decides.
  const deadHere = (v: LeaseValue) => v.host === me.host && v.pid !== me.pid && !alive(v.pid);
  const describe = (v: LeaseValue | null) => (v ? `coordinator ${v.holder} (pid ${v.pid} on ${v.host}, database ${v.db})` : 'another coordinator');

  let seq: number | null = null;
  let announced = false;
  const readNow = () => ready('reading the coordinator lease', read);
  const casNow = (last: number, v: LeaseValue) => ready('writing the coordinator lease', () => cas(last, v));
  for (;;) {
    const cur = await readNow();
    if (!cur) {
      seq = await casNow(0, me);
    } else if (!cur.value || cur.value.released || cur.value.holder === me.holder || Date.now() - cur.time > 2 * Math.max(ttl, cur.value.ttlMs)
      || deadHere(cur.value)) {
      seq = await casNow(cur.seq, me);
    } else {
      // Watch it for a whole ttl of its holder: renewed means alive.
      const theirTtl = Math.max(1000, cur.value.ttlMs);
      if (!announced) {
        log(`coordinator: ${describe(cur.value)} holds the lease on NATS namespace "${ns}"; ${opts.standby ? 'standing by until it goes away' : `checking for ${Math.round(theirTtl / 1000)} s whether it is alive`}`);
        announced = true;
      }
      const until = Date.now() + theirTtl + 500;
      let renewed = false;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(250, theirTtl / 8)));
        const now = await readNow();
        if (!now || now.seq !== cur.seq) { renewed = !!now?.value && !now.value.released; break; }
        if (deadHere(cur.value)) break;     // its process died while we watched: take it now
      }
      if (renewed && !opts.standby) {
        throw new LeaseHeldError(`${describe(cur.value)} is active on this NATS (namespace "${ns}"): only one coordinator may serve a stream set, `
          + 'or results would be taken by one and never reach the other\'s database. Stop it first, point this one at another NATS or namespace, '
          + 'or start it with --standby to take over when that one goes away');
      }
      if (renewed) continue;
      const after = await readNow();
      seq = after && after.seq === cur.seq ? await casNow(cur.seq, me) : null;
      if (seq === null) continue;
    }
    if (seq !== null) break;
  }
  log(`coordinator: holding the coordinator lease as ${me.holder} (renewed every ${Math.round(ttl / 3)} ms)`);

  let stopped = false;
  let failingSince = 0;
  const renew = async () => {
    if (stopped) return;
    try {
      let next = await cas(seq!, me);
      if (next === null) {
        // A renewal whose ack was lost (a timeout) still moved the sequence: if the
        // last write is our own, carry on from it.
        const by = await read().catch(() => null);
        if (by?.value?.holder === me.holder && !by.value.released) next = by.seq;
        else {
          stopped = true;
          clearInterval(timer);
          opts.onLost(by?.value ?? null);
          return;
        }
      }
      seq = next;
      failingSince = 0;
    } catch (err) {
      // NATS unreachable: nobody else can take the lease through it either; keep trying.
      failingSince ||= Date.now();
      if (Date.now() - failingSince > ttl) log(`coordinator: cannot renew the coordinator lease for ${Math.round((Date.now() - failingSince) / 1000)} s: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => void renew(), Math.max(100, Math.floor(ttl / 3)));
  timer.unref();
  return {
    id: me.holder,
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      // Released: a standby takes over at once instead of waiting a ttl.
      await cas(seq!, { ...me, released: true }).catch(() => null);
    },
  };
}

async function ensureStream(jsm: JetStreamManager, name: string, subject: string, replicas: number) {
  try {
    await jsm.streams.info(name);
  } catch {
    try {
      await jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Limits, max_msgs_per_subject: 1, storage: StorageType.File, num_replicas: replicas });
    } catch (err) {
      await jsm.streams.info(name).catch(() => { throw err; });
    }
  }
}
