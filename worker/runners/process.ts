// ProcessRunner: runs task kinds through an external command speaking the JSON-lines protocol
// of docs/runner-protocol.md. Input artifacts are written to a private work dir, the task goes
// in on stdin, stdout lines are validated one by one, stderr is kept as the log tail. Cancel
// and timeout send SIGTERM to the process group, then SIGKILL after graceMs.
import { LimolabError } from '../../common/errors.js';
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { Task, TaskKind, type ArtifactRef, type LedgerEntry } from '../../gen/limolab/v1/task.js';
import { TaskCancelledError, type RunOutput, type Runner, type TaskContext } from '../runner.js';
import { PROTOCOL_VERSION, RunnerLine, type RunnerInput } from './protocol.js';

export interface ProcessRunnerOptions {
  /** argv of the runner, e.g. ['/usr/bin/python3', 'runners/torch/limolab_torch_runner.py']. */
  command: string[];
  /** Task kinds this runner takes. */
  kinds: readonly TaskKind[];
  /** Extra environment on top of the worker's. */
  env?: Record<string, string>;
  /** Time between SIGTERM and SIGKILL on cancel/timeout. Default 5000. */
  graceMs?: number;
  /** Per-task limit; the task's own timeoutS wins when it is shorter. Default 1 hour. */
  timeoutMs?: number;
  /** Parent of the per-task work dirs. Default os.tmpdir(). */
  workRoot?: string;
  /** Keep the work dir after the task (debugging). Default false. */
  keepWorkDir?: boolean;
  /** stderr/log lines kept for error reports. Default 50. */
  logTailLines?: number;
}

/** Base of everything ProcessRunner throws for a failed attempt; carries the log tail. */
export class ProcessRunnerError extends LimolabError {
  override name = 'ProcessRunnerError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly logTail: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
/** A stdout line that is not valid JSON or does not match its schema. */
export class RunnerProtocolError extends ProcessRunnerError {
  override name = 'RunnerProtocolError';
}
/** The runner exited (or could not start) without writing a result line. */
export class RunnerExitedError extends ProcessRunnerError {
  override name = 'RunnerExitedError';
}
/** The runner did not finish within its time limit. */
export class RunnerTimeoutError extends ProcessRunnerError {
  override name = 'RunnerTimeoutError';
}
/** The runner wrote an error line. */
export class RunnerReportedError extends ProcessRunnerError {
  override name = 'RunnerReportedError';
}
/** An artifact line named a path outside the output dir, a symlink, or a missing file. */
export class RunnerArtifactError extends ProcessRunnerError {
  override name = 'RunnerArtifactError';
}

const MAX_LINE_CHARS = 4 * 1024 * 1024;

function safeRole(role: string): string {
  return role.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'input';
}

/** Resolves an artifact path and proves it is a regular file inside outputDir (no symlinks). */
export async function resolveArtifactPath(outputDir: string, path: string): Promise<string> {
  const root = await realpath(outputDir);
  const abs = isAbsolute(path) ? resolve(path) : resolve(outputDir, path);
  const rel = relative(resolve(outputDir), abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`artifact path ${JSON.stringify(path)} is outside the output dir ${outputDir}; write artifacts inside output_dir`);
  }
  // Walk every component: none may be a symlink (a link could point outside after the check).
  let cur = resolve(outputDir);
  for (const part of rel.split(sep)) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (!st) throw new Error(`artifact path ${JSON.stringify(path)} does not exist; write the file before its artifact line`);
    if (st.isSymbolicLink()) throw new Error(`artifact path ${JSON.stringify(path)} goes through a symlink (${cur}); write a regular file instead`);
  }
  const real = await realpath(abs);
  if (!(real + sep).startsWith(root + sep)) throw new Error(`artifact path ${JSON.stringify(path)} resolves outside the output dir`);
  const st = await lstat(real);
  if (!st.isFile()) throw new Error(`artifact path ${JSON.stringify(path)} is not a regular file`);
  return real;
}

function addLedger(acc: Partial<LedgerEntry>, l: Extract<RunnerLine, { type: 'ledger' }>): void {
  // Several ledger lines add up (e.g. one per phase); the device is the last one named.
  acc.flops = (acc.flops ?? 0) + l.flops;
  acc.tokensPrompt = (acc.tokensPrompt ?? 0) + l.tokens_prompt;
  acc.tokensGenerated = (acc.tokensGenerated ?? 0) + l.tokens_generated;
  acc.tokensTrained = (acc.tokensTrained ?? 0) + l.tokens_trained;
  acc.deviceS = (acc.deviceS ?? 0) + l.device_s;
  acc.deviceKind = l.device_kind;
  acc.params = Math.max(acc.params ?? 0, l.params);
}

export class ProcessRunner implements Runner {
  readonly name = 'process';
  readonly kinds: readonly TaskKind[];
  private readonly graceMs: number;
  private readonly timeoutMs: number;
  private readonly tailLines: number;

  constructor(private readonly opts: ProcessRunnerOptions) {
    if (opts.command.length === 0) throw new Error('ProcessRunner needs a command: pass command: ["/path/to/runner", ...args]');
    this.kinds = opts.kinds;
    this.graceMs = opts.graceMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 3_600_000;
    this.tailLines = opts.logTailLines ?? 50;
  }

  async run(ctx: TaskContext): Promise<RunOutput> {
    if (ctx.signal.aborted) throw new TaskCancelledError(`task ${ctx.task.id} was cancelled before it started`);
    const workDir = await mkdtemp(join(this.opts.workRoot ?? tmpdir(), `limolab-${safeRole(ctx.task.id)}-`));
    try {
      const inputDir = join(workDir, 'inputs');
      const outputDir = join(workDir, 'output');
      await mkdir(inputDir);
      await mkdir(outputDir);
      const inputs: RunnerInput['inputs'] = [];
      for (const [k, ref] of ctx.task.inputs.entries()) {
        const path = join(inputDir, `${k}-${safeRole(ref.role)}`);
        await writeFile(path, await ctx.artifacts.get(ref));
        inputs.push({ role: ref.role, digest: ref.digest, path, media_type: ref.mediaType });
      }
      const input: RunnerInput = {
        protocol: PROTOCOL_VERSION,
        task: Task.toJSON(ctx.task) as Record<string, unknown>,
        inputs,
        output_dir: outputDir,
        threads: ctx.threads,
      };
      return await this.spawnAndRead(ctx, input, outputDir);
    } finally {
      if (!this.opts.keepWorkDir) await rm(workDir, { recursive: true, force: true });
    }
  }

  private spawnAndRead(ctx: TaskContext, input: RunnerInput, outputDir: string): Promise<RunOutput> {
    const [cmd, ...args] = this.opts.command as [string, ...string[]];
    const tail: string[] = [];
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > this.tailLines) tail.shift();
    };
    const taskLimit = ctx.task.timeoutS > 0 ? ctx.task.timeoutS * 1000 : Infinity;
    const limitMs = Math.min(this.timeoutMs, taskLimit);

    return new Promise<RunOutput>((resolvePromise, rejectPromise) => {
      const child = spawn(cmd, args, {
        cwd: outputDir,
        env: { ...process.env, ...this.opts.env, LIMOLAB_OUTPUT_DIR: outputDir, OMP_NUM_THREADS: String(Math.max(1, ctx.threads)) },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // own process group: signals reach the runner's children too
      });
      let failure: ProcessRunnerError | TaskCancelledError | null = null;
      let result: Extract<RunnerLine, { type: 'result' }> | null = null;
      const ledger: Partial<LedgerEntry> = {};
      const pendingArtifacts: Promise<ArtifactRef>[] = [];
      let lineNo = 0;
      let killTimer: NodeJS.Timeout | undefined;
      let exited = false;

      const stop = (why: ProcessRunnerError | TaskCancelledError) => {
        if (!failure) failure = why;
        if (exited || child.pid === undefined) return;
        signalGroup('SIGTERM');
        killTimer ??= setTimeout(() => signalGroup('SIGKILL'), this.graceMs);
      };
      const signalGroup = (sig: NodeJS.Signals) => {
        if (exited || child.pid === undefined) return;
        try {
          process.kill(-child.pid, sig);
        } catch {
          try {
            child.kill(sig);
          } catch {
            /* already gone */
          }
        }
      };

      const timer = Number.isFinite(limitMs)
        ? setTimeout(() => stop(new RunnerTimeoutError(`runner ${cmd} exceeded its time limit of ${limitMs} ms for task ${ctx.task.id}; raise timeoutMs or the task's timeout_s`, true, [...tail])), limitMs)
        : undefined;
      const onAbort = () => stop(new TaskCancelledError(`task ${ctx.task.id} was cancelled`));
      ctx.signal.addEventListener('abort', onAbort, { once: true });

      const spawnedAt = performance.now();
      const handleLine = (raw: string) => {
        // Process start: spawn to the runner's first line (interpreter start and imports).
        if (lineNo === 0) ctx.addTime?.('process_start', performance.now() - spawnedAt);
        lineNo++;
        if (failure) return;
        if (raw.trim() === '') return;
        const show = raw.length > 200 ? `${raw.slice(0, 200)}...` : raw;
        if (raw.length > MAX_LINE_CHARS) {
          stop(new RunnerProtocolError(`runner stdout line ${lineNo} is longer than ${MAX_LINE_CHARS} characters; write large outputs as artifact files`, false, [...tail]));
          return;
        }
        let json: unknown;
        try {
          json = JSON.parse(raw);
        } catch {
          stop(new RunnerProtocolError(`runner stdout line ${lineNo} is not JSON: ${show}; runners must write only protocol lines on stdout (use stderr for logs)`, false, [...tail]));
          return;
        }
        const parsed = RunnerLine.safeParse(json);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ');
          stop(new RunnerProtocolError(`runner stdout line ${lineNo} does not match the protocol (${issues}): ${show}; see docs/runner-protocol.md`, false, [...tail]));
          return;
        }
        const line = parsed.data;
        if (result && line.type !== 'log') {
          stop(new RunnerProtocolError(`runner stdout line ${lineNo} (${line.type}) comes after the result line; the result must be the last line`, false, [...tail]));
          return;
        }
        switch (line.type) {
          case 'progress':
            ctx.progress(line.fraction, line.message);
            break;
          case 'metric':
            ctx.metric(line.name, line.value, line.step);
            break;
          case 'log':
            keep(line.message);
            ctx.log(line.message);
            break;
          case 'ledger':
            addLedger(ledger, line);
            break;
          case 'artifact': {
            const p = resolveArtifactPath(outputDir, line.path)
              .catch((err: Error) => {
                throw new RunnerArtifactError(`runner stdout line ${lineNo}: ${err.message}`, false, [...tail]);
              })
              .then(async (file) => ctx.artifacts.put(line.role, new Uint8Array(await readFile(file)), line.media_type));
            p.catch((err: unknown) => stop(err instanceof ProcessRunnerError ? err : new RunnerArtifactError(`storing artifact ${line.role} failed: ${String(err)}`, true, [...tail], { cause: err })));
            pendingArtifacts.push(p);
            break;
          }
          case 'result':
            result = line;
            break;
          case 'error':
            stop(new RunnerReportedError(`runner reported: ${line.message}`, line.retryable ?? false, [...tail]));
            break;
        }
      };

      const out = createInterface({ input: child.stdout, crlfDelay: Infinity });
      out.on('line', handleLine);
      const errLines = createInterface({ input: child.stderr, crlfDelay: Infinity });
      errLines.on('line', (l) => {
        keep(l);
        ctx.log(l, 'stderr');
      });
      child.stdin.on('error', () => {
        /* the runner may exit without reading stdin; its exit status tells the story */
      });
      child.stdin.end(JSON.stringify(input) + '\n');

      let spawnError: Error | null = null;
      child.on('error', (err) => {
        spawnError = err;
        if (child.pid === undefined && !exited) {
          // Never started: no 'close' is guaranteed, so settle here.
          exited = true;
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          rejectPromise(new RunnerExitedError(`could not start runner ${cmd}: ${err.message}; check the worker's runner command`, false, [...tail], { cause: err }));
        }
      });
      const outClosed = new Promise<void>((r) => out.once('close', r));
      const errClosed = new Promise<void>((r) => errLines.once('close', r));

      child.on('close', (code, signal) => {
        exited = true;
        void Promise.all([outClosed, errClosed]).then(async () => {
          clearTimeout(timer);
          clearTimeout(killTimer);
          ctx.signal.removeEventListener('abort', onAbort);
          const settled = await Promise.allSettled(pendingArtifacts);
          const bad = settled.find((s) => s.status === 'rejected');
          if (failure) return rejectPromise(failure);
          if (spawnError) {
            return rejectPromise(new RunnerExitedError(`could not start runner ${cmd}: ${spawnError.message}; check the worker's runner command`, false, [...tail], { cause: spawnError }));
          }
          if (bad) return rejectPromise((bad as PromiseRejectedResult).reason);
          const how = signal ? `signal ${signal}` : `exit code ${code}`;
          if (!result) {
            return rejectPromise(new RunnerExitedError(`runner ${cmd} ended (${how}) without a result line; last log lines:\n${tail.slice(-10).join('\n')}`, true, [...tail]));
          }
          if (code !== 0) {
            return rejectPromise(new RunnerExitedError(`runner ${cmd} wrote a result but ended with ${how}`, true, [...tail]));
          }
          resolvePromise({
            metrics: result.metrics,
            ledger,
            outputs: settled.map((s) => (s as PromiseFulfilledResult<ArtifactRef>).value),
            ...(result.details ? { details: result.details } : {}),
          });
        });
      });
    });
  }
}
