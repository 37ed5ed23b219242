// Runs the generated graphs on onnxruntime-node: one session per graph kind (shapes are
// symbolic), created lazily and warmed by use. Generic over float32 (the engine) and
// float64 (the finite-difference gradient check). Also builds the rotary tables and masks.
import * as ort from 'onnxruntime-node';
import { type ModelConfig, headDim, paramSpecs } from './config.js';
import { GraphRunError, SequenceTooLongError } from './errors.js';
import { buildForwardGraph, buildPrefillGraph, buildStepGraph, buildTrainGraph } from './model-graph.js';
import type { FloatType } from './onnx-builder.js';
import type { PackedBatch } from './batch.js';

export type FloatArray = Float32Array | Float64Array;
export type ExecutionProvider = 'cpu' | 'cuda';
export interface RunnerOptions {
  threads?: number;
  executionProvider?: ExecutionProvider;
  /** Told the milliseconds each session creation took (a worker counts them as the task's graph build). */
  onGraphBuild?: (ms: number) => void;
}
type Kind = 'train' | 'forward' | 'prefill' | 'step';

export const MASKED = -1e9; // finite, so a fully masked (padding) row stays NaN-free

/** Named float buffers that grow on demand; contents are whatever the last user left. */
export class Scratch {
  private bufs = new Map<string, FloatArray>();
  constructor(private readonly alloc: (n: number) => FloatArray) {}
  get(key: string, n: number): FloatArray {
    let b = this.bufs.get(key);
    if (!b || b.length < n) { b = this.alloc(n); this.bufs.set(key, b); }
    return b;
  }
  get bytes(): number {
    let n = 0;
    for (const b of this.bufs.values()) n += b.byteLength;
    return n;
  }
}

/** A runner keeps its decode buffers between calls up to this size; bigger sets are dropped. */
const KEEP_SCRATCH_BYTES = 128 * 2 ** 20;

export class ModelRunner {
  private sessions = new Map<Kind, Promise<ort.InferenceSession>>();
  private readonly names: string[];

  constructor(readonly config: ModelConfig, readonly dtype: FloatType, readonly opts: RunnerOptions = {}) {
    this.names = paramSpecs(config).map((p) => p.name);
  }

  private scratchPool: Scratch | null = null;

  /**
   * Buffers kept for reuse from one decode call to the next (the KV cache). Lent to one caller
   * at a time: a concurrent caller gets a fresh set. Hand it back with returnScratch, which
   * keeps it unless it is over KEEP_SCRATCH_BYTES (a worker should not hold hundreds of MB
   * between tasks).
   */
  lendScratch(): Scratch {
    const s = this.scratchPool ?? new Scratch((n) => this.alloc(n));
    this.scratchPool = null;
    return s;
  }

  returnScratch(s: Scratch): void {
    if (s.bytes <= KEEP_SCRATCH_BYTES) this.scratchPool = s;
  }

  private alloc(n: number): FloatArray {
    return this.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  }

  tensor(data: ArrayLike<number>, dims: number[]): ort.Tensor {
    const arr = (this.dtype === 'float32' ? Float32Array : Float64Array).from(data as ArrayLike<number>);
    return new ort.Tensor(this.dtype, arr, dims);
  }

  private session(kind: Kind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      const t0 = performance.now(); // graph build: the ONNX bytes, then the session
      const bytes = kind === 'train' ? buildTrainGraph(this.config, this.dtype)
        : kind === 'forward' ? buildForwardGraph(this.config, this.dtype)
          : kind === 'prefill' ? buildPrefillGraph(this.config, this.dtype) : buildStepGraph(this.config, this.dtype);
      const ep = this.opts.executionProvider ?? 'cpu';
      s = ort.InferenceSession.create(bytes, {
        executionProviders: ep === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
        intraOpNumThreads: this.opts.threads ?? 0,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3, // warnings about our own graphs are noise to a worker's log
      }).then((session) => {
        this.opts.onGraphBuild?.(performance.now() - t0);
        return session;
      }, (err: unknown) => {
        this.sessions.delete(kind);
        const hint = ep === 'cuda' ? ' (executionProvider "cuda" needs an onnxruntime-node build with CUDA and a GPU; use "cpu")' : '';
        throw new GraphRunError(`onnxruntime could not create the ${kind} session${hint}: ${(err as Error).message}`, { cause: err });
      });
      this.sessions.set(kind, s);
    }
    return s;
  }

  private lastParamFeeds: { params: FloatArray[]; arrays: FloatArray[]; feeds: Record<string, ort.Tensor> } | null = null;

  /** Tensors over the caller's weight arrays (no copy; reused while the same arrays are passed). */
  private paramFeeds(params: FloatArray[]): Record<string, ort.Tensor> {
    const last = this.lastParamFeeds;
    if (last && last.params === params && last.arrays.every((a, i) => a === params[i])) return last.feeds;
    const feeds: Record<string, ort.Tensor> = {};
    const specs = paramSpecs(this.config);
    specs.forEach((p, i) => { feeds[p.name] = new ort.Tensor(this.dtype, params[i]!, p.shape); });
    this.lastParamFeeds = { params, arrays: params.slice(), feeds };
    return feeds;
  }

  private async run(kind: Kind, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    const s = await this.session(kind);
    try {
      return await s.run(feeds);
    } catch (err) {
      throw new GraphRunError(`onnxruntime failed running the ${kind} graph: ${(err as Error).message}`, { cause: err });
    }
  }

  private ropeTable: { cos: FloatArray; sin: FloatArray } | null = null;

  /** cos/sin for the given positions, HF convention: emb = cat(freqs, freqs). (len(pos), hd) each. */
  rope(positions: ArrayLike<number>): { cos: FloatArray; sin: FloatArray } {
    const hd = headDim(this.config), half = hd / 2, P = this.config.max_position_embeddings;
    if (!this.ropeTable) { // every position the model allows, computed once
      const cos = this.alloc(P * hd), sin = this.alloc(P * hd);
      for (let i = 0; i < P; i++) {
        for (let j = 0; j < half; j++) {
          const a = i / Math.pow(this.config.rope_theta, (2 * j) / hd);
          cos[i * hd + j] = cos[i * hd + j + half] = Math.cos(a);
          sin[i * hd + j] = sin[i * hd + j + half] = Math.sin(a);
        }
      }
      this.ropeTable = { cos, sin };
    }
    const t = this.ropeTable, cos = this.alloc(positions.length * hd), sin = this.alloc(positions.length * hd);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      if (!(Number.isInteger(p) && p >= 0 && p < P)) throw new SequenceTooLongError(`rope: position ${p} is outside 0..${P - 1} (max_position_embeddings=${P})`);
      cos.set(t.cos.subarray(p * hd, (p + 1) * hd), i * hd);
      sin.set(t.sin.subarray(p * hd, (p + 1) * hd), i * hd);
    }
    return { cos, sin };
  }

  private sequenceFeeds(params: FloatArray[], b: PackedBatch, weights?: ArrayLike<number>): Record<string, ort.Tensor> {
    const { B, T } = b, hd = headDim(this.config);
    const mask = this.alloc(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = MASKED;
    const { cos, sin } = this.rope(Array.from({ length: T }, (_, i) => i));
    return {
      ...this.paramFeeds(params),
      input_ids: new ort.Tensor('int64', b.ids, [B, T]),
      targets: new ort.Tensor('int64', b.targets, [B, T]),
      loss_weights: this.tensor(weights ?? b.weights, [B, T]),
      attn_mask: new ort.Tensor(this.dtype, mask, [T, T]),
      rope_cos: new ort.Tensor(this.dtype, cos, [T, hd]),
      rope_sin: new ort.Tensor(this.dtype, sin, [T, hd]),
    };
  }

  /** loss = sum(coef * nll) and its gradient for every parameter (in paramSpecs order). */
  async lossAndGrads(params: FloatArray[], b: PackedBatch, coef: ArrayLike<number>): Promise<{ loss: number; nll: FloatArray; grads: FloatArray[] }> {
    const out = await this.run('train', this.sequenceFeeds(params, b, coef));
    return {
      loss: Number((out['loss']!.data as FloatArray)[0]),
      nll: out['nll']!.data as FloatArray,
      grads: this.names.map((n) => out['grad.' + n]!.data as FloatArray),
    };
  }

  /** Per-token NLL (B, T) and logits (B, T, V). */
  async forward(params: FloatArray[], b: PackedBatch): Promise<{ nll: FloatArray; logits: FloatArray }> {
    const out = await this.run('forward', this.sequenceFeeds(params, b));
    return { nll: out['nll']!.data as FloatArray, logits: out['logits']!.data as FloatArray };
  }

  /**
   * Prefill over left-padded prompts (B, S): mask (B, 1, S, S), positions per token.
   * Returns logits (B, S, V) and every layer's keys and values (B, H, S, hd).
   */
  async prefill(params: FloatArray[], ids: BigInt64Array, B: number, S: number, positions: ArrayLike<number>, mask: FloatArray):
  Promise<{ logits: FloatArray; keys: FloatArray[]; values: FloatArray[] }> {
    const hd = headDim(this.config), L = this.config.num_hidden_layers;
    const { cos, sin } = this.rope(positions);
    const out = await this.run('prefill', {
      ...this.paramFeeds(params),
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attn_mask: new ort.Tensor(this.dtype, mask, [B, 1, S, S]),
      rope_cos: new ort.Tensor(this.dtype, cos, [B, 1, S, hd]),
      rope_sin: new ort.Tensor(this.dtype, sin, [B, 1, S, hd]),
    });
    const keys: FloatArray[] = [], values: FloatArray[] = [];
    for (let l = 0; l < L; l++) { keys.push(out[`present_key.${l}`]!.data as FloatArray); values.push(out[`present_value.${l}`]!.data as FloatArray); }
    return { logits: out['logits']!.data as FloatArray, keys, values };
  }

  /**
   * One decode step: token ids (B) at the given positions against the cache buffers
   * keys[l] and values[l] (B, H, T, hd; their first B*H*T*hd elements), read in place;
   * mask (B, 1, 1, T). Returns logits (B, V) and the new token's key and value (B, H, hd)
   * per layer.
   */
  async step(params: FloatArray[], ids: BigInt64Array, positions: ArrayLike<number>, mask: FloatArray, T: number,
    keys: FloatArray[], values: FloatArray[]): Promise<{ logits: FloatArray; keys: FloatArray[]; values: FloatArray[] }> {
    const H = this.config.num_attention_heads, hd = headDim(this.config), L = this.config.num_hidden_layers, B = ids.length;
    const { cos, sin } = this.rope(positions);
    const feeds: Record<string, ort.Tensor> = {
      ...this.paramFeeds(params),
      input_ids: new ort.Tensor('int64', ids, [B, 1]),
      attn_mask: new ort.Tensor(this.dtype, mask, [B, 1, 1, T]),
      rope_cos: new ort.Tensor(this.dtype, cos, [B, 1, 1, hd]),
      rope_sin: new ort.Tensor(this.dtype, sin, [B, 1, 1, hd]),
    };
    for (let l = 0; l < L; l++) {
      feeds[`cache_key.${l}`] = new ort.Tensor(this.dtype, keys[l]!.subarray(0, B * H * T * hd), [B, H, T, hd]);
      feeds[`cache_value.${l}`] = new ort.Tensor(this.dtype, values[l]!.subarray(0, B * H * T * hd), [B, H, T, hd]);
    }
    const out = await this.run('step', feeds);
    const nk: FloatArray[] = [], nv: FloatArray[] = [];
    for (let l = 0; l < L; l++) { nk.push(out[`new_key.${l}`]!.data as FloatArray); nv.push(out[`new_value.${l}`]!.data as FloatArray); }
    return { logits: out['logits']!.data as FloatArray, keys: nk, values: nv };
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.scratchPool = null;
    for (const s of all) await (await s.catch(() => null))?.release();
  }
}
