// Shared machinery of the ML task kinds: the compute ledger (FLOPs only from the engine's
// return values), loading and storing checkpoints, building weighted examples, sampling
// completions in batches with progress and abort, and cancellation mapping.
import type { LedgerEntry } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, TaskCancelledError, type TaskContext } from '../runner.js';
import { Engine, type EngineOptions, type Example, type Tokenizer } from '../engine/index.js';
import { maxExampleChars, renderPrompt, type DomainConfig, type Problem } from '../../experiments/domain/index.js';

/** Accumulates what a task spent; device_s = wall seconds x threads used. */
export class Ledger {
  private readonly t0 = performance.now();
  flops = 0;
  tokensPrompt = 0;
  tokensGenerated = 0;
  tokensTrained = 0;
  params = 0;
  curatedExamples = 0;

  constructor(private readonly threads: number) {}

  addGenerate(r: { flops: number; promptTokens: number; generatedTokens: number }): void {
    this.flops += r.flops;
    this.tokensPrompt += r.promptTokens;
    this.tokensGenerated += r.generatedTokens;
  }

  addTrain(r: { flops: number; tokensTrained: number }): void {
    this.flops += r.flops;
    this.tokensTrained += r.tokensTrained;
  }

  finish(): Partial<LedgerEntry> {
    const wallS = (performance.now() - this.t0) / 1000;
    return {
      flops: this.flops,
      tokensPrompt: this.tokensPrompt,
      tokensGenerated: this.tokensGenerated,
      tokensTrained: this.tokensTrained,
      wallS,
      deviceKind: 'cpu',
      deviceS: wallS * this.threads,
      params: this.params,
      curatedExamples: this.curatedExamples,
    };
  }
}

export function throwIfCancelled(ctx: TaskContext, what: string): void {
  if (ctx.signal.aborted) throw new TaskCancelledError(`${what} cancelled: ${String(ctx.signal.reason ?? 'aborted')}`);
}

/** Opens the input checkpoint of `role` (first of several roles present). */
export async function loadEngine(ctx: TaskContext, roles: string[]): Promise<Engine> {
  return (await checkpointOpener(ctx, roles))();
}

/** Reads the input checkpoint of `role` (first of several roles present) once; each call of the
 *  returned function opens a fresh engine from those bytes (a recipe search trains several). */
export async function checkpointOpener(ctx: TaskContext, roles: string[]): Promise<() => Promise<Engine>> {
  const role = roles.find((r) => ctx.task.inputs.some((i) => i.role === r));
  if (!role) throw new BadTaskInputError(`task ${ctx.task.id} has no input with role ${roles.map((r) => `"${r}"`).join(' or ')}; the planner must pass the model checkpoint`);
  const ref = ctx.input(role);
  const bytes = await ctx.artifacts.get(ref);
  return async () => {
    try {
      return await Engine.fromBytes(bytes, engineOptions(ctx));
    } catch (e) {
      throw new BadTaskInputError(`input "${role}" (sha256 ${ref.digest.slice(0, 12)}) is not a loadable engine checkpoint: ${(e as Error).message}`, { cause: e });
    }
  };
}

/** Fails when the checkpoint's tokenizer cannot write the domain's alphabet, or its context is too short. */
export function checkEngineFitsDomain(engine: Engine, domain: DomainConfig, longest: number): void {
  try {
    engine.tokenizer.encode(domain.alphabet);
  } catch (e) {
    throw new BadTaskInputError(`the checkpoint's tokenizer does not cover the domain alphabet (${(e as Error).message}); use a checkpoint pretrained on this domain`, { cause: e });
  }
  if (longest + 2 > engine.config.max_position_embeddings) {
    throw new BadTaskInputError(`the longest example needs ${longest + 2} tokens with BOS/EOS but the model's context is ${engine.config.max_position_embeddings}; raise model.max_position_embeddings or shorten the domain (oodSteps, valueMax)`);
  }
}

/** [bos, ...prompt, ...completion, eos]; weight promptWeight on prompt tokens, 1 on completion and eos. */
export function toExample(tok: Tokenizer, prompt: string, completion: string, promptWeight = 0): Example {
  const p = tok.encode(prompt);
  const c = tok.encode(completion);
  const tokens = [tok.bos, ...p, ...c, tok.eos];
  const weights = [0, ...p.map(() => promptWeight), ...c.map(() => 1), 1];
  return { tokens, weights };
}

export interface SampleJob {
  prompt: string; // full prompt text (may hold few-shot examples before the problem)
  problem: Problem;
}

export interface SampleOptions {
  n: number; // samples per job
  temperature: number;
  maxNewTokens: number; // 0 = auto per batch
  topK: number;
  batch: number; // sequences per engine.generate call
  seed: number;
}

/** Room a completion of this problem needs: its longest worked solution plus slack for a wrong chain. */
export function completionBudget(p: Problem): number {
  return maxExampleChars(p) - renderPrompt(p).length + 8;
}

/**
 * n completions per job (decoded text, stopped at EOS), in job order: out[j][s].
 * Charges the ledger; reports progress as done/total mapped into [from, to].
 */
export async function sampleCompletions(
  ctx: TaskContext,
  engine: Engine,
  ledger: Ledger,
  jobs: SampleJob[],
  opts: SampleOptions,
  progress: { from: number; to: number; label: string },
): Promise<string[][]> {
  const tok = engine.tokenizer;
  const ctxLen = engine.config.max_position_embeddings;
  const flat: { job: number; ids: number[] }[] = [];
  jobs.forEach((j, ji) => {
    const ids = [tok.bos, ...tok.encode(j.prompt)];
    for (let s = 0; s < opts.n; s++) flat.push({ job: ji, ids });
  });
  const out: string[][] = jobs.map(() => []);
  for (let start = 0, call = 0; start < flat.length; start += opts.batch, call++) {
    throwIfCancelled(ctx, progress.label);
    const chunk = flat.slice(start, start + opts.batch);
    const longestPrompt = Math.max(...chunk.map((c) => c.ids.length));
    const wanted = opts.maxNewTokens > 0 ? opts.maxNewTokens : Math.max(...chunk.map((c) => completionBudget(jobs[c.job]!.problem)));
    const maxNewTokens = Math.min(wanted, ctxLen - longestPrompt);
    if (maxNewTokens < 1) throw new BadTaskInputError(`a prompt of ${longestPrompt} tokens leaves no room to generate in a ${ctxLen}-token context; use fewer shots or a longer context`);
    const r = await engine.generate(
      chunk.map((c) => c.ids),
      { maxNewTokens, temperature: opts.temperature, topK: opts.topK > 0 ? opts.topK : undefined, seed: (opts.seed + call * 0x9e3779b1) >>> 0, stopAtEos: true, signal: ctx.signal },
    );
    ledger.addGenerate(r);
    r.tokens.forEach((ids, i) => {
      const eos = ids.indexOf(tok.eos);
      out[chunk[i]!.job]!.push(tok.decode(eos >= 0 ? ids.slice(0, eos) : ids));
    });
    const done = Math.min(flat.length, start + opts.batch) / flat.length;
    ctx.progress(progress.from + (progress.to - progress.from) * done, `${progress.label} ${Math.min(flat.length, start + opts.batch)}/${flat.length}`);
  }
  return out;
}

/** Runs `fn`, turning an abort (engine or ours) into TaskCancelledError and releasing engines. */
export async function withCancellation<T>(ctx: TaskContext, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (ctx.signal.aborted && !(e instanceof TaskCancelledError)) throw new TaskCancelledError(`${what} cancelled: ${String(ctx.signal.reason ?? 'aborted')}`, { cause: e });
    throw e;
  }
}

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BadTaskInputError(`${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Task seed as a 32-bit number (the generated type may carry a bigint). */
export function taskSeed(ctx: TaskContext): number {
  return Number(BigInt.asUintN(32, BigInt(ctx.task.seed)));
}

/** The engine options of a task: its threads, and its graph builds counted as its time. */
export function engineOptions(ctx: TaskContext): EngineOptions {
  const add = ctx.addTime?.bind(ctx);
  return { threads: threadsOf(ctx), onGraphBuild: add && ((ms) => add('graph_build', ms)) };
}

/** Threads for the engine and the ledger's device_s: the task's share, at least one. */
export function threadsOf(ctx: TaskContext): number {
  return Math.max(1, Math.floor(ctx.threads || 1));
}
