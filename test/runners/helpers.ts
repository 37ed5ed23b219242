// Test fixtures for runners: the in-memory content-addressed ArtifactIO (worker/ml) and a TaskContext that
// records what the runner reported.
import { MemoryArtifacts } from '../../worker/ml/memory-artifacts.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Task, TaskKind } from '../../gen/limolab/v1/task.js';
import type { TaskContext } from '../../worker/runner.js';

export { MemoryArtifacts };

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
