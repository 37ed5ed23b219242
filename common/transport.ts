// The transport interface: everything the coordinator and workers exchange, without
// naming NATS. Implementations: NatsTransport (JetStream work queue, result stream,
// core subjects, object store) and MemoryTransport (one process, same semantics, used by
// `limolab run` when no nats-server is installed).
import type { ArtifactRef, ControlReply, ControlRequest, Heartbeat, Task, TaskEvent, TaskResult } from '../gen/limolab/v1/task.js';

export interface DeliveredTask {
  task: Task;
  /** JetStream delivery count of this message: 1 on first delivery, 2+ on redelivery. */
  delivery: number;
  /** Extends the lease (in-progress ack). */
  working(): void;
  ack(): Promise<void>;
  /** Gives the task back for another worker, after delayMs. */
  nak(delayMs?: number): void;
  /** Drops the message for good (undecodable, or for a cancelled sweep). */
  term(reason?: string): void;
}

/** Call its members as methods (d.ack()), never detached or spread: the NATS transport's is a class. */
export interface DeliveredResult {
  result: TaskResult;
  ack(): void;
  /** Extends the lease while it is held (e.g. while the disk is full). */
  working?(): void;
  /** Leaves it for later (or for another consumer) after delayMs. */
  nak?(delayMs?: number): void;
  /** Drops it for good (forged or garbled). */
  term?(reason?: string): void;
}

export interface Closer { close(): Promise<void> | void }

export interface ArtifactStore {
  put(bytes: Uint8Array, meta: { role: string; mediaType?: string }): Promise<ArtifactRef>;
  /** Bytes for a reference; the digest is checked, the uri's path is never trusted. */
  get(ref: ArtifactRef): Promise<Uint8Array>;
  has(digest: string): Promise<boolean>;
}

/** A task message as it is published: its bytes (a limolab.v1.Task, attempt included) and what
 *  its subject (pool, sweep) and de-duplication id (task id and attempt) are made of.
 *  wire.ts's outgoingTask() makes one from a Task. */
export interface OutgoingTask {
  id: string; sweepId: string; attempt: number; pool: string; data: Uint8Array;
  /** The most tasks this one may share a message with (a bundle, see TaskBundle in task.proto);
   *  absent or 1: it travels alone. The scheduler sets it for tasks measured to be short. */
  bundle?: number;
}

export interface Transport {
  readonly kind: 'nats' | 'memory';
  /** Lease length: a task not acked or extended within it is redelivered. */
  readonly ackWaitMs: number;
  readonly artifacts: ArtifactStore;

  // --- coordinator side
  /**
   * Publishes tasks, de-duplicated by task id and attempt. `taken`: the ids of tasks that
   * were published before and whose message has since left the queue (a worker acked it):
   * the duplicate was dropped and nothing of theirs is queued any more. `unpublished`: the
   * ids whose publish failed or was not tried after a failure (`error` says why); a message
   * whose ack timed out may still have been stored, so these are published again with the
   * same attempt, never given a new one. Rejects only when nothing could be tried.
   */
  publishTasks(tasks: OutgoingTask[]): Promise<PublishOutcome>;
  /** Removes queued (not yet delivered) tasks of a sweep; returns how many. */
  purgeSweepTasks(sweepId: string, pools: string[]): Promise<number>;
  consumeResults(handler: (batch: DeliveredResult[]) => Promise<void>, onBadMessage: (err: Error) => void, opts?: ConsumeResultsOptions): Closer;
  subscribeEvents(handler: (ev: TaskEvent) => void, onBadMessage: (err: Error) => void): Closer;
  subscribeHeartbeats(handler: (hb: Heartbeat) => void): Closer;
  /** To one worker (request/reply) or, with workerId 'all', a broadcast with no reply. */
  control(workerId: string, req: ControlRequest, timeoutMs?: number): Promise<ControlReply | null>;

  // --- worker side
  /**
   * Asks for up to `max` task messages of a pool; each lone task is handed to onTask as it
   * arrives, and each bundle (several short tasks in one message, settled as one) to onBundle,
   * or task by task to onTask where there is no onBundle. Resolves, with how many messages were
   * handed over (a bundle counts once; malformed ones not at all), once `max` came or
   * expiresMs passed.
   */
  pullTasks(pool: string, max: number, expiresMs: number, onTask: (t: DeliveredTask) => void, onBadMessage: (err: Error) => void, onBundle?: (ts: DeliveredTask[]) => void): Promise<number>;
  publishResult(result: TaskResult): Promise<void>;
  publishEvent(ev: TaskEvent): void;
  publishHeartbeat(hb: Heartbeat): void;
  serveControl(workerId: string, handler: (req: ControlRequest) => Promise<ControlReply>): Closer;

  close(): Promise<void>;
}

/** What publishTasks did: see there. */
export interface PublishOutcome { taken: string[]; unpublished: string[]; error?: Error }

export interface ConsumeResultsOptions {
  /** Whether results are due (the coordinator has tasks in flight). A transport that watches its
   *  results pull for a silent stall looks only while this says so; without it, always. */
  expecting?: () => boolean;
}
