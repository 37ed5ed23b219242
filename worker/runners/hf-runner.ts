// HfRunner: EVAL, ROLLOUT and TRAIN of a local Hugging Face checkpoint (model_ref kind "hf")
// on LIMO-format data. The math side (dataset files from options.datasets / options.pool, prompt
// templates, grading with experiments/math, pass@k, the rollouts artifact) is math-tasks.ts,
// shared with the openai runner; the samples come from the PyTorch runner
// (runners/torch/limolab_torch_runner.py) run through ProcessRunner in its "sample" mode: the
// task it receives carries the rendered prompts in options.prompts (+ seeds, n, temperature,
// max_tokens, top_p, stop), and it answers with an artifact `samples` (completions and token
// counts per prompt) and a ledger line. One runner process per task, so the model loads once.
// TRAIN builds its examples here (hf-train.ts) and hands them to the torch runner's TRAIN as a
// `dataset` input; the trained model comes back as a `checkpoint` tar, which later tasks'
// `checkpoint` inputs carry to the torch runner in place of model_ref.path.
//
// model_ref: {kind: hf, path (a model directory on the worker), params (declared count),
//   template? (default plain: the whole prompt is rendered here), device_kind?, dtype?, engine?,
//   batch_rows?, batch_tokens?}; the last four go to the torch runner in every sample-mode task's
//   options (dtype also in TRAIN's, unless its own options name one).
// Ledger: flops, tokens and device seconds from the runner's ledger line (model FLOPs of the
// loaded model, docs/runner-protocol.md "FLOPs"; the prompt counted once per sample row run);
// params = the declared count; device_kind = model_ref.device_kind, else the runner's.
import { HfModelRefSchema } from '../../experiments/external.js';
import { z } from 'zod';
import { Task, TaskKind, type ArtifactRef, type LedgerEntry } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, TaskCancelledError, deriveContext, type ArtifactIO, type RunOutput, type Runner, type TaskContext } from '../runner.js';
import { evaluateMath, makePrompter, parseWith, rolloutMath, type Prompter, type SampleFn } from './math-tasks.js';
import { ProcessRunner, type ProcessRunnerOptions } from './process.js';
import { buildTrainingSet, HfTrainOptionsSchema, torchTrainOptions, type TrainSpec } from './hf-train.js';
import { accessFromEnv, resolveDataPath, type WorkerAccess } from './access.js';

/** model_ref of kind "hf" as the runner reads it (the planner validates the same keys, strictly, at submit). */
// The sweep's model_ref schema (experiments/external.ts): the planner and the runner check the same thing.
export { HfModelRefSchema as HfRunnerModelRefSchema };
export type HfRunnerModelRef = z.output<typeof HfModelRefSchema>;

/** What the torch runner writes as artifact `samples` in sample mode. */
const SamplesFile = z.object({
  format: z.literal('limolab-samples/1'),
  samples: z.array(z.object({ completions: z.array(z.string()), prompt_tokens: z.number().int().min(0), generated_tokens: z.number().int().min(0) })),
});

export interface HfRunnerOptions extends Omit<ProcessRunnerOptions, 'kinds'> {
  /** Which of EVAL, ROLLOUT and TRAIN it takes (default all three). */
  kinds?: readonly TaskKind[];
  /** Data roots the model directory and datasets must lie under (default: LIMOLAB_DATA_ROOT, else the working directory). */
  access?: WorkerAccess;
}

/** Keeps what the sampling process writes in memory (the samples file is read here, never
 * stored), and the training set handed to TRAIN; with `keepRoles`, other roles go to the store. */
class CapturedArtifacts implements ArtifactIO {
  readonly blobs = new Map<string, { ref: ArtifactRef; bytes: Uint8Array }>();
  constructor(private readonly inner: ArtifactIO, private readonly keepRoles?: ReadonlySet<string>) {}
  get(ref: ArtifactRef): Promise<Uint8Array> {
    const b = this.blobs.get(ref.digest);
    return b ? Promise.resolve(b.bytes) : this.inner.get(ref);
  }
  put(role: string, bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<ArtifactRef> {
    if (this.keepRoles && !this.keepRoles.has(role)) return this.inner.put(role, bytes, mediaType);
    const digest = `captured-${this.blobs.size}`;
    const ref: ArtifactRef = { role, digest, size: bytes.length, uri: `mem://${digest}`, mediaType };
    this.blobs.set(digest, { ref, bytes });
    return Promise.resolve(ref);
  }
}

export class HfRunner implements Runner {
  readonly name = 'hf';
  readonly kinds: readonly TaskKind[];
  private readonly process: ProcessRunner;
  private readonly access: WorkerAccess;

  /** opts: how to start the PyTorch runner, e.g. {command: ['python3', 'runners/torch/limolab_torch_runner.py']}. */
  constructor(opts: HfRunnerOptions) {
    const all = [TaskKind.TASK_KIND_EVAL, TaskKind.TASK_KIND_ROLLOUT, TaskKind.TASK_KIND_TRAIN];
    const bad = (opts.kinds ?? []).filter((k) => !all.includes(k));
    if (bad.length > 0) throw new Error(`HfRunner runs EVAL, ROLLOUT and TRAIN only, not ${bad.map((k) => TaskKind[k]).join(', ')}`);
    this.kinds = opts.kinds ?? all;
    this.access = opts.access ?? accessFromEnv();
    const { kinds: _kinds, access: _access, ...rest } = opts;
    this.process = new ProcessRunner({ ...rest, kinds: this.kinds });
  }

  accepts(task: Task): boolean {
    return task.modelRef?.kind === 'hf';
  }

  async run(ctx: TaskContext): Promise<RunOutput> {
    if (ctx.signal.aborted) throw new TaskCancelledError(`task ${ctx.task.id} was cancelled before it started`);
    const ref = parseWith(HfModelRefSchema, ctx.task.modelRef, 'model_ref');
    // The model directory is read by the sampling process: it must lie under a data root too.
    // The process runs in its own work dir, so it gets the resolved absolute path.
    const realPath = await resolveDataPath(ref.path, this.access, 'model_ref.path');
    const prompterFor = (t: string | undefined, stop: string[] | undefined): Prompter => makePrompter(t ?? ref.template ?? 'plain', 'render', stop);
    const spec = ctx.task.spec;
    const ledger: Partial<LedgerEntry> = {};
    const sample = this.sampler(ctx, ref, realPath, ledger);
    if (spec?.$case === 'eval' && ctx.task.kind === TaskKind.TASK_KIND_EVAL) {
      const { metrics, details } = await evaluateMath(ctx, spec.value, prompterFor, sample, this.access);
      metrics.tokens_prompt = ledger.tokensPrompt ?? 0;
      metrics.tokens_generated = ledger.tokensGenerated ?? 0;
      return { metrics, ledger: this.finish(ref, ledger), outputs: [], details: { model: ref.path, runner_params: ledger.params ?? 0, ...details } };
    }
    if (spec?.$case === 'rollout' && ctx.task.kind === TaskKind.TASK_KIND_ROLLOUT) {
      const r = await rolloutMath(ctx, spec.value, prompterFor, sample, this.access);
      return { metrics: r.metrics, ledger: this.finish(ref, ledger), outputs: [r.output], details: { model: ref.path, runner_params: ledger.params ?? 0, ...r.details } };
    }
    if (spec?.$case === 'train' && ctx.task.kind === TaskKind.TASK_KIND_TRAIN) return this.train(ctx, ref, realPath, spec.value);
    throw new BadTaskInputError(`task ${ctx.task.id}: the hf runner runs EVAL, ROLLOUT and TRAIN tasks with a matching spec, got kind ${TaskKind[ctx.task.kind]} with spec ${spec?.$case ?? 'none'}`);
  }

  private finish(ref: HfRunnerModelRef, l: Partial<LedgerEntry>): Partial<LedgerEntry> {
    return {
      flops: l.flops ?? 0,
      tokensPrompt: l.tokensPrompt ?? 0,
      tokensGenerated: l.tokensGenerated ?? 0,
      tokensTrained: l.tokensTrained ?? 0,
      deviceKind: ref.device_kind ?? l.deviceKind ?? 'cpu',
      deviceS: l.deviceS ?? 0,
      params: Math.round(ref.params),
    };
  }

  /** TRAIN: examples built here, trained by the torch runner, checkpoint (a tar) stored as output. */
  private async train(ctx: TaskContext, ref: HfRunnerModelRef, realPath: string, s: TrainSpec): Promise<RunOutput> {
    const o = parseWith(HfTrainOptionsSchema, s.options, 'train.options');
    const data = await buildTrainingSet(ctx, o, o.template ?? ref.template ?? 'plain', s.maxPerPrompt, this.access);
    const empty = data.fromDataset + data.fromRollouts === 0;
    if (empty) ctx.log('hf runner: no rollout sample of this round verified; the checkpoint is saved unchanged (0 steps)');
    const captured = new CapturedArtifacts(ctx.artifacts, new Set(['dataset']));
    const dataset = await captured.put('dataset', data.jsonl, 'application/jsonl');
    const t = ctx.task;
    const sub = Task.fromPartial({
      ...t,
      modelRef: { ...t.modelRef, path: realPath },
      inputs: [...t.inputs.filter((i) => i.role === 'checkpoint'), dataset],
      spec: { $case: 'train', value: { ...s, options: torchTrainOptions(o, empty, ref.dtype) } },
    });
    const out = await this.process.run(deriveContext(ctx, { task: sub, artifacts: captured }));
    const ckpt = out.outputs.find((x) => x.role === 'checkpoint');
    if (!ckpt) throw new BadTaskInputError('the torch runner\'s TRAIN wrote no \'checkpoint\' artifact');
    return {
      metrics: { ...out.metrics, examples: data.fromDataset + data.fromRollouts, examples_dataset: data.fromDataset, examples_rollouts: data.fromRollouts },
      ledger: this.finish(ref, out.ledger),
      outputs: [ckpt],
      details: { model: ref.path, runner_params: out.ledger.params ?? 0, lora: o.lora ?? null },
    };
  }

  /** A SampleFn that runs the torch runner once in sample mode; its ledger lands in `ledger`. */
  private sampler(ctx: TaskContext, ref: HfRunnerModelRef, realPath: string, ledger: Partial<LedgerEntry>): SampleFn {
    return async (reqs, s, progress) => {
      const options: Record<string, unknown> = {
        // How the runner loads the model and batches generate: the model_ref's, else the runner's defaults.
        ...(ref.dtype ? { dtype: ref.dtype } : {}),
        ...(ref.engine ? { engine: ref.engine } : {}),
        ...(ref.batch_rows ? { batch_rows: ref.batch_rows } : {}),
        ...(ref.batch_tokens ? { batch_tokens: ref.batch_tokens } : {}),
        prompts: reqs.map((r) => r.prompt),
        seeds: reqs.map((r) => r.seed),
        n: s.n,
        temperature: s.temperature,
        max_tokens: s.maxTokens,
        ...(s.topP !== undefined ? { top_p: s.topP } : {}),
        ...(s.stop.length > 0 ? { stop: s.stop } : {}),
      };
      const t = ctx.task;
      const sub = Task.fromPartial({
        ...t,
        modelRef: { ...t.modelRef, path: realPath },
        // A model trained by an earlier task comes as its checkpoint tar; else model_ref.path is loaded.
        inputs: t.inputs.filter((i) => i.role === 'checkpoint'),
        spec: t.spec?.$case === 'eval' ? { $case: 'eval', value: { ...t.spec.value, options } }
          : t.spec?.$case === 'rollout' ? { $case: 'rollout', value: { ...t.spec.value, options } } : t.spec,
      });
      const captured = new CapturedArtifacts(ctx.artifacts);
      const out = await this.process.run(deriveContext(ctx, {
        task: sub,
        artifacts: captured,
        // The runner reports progress per prompt; problems are what the caller counts.
        progress: (f) => progress(Math.min(reqs.length, Math.round(f * reqs.length))),
        input: (role) => {
          throw new BadTaskInputError(`the hf runner's sampling task has no input ${role}`);
        },
      }));
      const file = out.outputs.find((o) => o.role === 'samples');
      if (!file) throw new BadTaskInputError('the torch runner wrote no \'samples\' artifact for the prompts; is runners/torch/limolab_torch_runner.py recent enough to know options.prompts (sample mode)?');
      let parsed: z.output<typeof SamplesFile>;
      try {
        parsed = SamplesFile.parse(JSON.parse(new TextDecoder().decode(await captured.get(file))));
      } catch (err) {
        throw new BadTaskInputError(`the torch runner's samples file is not limolab-samples/1: ${(err as Error).message.slice(0, 500)}`, { cause: err });
      }
      if (parsed.samples.length !== reqs.length || parsed.samples.some((x) => x.completions.length !== s.n)) {
        throw new BadTaskInputError(`the torch runner returned ${parsed.samples.length} prompt(s) with ${[...new Set(parsed.samples.map((x) => x.completions.length))].join('/')} completion(s) each; expected ${reqs.length} with ${s.n} each`);
      }
      for (const [k, v] of Object.entries(out.ledger) as [keyof LedgerEntry, unknown][]) {
        if (typeof v === 'number') (ledger as Record<string, number>)[k] = k === 'params' ? Math.max(ledger.params ?? 0, v) : ((ledger as Record<string, number>)[k] ?? 0) + v;
        else if (typeof v === 'string') (ledger as Record<string, string>)[k] = v;
      }
      const declared = ref.params;
      if (out.ledger.params && out.ledger.params > 1.01 * declared) {
        ctx.log(`hf runner: the loaded model has ${out.ledger.params} weights that multiply activations, more than model_ref.params declares (${declared}); the ledger records the declared count, FLOPs are the loaded model's`);
      }
      progress(reqs.length);
      return parsed.samples.map((x) => x.completions);
    };
  }
}
