// Starts a coordinator: SQLite store, NATS transport, scheduler, gRPC server. Used by
// `limolab coordinator`, by `limolab run` (embedded) and by the integration tests.
// Over NATS it first takes the coordinator lease (one active coordinator per stream set;
// --standby waits for it), then the database's lock file; anything that fails on the way
// up (a taken --listen port) undoes what came before and throws.
import { connectNats, type NatsSettings } from '../common/nats-connect.js';
import { NatsTransport } from '../common/nats-transport.js';
import { acquireCoordinatorLease, type Lease, type LeaseValue } from '../common/nats-lease.js';
import type { Transport } from '../common/transport.js';
import { Coordinator } from './coordinator.js';
import { startGrpcServer } from './grpc-server.js';
import { defaultPlanners } from './planners/index.js';
import { SqliteStore, type DbSync } from './store/sqlite-store.js';
import { lockFile, type DbLock } from './store/db-lock.js';
import { makeQueryHandler } from './results.js';
import { startHttpServer } from './http/server.js';
import type { PlanLimits } from './planner.js';

export interface CoordinatorConfig {
  db: string;
  nats?: NatsSettings;
  transport?: Transport;            // an already open one (embedded in-process mode)
  listen: string;
  /** Also serve the web dashboard on this HOST:PORT (same token and TLS as gRPC). */
  http?: string;
  token?: string;
  tls?: { cert: string; key: string; ca?: string };
  ackWaitMs?: number;
  lostAfterMs?: number;
  /** SQLite synchronous mode of the results database: 'full' (default) or 'normal' (see SqliteStore). */
  dbSync?: DbSync;
  maxInFlight?: number;
  /** The most tasks one message may carry (default 64; 1: every task alone). See SchedulerOptions. */
  maxBundle?: number;
  replicas?: number;
  artifactDir?: string;
  /** Sweep size limits (tasks per sweep, arm instances); the task size follows NATS max_payload. */
  limits?: Partial<PlanLimits>;
  maxWorkers?: number;
  /** Wait for another coordinator's lease to lapse instead of refusing to start. */
  standby?: boolean;
  leaseTtlMs?: number;
  /** The caller already holds the database's lock file (`limolab run` takes it before anything else). */
  dbLocked?: boolean;
  /** Called when another coordinator took the lease over: this one has stopped. */
  onLeaseLost?: (by: LeaseValue | null) => void;
  log?: (line: string) => void;
}

export async function startCoordinator(cfg: CoordinatorConfig) {
  const log = cfg.log ?? ((l: string) => console.error(l));
  const undo: (() => unknown)[] = [];
  const unwind = async () => { for (const f of undo.reverse()) await Promise.resolve().then(f).catch(() => {}); };
  let transport = cfg.transport;
  let lease: Lease | undefined;
  let handle: { stop(): Promise<void> } | undefined;
  let lostBy: LeaseValue | null | undefined;
  try {
    let maxPayload = Infinity;
    if (!transport) {
      const nc = await connectNats({ ...cfg.nats!, name: 'limolab-coordinator' }, log);
      undo.push(() => nc.close());
      lease = await acquireCoordinatorLease(nc, {
        db: cfg.db, standby: cfg.standby, ttlMs: cfg.leaseTtlMs, replicas: cfg.replicas, log,
        onLost: (by) => {
          lostBy = by;
          log(`coordinator: lost the coordinator lease to ${by ? `${by.holder} (pid ${by.pid} on ${by.host})` : 'another coordinator'}; stopping so that only one coordinator acks results`);
          void (handle?.stop() ?? Promise.resolve()).finally(() => cfg.onLeaseLost?.(by));
        },
      });
      undo.push(() => lease!.release());
      maxPayload = nc.info?.max_payload ?? Infinity;
      const nt = await NatsTransport.open(nc, { ackWaitMs: cfg.ackWaitMs, replicas: cfg.replicas, artifactDir: cfg.artifactDir, log });
      await nt.prepareConsumer('default');
      transport = nt;
    }
    const dbLock: DbLock | undefined = cfg.dbLocked || cfg.db === ':memory:' ? undefined : lockFile(cfg.db, 'a coordinator');
    if (dbLock) undo.push(() => dbLock.release());
    const store = new SqliteStore(cfg.db, { backgroundCheckpoints: true, sync: cfg.dbSync });
    store.onWalFlushError = (err) => log(`coordinator: ${err.message}`);
    undo.push(() => store.close());
    const coordTransport = transport;
    const limits: Partial<PlanLimits> = { ...cfg.limits };
    // A task message must fit one NATS message, with room for the input refs added at dispatch.
    if (Number.isFinite(maxPayload)) limits.maxTaskBytes = Math.min(limits.maxTaskBytes ?? Infinity, maxPayload - 64 * 1024);
    const coord = new Coordinator(store, coordTransport, await defaultPlanners(), {
      lostAfterMs: cfg.lostAfterMs, maxInFlight: cfg.maxInFlight, maxBundle: cfg.maxBundle, log, limits, maxWorkers: cfg.maxWorkers, artifactDir: cfg.artifactDir,
    });
    await coord.start();
    undo.push(() => coord.stop());
    const grpc = await startGrpcServer(coord, { address: cfg.listen, token: cfg.token, tls: cfg.tls, query: makeQueryHandler(store) });
    undo.push(() => grpc.stop());
    const http = cfg.http ? await startHttpServer(coord, { address: cfg.http, token: cfg.token, tls: cfg.tls, log }) : undefined;
    let stopped: Promise<void> | undefined;
    handle = {
      stop: () => (stopped ??= (async () => {
        await http?.stop();
        await grpc.stop();
        await coord.stop();
        await lease?.release();
        if (!cfg.transport) await coordTransport.close();
        store.close();
        dbLock?.release();
      })()),
    };
    if (lostBy !== undefined) void handle.stop();
    return { coord, store, transport: coordTransport, grpc, http, lease, stop: handle.stop };
  } catch (err) {
    await unwind();
    throw err;
  }
}
