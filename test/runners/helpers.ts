// Test fixtures for runners: an in-memory content-addressed ArtifactIO and a TaskContext that
// records what the runner reported.
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Task, TaskKind, type ArtifactRef } from '../../gen/limolab/v1/task.js';
import type { ArtifactIO, TaskContext } from '../../worker/runner.js';

export class MemoryArtifacts implements ArtifactIO {
  readonly blobs = new Map<string, Uint8Array>();
  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const b = this.blobs.get(ref.digest);
    if (!b) throw new Error(`artifact ${ref.digest} not stored`);
    return b;
  }
  async put(role: string, bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<ArtifactRef> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(digest, bytes);
    return { role, digest, size: bytes.length, uri: `mem://${digest}`, mediaType };
  }
}

export interface Recorded {
  ctx: TaskContext;
  logs: string[];
  progress: [number, string | undefined][];
  metrics: [string, number, number | undefined][];
  artifacts: MemoryArtifacts;
  abort: AbortController;
}

export function makeCtx(task: Partial<Task> = {}, artifacts = new MemoryArtifacts()): Recorded {
  const abort = new AbortController();
  const rec: Omit<Recorded, 'ctx'> = { logs: [], progress: [], metrics: [], artifacts, abort };
  const full = Task.fromPartial({ id: 't1', sweepId: 's1', arm: 'a', kind: TaskKind.TASK_KIND_DIAG, phase: 'diag', ...task });
  const ctx: TaskContext = {
    task: full,
    signal: abort.signal,
    artifacts,
    threads: 1,
    progress: (f, m) => rec.progress.push([f, m]),
    log: (l) => rec.logs.push(l),
    metric: (n, v, s) => rec.metrics.push([n, v, s]),
    input: (role) => {
      const r = full.inputs.find((i) => i.role === role);
      if (!r) throw new Error(`task has no input ${role}`);
      return r;
    },
  };
  return { ...rec, ctx };
}

/** Writes a script into a fresh temp dir and returns its path. */
export async function script(name: string, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'limolab-test-'));
  const path = join(dir, name);
  await writeFile(path, body);
  return path;
}
