// Public surface of the embedded engine: a small Llama-style model trained, scored and
// sampled through onnxruntime-node from graphs generated here (see model-graph.ts).
export type { ModelConfig, ParamSpec } from './config.js';
export { validateConfig, paramSpecs, numParams, headDim } from './config.js';
export type { Tokenizer } from './tokenizer.js';
export { CharTokenizer, tokenizerFromJSON } from './tokenizer.js';
export type { Example, PackedBatch } from './batch.js';
export { packBatch } from './batch.js';
export { flopsPerToken, flopsForSequences, matmulParams } from './flops.js';
export { ModelRunner } from './runner.js';
export type { ExecutionProvider, RunnerOptions } from './runner.js';
export * from './errors.js';
export { Engine } from './engine.js';
export type { TrainOptions, Cost, EngineOptions } from './engine.js';
export type { GenerateOptions, GenerateResult } from './generate.js';
export { sampleToken } from './sampler.js';
export { AdamW, lrAt, clipGradNorm } from './optimizer.js';
export { encodeSafetensors, decodeSafetensors, FORMAT, FORMAT_VERSION } from './checkpoint.js';
export { toHFConfig, fromHFConfig } from './hf-config.js';
export { Rng } from './rng.js';
