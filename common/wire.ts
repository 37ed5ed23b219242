// Task-plane messages: encoding through one shared writer, and decoding with validation:
// protobuf decodes almost any bytes into *something*, so a message is accepted only when its
// required fields make sense.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Task, TaskBundle, TaskKind, TaskResult, TaskResultBatch } from '../gen/limolab/v1/task.js';
import { WireError } from './errors.js';
import type { OutgoingTask } from './transport.js';

// One writer for the hot encoders. A generated encode() makes a new writer whose buffer starts
// at 128 bytes and doubles as it fills (three or four copies for a task); finish() copies out
// what was written and keeps the grown buffer, so the next message is written without growing.
// Encoding is synchronous: nothing holds the writer across an await.
const writer = new BinaryWriter();

/** Task bytes, as Task.encode(t).finish() gives them. */
export function encodeTask(t: Task): Uint8Array { return Task.encode(t, writer).finish(); }
/** A Task as publishTasks takes it. */
export function outgoingTask(t: Task): OutgoingTask {
  return { id: t.id, sweepId: t.sweepId, attempt: t.attempt, pool: t.resources?.pool || 'default', data: encodeTask(t) };
}
/** TaskResult bytes, as TaskResult.encode(r).finish() gives them. */
export function encodeResult(r: TaskResult): Uint8Array { return TaskResult.encode(r, writer).finish(); }
/** The bytes of a Task's `attempt` field alone (field 9, uint32: tag 72, as the generated
 *  encoder writes it). Appended to a Task's bytes they set its attempt: a later value of a
 *  protobuf field replaces an earlier one. */
export function encodeAttempt(attempt: number): Uint8Array { return writer.uint32(72).uint32(attempt).finish(); }

/** A task kind as people read it: TASK_KIND_PRETRAIN -> "pretrain" (the number where unknown). */
const kindNames = new Map<number, string>();
export function kindName(kind: number): string {
  let n = kindNames.get(kind);
  if (n === undefined) { n = TaskKind[kind]?.replace('TASK_KIND_', '').toLowerCase() ?? String(kind); kindNames.set(kind, n); }
  return n;
}

export function decodeTask(data: Uint8Array): Task {
  let t: Task;
  try {
    t = Task.decode(data);
  } catch (err) {
    throw new WireError(`undecodable Task message (${data.length} bytes): ${(err as Error).message}; only limolab.v1.Task protobuf belongs on the task subjects`, { cause: err });
  }
  const problems = taskProblems(t);
  if (problems.length) throw new WireError(`malformed Task message (${data.length} bytes): ${problems.join('; ')}`);
  return t;
}

/** The most tasks a bundle message may carry (the coordinator sends at most MAX_BUNDLE). */
export const MAX_BUNDLE_DECODE = 1024;

/** A TaskBundle message (subject <ns>.task.<pool>.<sweep>.bundle): its tasks, each checked as
 *  decodeTask checks a lone one and all of the subject's sweep. Refused whole if any is not. */
export function decodeTaskBundle(data: Uint8Array, sweepId?: string): Task[] {
  let b: TaskBundle;
  try {
    b = TaskBundle.decode(data);
  } catch (err) {
    throw new WireError(`undecodable TaskBundle message (${data.length} bytes): ${(err as Error).message}; only limolab.v1.TaskBundle protobuf belongs on the .bundle task subjects`, { cause: err });
  }
  if (!b.tasks.length) throw new WireError(`malformed TaskBundle message (${data.length} bytes): no tasks`);
  if (b.tasks.length > MAX_BUNDLE_DECODE) throw new WireError(`malformed TaskBundle message (${data.length} bytes): ${b.tasks.length} tasks, over the ${MAX_BUNDLE_DECODE} a bundle may carry`);
  for (let i = 0; i < b.tasks.length; i++) {
    const t = b.tasks[i]!;
    const problems = taskProblems(t);
    if (sweepId !== undefined && t.sweepId && t.sweepId !== sweepId) problems.push(`sweep_id ${JSON.stringify(t.sweepId)} is not the subject's ${JSON.stringify(sweepId)}`);
    if (problems.length) throw new WireError(`malformed TaskBundle message (${data.length} bytes): task ${i + 1} of ${b.tasks.length}: ${problems.join('; ')}`);
  }
  return b.tasks;
}

/** The bytes of a message whose field 1 is a repeated message (TaskBundle's tasks,
 *  TaskResultBatch's results), from those messages' encoded bytes, without decoding or encoding
 *  them again: tag 10 (field 1, length-delimited), the length, the bytes, once per part, as the
 *  generated encode writes them. */
export function repeatedField1(parts: readonly Uint8Array[]): Uint8Array {
  for (const p of parts) writer.uint32(10).bytes(p);
  return writer.finish();
}

/** Bytes one part adds to repeatedField1's message (its tag and length prefix included). */
export function field1Size(part: Uint8Array): number { return 1 + varintLength(part.length) + part.length; }

function taskProblems(t: Task): string[] {
  const problems: string[] = [];
  if (!t.id) problems.push('id is empty');
  if (!t.sweepId) problems.push('sweep_id is empty');
  if (!TaskKind[t.kind] || t.kind === TaskKind.TASK_KIND_UNSPECIFIED) problems.push(`kind ${t.kind} is not a known TaskKind`);
  if (!t.spec) problems.push('spec (one of diag/pretrain/curate/train/rollout/eval) is missing');
  return problems;
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

/** Room kept under the server's max_payload for the message's headers (Nats-Msg-Id and JetStream's). */
export const HEADER_ROOM = 1024;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) { n = Math.floor(n / 128); len++; }
  return len;
}

/**
 * A result that cannot travel in one message of `maxBytes` loses log lines, oldest first
 * (they are for reading; the data is not cut); if it is still too large it becomes a failed
 * result that says so (large outputs belong in artifacts, which travel apart). Others come
 * back as they were.
 */
export function fitResult(r: TaskResult, maxBytes: number): TaskResult {
  const size = (x: TaskResult) => encodeResult(x).length;
  let n = size(r);
  if (n <= maxBytes) return r;
  const full = n;
  const x: TaskResult = { ...r, log: [...r.log] };
  while (x.log.length && n > maxBytes) { x.log.shift(); n = size(x); }
  if (n <= maxBytes) return x;
  return {
    ...r, metrics: [], outputs: [], details: undefined, ledger: undefined, log: [],
    error: { message: `the result is ${full} bytes, over the ${maxBytes} a NATS message can carry (the server's max_payload); put large outputs in artifacts`, code: 'bad_output', retryable: false, logTail: [] },
  };
}

/**
 * Packs results into TaskResultBatch messages of at most `maxPayload` bytes (headers
 * included: HEADER_ROOM is kept free), in order. Each message lists the indexes of the
 * results it carries; a result too large alone is cut down by fitResult first.
 */
export function packResults(results: TaskResult[], maxPayload: number): { data: Uint8Array; indexes: number[] }[] {
  const limit = Math.max(1024, maxPayload - HEADER_ROOM);
  const out: { data: Uint8Array; indexes: number[] }[] = [];
  let parts: Uint8Array[] = [];
  let indexes: number[] = [];
  let size = 0;
  const close = () => {
    if (!parts.length) return;
    // TaskResultBatch is `repeated TaskResult results = 1`.
    out.push({ data: repeatedField1(parts), indexes });
    parts = []; indexes = []; size = 0;
  };
  results.forEach((r0, i) => {
    let bytes = encodeResult(r0);
    if (field1Size(bytes) > limit) bytes = encodeResult(fitResult(r0, limit - 6));
    const len = field1Size(bytes);
    if (size + len > limit) close();
    parts.push(bytes);
    indexes.push(i);
    size += len;
  });
  close();
  return out;
}
