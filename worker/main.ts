// Starts a worker process's runners and connects it: used by `limolab worker` and by
// `limolab run`, which spawns several of these as child processes.
import { connectNats, type NatsSettings } from '../common/nats-connect.js';
import { NatsTransport } from '../common/nats-transport.js';
import type { Transport } from '../common/transport.js';
import { TaskKind } from '../gen/limolab/v1/task.js';
import { diagRunner } from './diag.js';
import type { Runner } from './runner.js';
import { Worker } from './worker.js';
import { accessFromEnv, type WorkerAccess } from './runners/access.js';
import { writeSync } from 'node:fs';

export interface WorkerConfig {
  nats?: NatsSettings;
  transport?: Transport;
  pool?: string;
  slots?: number;
  id?: string;
  heartbeatMs?: number;
  artifactDir?: string;
  /** External runner: command and the task kinds it takes over. */
  processRunner?: { command: string[]; kinds: TaskKind[]; timeoutMs?: number };
  /** Files and endpoints tasks may name (--data-root, --allow-endpoint). Default: from
   * LIMOLAB_DATA_ROOT / LIMOLAB_ALLOW_ENDPOINT, else the working directory and no endpoint. */
  access?: WorkerAccess;
  log?: (line: string) => void;
}

/** Reply-inbox prefix of worker connections (docs/cluster.md, "Permissions"). */
export const WORKER_INBOX_PREFIX = '_INBOX_worker';

export async function builtinRunners(access: WorkerAccess = accessFromEnv()): Promise<Runner[]> {
  // The openai runner takes only tasks whose model_ref.kind is "openai" (an external served model).
  const { OpenAIRunner } = await import('./runners/openai-runner.js');
  const runners: Runner[] = [diagRunner, new OpenAIRunner({ access })];
  const ml = await import('./ml/index.js').catch((err: Error) => {
    if (!/Cannot find module|ERR_MODULE_NOT_FOUND/.test(err.message)) throw err;
    return null;
  });
  // The embedded engine runs the built-in model only; tasks naming an external model
  // (model_ref) go to an external runner.
  if (ml?.mlRunner) runners.push({ ...ml.mlRunner, accepts: (t) => !t.modelRef || Object.keys(t.modelRef).length === 0 });
  return runners;
}

/** A logger to stderr that writes the lines of one turn of the event loop together: a worker
 * finishing thousands of tiny tasks a second logs a line for each, and a write per line cost
 * it more than running them. Whatever is left is written when the process exits. */
export function stderrLines(): (line: string) => void {
  let buf: string[] = [];
  const take = () => { const s = buf.join('\n') + '\n'; buf = []; return s; };
  const flush = () => { if (buf.length) process.stderr.write(take()); };
  process.once('exit', () => { if (buf.length) try { writeSync(2, take()); } catch { /* stderr is gone */ } });
  return (line) => { if (buf.push(line) === 1) setImmediate(flush); };
}

export async function startWorker(cfg: WorkerConfig) {
  // Settled before connecting: a bad --data-root is an error, not a worker that refuses everything.
  const access = cfg.access ?? accessFromEnv();
  const log = cfg.log ?? stderrLines();
  let transport = cfg.transport;
  if (!transport) {
    // Its own reply-inbox prefix, so NATS permissions can deny workers the coordinator's _INBOX.>.
    const nc = await connectNats({ ...cfg.nats!, inboxPrefix: cfg.nats!.inboxPrefix ?? WORKER_INBOX_PREFIX, name: `limolab-worker-${process.pid}` },
      log);
    const nt = await NatsTransport.open(nc, { artifactDir: cfg.artifactDir, log });
    transport = nt;
    // The pool's consumer first: its lease (ack wait) is the coordinator's --ack-wait-ms where
    // the coordinator made it, and the worker renews its tasks' leases at a third of it. Read
    // later (at the first pull), the worker renewed at a third of its own default (30 s), so a
    // task longer than a shorter lease was handed out a second time while it still ran.
    await nt.prepareConsumer(cfg.pool ?? 'default');
  }
  const runners = await builtinRunners(access);
  if (cfg.processRunner) {
    const { ProcessRunner } = await import('./runners/process.js');
    // Ahead of the embedded engine (it takes what the engine would), but after the openai
    // runner, which must keep the tasks that name an OpenAI-compatible endpoint.
    // --runner-kinds diag means the external runner takes the diag tasks: ahead of the built-in diag runner too.
    const at = cfg.processRunner.kinds.includes(TaskKind.TASK_KIND_DIAG) ? 0 : runners.findIndex((r) => r.name === 'openai') + 1;
    runners.splice(at, 0, new ProcessRunner({ command: cfg.processRunner.command, kinds: cfg.processRunner.kinds, timeoutMs: cfg.processRunner.timeoutMs }) as unknown as Runner);
    // EVAL/ROLLOUT/TRAIN of a local Hugging Face checkpoint (model_ref kind "hf") on LIMO-format
    // files: graded and data built here, sampled and trained by the same command (runners/torch).
    // Ahead of the plain process runner, which would look for a 'dataset' input instead.
    const hfKinds = cfg.processRunner.kinds.filter((k) => k === TaskKind.TASK_KIND_EVAL || k === TaskKind.TASK_KIND_ROLLOUT || k === TaskKind.TASK_KIND_TRAIN);
    if (hfKinds.length > 0) {
      const { HfRunner } = await import('./runners/hf-runner.js');
      runners.splice(at, 0, new HfRunner({ command: cfg.processRunner.command, kinds: hfKinds, timeoutMs: cfg.processRunner.timeoutMs, access }));
    }
  }
  const worker = new Worker(transport, { id: cfg.id, pool: cfg.pool, slots: cfg.slots, runners, heartbeatMs: cfg.heartbeatMs, log });
  const done = worker.run().finally(() => (cfg.transport ? undefined : transport!.close()));
  return { worker, done };
}
