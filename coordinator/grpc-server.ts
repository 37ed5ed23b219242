// The Coordinator gRPC service (limolab.v1.Coordinator) on @grpc/grpc-js, with the
// standard health service and server reflection. Optional TLS and bearer token: when a
// token is set, every call without `authorization: Bearer <token>` is refused.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinatorService, type CoordinatorServer, type QueryResultsResponse, type SweepEvent } from '../gen/limolab/v1/coordinator.js';
import { LimolabError, NotFoundError, SpecError } from '../common/errors.js';
import { AnalysisError } from './analysis/index.js';
import type { Coordinator } from './coordinator.js';
import { listTaskPage } from './task-pages.js';
import { WatchHub } from './watch-hub.js';

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');

export interface GrpcServerOptions {
  address: string;                 // host:port; port 0 picks a free one
  token?: string;
  tls?: { cert: string; key: string; ca?: string };   // file paths
  query?: (req: Parameters<CoordinatorServer['queryResults']>[0]['request']) => QueryResultsResponse | Promise<QueryResultsResponse>;
}

export async function startGrpcServer(coord: Coordinator, opts: GrpcServerOptions): Promise<{ server: grpc.Server; port: number; address: string; stop(): Promise<void> }> {
  const server = new grpc.Server();
  const hub = new WatchHub(coord);
  const auth = (md: grpc.Metadata): grpc.ServiceError | null => {
    if (!opts.token) return null;
    const h = String(md.get('authorization')[0] ?? '');
    if (h === `Bearer ${opts.token}`) return null;
    return err(grpc.status.UNAUTHENTICATED, h ? 'the bearer token is wrong' : 'this coordinator requires a bearer token: pass --token or set LIMOLAB_TOKEN');
  };
  const unary = <Req, Res>(fn: (req: Req) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> => (call, cb) => {
    const denied = auth(call.metadata);
    if (denied) return cb(denied);
    Promise.resolve().then(() => fn(call.request)).then((r) => cb(null, r), (e) => cb(toStatus(e)));
  };
  const impl: CoordinatorServer = {
    submitSweep: unary(async (req) => {
      // Verified: a cached task whose outputs are gone is computed again, not reused.
      const r = await coord.submitVerified(req.spec, req.specPath || 'sweep spec', req.dryRun, { tags: req.tags, note: req.note });
      return { sweep: r.sweep, tasksPlanned: r.planned, tasksReused: r.reused };
    }),
    getSweep: unary((req) => coord.getSweep(req.id, req.includeTasks)),
    listSweeps: unary((req) => ({ sweeps: coord.listSweeps(req.limit || 50, req.status || undefined, { includeArchived: req.includeArchived, tag: req.tag || undefined }) })),
    cancelSweep: unary((req) => coord.cancel(req.id)),
    listWorkers: unary((req) => ({ workers: coord.listWorkers(req.includeLost) })),
    drainWorker: unary((req) => coord.drainWorker(req.id)),
    retrySweep: unary(async (req) => { const r = await coord.retrySweep(req.id); return { requeued: r.requeued, sweep: coord.getSweep(req.id) }; }),
    archiveSweep: unary((req) => coord.archiveSweep(req.id, !req.unarchive)),
    deleteSweep: unary((req) => ({ id: req.id, tasksDeleted: coord.deleteSweep(req.id) })),
    getTaskLogs: unary((req) => coord.taskLogs(req.id, { failedOnly: req.failedOnly, tail: req.tail })),
    listArtifacts: unary((req) => ({ artifacts: coord.artifacts(req.id) })),
    listTasks: unary((req) => listTaskPage(coord, req)),
    queryResults: unary(async (req) => {
      if (!opts.query) throw new LimolabError('this coordinator was started without result queries');
      return opts.query(req);
    }),
    watchSweep: (call) => {
      const denied = auth(call.metadata);
      if (denied) { call.emit('error', denied); return; }
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      call.on('close', () => ac.abort());
      // Events arrive encoded once for all watchers of the sweep (watch-hub.ts).
      Promise.resolve().then(() => hub.watch(call.request.id, (bytes) => call.write(bytes as unknown as SweepEvent), ac.signal))
        .then(() => call.end(), (e) => call.emit('error', toStatus(e)));
    },
  };
  // WatchSweep writes bytes the hub has already encoded; anything else is encoded as usual.
  const ws = CoordinatorService.watchSweep;
  const service = { ...CoordinatorService, watchSweep: { ...ws, responseSerialize: (v: SweepEvent | Buffer) => (Buffer.isBuffer(v) ? v : ws.responseSerialize(v)) } };
  server.addService(service as typeof CoordinatorService, impl);
  const health = new HealthImplementation({ '': 'SERVING', 'limolab.v1.Coordinator': 'SERVING' });
  health.addToServer(server);
  // Reflection lists the services; @grpc/reflection merges a package's files into one,
  // so clients that resolve symbols by file (buf curl) should use gen/limolab.binpb.
  new ReflectionService(loadSync(['limolab/v1/coordinator.proto', 'limolab/v1/task.proto'], { includeDirs: [PROTO_DIR] })).addToServer(server);

  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(opts.tls.ca ? readFileSync(opts.tls.ca) : null, [{ cert_chain: readFileSync(opts.tls.cert), private_key: readFileSync(opts.tls.key) }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(opts.address, creds, (e, p) => (e ? reject(new LimolabError(`cannot listen on ${opts.address}: ${e.message}; choose another --listen address`, { cause: e })) : resolve(p))));
  const host = opts.address.replace(/:\d+$/, '');
  return {
    server, port, address: `${host}:${port}`,
    stop: () => new Promise((r) => { health.setStatus('', 'NOT_SERVING'); server.tryShutdown(() => r()); setTimeout(() => { server.forceShutdown(); r(); }, 2000).unref(); }),
  };
}

function err(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function toStatus(e: unknown): grpc.ServiceError {
  if (e instanceof SpecError || e instanceof AnalysisError) return err(grpc.status.INVALID_ARGUMENT, e.message);
  if (e instanceof NotFoundError) return err(grpc.status.NOT_FOUND, e.message);
  if (e instanceof LimolabError) return err(grpc.status.FAILED_PRECONDITION, e.message);
  return err(grpc.status.INTERNAL, (e as Error)?.message ?? String(e));
}
