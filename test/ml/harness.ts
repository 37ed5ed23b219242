// A real TaskContext for the ML kinds without NATS: an in-memory ArtifactIO that stores
// bytes under their sha256 and verifies the digest on every read, and task builders for
// each kind from the tiny defaults.
import { createHash } from 'node:crypto';
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import type { ArtifactIO, TaskContext } from '../../worker/runner.js';

export class MemoryArtifacts implements ArtifactIO {
  readonly blobs = new Map<string, Uint8Array>();

  async put(role: string, bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<ArtifactRef> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(digest, bytes.slice());
    return { role, digest, size: bytes.length, uri: `mem://${digest}`, mediaType };
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const bytes = this.blobs.get(ref.digest);
    if (!bytes) throw new Error(`artifact ${ref.digest} not found in the memory store`);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== ref.digest) throw new Error(`artifact ${ref.digest} is corrupt (sha256 ${actual})`);
    return bytes.slice();
  }
}

export interface Recorded {
  progress: { fraction: number; message?: string }[];
  logs: string[];
  metrics: { name: string; value: number; step?: number }[];
}

export function makeContext(task: Task, artifacts: MemoryArtifacts, opts: { signal?: AbortSignal; threads?: number } = {}): TaskContext & { recorded: Recorded } {
  const recorded: Recorded = { progress: [], logs: [], metrics: [] };
  return {
    task,
    signal: opts.signal ?? new AbortController().signal,
    artifacts,
    threads: opts.threads ?? 1,
    progress: (fraction, message) => recorded.progress.push({ fraction, message }),
    log: (line) => recorded.logs.push(line),
    metric: (name, value, step) => recorded.metrics.push({ name, value, step }),
    input(role) {
      const ref = task.inputs.find((i) => i.role === role);
      if (!ref) throw new Error(`task ${task.id} has no input with role "${role}"`);
      return ref;
    },
    recorded,
  };
}

let counter = 0;

export function baseTask(kind: TaskKind, spec: Task['spec'], seed: number, inputs: ArtifactRef[] = []): Task {
  counter++;
  return {
    id: `t${counter}`,
    sweepId: 'sw-test',
    arm: 'arm',
    kind,
    phase: 'test',
    seed,
    resources: undefined,
    inputs,
    attempt: 1,
    timeoutS: 600,
    cacheKey: '',
    spec,
    modelRef: undefined,
  };
}

/** An input reference with another role (the same bytes, as the planner would wire them). */
export function asRole(ref: ArtifactRef, role: string): ArtifactRef {
  return { ...ref, role };
}
