// The external-runner protocol (docs/runner-protocol.md): the JSON object a runner reads on
// stdin and the JSON lines it writes on stdout, as zod schemas. The JSON Schema of each line
// type in the docs is generated from these (z.toJSONSchema) and a test keeps the two in sync.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.number().int().nonnegative();

export const ProgressLine = z.strictObject({
  type: z.literal('progress'),
  fraction: z.number().min(0).max(1),
  message: z.string().optional(),
});
export const MetricLine = z.strictObject({
  type: z.literal('metric'),
  name: z.string().min(1),
  value: finite,
  step: count.optional(),
});
export const LedgerLine = z.strictObject({
  type: z.literal('ledger'),
  flops: z.number().nonnegative(),
  tokens_prompt: count,
  tokens_generated: count,
  tokens_trained: count,
  device_kind: z.string().min(1),
  device_s: z.number().nonnegative(),
  params: count,
});
export const ArtifactLine = z.strictObject({
  type: z.literal('artifact'),
  role: z.string().min(1),
  /** Relative to the output dir, or absolute inside it. */
  path: z.string().min(1),
  media_type: z.string().optional(),
});
export const ResultLine = z.strictObject({
  type: z.literal('result'),
  metrics: z.record(z.string(), finite),
  details: z.record(z.string(), z.unknown()).optional(),
});
export const ErrorLine = z.strictObject({
  type: z.literal('error'),
  message: z.string().min(1),
  retryable: z.boolean().optional(),
});
export const LogLine = z.strictObject({
  type: z.literal('log'),
  message: z.string(),
});

export const RunnerLine = z.discriminatedUnion('type', [ProgressLine, MetricLine, LedgerLine, ArtifactLine, ResultLine, ErrorLine, LogLine]);
export type RunnerLine = z.infer<typeof RunnerLine>;

export const LINE_SCHEMAS = {
  progress: ProgressLine,
  metric: MetricLine,
  ledger: LedgerLine,
  artifact: ArtifactLine,
  result: ResultLine,
  error: ErrorLine,
  log: LogLine,
} as const;

/** What the runner reads on stdin: one JSON object (then stdin is closed). */
export const RunnerInput = z.strictObject({
  protocol: z.literal(PROTOCOL_VERSION),
  /** The Task as Task.toJSON (gen/limolab/v1/task.ts) gives it: camelCase, enums as names. */
  task: z.record(z.string(), z.unknown()),
  /** Input artifacts the worker wrote to local files, one per ArtifactRef in task.inputs. */
  inputs: z.array(z.strictObject({ role: z.string(), digest: z.string(), path: z.string(), media_type: z.string() })),
  /** An empty directory the runner writes its artifacts into. */
  output_dir: z.string(),
  /** CPU threads the runner may use. */
  threads: count,
});
export type RunnerInput = z.infer<typeof RunnerInput>;

/** JSON Schema (draft 2020-12) for one line type, as printed in docs/runner-protocol.md. */
export function lineJsonSchema(type: keyof typeof LINE_SCHEMAS): unknown {
  return z.toJSONSchema(LINE_SCHEMAS[type]);
}

export function inputJsonSchema(): unknown {
  return z.toJSONSchema(RunnerInput);
}
