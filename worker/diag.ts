// The diagnostic runner: sleep, echo or fail on purpose, and pass artifacts along, so
// the execution plane can be tested and benchmarked without any ML.
import { DiagSpec_Op, TaskKind } from '../gen/limolab/v1/task.js';
import { createHash } from 'node:crypto';
import { BadTaskInputError, TaskCancelledError, type Runner, type RunOutput, type TaskContext } from './runner.js';

export const diagRunner: Runner = {
  name: 'diag',
  kinds: [TaskKind.TASK_KIND_DIAG],
  async run(ctx: TaskContext): Promise<RunOutput> {
    const t0 = performance.now();
    const spec = ctx.task.spec;
    if (spec?.$case !== 'diag') throw new BadTaskInputError(`diag runner got a ${spec?.$case ?? 'missing'} spec`);
    const d = spec.value;
    let inputBytes = 0;
    for (const ref of ctx.task.inputs) inputBytes += (await ctx.artifacts.get(ref)).length;
    if (d.sleepMs > 0) await sleep(d.sleepMs, ctx.signal, (f) => ctx.progress(f));
    if (d.op === DiagSpec_Op.OP_FAIL && (d.failTimes === 0 || ctx.task.attempt <= d.failTimes)) {
      throw new Error(d.message || `diag task failed on purpose (attempt ${ctx.task.attempt}${d.failTimes ? ` of ${d.failTimes} failing` : ', always failing'})`);
    }
    const outputs = [];
    if (d.outputBytes > 0) {
      const bytes = new Uint8Array(d.outputBytes);
      const seed = createHash('sha256').update(ctx.task.id).digest();
      for (let i = 0; i < bytes.length; i++) bytes[i] = seed[i % 32]! ^ (i & 0xff);
      outputs.push(await ctx.artifacts.put('data', bytes));
    }
    const wall = (performance.now() - t0) / 1000;
    return {
      metrics: { input_bytes: inputBytes, attempt: ctx.task.attempt },
      ledger: { wallS: wall, deviceKind: 'cpu', deviceS: wall },
      outputs,
      details: d.op === DiagSpec_Op.OP_ECHO ? { message: d.message } : undefined,
    };
  },
};

function sleep(ms: number, signal: AbortSignal, progress: (f: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new TaskCancelledError('cancelled before it slept'));
    const start = Date.now();
    const tick = ms > 2000 ? setInterval(() => progress(Math.min(1, (Date.now() - start) / ms)), 1000) : undefined;
    const t = setTimeout(() => { clearInterval(tick); signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); clearInterval(tick); reject(new TaskCancelledError('cancelled while sleeping')); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
