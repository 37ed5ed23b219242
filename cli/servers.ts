// `limolab coordinator` and `limolab worker`: the long-running cluster programs.
import { TaskKind } from '../gen/limolab/v1/task.js';
import { SpecError } from '../common/errors.js';
// The coordinator's and the worker's modules are loaded by their own command only: a worker
// does not load the coordinator's (drizzle, gRPC, the HTTP API), nor the other way round.
import type { DbSync } from '../coordinator/store/sqlite-store.js';
import { accessFromEnv, makeAccess } from '../worker/runners/access.js';
import { NATS_HELP, NATS_OPTIONS, int, natsFrom, parse } from './args.js';

const COORD_USAGE = `Usage: limolab coordinator [options]

Runs the scheduler and the gRPC service (limolab.v1.Coordinator, plus grpc.health.v1 and
reflection), recording everything in a SQLite file.
  --db FILE                SQLite file (default ./limolab.db)
  --db-sync MODE           full (default): results are acked to JetStream only once their commit
                           is on the disk (one background flush of the WAL covers all commits
                           before it); normal: no flush, so the last commits before a power cut
                           or OS crash can roll back after their results were acked
                           (docs/cluster.md, Durability)
  --listen HOST:PORT       gRPC address (default 127.0.0.1:50551; use 0.0.0.0:50551 to serve a cluster)
  --token T                require "authorization: Bearer T" on every call (LIMOLAB_TOKEN)
  --http HOST:PORT         also serve the web dashboard there (e.g. 127.0.0.1:8470; same token
                           and TLS; without a token, keep it on loopback: see docs/cluster.md)
  --tls-cert FILE --tls-key FILE [--tls-ca FILE]   serve gRPC over TLS
  --ack-wait-ms N          task lease before redelivery (default 30000)
  --lost-after-ms N        heartbeat silence before a worker is marked lost (default 10000)
  --max-in-flight N        tasks published but not finished (default 20000)
  --max-bundle N           the most tasks one JetStream message carries (default 64; 1: every
                           task alone). Only a phase whose tasks have run under 1 ms on average
                           (after 16 of them, sent first while the rest waits; from 25 ms on,
                           the rest goes alone, 16, 32, 64... more every 25 ms) is bundled;
                           longer tasks always travel alone
  --replicas N             JetStream stream and object store replicas (default 1)
  --artifact-dir DIR       shared directory for artifacts over 256 MiB
  --standby                when another coordinator holds this NATS's coordinator lease, wait
                           and take over when it goes away (default: refuse to start)
  --lease-ttl-ms N         coordinator lease: renewed every N/3, taken over after N unrenewed (default 10000)
  --max-tasks N            tasks one sweep may plan (default 100000); larger specs are refused
${NATS_HELP}`;

export async function coordinatorMain(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...NATS_OPTIONS, db: { type: 'string' }, 'db-sync': { type: 'string' }, listen: { type: 'string' }, http: { type: 'string' }, token: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' }, 'ack-wait-ms': { type: 'string' }, 'lost-after-ms': { type: 'string' }, 'max-in-flight': { type: 'string' }, 'max-bundle': { type: 'string' },
    replicas: { type: 'string' }, 'artifact-dir': { type: 'string' }, standby: { type: 'boolean' }, 'lease-ttl-ms': { type: 'string' }, 'max-tasks': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }, COORD_USAGE);
  if (v.help) { console.log(COORD_USAGE); return 0; }
  if (!!v['tls-cert'] !== !!v['tls-key']) throw new SpecError('--tls-cert and --tls-key go together');
  const [{ startCoordinator }, { DB_SYNC_MODES }, { MAX_BUNDLE_DECODE }] = await Promise.all([import('../coordinator/main.js'), import('../coordinator/store/sqlite-store.js'), import('../common/wire.js')]);
  const dbSync = (v['db-sync'] ?? 'full') as DbSync;
  if (!DB_SYNC_MODES.includes(dbSync)) throw new SpecError(`--db-sync must be one of ${DB_SYNC_MODES.join(', ')}, not ${JSON.stringify(v['db-sync'])}`);
  const maxBundle = int(v['max-bundle'], 'max-bundle', 64);
  // A worker refuses a bundle of more (MAX_BUNDLE_DECODE).
  if (!Number.isInteger(maxBundle) || maxBundle < 1 || maxBundle > MAX_BUNDLE_DECODE) throw new SpecError(`--max-bundle must be a whole number from 1 (every task in a message of its own) to ${MAX_BUNDLE_DECODE}, not ${JSON.stringify(v['max-bundle'])}`);
  const c = await startCoordinator({
    dbSync,
    db: v.db ?? 'limolab.db', nats: natsFrom(v), listen: v.listen ?? '127.0.0.1:50551', http: v.http, token: v.token ?? process.env.LIMOLAB_TOKEN,
    tls: v['tls-cert'] ? { cert: v['tls-cert'], key: v['tls-key']!, ca: v['tls-ca'] } : undefined,
    ackWaitMs: int(v['ack-wait-ms'], 'ack-wait-ms', 30_000), lostAfterMs: int(v['lost-after-ms'], 'lost-after-ms', 10_000),
    maxInFlight: int(v['max-in-flight'], 'max-in-flight', 20_000), maxBundle, replicas: int(v.replicas, 'replicas', 1), artifactDir: v['artifact-dir'],
    standby: !!v.standby, leaseTtlMs: int(v['lease-ttl-ms'], 'lease-ttl-ms', 10_000), limits: { maxTasks: int(v['max-tasks'], 'max-tasks', 100_000) },
    onLeaseLost: () => { console.error('coordinator: exiting: another coordinator holds the lease now'); process.exit(3); },
  });
  console.error(`coordinator: listening on ${c.grpc.address}, database ${v.db ?? 'limolab.db'}`);
  // Machine-readable line for scripts and tests that start it with --listen ...:0
  if (c.http) console.error(`coordinator: dashboard at ${c.http.url}`);
  console.log(JSON.stringify({ listening: c.grpc.address, ...(c.http ? { http: c.http.url } : {}) }));
  await new Promise<void>((resolve) => {
    const stop = () => { console.error('coordinator: shutting down'); resolve(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await c.stop();
  return 0;
}

const WORKER_USAGE = `Usage: limolab worker [options]

Joins a pool and runs tasks: diagnostics and the embedded engine's ML tasks built in,
EVAL/ROLLOUT against OpenAI-compatible servers for tasks whose model_ref has kind "openai"
(docs/external-models.md), and any task kinds handed to an external runner command.
  --pool NAME              pool to pull tasks from (default "default")
  --slots N                tasks at once (default 1; a bundle of short tasks, run one after
                           another, takes one slot, and a worker holds at most 8 bundles:
                           docs/cluster.md)
  --id ID                  worker id (default <host>-<pid>-<random>)
  --heartbeat-ms N         heartbeat interval (default 2000)
  --artifact-dir DIR       shared directory for large artifacts
  --runner-cmd "CMD ARGS"  external runner (JSON-lines protocol, docs/runner-protocol.md)
  --runner-kinds K,K       task kinds it runs: train,rollout,eval,curate,pretrain (default train,rollout,eval)
  --runner-timeout-ms N    per-task limit for the external runner
  --data-root DIR          a directory tasks may read dataset files and model directories
                           under, symlinks resolved (repeatable; LIMOLAB_DATA_ROOT, a
                           path list; default: the working directory only)
  --allow-endpoint URL     a URL prefix an openai model_ref's base_url may point under, e.g.
                           http://10.0.0.5:8000/v1 (repeatable; LIMOLAB_ALLOW_ENDPOINT,
                           comma-separated; default: none, so external endpoints are refused)
SIGTERM or SIGINT drains (finish running tasks, take no more); a second one stops at once
and gives running tasks back.
${NATS_HELP}`;

const KINDS: Record<string, TaskKind> = { pretrain: TaskKind.TASK_KIND_PRETRAIN, curate: TaskKind.TASK_KIND_CURATE, train: TaskKind.TASK_KIND_TRAIN, rollout: TaskKind.TASK_KIND_ROLLOUT, eval: TaskKind.TASK_KIND_EVAL, diag: TaskKind.TASK_KIND_DIAG };

export async function workerMain(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...NATS_OPTIONS, pool: { type: 'string' }, slots: { type: 'string' }, id: { type: 'string' }, 'heartbeat-ms': { type: 'string' },
    'artifact-dir': { type: 'string' }, 'runner-cmd': { type: 'string' }, 'runner-kinds': { type: 'string' }, 'runner-timeout-ms': { type: 'string' },
    'data-root': { type: 'string', multiple: true }, 'allow-endpoint': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
  }, WORKER_USAGE);
  if (v.help) { console.log(WORKER_USAGE); return 0; }
  const pool = v.pool ?? 'default';
  if (!/^[A-Za-z0-9_-]+$/.test(pool)) throw new SpecError(`--pool ${JSON.stringify(pool)}: a pool name uses letters, digits, _ and - only`);
  let processRunner;
  if (v['runner-cmd']) {
    const kinds = (v['runner-kinds'] ?? 'train,rollout,eval').split(',').map((k) => {
      const kind = KINDS[k.trim()];
      if (kind === undefined) throw new SpecError(`--runner-kinds: unknown kind "${k}"; use ${Object.keys(KINDS).join(', ')}`);
      return kind;
    });
    processRunner = { command: v['runner-cmd'].split(' ').filter(Boolean), kinds, timeoutMs: v['runner-timeout-ms'] ? int(v['runner-timeout-ms'], 'runner-timeout-ms', 0) : undefined };
  }
  const { startWorker } = await import('../worker/main.js');
  const { worker, done } = await startWorker({
    nats: natsFrom(v), pool, slots: int(v.slots, 'slots', 1), id: v.id, heartbeatMs: int(v['heartbeat-ms'], 'heartbeat-ms', 2000),
    artifactDir: v['artifact-dir'], processRunner, access: workerAccess(v['data-root'], v['allow-endpoint']),
  });
  let signals = 0;
  const onSignal = () => { if (++signals === 1) worker.drain(); else worker.abort(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await done;
  return 0;
}

/** Flags win over the environment, each list as a whole; a bad root or prefix is a usage error. */
function workerAccess(roots: string[] | undefined, endpoints: string[] | undefined) {
  try {
    const env = accessFromEnv();
    const r = makeAccess({ dataRoots: roots, allowEndpoints: endpoints });
    return { dataRoots: roots?.length ? r.dataRoots : env.dataRoots, allowEndpoints: endpoints?.length ? r.allowEndpoints : env.allowEndpoints };
  } catch (err) {
    throw new SpecError((err as Error).message);
  }
}
