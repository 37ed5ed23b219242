// What the coordinator's planners and the worker's runners both validate, kept apart from the
// runners themselves: a planner that checks a sweep's model_ref or dataset paths must not load
// the worker's ML stack (mathjs, onnxruntime-node, the engine), which would more than double the
// coordinator's heap (measured: 34 MB of 68 MB after start) and with it every major GC pause.
import { z } from 'zod';

/** A dataset path the worker may read: no "..", a .jsonl or .json file. "" when fine, else why not. */
export function datasetPathProblem(path: string): string {
  if (path.trim() === '') return 'is empty';
  if (path.split(/[\\/]/).includes('..') || path.includes('..')) return `${JSON.stringify(path)} contains ".."; name the file directly (absolute, or relative to the worker's working directory, under one of its --data-root directories)`;
  if (!/\.(jsonl|json)$/i.test(path)) return `${JSON.stringify(path)} does not end in .jsonl or .json; LIMO-format data is JSON lines`;
  return '';
}

/** A zod string that is a dataset path the worker may read (datasetPathProblem's rules). */
export const DatasetPath = z.string().superRefine((p, c) => {
  const why = datasetPathProblem(p);
  if (why) c.addIssue({ code: 'custom', message: why });
});

/** model_ref of kind "openai" (also used by the external planners to validate sweeps). */
export const OpenAIModelRefSchema = z.strictObject({
  kind: z.literal('openai'),
  base_url: z.string({ error: 'base_url is required: the server root, e.g. http://127.0.0.1:8000/v1' }).regex(/^https?:\/\/\S+$/, 'base_url must be an http(s) URL such as http://127.0.0.1:8000 (with or without /v1)'),
  model: z.string({ error: 'model is required: the name the server serves (GET /v1/models lists it)' }).min(1, 'model is the name the server serves, e.g. "Qwen/Qwen2.5-7B-Instruct"'),
  params: z.number({ error: 'params is required: the declared parameter count of the served model (e.g. 7.6e9), for the FLOPs ledger' }).positive('params is the declared parameter count of the served model (e.g. 7.6e9); it is needed for the FLOPs ledger'),
  api: z.enum(['completions', 'chat']).default('completions'),
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'api_key_env names an environment variable on the worker').optional(),
  concurrency: z.number().int().min(1).max(1024).default(8),
  timeout_ms: z.number().int().min(1).default(600_000),
  retries: z.number().int().min(0).max(20).default(4),
  backoff_ms: z.number().int().min(0).default(500),
  template: z.string().optional().describe('prompt template (experiments/datasets/templates.ts); default plain for completions, chatml user text for chat'),
  device_kind: z.string().min(1).optional().describe('what the ledger records as the device; default remote:<model>'),
});
export type OpenAIModelRef = z.output<typeof OpenAIModelRefSchema>;
