// A real TaskContext for the ML kinds without NATS: the in-memory sha256 ArtifactIO
// (worker/ml/memory-artifacts.ts), recorded progress/logs/metrics, and a task builder.
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import type { TaskContext } from '../../worker/runner.js';
import { MemoryArtifacts } from '../../worker/ml/memory-artifacts.js';

export { MemoryArtifacts };

export interface Recorded {
  progress: { fraction: number; message?: string }[];
  logs: string[];
  metrics: { name: string; value: number; step?: number }[];
}

export function makeContext(task: Task, artifacts: MemoryArtifacts, opts: { signal?: AbortSignal; threads?: number; onProgress?: (fraction: number, message?: string) => void } = {}): TaskContext & { recorded: Recorded } {
  const recorded: Recorded = { progress: [], logs: [], metrics: [] };
  return {
    task,
    signal: opts.signal ?? new AbortController().signal,
    artifacts,
    threads: opts.threads ?? 1,
    progress: (fraction, message) => {
      recorded.progress.push({ fraction, message });
      opts.onProgress?.(fraction, message);
    },
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
    costEstimate: 0,
    spec,
    modelRef: undefined,
  };
}

/** An input reference with another role (the same bytes, as the planner would wire them). */
export function asRole(ref: ArtifactRef, role: string): ArtifactRef {
  return { ...ref, role };
}
