// Result queries over RunRecords: filter (sweep, arm, method, seed, status or any arm
// parameter), group (same keys), aggregate (arm means over seeds first, so a group that
// pools several arms counts distinct seeds and says so), sort ('-key' for descending).
// Produces a Table (columns, rows, notes) that format.ts prints as text, CSV or JSON; one
// key per column in all three and in --sort. Unknown keys throw UnknownKeyError.

import { computeMoney, countedPhases, dataMoney, deviceSeconds, flopsTotal } from './costs.js';
import { UnknownKeyError } from './errors.js';
import { bootstrapMeanCI, mean, seedFor, std, DEFAULT_BOOTSTRAP_SEED, type BootstrapOptions } from './stats.js';
import { ACC_ID, ACC_OOD, PHASES, type CostOptions, type RunRecord } from './types.js';

export type CellValue = string | number | null;
/** How a column is printed in the text table; CSV and JSON keep full precision. */
/** pm: a ± half-width; signed: a difference printed with its sign. */
export type ColumnFormat = 'text' | 'int' | 'acc' | 'pm' | 'signed' | 'sci' | 'money' | 'seconds' | 'number';
export interface Column { key: string; label: string; format: ColumnFormat }
/** notes: what a reader must know about these rows (too few seeds, pooled arms). */
export interface Table { columns: Column[]; rows: Record<string, CellValue>[]; notes?: string[] }

export type FilterValue = string | number | boolean;
export interface QueryOptions extends CostOptions {
  /** key -> value (or list of values, any matching). Values compare as strings, so the CLI's
   *  {n: '100'} matches a numeric param n = 100. */
  filter?: Record<string, FilterValue | FilterValue[]>;
  groupBy?: string[];            // default ['arm'] (rows then sorted by method, arm)
  sort?: string[];               // default: group keys ascending; '-acc_id' descends
  /** Output columns; default shortColumns(), or wideColumns() with wide. 'm:<metric>' adds
   *  the mean of any metric. */
  columns?: string[];
  wide?: boolean;
  statuses?: string[] | 'all';   // default ['succeeded']
  bootstrap?: BootstrapOptions;
}

/** Record fields usable in filter and group-by besides the arm parameters. */
export const RECORD_KEYS = ['sweep', 'arm', 'method', 'seed', 'status'] as const;
export const DEFAULT_GROUP_BY = ['arm'];
/** Below this many seeds a row gets no 95% interval (two values make no interval). */
export const MIN_SEEDS_FOR_CI = 3;

/** Keys usable in filter and group-by for these records: record fields + every param key. */
export function allowedKeys(records: readonly RunRecord[]): string[] {
  const params = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.params)) params.add(k);
  return [...RECORD_KEYS, ...[...params].filter((k) => !(RECORD_KEYS as readonly string[]).includes(k)).sort()];
}

/** Value of a filter/group key on a record; null when the record's arm lacks that param. */
export function keyValue(r: RunRecord, key: string): string | number | boolean | null {
  switch (key) {
    case 'sweep': return r.sweep;
    case 'arm': return r.arm;
    case 'method': return r.method;
    case 'seed': return r.seed;
    case 'status': return r.status;
    default: return r.params[key] ?? null;
  }
}

export function filterRecords(
  records: readonly RunRecord[],
  filter: QueryOptions['filter'] = {},
  statuses: QueryOptions['statuses'] = ['succeeded'],
): RunRecord[] {
  const allowed = allowedKeys(records);
  for (const k of Object.keys(filter)) if (!allowed.includes(k)) throw new UnknownKeyError('filter', k, allowed);
  return records.filter((r) => {
    if (statuses !== 'all' && !statuses.includes(r.status)) return false;
    for (const [k, want] of Object.entries(filter)) {
      const v = keyValue(r, k);
      const wants = (Array.isArray(want) ? want : [want]).map(String);
      if (v === null || !wants.includes(String(v))) return false;
    }
    return true;
  });
}

const fixedColumns = (): Column[] => [
  { key: 'n_arms', label: 'n_arms', format: 'int' },
  { key: 'n_seeds', label: 'n_seeds', format: 'int' },
  ...(['id', 'ood'] as const).flatMap((s): Column[] => [
    { key: `acc_${s}`, label: `acc_${s}`, format: 'acc' },
    { key: `acc_${s}_ci`, label: `acc_${s}_ci`, format: 'pm' },
    { key: `acc_${s}_std`, label: `acc_${s}_std`, format: 'acc' },
    { key: `acc_${s}_ci_lo`, label: `acc_${s}_ci_lo`, format: 'acc' },
    { key: `acc_${s}_ci_hi`, label: `acc_${s}_ci_hi`, format: 'acc' },
  ]),
  { key: 'gain_id', label: 'gain_id', format: 'signed' },
  { key: 'flops', label: 'flops', format: 'sci' },
  ...PHASES.map((p): Column => ({ key: `flops_${p}`, label: `flops_${p}`, format: 'sci' })),
  { key: 'device_s', label: 'device_s', format: 'seconds' },
  ...PHASES.map((p): Column => ({ key: `device_s_${p}`, label: `device_s_${p}`, format: 'seconds' })),
  { key: 'money', label: 'money', format: 'money' },
  { key: 'money_compute', label: 'money_compute', format: 'money' },
  { key: 'money_data', label: 'money_data', format: 'money' },
  { key: 'curated_examples', label: 'curated_examples', format: 'number' },
];

/** Every column key a query can produce (besides group keys and m:<metric>). */
export const COLUMN_KEYS: readonly string[] = fixedColumns().map((c) => c.key);

/** The short default: accuracy with its interval, gain over base, method cost, data. */
export function shortColumns(): string[] {
  return ['n_seeds', 'acc_id', 'acc_id_ci', 'acc_ood', 'acc_ood_ci', 'gain_id', 'flops', 'curated_examples'];
}

/** --wide: intervals as ends, std, FLOPs by phase (counted ones plus evaluation, reported
 *  beside the method cost), device-seconds and money. */
export function wideColumns(opts: CostOptions = {}): string[] {
  const phases = PHASES.filter((p) => countedPhases(opts).includes(p) || p === 'evaluation');
  return [
    'n_seeds', 'acc_id', 'acc_id_std', 'acc_id_ci_lo', 'acc_id_ci_hi', 'acc_ood', 'acc_ood_std', 'acc_ood_ci_lo', 'acc_ood_ci_hi',
    'gain_id', 'flops', ...phases.map((p) => `flops_${p}`), 'device_s', 'money', 'money_compute', 'money_data', 'curated_examples',
  ];
}

/** @deprecated name kept for callers: the wide column list. */
export const defaultColumns = wideColumns;

/** What each column means: printed as the legend under a text table. */
const LEGEND: [RegExp, string][] = [
  [/^n_arms$/, 'arms pooled in the row (see the note above)'],
  [/^n_seeds$/, 'distinct seeds with a result'],
  [/^acc_(id|ood)$/, 'pass@1 on test_$1: mean over seeds (of the arms\' mean per seed when a row pools arms)'],
  [/^acc_(id|ood)_ci$/, `± half-width of the 95% bootstrap interval of that mean; '-' under ${MIN_SEEDS_FOR_CI} seeds`],
  [/^acc_(id|ood)_std$/, 'sample standard deviation over seeds'],
  [/^acc_(id|ood)_ci_(lo|hi)$/, `ends of the 95% bootstrap interval of the mean; '-' under ${MIN_SEEDS_FOR_CI} seeds`],
  [/^gain_id$/, 'acc_id minus the mean acc_id of the base-method arm of the same sweep (and base)'],
  [/^flops$/, 'method cost in FLOPs: curation + tuning + training + rollout (+ evaluation for icl)'],
  [/^flops_(\w+)$/, 'FLOPs of the $1 phase (mean over seeds)'],
  [/^device_s$/, 'device-seconds of the method cost'],
  [/^device_s_(\w+)$/, 'device-seconds of the $1 phase'],
  [/^money$/, 'dollars: device time of the method cost + curated data, at the sweep\'s prices'],
  [/^money_compute$/, 'dollars of device time'],
  [/^money_data$/, 'dollars of curated examples'],
  [/^curated_examples$/, 'curated examples the arm was trained on or shown'],
  [/^m:(.+)$/, 'mean of metric $1'],
];

/** One line per shown non-group column: 'key  meaning'. */
export function legend(t: Table, groupKeys: readonly string[] = []): string[] {
  const cols = t.columns.filter((c) => !groupKeys.includes(c.key));
  const w = Math.max(0, ...cols.map((c) => c.label.length));
  const out: string[] = [];
  for (const c of cols) {
    const hit = LEGEND.find(([re]) => re.test(c.key));
    if (hit) out.push(`${c.label.padEnd(w)}  ${c.key.replace(hit[0], hit[1])}`);
  }
  return out;
}

/** Notes a reader needs, derived from the rows alone (so a table that came over gRPC gets
 *  the same ones): rows under MIN_SEEDS_FOR_CI seeds, rows pooling several arms. */
export function tableNotes(t: Table): string[] {
  const keys = new Set(t.columns.map((c) => c.key));
  const groupCols = t.columns.filter((c) => !COLUMN_KEYS.includes(c.key) && !c.key.startsWith('m:')).map((c) => c.key);
  const label = (r: Record<string, CellValue>) => groupCols.map((k) => (groupCols.length > 1 ? `${k}=${r[k] ?? '-'}` : String(r[k] ?? '-'))).join(',');
  const notes: string[] = [];
  const few = t.rows.filter((r) => typeof r.n_seeds === 'number' && r.n_seeds < MIN_SEEDS_FOR_CI);
  const showsInterval = [...keys].some((k) => /^acc_(id|ood)_ci/.test(k));
  // Per-seed rows (grouped by seed) have one value each by design: no warning for that.
  if (few.length && showsInterval && !groupCols.includes('seed')) {
    const names = few.slice(0, 6).map(label).join(', ') + (few.length > 6 ? `, and ${few.length - 6} more` : '');
    notes.push(`warning: ${few.length} row(s) have fewer than ${MIN_SEEDS_FOR_CI} seeds (${names}): no 95% interval is given for them; run at least ${MIN_SEEDS_FOR_CI} seeds to get one`);
  }
  const pooled = t.rows.filter((r) => typeof r.n_arms === 'number' && r.n_arms > 1);
  if (pooled.length) {
    notes.push(`${pooled.length} row(s) pool several arms (n_arms > 1): their accuracy is the mean over seeds of the pooled arms' mean per seed, their costs the mean over arms; add arm to --group-by to see each arm`);
  }
  if (keys.has('gain_id') && t.rows.length && t.rows.every((r) => r.gain_id === null || r.gain_id === undefined)) {
    notes.push("gain_id is '-': no base-method arm with results to compare against");
  }
  return notes;
}

function finite(xs: (number | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

interface Group { key: (string | number | boolean | null)[]; records: RunRecord[] }

export function groupRecords(records: readonly RunRecord[], groupBy: readonly string[]): Group[] {
  const allowed = allowedKeys(records);
  for (const k of groupBy) if (!allowed.includes(k)) throw new UnknownKeyError('group-by', k, allowed);
  const groups = new Map<string, Group>();
  for (const r of records) {
    const key = groupBy.map((k) => keyValue(r, k));
    const id = JSON.stringify(key);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, records: [] }));
    g.records.push(r);
  }
  return [...groups.values()];
}

/** Compares cells: numbers (and numeric strings) numerically, others as text, null last. */
export function compareCells(a: CellValue, b: CellValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  const na = typeof a === 'number' ? a : Number(a);
  const nb = typeof b === 'number' ? b : Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a).localeCompare(String(b));
}

export function sortRows(rows: Record<string, CellValue>[], sort: readonly string[], allowed: readonly string[]): void {
  const keys = sort.map((s) => {
    const desc = s.startsWith('-');
    const key = desc ? s.slice(1) : s;
    if (!allowed.includes(key)) throw new UnknownKeyError('sort', key, allowed.filter((k) => !k.startsWith('\u0000')));
    return { key, desc };
  });
  rows.sort((x, y) => {
    for (const { key, desc } of keys) {
      const a = x[key] ?? null, b = y[key] ?? null;
      if (a === null || b === null) { const c = compareCells(a, b); if (c) return c; continue; } // null last either way
      const c = compareCells(a, b);
      if (c) return desc ? -c : c;
    }
    return 0;
  });
}

const armKey = (r: RunRecord) => `${r.sweep}\u0000${r.arm}`;
const baseKey = (r: RunRecord) => `${r.sweep}\u0000${String(r.params.base ?? '')}`;

/** Mean acc_id of the base-method arms per (sweep, params.base): arm means first. */
function baseAccuracy(records: readonly RunRecord[]): Map<string, number> {
  const arms = new Map<string, { key: string; xs: number[] }>();
  for (const r of records) {
    if (r.method !== 'base' || !Number.isFinite(r.metrics[ACC_ID])) continue;
    const a = arms.get(armKey(r)) ?? { key: baseKey(r), xs: [] };
    arms.set(armKey(r), a);
    a.xs.push(r.metrics[ACC_ID]!);
  }
  const by = new Map<string, number[]>();
  for (const a of arms.values()) by.set(a.key, [...(by.get(a.key) ?? []), mean(a.xs)]);
  return new Map([...by].map(([k, xs]) => [k, mean(xs)]));
}

/** Per seed, the mean over the group's arms that have that seed: the values a group's
 *  accuracy, spread and interval are computed from (one per distinct seed). */
function perSeedValues(rs: readonly RunRecord[], value: (r: RunRecord) => number | undefined): number[] {
  const by = new Map<number, number[]>();
  for (const r of rs) {
    const v = value(r);
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    by.set(r.seed, [...(by.get(r.seed) ?? []), v]);
  }
  return [...by.keys()].sort((a, b) => a - b).map((s) => mean(by.get(s)!));
}

/** Mean over the group's arms of each arm's mean over its seeds. */
function armMean(arms: readonly RunRecord[][], value: (r: RunRecord) => number): number {
  return mean(arms.map((rs) => mean(rs.map(value))));
}

function aggregateGroup(g: Group, groupBy: readonly string[], opts: QueryOptions, bases: Map<string, number>): Record<string, CellValue> {
  const rs = g.records;
  const row: Record<string, CellValue> = {};
  groupBy.forEach((k, i) => {
    const v = g.key[i];
    row[k] = v === null || v === undefined ? null : typeof v === 'boolean' ? String(v) : v;
  });
  const byArm = new Map<string, RunRecord[]>();
  for (const r of rs) byArm.set(armKey(r), [...(byArm.get(armKey(r)) ?? []), r]);
  const arms = [...byArm.values()];
  const bootSeed = opts.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  // The bootstrap's seed comes from the group's values less the sweep id, so a rerun of the
  // same spec (same data, new sweep id) gets the same intervals.
  const label = JSON.stringify(g.key.filter((_, i) => groupBy[i] !== 'sweep'));
  row.n_arms = arms.length;
  row.n_seeds = new Set(rs.map((r) => r.seed)).size;
  for (const [name, metric] of [['acc_id', ACC_ID], ['acc_ood', ACC_OOD]] as const) {
    const xs = perSeedValues(rs, (r) => r.metrics[metric]);
    const ci = xs.length >= MIN_SEEDS_FOR_CI
      ? bootstrapMeanCI(xs, { ...opts.bootstrap, seed: seedFor(bootSeed, `${name}|${label}`) })
      : { lo: NaN, hi: NaN };
    row[name] = orNull(mean(xs));
    row[`${name}_std`] = orNull(std(xs));
    row[`${name}_ci_lo`] = orNull(ci.lo);
    row[`${name}_ci_hi`] = orNull(ci.hi);
    row[`${name}_ci`] = orNull((ci.hi - ci.lo) / 2);
  }
  // Gain over base: each arm against the base arm of its own sweep (and base), then averaged.
  const gains = arms.map((a) => {
    const b = bases.get(baseKey(a[0]!));
    const acc = mean(finite(a.map((r) => r.metrics[ACC_ID])));
    return b === undefined ? NaN : acc - b;
  }).filter(Number.isFinite);
  row.gain_id = gains.length === arms.length ? orNull(mean(gains)) : null;
  row.flops = orNull(armMean(arms, (r) => flopsTotal(r, opts)));
  for (const p of PHASES) {
    row[`flops_${p}`] = orNull(armMean(arms, (r) => r.flopsByPhase[p] ?? 0));
    row[`device_s_${p}`] = orNull(armMean(arms, (r) => r.deviceSByPhase[p] ?? 0));
  }
  row.device_s = orNull(armMean(arms, (r) => deviceSeconds(r, opts)));
  const mc = armMean(arms, (r) => computeMoney(r, opts));
  const md = armMean(arms, (r) => dataMoney(r, opts));
  row.money = orNull(mc + md);
  row.money_compute = orNull(mc);
  row.money_data = orNull(md);
  row.curated_examples = orNull(armMean(arms, (r) => r.curatedExamples));
  return row;
}

/** Runs a query: filter -> group -> aggregate (arm means over seeds, then over arms) ->
 *  sort -> project columns. n_arms is added after the group keys when a row pools arms. */
export function queryRuns(records: readonly RunRecord[], opts: QueryOptions = {}): Table {
  const groupBy = opts.groupBy ?? DEFAULT_GROUP_BY;
  const kept = filterRecords(records, opts.filter, opts.statuses);
  const bases = baseAccuracy(filterRecords(records, {}, opts.statuses));
  const fixed = fixedColumns();
  const fixedKeys = fixed.map((c) => c.key);
  const wanted = opts.columns ?? (opts.wide ? wideColumns(opts) : shortColumns());
  const groups = groupRecords(kept, groupBy);
  const rows = groups.map((g) => {
    const row = aggregateGroup(g, groupBy, opts, bases);
    for (const key of wanted) {
      if (key.startsWith('m:')) row[key] = orNull(mean(perSeedValues(g.records, (r) => r.metrics[key.slice(2)])));
    }
    // Default grouping by arm: order rows by method, then arm.
    if (!opts.sort && !opts.groupBy) row['\u0000method'] = g.records[0]!.method;
    return row;
  });
  const pools = rows.some((r) => (r.n_arms as number) > 1);
  const columns: Column[] = [];
  for (const k of groupBy) {
    const numeric = kept.length > 0 && kept.every((r) => typeof keyValue(r, k) === 'number' || keyValue(r, k) === null);
    columns.push({ key: k, label: k, format: numeric ? 'number' : 'text' });
  }
  for (const key of pools && !wanted.includes('n_arms') ? ['n_arms', ...wanted] : wanted) {
    const col = fixed.find((c) => c.key === key);
    if (col) columns.push(col);
    else if (key.startsWith('m:') && key.length > 2) columns.push({ key, label: key, format: 'number' });
    else throw new UnknownKeyError('column', key, [...fixedKeys, 'm:<metric key>']);
  }
  const sortable = [...new Set([...groupBy, ...fixedKeys, ...columns.map((c) => c.key)])];
  sortRows(rows, opts.sort ?? (opts.groupBy ? groupBy : ['\u0000method', ...groupBy]), [...sortable, '\u0000method']);
  const projected = rows.map((row) => Object.fromEntries(columns.map((c) => [c.key, row[c.key] ?? null])));
  const t: Table = { columns, rows: projected };
  t.notes = tableNotes(t);
  return t;
}
