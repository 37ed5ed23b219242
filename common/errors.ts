// One error hierarchy for limolab. Each class has an explicit `name` and keeps `cause`;
// messages say what failed and what to do. `describeError` turns any thrown value into
// the one line the CLI prints.

export class LimolabError extends Error {
  override name = 'LimolabError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A sweep spec, config file or CLI argument that is wrong. Nothing was submitted. */
export class SpecError extends LimolabError {
  override name = 'SpecError';
  constructor(message: string, readonly issues: string[] = [], options?: { cause?: unknown }) {
    super(issues.length ? `${message}\n  - ${issues.join('\n  - ')}` : message, options);
  }
}

/** A message on the wire that could not be decoded or is missing required fields. */
export class WireError extends LimolabError {
  override name = 'WireError';
}

/** NATS, nats-server or the gRPC coordinator could not be reached or refused us. */
export class ConnectionError extends LimolabError {
  override name = 'ConnectionError';
}

export class NotFoundError extends LimolabError {
  override name = 'NotFoundError';
}

/** Bytes whose sha256 is not the digest they were stored under. */
export class IntegrityError extends LimolabError {
  override name = 'IntegrityError';
}

export function describeError(err: unknown): string {
  if (err instanceof LimolabError) return err.message;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}
