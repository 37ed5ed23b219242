// The sweep spec: a YAML or JSON file a researcher writes (experiments/*.yaml), validated
// with zod. Unknown keys and wrong types are rejected with the path of the offending key
// and what is allowed; nothing is submitted. Lists under an arm's `params` expand as a grid.
// Inputs are bounded before anything walks them: text size, nesting depth, NaN/Infinity,
// and the number of problems reported (the rest are counted).
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { didYouMean } from './analysis/errors.js';
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

const SEEDS_ERROR = (i: { input?: unknown }) =>
  `expected a number of seeds (an integer from 1 to 1000, e.g. seeds: 3 runs seeds 0, 1, 2) or a list of seed integers (e.g. seeds: [0, 1, 2]), got ${shown(i.input)}`;
const SEED_LIST_ERROR = (i: { input?: unknown }) =>
  `expected a list of seed integers (e.g. seeds: [0, 1, 2]), got ${shown(i.input)}`;
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const j = JSON.stringify(v);
  return j === undefined ? String(v) : j.length > 60 ? `${j.slice(0, 60)}...` : j;
}

export const ArmSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'an arm name uses letters, digits, _ . and - only'),
  method: z.string().min(1),
  params: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'parameter names are snake_case'), paramValue).default({}),
  seeds: z.array(z.number().int().min(0), { error: SEED_LIST_ERROR }).min(1).optional().describe('overrides the sweep seeds for this arm'),
  retries: z.number().int().min(0).max(100).optional(),
  timeout_s: timeoutS.optional(),
  resources: ResourcesSchema.partial().optional(),
  priority: z.number().int().optional(),
});

export const SweepSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a sweep name uses letters, digits, _ . and - only'),
  description: z.string().optional(),
  seeds: z.union([z.number().int().min(1).max(1000), z.array(z.number().int().min(0)).min(1)], { error: SEEDS_ERROR }).default([0])
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
    if (err instanceof YAMLParseError) throw new SpecError(yamlErrorMessage(err, text, source), [], { cause: err });
    throw new SpecError(`${source} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}; nothing was submitted`, [], { cause: err });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SpecError(`${source} must be a mapping with at least "name" and "arms"`);
  const shape = shapeProblems(raw);
  if (shape.length) throw new SpecError(`${source} is invalid; nothing was submitted`, capIssues(shape));
  const r = SweepSpecSchema.safeParse(raw);
  if (!r.success) throw new SpecError(`${source} is invalid; nothing was submitted`, capIssues(formatZodIssues(r.error.issues, [], SweepSpecSchema)));
  return r.data;
}

/** What to do about a YAML error: by its message first, then by yaml's error code. */
const YAML_HINTS: [RegExp | string, string][] = [
  [/end with a [\]}]/, 'a "[" or "{" opened earlier is not closed: close it, or quote the value if the bracket is part of it'],
  [/Missing closing/, 'a quote opened earlier is not closed: close it'],
  [/without - indicator/, 'line this key up with the keys of the list item above it (spaces only), or start a new item with "- "'],
  [/same column/, 'line this key up with the other keys of its mapping (spaces only)'],
  ['BLOCK_AS_IMPLICIT_KEY', 'a value containing ": " must be quoted ("a: b"), and a nested key goes on its own line, indented under its parent'],
  ['MULTILINE_IMPLICIT_KEY', 'is the ":" after a key missing, on this line or the one above?'],
  ['DUPLICATE_KEY', 'a key may appear once per mapping: remove or rename one of them'],
  ['TAB_AS_INDENT', 'indent with spaces, not tabs'],
  ['BAD_SCALAR_START', 'quote a value that starts with @, ` or %'],
  ['BAD_INDENT', 'line the key up with the other keys of its mapping (spaces only)'],
];

/** yaml's parse error as: where (file:line:column), what, the offending line with a caret
 *  under the column, and what to do. */
export function yamlErrorMessage(err: YAMLParseError, text: string, source: string): string {
  const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const hint = YAML_HINTS.find(([m]) => (typeof m === 'string' ? m === err.code : m.test(what)))?.[1]
    ?? 'check the indentation (spaces only), that each "key: value" has a space after the colon, and that quotes and brackets are closed';
  const pos = err.linePos?.[0];
  if (!pos) return `${source} is not valid YAML: ${what}\n  ${hint[0]!.toUpperCase()}${hint.slice(1)}. Nothing was submitted.`;
  const lines = text.split(/\r?\n/);
  const atEnd = pos.line > lines.length || (pos.line === lines.length && !lines[pos.line - 1]);
  const lineText = (lines[pos.line - 1] ?? '').replace(/\t/g, ' ');
  const num = String(pos.line);
  const shownLine = atEnd && !lineText ? '(end of file)' : lineText.length > 120 ? `${lineText.slice(0, 120)}...` : lineText;
  return [
    `${source}:${pos.line}:${pos.col}: not valid YAML: ${what}`,
    `  ${num} | ${shownLine}`,
    `  ${' '.repeat(num.length)} | ${' '.repeat(Math.max(0, Math.min(pos.col - 1, 120)))}^`,
    `  ${hint[0]!.toUpperCase()}${hint.slice(1)}${hint.endsWith('?') ? '' : '.'} Nothing was submitted.`,
  ].join('\n');
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

/** Zod issues as "path: message" lines. With the schema that produced them, an unknown key
 *  gets a did-you-mean from the keys allowed at its path, and the list of those keys. */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[] = [], schema?: z.ZodType): string[] {
  return issues.map((i) => {
    const full = [...prefix, ...i.path];
    const path = full.length ? full.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
    if (i.code === 'unrecognized_keys') {
      const allowed = schema ? keysAt(schema, i.path) : [];
      const each = i.keys.map((k) => { const near = didYouMean(k, allowed); return `"${k}"${near ? ` (did you mean "${near}"?)` : ''}`; });
      return `${path === '(top level)' ? '' : path + ': '}unknown key${i.keys.length > 1 ? 's' : ''} ${each.join(', ')}` +
        (allowed.length ? `; allowed here: ${allowed.join(', ')}` : '');
    }
    if (i.code === 'invalid_type' && /received undefined$/.test(i.message)) return `${path}: missing; it is required here (expected ${i.expected})`;
    return `${path}: ${i.message}`;
  });
}

/** The keys an object schema allows at a path (through defaults, optionals, pipes, arrays,
 *  records and unions); [] when the path does not lead to an object. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: z.core.$ZodType[] = [schema];
  for (const seg of path) {
    nodes = nodes.flatMap(unwrap).flatMap((n) => {
      const d = n._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; valueType?: z.core.$ZodType; element?: z.core.$ZodType };
      if (d.type === 'object' && typeof seg === 'string' && d.shape?.[seg]) return [d.shape[seg]];
      if (d.type === 'record' && d.valueType) return [d.valueType];
      if (d.type === 'array' && typeof seg === 'number' && d.element) return [d.element];
      return [];
    });
  }
  const keys = nodes.flatMap(unwrap).flatMap((n) => {
    const d = n._zod.def as { type: string; shape?: Record<string, unknown> };
    return d.type === 'object' && d.shape ? Object.keys(d.shape) : [];
  });
  return [...new Set(keys)];
}

function unwrap(n: z.core.$ZodType): z.core.$ZodType[] {
  const d = n._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType; out?: z.core.$ZodType; options?: z.core.$ZodType[] };
  if (d.innerType) return unwrap(d.innerType);            // default, prefault, optional, nullable, catch, readonly
  if (d.type === 'pipe' && d.in) return unwrap(d.in);     // transform
  if (d.type === 'union' && d.options) return d.options.flatMap(unwrap);
  return [n];
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
