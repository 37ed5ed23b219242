// JetStream set-up calls (streams, consumers, the lease, the object store) on a cluster that
// is still forming: a fresh cluster answers API requests only once its meta leader is
// elected, and a stream just created answers only once its own leader is. Until then
// requests time out or find no responder. withJetStream() retries exactly those failures,
// with backoff, for a bounded time, then fails saying what it was waiting for.
import { ConnectionError } from './errors.js';

/** How long set-up waits for a cluster's JetStream to answer. */
export const JETSTREAM_READY_MS = 60_000;

/** True for failures that mean "not answering yet", not "refused". */
export function notReady(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: unknown; cause?: unknown } | null;
  if (!e) return false;
  if (e.name === 'TimeoutError' || e.name === 'NoRespondersError') return true;
  const msg = String(e.message ?? '');
  if (/\btimeout\b|timed out|no responders|temporarily unavailable|no suitable peers|insufficient resources|jetstream not (enabled|ready)|leader/i.test(msg)) return true;
  return e.cause !== undefined && e.cause !== err && notReady(e.cause);
}

export async function withJetStream<T>(what: string, fn: () => Promise<T>, opts: { log?: (line: string) => void; waitMs?: number } = {}): Promise<T> {
  const until = Date.now() + (opts.waitMs ?? JETSTREAM_READY_MS);
  let said = false;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (err) {
      if (!notReady(err)) throw err;
      if (Date.now() + delay > until) {
        throw new ConnectionError(`JetStream did not answer (${what}) for ${Math.round((opts.waitMs ?? JETSTREAM_READY_MS) / 1000)} s: ${(err as Error).message}; `
          + 'check that every NATS server runs with JetStream and that a cluster has a quorum (`nats server report jetstream`)', { cause: err });
      }
      if (!said) { opts.log?.(`NATS: JetStream is not answering yet (${what}: ${(err as Error).message}); a new cluster is still electing its leaders, retrying for up to ${Math.round((until - Date.now()) / 1000)} s`); said = true; }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
