// The sweep spec: a YAML or JSON file a researcher writes (experiments/*.yaml), validated
// with zod. Unknown keys and wrong types are rejected with the path of the offending key
// and what is allowed; nothing is submitted. Lists under an arm's `params` expand as a grid.
// Inputs are bounded before anything walks them: text size, nesting depth, NaN/Infinity,
// and the number of problems reported (the rest are counted).
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

/** Timers in Node hold at most 2^31-1 ms (24.8 days); a longer task deadline would fire at once. */
export const MAX_TIMEOUT_S = 14 * 24 * 3600;
const timeoutS = z.number().int().min(1).max(MAX_TIMEOUT_S, `timeout_s is at most ${MAX_TIMEOUT_S} (14 days)`);

const TaskDefaults = z.strictObject({
  retries: z.number().int().min(0).max(100).default(2).describe('extra dispatches after a failed attempt'),
  backoff_ms: z.number().int().min(0).default(1000).describe('first retry delay; doubles each retry, capped at 60 s'),
  timeout_s: timeoutS.default(6 * 3600),
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
  timeout_s: timeoutS.optional(),
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
  base: z.record(z.string(), z.unknown()).default({}).describe('configuration shared by every arm (model, domain, pretrain, eval)')
    .superRefine((b, ctx) => {
      // Checked here, at submit, for every method: a worker would only find out later.
      for (const k of ['model', 'domain'] as const) {
        const v = b[k];
        if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) {
          ctx.addIssue({ code: 'custom', path: [k], message: `must be a mapping of settings (e.g. {hidden_size: 64}), not ${v === null ? 'null' : Array.isArray(v) ? 'a list' : JSON.stringify(v)}` });
        }
      }
    }),
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

export const MAX_SPEC_BYTES = 1024 * 1024;
export const MAX_SPEC_DEPTH = 32;
export const MAX_ISSUES = 50;

/** Parses YAML or JSON text and validates it; throws SpecError listing every problem. */
export function parseSweepSpec(text: string, source = 'sweep spec'): SweepSpec {
  if (text.length > MAX_SPEC_BYTES) throw new SpecError(`${source} is ${text.length} bytes; a sweep spec is at most ${MAX_SPEC_BYTES} (1 MiB): use grid lists and seeds counts instead of spelling out every value; nothing was submitted`);
  // A flow collection nested thousands deep overflows the YAML parser's stack before any
  // depth check could run: count brackets first (an upper bound on flow nesting).
  const flow = maxBracketDepth(text);
  if (flow > MAX_SPEC_DEPTH * 4) throw new SpecError(`${source} nests brackets ${flow} deep; a sweep spec nests at most ${MAX_SPEC_DEPTH} levels; nothing was submitted`);
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof RangeError) throw new SpecError(`${source} is nested too deeply to read (${err.message}); a sweep spec nests at most ${MAX_SPEC_DEPTH} levels; nothing was submitted`, [], { cause: err });
    throw new SpecError(`${source} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, [], { cause: err });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SpecError(`${source} must be a mapping with at least "name" and "arms"`);
  const shape = shapeProblems(raw);
  if (shape.length) throw new SpecError(`${source} is invalid; nothing was submitted`, capIssues(shape));
  const r = SweepSpecSchema.safeParse(raw);
  if (!r.success) throw new SpecError(`${source} is invalid; nothing was submitted`, capIssues(formatZodIssues(r.error.issues)));
  return r.data;
}

/** The first MAX_ISSUES problems, and how many more there were: a reply must fit one message. */
export function capIssues(issues: string[], max = MAX_ISSUES): string[] {
  const shown = issues.slice(0, max).map((i) => (i.length > 500 ? `${i.slice(0, 500)}...` : i));
  return issues.length > max ? [...shown, `... and ${issues.length - max} more problem(s) (${issues.length} in all)`] : shown;
}

function maxBracketDepth(text: string): number {
  let depth = 0, max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) { if (++depth > max) max = depth; } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return max;
}

/** Nesting deeper than MAX_SPEC_DEPTH, and NaN or infinite numbers, wherever they are (iteratively: no recursion). */
function shapeProblems(raw: unknown): string[] {
  const out: string[] = [];
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: raw, path: '', depth: 0 }];
  while (stack.length && out.length <= MAX_ISSUES) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) out.push(`${path || '(top level)'}: ${v} is not a finite number`);
    if (!v || typeof v !== 'object') continue;
    if (depth >= MAX_SPEC_DEPTH) { out.push(`${path}: nested more than ${MAX_SPEC_DEPTH} levels deep`); continue; }
    for (const [k, x] of Object.entries(v)) stack.push({ v: x, path: Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k, depth: depth + 1 });
  }
  return out;
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
