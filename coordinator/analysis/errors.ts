// Errors raised by analysis and report code. One class, with an explicit name, so callers
// (CLI, gRPC handlers) can map it to a user-facing message or an INVALID_ARGUMENT status.
import { LimolabError } from '../../common/errors.js';

export class AnalysisError extends LimolabError {
  override name = 'AnalysisError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An unknown filter/group/sort/column key: names the key and lists the allowed ones. */
export class UnknownKeyError extends AnalysisError {
  override name = 'UnknownKeyError';
  constructor(
    readonly role: string,
    readonly key: string,
    readonly allowed: readonly string[],
  ) {
    super(`unknown ${role} key '${key}'; allowed: ${allowed.join(', ') || '(none: no records)'}`);
  }
}
