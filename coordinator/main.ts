// Starts a coordinator: SQLite store, NATS transport, scheduler, gRPC server. Used by
// `limolab coordinator`, by `limolab run` (embedded) and by the integration tests.
import { connectNats, type NatsSettings } from '../common/nats-connect.js';
import { NatsTransport } from '../common/nats-transport.js';
import type { Transport } from '../common/transport.js';
import { Coordinator } from './coordinator.js';
import { startGrpcServer } from './grpc-server.js';
import { startHttpServer } from './http/server.js';
import { defaultPlanners } from './planners/index.js';
import { SqliteStore } from './store/sqlite-store.js';
import { makeQueryHandler } from './results.js';

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
  maxInFlight?: number;
  replicas?: number;
  artifactDir?: string;
  log?: (line: string) => void;
}

export async function startCoordinator(cfg: CoordinatorConfig) {
  const log = cfg.log ?? ((l: string) => console.error(l));
  const store = new SqliteStore(cfg.db);
  let transport = cfg.transport;
  if (!transport) {
    const nc = await connectNats({ ...cfg.nats!, name: 'limolab-coordinator' });
    transport = await NatsTransport.open(nc, { ackWaitMs: cfg.ackWaitMs, replicas: cfg.replicas, artifactDir: cfg.artifactDir });
    await (transport as NatsTransport).prepareConsumer('default');
  }
  const coord = new Coordinator(store, transport, await defaultPlanners(), { lostAfterMs: cfg.lostAfterMs, maxInFlight: cfg.maxInFlight, log });
  await coord.start();
  const grpc = await startGrpcServer(coord, { address: cfg.listen, token: cfg.token, tls: cfg.tls, query: makeQueryHandler(store) });
  const http = cfg.http ? await startHttpServer(coord, { address: cfg.http, token: cfg.token, tls: cfg.tls, log }).catch(async (e) => {
    await grpc.stop(); await coord.stop(); if (!cfg.transport) await transport!.close(); store.close();  // a taken port leaves nothing running
    throw e;
  }) : undefined;
  return {
    coord, store, transport, grpc, http,
    async stop() {
      await http?.stop();
      await grpc.stop();
      await coord.stop();
      if (!cfg.transport) await transport!.close();
      store.close();
    },
  };
}
