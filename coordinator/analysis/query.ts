// Result queries over RunRecords: filter (sweep, arm, method, seed, status or any arm
// parameter), group (same keys), aggregate over seeds (mean, std, count, bootstrap 95%
// interval of the mean), sort ('-key' for descending). Produces a Table that format.ts
// prints as text, CSV or JSON. Unknown keys throw UnknownKeyError listing the allowed ones.

import { computeMoney, countedPhases, dataMoney, deviceSeconds, flopsTotal } from './costs.js';
import { UnknownKeyError } from './errors.js';
import { bootstrapMeanCI, mean, seedFor, std, DEFAULT_BOOTSTRAP_SEED, type BootstrapOptions } from './stats.js';
import { ACC_ID, ACC_OOD, PHASES, type CostOptions, type RunRecord } from './types.js';

export type CellValue = string | number | null;
/** How a column is printed in the text table; CSV and JSON keep full precision. */
export type ColumnFormat = 'text' | 'int' | 'acc' | 'sci' | 'money' | 'seconds' | 'number';
export interface Column { key: string; label: string; format: ColumnFormat }
export interface Table { columns: Column[]; rows: Record<string, CellValue>[] }

export type FilterValue = string | number | boolean;
export interface QueryOptions extends CostOptions {
  /** key -> value (or list of values, any matching). Values compare as strings, so the CLI's
   *  {n: '100'} matches a numeric param n = 100. */
  filter?: Record<string, FilterValue | FilterValue[]>;
  groupBy?: string[];            // default ['method', 'arm']
  sort?: string[];               // default: group keys ascending; '-acc_id_mean' descends
  /** Output columns; default DEFAULT_COLUMNS. 'm:<metric>' adds the mean of any metric. */
  columns?: string[];
  statuses?: string[] | 'all';   // default ['succeeded']
  bootstrap?: BootstrapOptions;
}

/** Record fields usable in filter and group-by besides the arm parameters. */
export const RECORD_KEYS = ['sweep', 'arm', 'method', 'seed', 'status'] as const;
export const DEFAULT_GROUP_BY = ['method', 'arm'];

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
  { key: 'n_seeds', label: 'n_seeds', format: 'int' },
  { key: 'acc_id_mean', label: 'acc_id', format: 'acc' },
  { key: 'acc_id_std', label: 'acc_id_std', format: 'acc' },
  { key: 'acc_id_ci_lo', label: 'acc_id_ci_lo', format: 'acc' },
  { key: 'acc_id_ci_hi', label: 'acc_id_ci_hi', format: 'acc' },
  { key: 'acc_ood_mean', label: 'acc_ood', format: 'acc' },
  { key: 'acc_ood_std', label: 'acc_ood_std', format: 'acc' },
  { key: 'acc_ood_ci_lo', label: 'acc_ood_ci_lo', format: 'acc' },
  { key: 'acc_ood_ci_hi', label: 'acc_ood_ci_hi', format: 'acc' },
  { key: 'flops', label: 'flops', format: 'sci' },
  ...PHASES.map((p): Column => ({ key: `flops_${p}`, label: `flops_${p}`, format: 'sci' })),
  { key: 'device_s', label: 'device_s', format: 'seconds' },
  ...PHASES.map((p): Column => ({ key: `device_s_${p}`, label: `device_s_${p}`, format: 'seconds' })),
  { key: 'money', label: 'money', format: 'money' },
  { key: 'money_compute', label: 'money_compute', format: 'money' },
  { key: 'money_data', label: 'money_data', format: 'money' },
  { key: 'curated_examples', label: 'curated_examples', format: 'number' },
];

/** Default output columns after the group keys: flops by phase lists the counted phases. */
export function defaultColumns(opts: CostOptions = {}): string[] {
  return [
    'n_seeds', 'acc_id_mean', 'acc_id_std', 'acc_id_ci_lo', 'acc_id_ci_hi', 'acc_ood_mean', 'acc_ood_std',
    'flops', ...countedPhases(opts).map((p) => `flops_${p}`), 'device_s', 'money', 'curated_examples',
  ];
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
    if (!allowed.includes(key)) throw new UnknownKeyError('sort', key, allowed);
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

function aggregateGroup(g: Group, groupBy: readonly string[], opts: QueryOptions): Record<string, CellValue> {
  const rs = g.records;
  const row: Record<string, CellValue> = {};
  groupBy.forEach((k, i) => {
    const v = g.key[i];
    row[k] = v === null || v === undefined ? null : typeof v === 'boolean' ? String(v) : v;
  });
  const bootSeed = opts.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const label = JSON.stringify(g.key);
  row.n_seeds = rs.length;
  for (const [name, metric] of [['acc_id', ACC_ID], ['acc_ood', ACC_OOD]] as const) {
    const xs = finite(rs.map((r) => r.metrics[metric]));
    const ci = bootstrapMeanCI(xs, { ...opts.bootstrap, seed: seedFor(bootSeed, `${name}|${label}`) });
    row[`${name}_mean`] = orNull(mean(xs));
    row[`${name}_std`] = orNull(std(xs));
    row[`${name}_ci_lo`] = orNull(ci.lo);
    row[`${name}_ci_hi`] = orNull(ci.hi);
  }
  row.flops = orNull(mean(rs.map((r) => flopsTotal(r, opts))));
  for (const p of PHASES) {
    row[`flops_${p}`] = orNull(mean(rs.map((r) => r.flopsByPhase[p] ?? 0)));
    row[`device_s_${p}`] = orNull(mean(rs.map((r) => r.deviceSByPhase[p] ?? 0)));
  }
  row.device_s = orNull(mean(rs.map((r) => deviceSeconds(r, opts))));
  const mc = mean(rs.map((r) => computeMoney(r, opts)));
  const md = mean(rs.map((r) => dataMoney(r, opts)));
  row.money = orNull(mc + md);
  row.money_compute = orNull(mc);
  row.money_data = orNull(md);
  row.curated_examples = orNull(mean(rs.map((r) => r.curatedExamples)));
  return row;
}

/** Runs a query: filter -> group -> aggregate over seeds -> sort -> project columns. */
export function queryRuns(records: readonly RunRecord[], opts: QueryOptions = {}): Table {
  const groupBy = opts.groupBy ?? DEFAULT_GROUP_BY;
  const kept = filterRecords(records, opts.filter, opts.statuses);
  const fixed = fixedColumns();
  const fixedKeys = fixed.map((c) => c.key);
  const wanted = opts.columns ?? defaultColumns(opts);
  const columns: Column[] = [];
  for (const k of groupBy) {
    const numeric = kept.length > 0 && kept.every((r) => typeof keyValue(r, k) === 'number' || keyValue(r, k) === null);
    columns.push({ key: k, label: k, format: numeric ? 'number' : 'text' });
  }
  for (const key of wanted) {
    const col = fixed.find((c) => c.key === key);
    if (col) columns.push(col);
    else if (key.startsWith('m:') && key.length > 2) columns.push({ key, label: key.slice(2), format: 'number' });
    else throw new UnknownKeyError('column', key, [...fixedKeys, 'm:<metric key>']);
  }
  const rows = groupRecords(kept, groupBy).map((g) => {
    const row = aggregateGroup(g, groupBy, opts);
    for (const c of columns) {
      if (c.key.startsWith('m:')) row[c.key] = orNull(mean(finite(g.records.map((r) => r.metrics[c.key.slice(2)]))));
    }
    return row;
  });
  const sortable = [...groupBy, ...fixedKeys, ...columns.map((c) => c.key)];
  sortRows(rows, opts.sort ?? groupBy, [...new Set(sortable)]);
  const projected = rows.map((row) => Object.fromEntries(columns.map((c) => [c.key, row[c.key] ?? null])));
  return { columns, rows: projected };
}
