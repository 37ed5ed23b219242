// Shared setup for the results-path chaos scenarios (issue 10, items 1-9 and the ingest
// half of 10): a real nats-server on loopback, a coordinator in this process with the
// options a scenario needs, workers (real Worker objects over their own NATS connections,
// or child processes through the CLI), raw NATS clients to forge messages, and the
// figures each scenario prints for `npm run chaos` ("[chaos <name>] ...").
import Database from 'better-sqlite3';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startCoordinator, type CoordinatorConfig } from '../../coordinator/main.js';
import { NatsTransport } from '../../common/nats-transport.js';
import { Worker } from '../../worker/worker.js';
import { diagRunner } from '../../worker/diag.js';
import type { Runner } from '../../worker/runner.js';
import { Heartbeat, TaskResult, TaskResultBatch, WorkerState } from '../../gen/limolab/v1/task.js';
import { Cluster } from '../helpers/cluster.js';

/** Full scenarios (slow: several child processes) run under `npm run chaos` only. */
export const FULL = !!process.env.LIMOLAB_CHAOS;

export function figure(scenario: string, text: string) {
  console.log(`[chaos ${scenario}] ${text}`);
}

export class Plane extends Cluster {
  coord?: Awaited<ReturnType<typeof startCoordinator>>;
  inProcWorkers: { worker: Worker; done: Promise<void>; transport: NatsTransport }[] = [];
  raw: NatsConnection[] = [];

  async startCoord(opts: Partial<CoordinatorConfig> = {}) {
    this.coord = await startCoordinator({
      db: this.db, nats: { url: this.nats.url }, listen: '127.0.0.1:0', ackWaitMs: 5000, lostAfterMs: 2000, leaseTtlMs: 2000,
      log: (l) => this.logs.push(l), ...opts,
    });
    this.coordinator = this.coord;
    this.address = this.coord.grpc.address;
    return this.coord;
  }

  /** A worker in this process on its own NATS connection (no child process start-up cost). */
  async worker(id: string, runners: Runner[] = [diagRunner], slots = 2) {
    const nc = await connect({ servers: this.nats.url, name: id });
    const transport = await NatsTransport.open(nc, {});
    const worker = new Worker(transport, { id, runners, slots, heartbeatMs: 300, pullExpiresMs: 1000, log: (l) => this.logs.push(`[${id}] ${l}`) });
    const done = worker.run().finally(() => transport.close());
    const w = { worker, done, transport };
    this.inProcWorkers.push(w);
    return w;
  }

  async rawClient() {
    const nc = await connect({ servers: this.nats.url });
    this.raw.push(nc);
    return nc;
  }

  /** Publishes results as a worker would (one TaskResultBatch message). */
  async forgeResults(results: TaskResult[]) {
    const nc = await this.rawClient();
    await jetstream(nc).publish('limolab.result.batch', TaskResultBatch.encode({ results }).finish());
  }

  async forgeHeartbeat(nc: NatsConnection, id: string) {
    const hb: Heartbeat = { info: { id, host: 'forged', pool: 'default', cpus: 1, memoryMb: 1, gpus: [], runners: ['diag'], kinds: [], slots: 1, version: 'x', startedMs: Date.now(), pid: 1 }, state: WorkerState.WORKER_STATE_IDLE, running: [], tsMs: Date.now(), completed: 0, failed: 0 };
    nc.publish(`limolab.hb.${id}`, Heartbeat.encode(hb).finish());
  }

  count(sql: string, ...args: unknown[]): number {
    const d = new Database(this.db, { readonly: true });
    try { return (d.prepare(sql).get(...args) as { n: number }).n; } finally { d.close(); }
  }

  override async stop() {
    for (const w of this.inProcWorkers) w.worker.abort();
    await Promise.all(this.inProcWorkers.map((w) => w.done.catch(() => {})));
    for (const nc of this.raw) await nc.close().catch(() => {});
    await super.stop();
  }
}

export function result(taskId: string, sweepId: string, over: Partial<TaskResult> = {}): TaskResult {
  return TaskResult.fromPartial({
    taskId, sweepId, attemptId: `${taskId}#1.1`, workerId: 'forger', attempt: 1, delivery: 1, startedMs: Date.now(), finishedMs: Date.now(), ...over,
  });
}
