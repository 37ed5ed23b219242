// A promise-based client of the Coordinator gRPC service for the CLI, with one clear
// line when the coordinator cannot be reached.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import {
  ArchiveSweepRequest, CancelSweepRequest, CoordinatorClient, DeleteSweepRequest, DrainWorkerRequest, GetSweepRequest, GetTaskLogsRequest,
  ListArtifactsRequest, ListSweepsRequest, ListWorkersRequest, QueryResultsRequest, RetrySweepRequest, SubmitSweepRequest, WatchSweepRequest,
  type SweepEvent,
} from '../gen/limolab/v1/coordinator.js';

// Requests are completed from partial objects: protobuf encoding needs every field set.
const REQUESTS: Record<string, { fromPartial(o: object): unknown }> = {
  submitSweep: SubmitSweepRequest, getSweep: GetSweepRequest, listSweeps: ListSweepsRequest, cancelSweep: CancelSweepRequest,
  listWorkers: ListWorkersRequest, drainWorker: DrainWorkerRequest, queryResults: QueryResultsRequest, watchSweep: WatchSweepRequest,
  retrySweep: RetrySweepRequest, archiveSweep: ArchiveSweepRequest, deleteSweep: DeleteSweepRequest, getTaskLogs: GetTaskLogsRequest,
  listArtifacts: ListArtifactsRequest,
};
import { ConnectionError, LimolabError } from '../common/errors.js';

export interface ClientOptions { address: string; token?: string; tlsCa?: string; insecure?: boolean }

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => grpc.ClientUnaryCall;

export class Client {
  private c: CoordinatorClient;
  private md = new grpc.Metadata();
  constructor(readonly opts: ClientOptions) {
    const creds = opts.tlsCa ? grpc.credentials.createSsl(readFileSync(opts.tlsCa)) : grpc.credentials.createInsecure();
    // Reconnect within seconds (grpc-js backs off up to 2 minutes by default): `sweep watch`
    // waits through a coordinator restart and should notice it is back soon.
    this.c = new CoordinatorClient(opts.address, creds, { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 2000 });
    if (opts.token) this.md.set('authorization', `Bearer ${opts.token}`);
  }

  call<Req, Res>(method: keyof CoordinatorClient, req: Req, timeoutMs = 30_000): Promise<Res> {
    const fn = (this.c[method] as unknown as Unary<Req, Res>).bind(this.c);
    return new Promise((resolve, reject) => {
      const full = (REQUESTS[method]?.fromPartial(req as object) ?? req) as Req;
      fn(full, this.md, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(this.wrap(e)) : resolve(r)));
    });
  }

  watch(id: string, onEvent: (ev: SweepEvent) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = this.c.watchSweep({ id }, this.md);
      stream.on('data', onEvent);
      stream.on('end', () => resolve());
      stream.on('error', (e: grpc.ServiceError) => reject(this.wrap(e)));
    });
  }

  /** True for errors that a coordinator restart causes (unreachable, call cut off). */
  static transient(err: unknown): boolean {
    const code = (err as { grpcCode?: number }).grpcCode;
    return err instanceof ConnectionError || code === grpc.status.UNAVAILABLE || code === grpc.status.CANCELLED || code === grpc.status.DEADLINE_EXCEEDED;
  }

  private wrap(e: grpc.ServiceError): Error {
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
      return new ConnectionError(`cannot reach the coordinator at ${this.opts.address} (${unreachableReason(e)}); start one with \`limolab coordinator\`, or pass --coordinator host:port`);
    }
    if (e.code === grpc.status.UNAUTHENTICATED || e.code === grpc.status.PERMISSION_DENIED) {
      return new LimolabError(`the coordinator at ${this.opts.address} refused the request: ${serverText(e)}; pass its token with --token or LIMOLAB_TOKEN`);
    }
    return new LimolabError(serverText(e));
  }

  close() { this.c.close(); }
}

/** Why a coordinator could not be reached, in words: gRPC's own text ("No connection
 *  established. Last error: ... Resolution note: )") is not for users. */
export function unreachableReason(e: { code: number; details?: string; message?: string }): string {
  const text = `${e.details ?? ''} ${e.message ?? ''}`;
  if (e.code === grpc.status.DEADLINE_EXCEEDED) return 'no answer before the deadline';
  if (/ECONNREFUSED/.test(text)) return 'connection refused: nothing listens on that port';
  if (/Name resolution failed|ENOTFOUND|EAI_AGAIN|No address added/i.test(text)) return 'host name not found';
  if (/EHOSTUNREACH|ENETUNREACH/.test(text)) return 'host unreachable';
  if (/ETIMEDOUT|timed? ?out/i.test(text)) return 'connection timed out';
  if (/ECONNRESET|socket hang up/i.test(text)) return 'connection reset: is it a TLS coordinator (pass --tls-ca) or not a coordinator at all?';
  if (/SSL|TLS|certificate|handshake/i.test(text)) return 'TLS handshake failed: check --tls-ca and the address';
  return 'unavailable';
}

/** A server error's message without gRPC's "<code> <NAME>: " prefix. */
function serverText(e: grpc.ServiceError): string {
  return e.details || e.message.replace(/^\d+ [A-Z_]+: /, '');
}
