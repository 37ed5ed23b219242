// Decoding of task-plane messages with validation: protobuf decodes almost any bytes
// into *something*, so a message is accepted only when its required fields make sense.
import { Task, TaskKind, TaskResult, TaskResultBatch } from '../gen/limolab/v1/task.js';
import { WireError } from './errors.js';

export function decodeTask(data: Uint8Array): Task {
  let t: Task;
  try {
    t = Task.decode(data);
  } catch (err) {
    throw new WireError(`undecodable Task message (${data.length} bytes): ${(err as Error).message}; only limolab.v1.Task protobuf belongs on the task subjects`, { cause: err });
  }
  const problems: string[] = [];
  if (!t.id) problems.push('id is empty');
  if (!t.sweepId) problems.push('sweep_id is empty');
  if (!TaskKind[t.kind] || t.kind === TaskKind.TASK_KIND_UNSPECIFIED) problems.push(`kind ${t.kind} is not a known TaskKind`);
  if (!t.spec) problems.push('spec (one of diag/pretrain/curate/train/rollout/eval) is missing');
  if (problems.length) throw new WireError(`malformed Task message (${data.length} bytes): ${problems.join('; ')}`);
  return t;
}

export function decodeResult(data: Uint8Array): TaskResult {
  let r: TaskResult;
  try {
    r = TaskResult.decode(data);
  } catch (err) {
    throw new WireError(`undecodable TaskResult message (${data.length} bytes): ${(err as Error).message}`, { cause: err });
  }
  if (!r.taskId || !r.sweepId || !r.attemptId) {
    throw new WireError(`malformed TaskResult message (${data.length} bytes): task_id, sweep_id and attempt_id are required`);
  }
  return r;
}

/** A worker's result message: a TaskResultBatch whose every result has its ids. */
export function decodeResultBatch(data: Uint8Array): TaskResult[] {
  let b: TaskResultBatch;
  try {
    b = TaskResultBatch.decode(data);
  } catch (err) {
    throw new WireError(`undecodable TaskResultBatch message (${data.length} bytes): ${(err as Error).message}`, { cause: err });
  }
  if (!b.results.length) throw new WireError(`malformed TaskResultBatch message (${data.length} bytes): no results`);
  for (const r of b.results) {
    if (!r.taskId || !r.sweepId || !r.attemptId) throw new WireError(`malformed TaskResultBatch message (${data.length} bytes): task_id, sweep_id and attempt_id are required in every result`);
  }
  return b.results;
}
