// The Engine: owns a model's weights (Float32Arrays in Hugging Face names and layouts), its
// tokenizer and AdamW state, and runs train / score / generate through ModelRunner's ONNX
// graphs. Every call reports analytic FLOPs and token counts. Same seed + one thread gives
// bit-identical results.
import { availableParallelism } from 'node:os';
import { mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelConfig, numParams, paramSpecs, validateConfig } from './config.js';
import { type Example, packBatch, validateExamples } from './batch.js';
import { AdamW, clipGradNorm, lrAt } from './optimizer.js';
import { FORMAT, FORMAT_VERSION, decodeSafetensors, encodeSafetensors, type NamedTensor } from './checkpoint.js';
import { checkFormat, fromHFConfig, toHFConfig } from './hf-config.js';
import { CheckpointError, EngineDisposedError, InvalidInputError, ModelConfigError, throwIfAborted } from './errors.js';
import { flopsForSequences } from './flops.js';
import { Rng } from './rng.js';
import { ModelRunner, type ExecutionProvider } from './runner.js';
import { type Tokenizer, tokenizerFromJSON } from './tokenizer.js';
import { generateBatch, type GenerateOptions, type GenerateResult } from './generate.js';

export interface TrainOptions {
  epochs?: number;        // passes over the examples (default 1); ignored when steps is given
  steps?: number;         // optimizer steps; batches continue through reshuffled epochs
  batchSize: number;
  lr: number;
  warmupSteps?: number;   // linear warmup (default 0)
  minLrRatio?: number;    // cosine floor as a fraction of lr (default 0.1)
  weightDecay?: number;   // decoupled, matrices only (default 0.1)
  beta1?: number;         // default 0.9
  beta2?: number;         // default 0.95
  gradClip?: number;      // global L2 norm (default 1.0; 0 disables)
  seed: number;           // shuffling order
  signal?: AbortSignal;
  onStep?: (step: number, totalSteps: number, loss: number) => void;
}
export interface Cost { flops: number; tokens: number }
export interface EngineOptions {
  threads?: number;
  executionProvider?: ExecutionProvider;
  /** Told the milliseconds each ONNX session creation took (graph build). */
  onGraphBuild?: (ms: number) => void;
}

const OPT_M = 'optimizer.exp_avg.', OPT_V = 'optimizer.exp_avg_sq.';

export class Engine {
  private disposed = false;
  private runner: ModelRunner;
  private optimizer: AdamW | null = null;

  private constructor(readonly config: ModelConfig, readonly tokenizer: Tokenizer, private params: Float32Array[], opts: EngineOptions) {
    this.runner = new ModelRunner(config, 'float32', { threads: opts.threads ?? availableParallelism(), executionProvider: opts.executionProvider, onGraphBuild: opts.onGraphBuild });
  }

  static async create(opts: { config: ModelConfig; tokenizer: Tokenizer; seed: number } & EngineOptions): Promise<Engine> {
    const config = validateConfig(opts.config);
    if (config.vocab_size < opts.tokenizer.vocabSize) {
      throw new ModelConfigError(`vocab_size ${config.vocab_size} is smaller than the tokenizer's ${opts.tokenizer.vocabSize} tokens; set vocab_size >= ${opts.tokenizer.vocabSize}`);
    }
    const rng = new Rng(opts.seed);
    const params = paramSpecs(config).map((p) => {
      const a = new Float32Array(p.shape.reduce((x, y) => x * y, 1));
      for (let i = 0; i < a.length; i++) a[i] = p.init === 'ones' ? 1 : 0.02 * rng.normal();
      return a;
    });
    return new Engine(config, opts.tokenizer, params, opts);
  }

  numParams(): number {
    return numParams(this.config);
  }

  /** Copies of the weights by Hugging Face name. */
  getParameters(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    paramSpecs(this.config).forEach((p, i) => { out[p.name] = this.params[i]!.slice(); });
    return out;
  }

  /** Replaces weights (all of them, exact shapes); resets the optimizer state. */
  setParameters(values: Record<string, ArrayLike<number>>): void {
    this.params = paramSpecs(this.config).map((p) => {
      const v = values[p.name], n = p.shape.reduce((x, y) => x * y, 1);
      if (!v || v.length !== n) throw new InvalidInputError(`setParameters: ${p.name} needs ${n} values, got ${v?.length ?? 'none'}`);
      return Float32Array.from(v);
    });
    this.optimizer = null;
  }

  private live(): void {
    if (this.disposed) throw new EngineDisposedError('engine was disposed; create or load a new one');
  }

  async train(examples: Example[], opts: TrainOptions): Promise<{ losses: number[]; steps: number; flops: number; tokensTrained: number }> {
    this.live();
    validateExamples(examples, this.config, 'train');
    if (examples.length === 0) throw new InvalidInputError('train: no examples');
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new InvalidInputError(`train: batchSize must be a positive integer, got ${opts.batchSize}`);
    if (!(opts.lr >= 0)) throw new InvalidInputError(`train: lr must be >= 0, got ${opts.lr}`);
    const perEpoch = Math.ceil(examples.length / opts.batchSize);
    const totalSteps = opts.steps ?? perEpoch * (opts.epochs ?? 1);
    const sched = { lr: opts.lr, totalSteps, warmupSteps: opts.warmupSteps ?? 0, minLrRatio: opts.minLrRatio ?? 0.1 };
    const hyper = { beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.95, eps: 1e-8, weightDecay: opts.weightDecay ?? 0.1 };
    const specs = paramSpecs(this.config);
    this.optimizer ??= new AdamW(this.params.map((p) => p.length), specs.map((s) => s.decay));
    const rng = new Rng(opts.seed);
    let order: number[] = [], cursor = 0;
    const losses: number[] = [];
    let flops = 0, tokensTrained = 0;
    for (let step = 0; step < totalSteps; step++) {
      throwIfAborted(opts.signal, 'train');
      const batch: Example[] = [];
      while (batch.length < opts.batchSize) {
        if (cursor >= order.length) {
          if (batch.length > 0 && opts.steps === undefined) break; // epochs mode: last batch of an epoch may be short
          order = rng.shuffle(examples.map((_, i) => i)); cursor = 0;
        }
        batch.push(examples[order[cursor++]!]!);
        if (opts.steps === undefined && cursor >= order.length) break;
      }
      const packed = packBatch(batch, this.config, this.tokenizer.pad);
      // Mean over the positions that carry weight: SFT's completion tokens, PG's scored tokens.
      const count = packed.weights.reduce((n, w) => n + (w !== 0 ? 1 : 0), 0);
      const coef = packed.weights.map((w) => (count ? w / count : 0));
      const { loss, grads } = await this.runner.lossAndGrads(this.params, packed, coef);
      const g32 = grads as Float32Array[];
      clipGradNorm(g32, opts.gradClip ?? 1.0);
      this.optimizer.update(this.params, g32, { ...hyper, lr: lrAt(step, sched) });
      losses.push(loss);
      tokensTrained += packed.lengths.reduce((a, b) => a + b, 0);
      flops += flopsForSequences(this.config, packed.lengths, 'train');
      opts.onStep?.(step + 1, totalSteps, loss);
    }
    return { losses, steps: totalSteps, flops, tokensTrained };
  }

  /** Weighted sum of token NLL per example (weights[i] weighs predicting tokens[i]). */
  async score(examples: Example[], opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<{ nll: number[]; flops: number; tokens: number }> {
    this.live();
    validateExamples(examples, this.config, 'score');
    const bs = opts.batchSize ?? 32, nll: number[] = [];
    let flops = 0, tokens = 0;
    for (let i = 0; i < examples.length; i += bs) {
      throwIfAborted(opts.signal, 'score');
      const packed = packBatch(examples.slice(i, i + bs), this.config, this.tokenizer.pad);
      const out = await this.runner.forward(this.params, packed);
      packed.lengths.forEach((n, b) => {
        let s = 0;
        for (let t = 0; t < n; t++) { const w = packed.weights[b * packed.T + t]!; if (w !== 0) s += w * out.nll[b * packed.T + t]!; }
        nll.push(s);
      });
      tokens += packed.lengths.reduce((a, b) => a + b, 0);
      flops += flopsForSequences(this.config, packed.lengths, 'forward');
    }
    return { nll, flops, tokens };
  }

  async generate(prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
    this.live();
    return generateBatch(this.runner, () => this.params, this.config, this.tokenizer, prompts, opts);
  }

  // ---- checkpoints ----

  private tensors(withOptimizer: boolean): NamedTensor[] {
    const specs = paramSpecs(this.config);
    const out: NamedTensor[] = specs.map((p, i) => ({ name: p.name, shape: p.shape, data: this.params[i]! }));
    if (withOptimizer && this.optimizer) {
      specs.forEach((p, i) => out.push({ name: OPT_M + p.name, shape: p.shape, data: this.optimizer!.m[i]! }));
      specs.forEach((p, i) => out.push({ name: OPT_V + p.name, shape: p.shape, data: this.optimizer!.v[i]! }));
    }
    return out;
  }

  private metadata(): Record<string, string> {
    return {
      format: 'pt', // what transformers expects in safetensors metadata
      limolab_format: FORMAT, limolab_format_version: String(FORMAT_VERSION),
      config: JSON.stringify(this.config), tokenizer: JSON.stringify(this.tokenizer.toJSON()),
      ...(this.optimizer ? { optimizer_step: String(this.optimizer.step) } : {}),
    };
  }

  /** One blob: weights (+ AdamW state when asked and present), config, tokenizer, format version. */
  toBytes(opts: { withOptimizer?: boolean } = {}): Uint8Array {
    this.live();
    return encodeSafetensors(this.tensors(!!opts.withOptimizer), this.metadata());
  }

  static async fromBytes(bytes: Uint8Array, opts: EngineOptions = {}): Promise<Engine> {
    const { tensors, metadata } = decodeSafetensors(bytes, 'checkpoint');
    checkFormat(metadata['limolab_format'], metadata['limolab_format_version'], 'checkpoint');
    let config: ModelConfig, tokenizer: Tokenizer;
    try {
      config = validateConfig(JSON.parse(metadata['config'] ?? 'null'));
      tokenizer = tokenizerFromJSON(JSON.parse(metadata['tokenizer'] ?? 'null'));
    } catch (err) {
      throw new CheckpointError(`checkpoint: metadata config/tokenizer unreadable: ${(err as Error).message}`, { cause: err });
    }
    return Engine.fromTensors(config, tokenizer, tensors, metadata, opts, 'checkpoint');
  }

  private static fromTensors(config: ModelConfig, tokenizer: Tokenizer, tensors: Map<string, NamedTensor>,
    metadata: Record<string, string>, opts: EngineOptions, where: string): Engine {
    const specs = paramSpecs(config);
    const take = (name: string, shape: number[]): Float32Array => {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${where}: tensor ${name} is missing; the file does not match its config`);
      if (t.shape.join(',') !== shape.join(',')) throw new CheckpointError(`${where}: tensor ${name} has shape [${t.shape}] but the config implies [${shape}]`);
      return t.data;
    };
    const params = specs.map((p) => take(p.name, p.shape));
    const hasOpt = tensors.has(OPT_M + specs[0]!.name);
    const known = new Set(specs.flatMap((p) => (hasOpt ? [p.name, OPT_M + p.name, OPT_V + p.name] : [p.name])));
    for (const name of tensors.keys()) if (!known.has(name)) throw new CheckpointError(`${where}: unexpected tensor ${name}; the file does not match its config`);
    const engine = new Engine(config, tokenizer, params, opts);
    if (hasOpt) {
      const opt = new AdamW(params.map((p) => p.length), specs.map((s) => s.decay));
      specs.forEach((p, i) => { opt.m[i]!.set(take(OPT_M + p.name, p.shape)); opt.v[i]!.set(take(OPT_V + p.name, p.shape)); });
      opt.step = Number(metadata['optimizer_step'] ?? 0);
      engine.optimizer = opt;
    }
    return engine;
  }

  /** dir/model.safetensors + dir/config.json (+ dir/optimizer.safetensors with withOptimizer). */
  async save(dir: string, opts: { withOptimizer?: boolean } = {}): Promise<void> {
    this.live();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(this.tensors(false), this.metadata()));
    await writeFile(join(dir, 'config.json'), JSON.stringify(toHFConfig(this.config, this.tokenizer), null, 2) + '\n');
    if (opts.withOptimizer && this.optimizer) {
      const specs = paramSpecs(this.config);
      const opt = this.tensors(true).slice(specs.length);
      await writeFile(join(dir, 'optimizer.safetensors'), encodeSafetensors(opt, this.metadata()));
    }
  }

  static async load(dir: string, opts: EngineOptions = {}): Promise<Engine> {
    const cfgPath = join(dir, 'config.json');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(cfgPath, 'utf8'));
    } catch (err) {
      throw new CheckpointError(`${cfgPath}: cannot read config.json (${(err as Error).message}); is ${dir} a directory written by Engine.save?`, { cause: err });
    }
    const { config, tokenizerJSON } = fromHFConfig(json, cfgPath);
    const tokenizer = tokenizerFromJSON(tokenizerJSON);
    const modelPath = join(dir, 'model.safetensors');
    const model = decodeSafetensors(await readFile(modelPath).catch((err: unknown) => {
      throw new CheckpointError(`${modelPath}: cannot read (${(err as Error).message})`, { cause: err });
    }), modelPath);
    const optPath = join(dir, 'optimizer.safetensors');
    const hasOpt = await access(optPath).then(() => true, () => false);
    const tensors = new Map(model.tensors);
    let metadata = model.metadata;
    if (hasOpt) {
      const o = decodeSafetensors(await readFile(optPath), optPath);
      for (const [k, v] of o.tensors) tensors.set(k, v);
      metadata = { ...metadata, ...o.metadata };
    }
    return Engine.fromTensors(config, tokenizer, tensors, metadata, opts, modelPath);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runner.dispose();
  }
}
