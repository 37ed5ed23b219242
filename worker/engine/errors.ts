// Errors raised by the embedded engine. One hierarchy: every class has an explicit `name`,
// keeps its `cause`, and its message says what failed and what to do about it.
import { LimolabError } from '../../common/errors.js';

export class EngineError extends LimolabError {
  override name = 'EngineError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A ModelConfig (or config.json) is invalid: unknown key, wrong type, inconsistent sizes. */
export class ModelConfigError extends EngineError {
  override name = 'ModelConfigError';
}

/** Text or token ids the tokenizer cannot represent. */
export class TokenizerError extends EngineError {
  override name = 'TokenizerError';
}

/** A sequence does not fit the model's context (max_position_embeddings). */
export class SequenceTooLongError extends EngineError {
  override name = 'SequenceTooLongError';
}

/** Examples, prompts or options handed to train/score/generate are malformed. */
export class InvalidInputError extends EngineError {
  override name = 'InvalidInputError';
}

/** A checkpoint file is not ours, is truncated, corrupt, or does not match its config. */
export class CheckpointError extends EngineError {
  override name = 'CheckpointError';
}

/** The engine was used after dispose(). */
export class EngineDisposedError extends EngineError {
  override name = 'EngineDisposedError';
}

/** onnxruntime failed to build or run one of the generated graphs. */
export class GraphRunError extends EngineError {
  override name = 'GraphRunError';
}

/** Training or sampling stopped because the caller's AbortSignal fired. */
export class EngineAbortedError extends EngineError {
  override name = 'EngineAbortedError';
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new EngineAbortedError(`${what} aborted by the caller's signal`, { cause: signal.reason });
}
