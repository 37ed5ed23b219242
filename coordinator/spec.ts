// The sweep spec: a YAML or JSON file a researcher writes (experiments/*.yaml), validated
// with zod. Unknown keys and wrong types are rejected with the path of the offending key
// and what is allowed; nothing is submitted. Lists under an arm's `params` expand as a grid.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SpecError } from '../common/errors.js';

const poolName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'a pool name uses letters, digits, _ and - only');

export const ResourcesSchema = z.strictObject({
  cpus: z.number().min(0).default(1).describe('slots the task occupies on a worker'),
  gpus: z.number().int().min(0).default(0),
  memory_mb: z.number().int().min(0).default(0),
  pool: poolName.default('default'),
});

const TaskDefaults = z.strictObject({
  retries: z.number().int().min(0).max(100).default(2).describe('extra dispatches after a failed attempt'),
  backoff_ms: z.number().int().min(0).default(1000).describe('first retry delay; doubles each retry, capped at 60 s'),
  timeout_s: z.number().int().min(1).default(6 * 3600),
  resources: ResourcesSchema.prefault({}),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const paramValue = z.union([scalar, z.array(scalar).min(1, 'a grid list needs at least one value')]);

export const ArmSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'an arm name uses letters, digits, _ . and - only'),
  method: z.string().min(1),
  params: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'parameter names are snake_case'), paramValue).default({}),
  seeds: z.array(z.number().int().min(0)).min(1).optional().describe('overrides the sweep seeds for this arm'),
  retries: z.number().int().min(0).max(100).optional(),
  timeout_s: z.number().int().min(1).optional(),
  resources: ResourcesSchema.partial().optional(),
  priority: z.number().int().optional(),
});

export const SweepSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a sweep name uses letters, digits, _ . and - only'),
  description: z.string().optional(),
  seeds: z.union([z.number().int().min(1).max(1000), z.array(z.number().int().min(0)).min(1)]).default([0])
    .transform((s) => (typeof s === 'number' ? Array.from({ length: s }, (_, i) => i) : s)),
  priority: z.number().int().default(0).describe('higher runs first when workers are busy'),
  cache: z.boolean().default(true).describe('reuse identical tasks already computed (diag tasks are never reused)'),
  defaults: TaskDefaults.prefault({}),
  base: z.record(z.string(), z.unknown()).default({}).describe('configuration shared by every arm (model, domain, pretrain, eval)'),
  prices: z.strictObject({
    per_device_hour: z.record(z.string(), z.number().min(0)).default({}),
    per_curated_example: z.number().min(0).optional(),
  }).optional(),
  arms: z.array(ArmSchema).min(1, 'a sweep needs at least one arm'),
}).superRefine((spec, ctx) => {
  const seen = new Set<string>();
  spec.arms.forEach((a, i) => {
    if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: ['arms', i, 'name'], message: `arm name "${a.name}" is used twice; arm names must be unique` });
    seen.add(a.name);
  });
});

export type SweepSpec = z.output<typeof SweepSpecSchema>;
export type ArmSpec = z.output<typeof ArmSchema>;
export type Resources = z.output<typeof ResourcesSchema>;

/** Parses YAML or JSON text and validates it; throws SpecError listing every problem. */
export function parseSweepSpec(text: string, source = 'sweep spec'): SweepSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new SpecError(`${source} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, [], { cause: err });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SpecError(`${source} must be a mapping with at least "name" and "arms"`);
  const r = SweepSpecSchema.safeParse(raw);
  if (!r.success) throw new SpecError(`${source} is invalid; nothing was submitted`, formatZodIssues(r.error.issues));
  return r.data;
}

export function formatZodIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[] = []): string[] {
  return issues.map((i) => {
    const full = [...prefix, ...i.path];
    const path = full.length ? full.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
    if (i.code === 'unrecognized_keys') return `${path === '(top level)' ? '' : path + ': '}unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${path}: ${i.message}`;
  });
}

/** Expands list-valued params into the grid of arm instances, in a stable order. */
export function expandGrid(params: Record<string, unknown>): Record<string, string | number | boolean>[] {
  let points: Record<string, string | number | boolean>[] = [{}];
  for (const [k, v] of Object.entries(params)) {
    const values = Array.isArray(v) ? v : [v];
    points = points.flatMap((p) => values.map((x) => ({ ...p, [k]: x as string | number | boolean })));
  }
  return points;
}

/** "sft[curation=limo,n=100]" for a grid point; just the arm name when nothing varies. */
export function instanceName(arm: ArmSpec, point: Record<string, unknown>): string {
  const varying = Object.entries(arm.params).filter(([, v]) => Array.isArray(v) && v.length > 1).map(([k]) => k);
  if (!varying.length) return arm.name;
  return `${arm.name}[${varying.map((k) => `${k}=${String(point[k])}`).join(',')}]`;
}
