// `limolab results`, `limolab report`, `limolab plot`: result tables from a running
// coordinator (gRPC QueryResults) or straight from the SQLite file (--db), a self-contained
// HTML report, and single figures as SVG or PNG. Report and plot read the SQLite file
// (default ./limolab.db) because they need every record of the sweep.
import { existsSync, writeFileSync } from 'node:fs';
import { ConnectionError, SpecError, LimolabError, NotFoundError } from '../common/errors.js';
import type { QueryResultsResponse, Sweep } from '../gen/limolab/v1/coordinator.js';
import { loadRunRecords, loadTrainCurves, pricesOf } from '../coordinator/results.js';
import type { Store, SweepRow } from '../coordinator/store/store.js';
import {
  formatTable, queryRuns, type CellValue, type Column, type FilterValue, type RunRecord, type Table, type TableFormat,
} from '../coordinator/analysis/index.js';
import { COLUMN_KEYS, DEFAULT_GROUP_BY, legend, shortColumns, tableNotes } from '../coordinator/analysis/query.js';
import { sweepHealth } from '../coordinator/report/sweep-health.js';
import { armColors, buildReport, renderPlot, ALL_PLOT_NAMES, type PlotName } from '../coordinator/report/index.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, parse } from './args.js';
import { openStore, resolveSweep } from './results-db.js';
import { Client } from './client.js';

const DEFAULT_DB = 'limolab.db';

const RESULTS_USAGE = `Usage: limolab results [options]

One row per arm: accuracy (mean over seeds, ± half-width of a bootstrap 95% interval when
there are at least 3 seeds), gain over the base model, method cost and curated data, with a
legend under the table. Reads ./${DEFAULT_DB} when it exists and neither --db nor
--coordinator is given; otherwise asks the coordinator. The database is opened read-only.
Money uses the sweep spec's prices: block when it has one, else the default prices.
  --db FILE               read this SQLite file (default ./${DEFAULT_DB} when present)
  --sweep ID              the sweep (default: the latest one)
  --filter KEY=VALUE      keep rows whose arm has KEY=VALUE (sweep, arm, method, seed, status
                          or any arm parameter); repeat for several keys; from a database
                          the same key twice matches either value
  --group-by A,B          group keys (default arm); a row that pools several arms shows
                          n_arms, and n_seeds counts distinct seeds
  --sort COL              sort by a column key as printed; - for descending (--sort -acc_id)
  --per-seed              one row per arm and seed (group by arm,seed)
  --wide                  every column: interval ends, std, FLOPs by phase, device-seconds, money
  --format F              table, csv or json (default table); column keys are the same in all
${CLIENT_HELP} (same as --format json)`;

const RESULTS_OPTIONS = {
  ...CLIENT_OPTIONS, db: { type: 'string' }, sweep: { type: 'string' }, filter: { type: 'string', multiple: true },
  'group-by': { type: 'string' }, sort: { type: 'string' }, 'per-seed': { type: 'boolean' }, format: { type: 'string' }, wide: { type: 'boolean' },
} as const;

/** Where a read command gets its data: --db, else --coordinator (or LIMOLAB_COORDINATOR),
 *  else ./limolab.db when it exists, else the default coordinator address. */
export function readSource(v: { db?: string; coordinator?: string }): { db: string } | { coordinator: true; implicit: boolean } {
  if (v.db !== undefined) return { db: v.db };
  if (v.coordinator !== undefined || process.env.LIMOLAB_COORDINATOR) return { coordinator: true, implicit: false };
  if (existsSync(DEFAULT_DB)) return { db: DEFAULT_DB };
  return { coordinator: true, implicit: true };
}

export async function resultsMain(argv: string[]): Promise<number> {
  // "--sort -acc_id" would read as short options; take the value as it was meant.
  const args = argv.flatMap((a, i) => (argv[i - 1] === '--sort' && a.startsWith('-') ? [] : a === '--sort' && argv[i + 1]?.startsWith('-') ? [`--sort=${argv[i + 1]}`] : [a]));
  const { values: v, positionals: p } = parse(args, RESULTS_OPTIONS, RESULTS_USAGE);
  if (v.help) { console.log(RESULTS_USAGE); return 0; }
  if (p.length) throw new SpecError(`limolab results takes no positional arguments (got ${p.join(' ')}); pass the sweep with --sweep ID\n\n${RESULTS_USAGE}`);
  const format = tableFormat(v.json ? 'json' : v.format);
  const filter = parseFilters(v.filter ?? []);
  const groupBy = v['group-by'] ? v['group-by'].split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const perSeed = !!v['per-seed'];
  const wide = !!v.wide;
  const src = readSource(v);

  if ('db' in src) {
    const store = openStore(src.db);
    try {
      const sweep = resolveSweep(store, src.db, v.sweep);
      const { table: t, health, records } = dbResults(store, sweep, { filter, groupBy: perSeed ? ['arm', 'seed'] : groupBy, sort: v.sort, wide });
      printResults(t, format, health, perSeed ? ['arm', 'seed'] : groupBy ?? DEFAULT_GROUP_BY);
      if (!t.rows.length) process.stderr.write(emptyNote(sweep.id, records) + '\n');
      return 0;
    } finally {
      store.close();
    }
  }

  const client = new Client(clientFrom(v));
  try {
    let sweep: Sweep;
    try {
      if (!v.sweep || v.sweep === 'latest') {
        const r = await client.call<object, { sweeps: Sweep[] }>('listSweeps', { limit: 1, status: '' });
        if (!r.sweeps.length) throw new NotFoundError(`the coordinator at ${client.opts.address} has no sweeps yet; submit one with \`limolab sweep submit <spec.yaml>\``);
        sweep = r.sweeps[0]!;
      } else {
        sweep = await client.call<object, Sweep>('getSweep', { id: v.sweep, includeTasks: false }); // a clear NOT_FOUND for a wrong id
      }
    } catch (err) {
      if (src.implicit && err instanceof ConnectionError) {
        throw new ConnectionError(`no ./${DEFAULT_DB} in this directory and no coordinator at ${client.opts.address}; run \`limolab run <spec.yaml>\` here first, or pass --db FILE or --coordinator HOST:PORT`, { cause: err });
      }
      throw err;
    }
    const single: Record<string, string> = {};
    for (const [k, val] of Object.entries(filter)) {
      if (Array.isArray(val)) throw new SpecError(`--filter ${k} is given ${val.length} times; a coordinator query takes one value per key (use --db FILE for several)`);
      single[k] = String(val);
    }
    const { table: t, health } = await coordinatorResults(client, sweep, { filter: single, groupBy, sort: v.sort, perSeed, wide });
    printResults(t, format, health, perSeed ? ['arm', 'seed'] : groupBy ?? DEFAULT_GROUP_BY);
    if (!t.rows.length) process.stderr.write(`sweep ${sweep.id} has no succeeded arm matching this query yet; \`limolab sweep status ${sweep.id}\` shows its progress\n`);
    return 0;
  } finally {
    client.close();
  }
}

/** The arm table of a sweep in a SQLite file and the flags above it: what `limolab results
 *  --db` prints, and what `limolab run` prints when its sweep ends. */
export function dbResults(store: Store, sweep: SweepRow,
  o: { filter?: Record<string, FilterValue | FilterValue[]>; groupBy?: string[]; sort?: string; wide?: boolean } = {}) {
  const records = loadRunRecords(store, sweep.id);
  const table = queryRuns(records, { filter: o.filter ?? {}, groupBy: o.groupBy, sort: o.sort ? [o.sort] : undefined, prices: pricesOf(sweep), wide: !!o.wide });
  const health = sweepHealth({ id: sweep.id, status: sweep.status, counts: store.taskCounts(sweep.id), error: sweep.error }, records);
  return { table, health, records };
}

/** The same from a coordinator: what `limolab results` prints, and `sweep watch` at the end. */
export async function coordinatorResults(client: Client, sweep: Sweep,
  o: { filter?: Record<string, string>; groupBy?: string[]; sort?: string; perSeed?: boolean; wide?: boolean } = {}) {
  const res = await client.call<object, QueryResultsResponse>('queryResults', { sweep: sweep.id, filter: o.filter ?? {}, groupBy: o.groupBy ?? [], sort: o.sort ?? '', perSeed: !!o.perSeed });
  const table = tableFromWire(res, !!o.wide);
  // Each arm x seed run's status, so the flags can name the arms missing seeds (as from a database).
  const runs = await client.call<object, QueryResultsResponse>('queryResults', { sweep: sweep.id, filter: {}, groupBy: ['arm', 'seed', 'status'], sort: '', perSeed: false, statuses: ['all'] })
    .then((r) => r.rows.map((x) => ({ arm: String((x as Record<string, unknown>).arm), status: String((x as Record<string, unknown>).status) })), () => undefined);
  const health = sweepHealth({ id: sweep.id, status: sweep.status, counts: sweep.counts as unknown as Record<string, number> | undefined, error: sweep.error }, runs);
  return { table, health };
}

/** Text: the sweep's health flags, the table, its notes and a legend. CSV: the table, flags
 *  and notes on stderr. JSON: flags and notes under "notes". */
export function printResults(t: Table, format: TableFormat, health: string[], groupKeys: readonly string[]): void {
  const flags = health.map((l) => `warning: ${l}`);
  const notes = [...flags, ...(t.notes ?? [])];
  if (format === 'json') { process.stdout.write(formatTable({ ...t, notes }, 'json')); return; }
  if (format === 'csv') {
    process.stdout.write(formatTable(t, 'csv'));
    if (notes.length) process.stderr.write(notes.join('\n') + '\n');
    return;
  }
  const out: string[] = [];
  if (flags.length) out.push(...flags, '');
  out.push(formatTable(t, 'text').trimEnd());
  if (t.notes?.length) out.push('', ...t.notes);
  const leg = legend(t, groupKeys);
  if (leg.length && t.rows.length) out.push('', ...leg);
  process.stdout.write(out.join('\n') + '\n');
}

const REPORT_USAGE = `Usage: limolab report <sweep-id|latest> -o report.html [options]

Writes one self-contained HTML file (inline SVG figures, tables, the prices used and the
sweep spec; no scripts, no network) from the SQLite file.
  -o, --output FILE       where to write the report (required)
  --db FILE               SQLite file (default ./${DEFAULT_DB})
  --title TEXT            report title (default: the sweep's name and id)
  --include-pretrain      count pretraining in the cost axes (default: left out)
  --exclude-curation      leave curation out of the cost axes (default: counted)
Prices come from the spec's prices: block when it has one, else the defaults.`;

export async function reportMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    output: { type: 'string', short: 'o' }, db: { type: 'string' }, title: { type: 'string' },
    'include-pretrain': { type: 'boolean' }, 'exclude-curation': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, REPORT_USAGE);
  if (v.help) { console.log(REPORT_USAGE); return 0; }
  if (!p[0]) throw new SpecError(`limolab report needs a sweep id (or "latest")\n\n${REPORT_USAGE}`);
  if (!v.output) throw new SpecError(`limolab report needs -o FILE, the HTML file to write\n\n${REPORT_USAGE}`);
  const db = v.db ?? DEFAULT_DB;
  const store = openStore(db);
  try {
    const sweep = resolveSweep(store, db, p[0]);
    const records = requireSucceeded(sweep, loadRunRecords(store, sweep.id));
    const health = sweepHealth({ id: sweep.id, status: sweep.status, counts: store.taskCounts(sweep.id), error: sweep.error }, records);
    const html = await buildReport(records, {
      title: v.title ?? `limolab sweep ${sweep.name} (${sweep.id})`, specText: sweep.specText, prices: pricesOf(sweep), curves: loadTrainCurves(store, sweep.id),
      includePretrain: !!v['include-pretrain'], includeCuration: !v['exclude-curation'], health,
    });
    writeOut(v.output, html);
    const arms = new Set(records.filter((r) => r.status === 'succeeded').map((r) => r.arm)).size;
    const all = new Set(records.map((r) => r.arm)).size;
    console.error(`wrote ${v.output} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB): sweep ${sweep.id}, ${arms} of ${all} arm(s) with results`);
    for (const l of health) console.error(`warning: ${l}`);
    return 0;
  } finally {
    store.close();
  }
}

const PLOT_USAGE = `Usage: limolab plot <name> -o FILE [options]

One figure of a sweep, from the SQLite file.
  name                    ${ALL_PLOT_NAMES.join(', ')}
  -o, --output FILE       where to write it (required)
  --sweep ID              the sweep (default: the latest one)
  --db FILE               SQLite file (default ./${DEFAULT_DB})
  --format svg|png        default: from the extension of -o (.svg or .png); another
                          extension is refused rather than written with the wrong bytes
  --include-pretrain      count pretraining in the cost axes (default: left out)
  --exclude-curation      leave curation out of the cost axes (default: counted)`;

export async function plotMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    output: { type: 'string', short: 'o' }, sweep: { type: 'string' }, db: { type: 'string' }, format: { type: 'string' },
    'include-pretrain': { type: 'boolean' }, 'exclude-curation': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, PLOT_USAGE);
  if (v.help) { console.log(PLOT_USAGE); return 0; }
  const name = p[0];
  if (!name) throw new SpecError(`limolab plot needs a figure name: one of ${ALL_PLOT_NAMES.join(', ')}\n\n${PLOT_USAGE}`);
  if (!(ALL_PLOT_NAMES as readonly string[]).includes(name)) throw new SpecError(`unknown plot "${name}"; choose one of: ${ALL_PLOT_NAMES.join(', ')}`);
  if (!v.output) throw new SpecError(`limolab plot needs -o FILE, the file to write\n\n${PLOT_USAGE}`);
  const format = plotFormat(v.output, v.format);
  const db = v.db ?? DEFAULT_DB;
  const store = openStore(db);
  try {
    const sweep = resolveSweep(store, db, v.sweep);
    const records = requireSucceeded(sweep, loadRunRecords(store, sweep.id));
    const opts = { prices: pricesOf(sweep), includePretrain: !!v['include-pretrain'], includeCuration: !v['exclude-curation'],
      armColors: armColors(records), curves: name === 'training-loss' ? loadTrainCurves(store, sweep.id) : undefined };
    const out = format === 'png' ? await renderPlot(records, name as PlotName, 'png', opts) : await renderPlot(records, name as PlotName, 'svg', opts);
    writeOut(v.output, out);
    console.error(`wrote ${v.output} (${format}, ${name}): sweep ${sweep.id}`);
    return 0;
  } finally {
    store.close();
  }
}

// ---- shared helpers ----

/** svg or png, from --format or the output's extension; an extension that names another
 *  format (x.jpg) is refused, so the file's bytes always match its name. */
export function plotFormat(output: string, format: string | undefined): 'svg' | 'png' {
  if (format !== undefined && format !== 'svg' && format !== 'png') throw new SpecError(`--format must be svg or png, got "${format}"`);
  const ext = /\.([A-Za-z0-9]+)$/.exec(output)?.[1]?.toLowerCase();
  if (ext === 'svg' || ext === 'png') {
    if (format && format !== ext) throw new SpecError(`-o ${output} ends in .${ext} but --format is ${format}; make them agree`);
    return ext;
  }
  if (ext) throw new SpecError(`limolab plot writes SVG or PNG, not .${ext}: name the output .svg or .png (e.g. -o ${output.replace(/\.[^.]+$/, '.png')})`);
  return (format as 'svg' | 'png' | undefined) ?? 'svg';
}

export function tableFormat(f: string | undefined): TableFormat {
  if (f === undefined || f === 'table' || f === 'text') return 'text';
  if (f === 'csv' || f === 'json') return f;
  throw new SpecError(`--format must be table, csv or json, got "${f}"`);
}

/** "--filter n=100 --filter curation=limo" -> {n: '100', curation: 'limo'}; a key given twice keeps both values. */
export function parseFilters(items: string[]): Record<string, FilterValue | FilterValue[]> {
  const out: Record<string, FilterValue | FilterValue[]> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SpecError(`--filter takes KEY=VALUE (e.g. --filter method=sft), got "${item}"`);
    const k = item.slice(0, eq).trim(), val = item.slice(eq + 1);
    const prev = out[k];
    out[k] = prev === undefined ? val : [...(Array.isArray(prev) ? prev : [prev]), val];
  }
  return out;
}

function emptyNote(sweepId: string, records: RunRecord[]): string {
  if (!records.length) return `sweep ${sweepId} has no arms`;
  const by = countBy(records.map((r) => r.status));
  return `no succeeded arm in sweep ${sweepId} matches this query (arm instances x seeds: ${Object.entries(by).map(([k, n]) => `${n} ${k}`).join(', ')})`;
}

function requireSucceeded(sweep: SweepRow, records: RunRecord[]): RunRecord[] {
  if (!records.length) throw new LimolabError(`sweep ${sweep.id} (${sweep.name}) has no arms: nothing to report`);
  if (!records.some((r) => r.status === 'succeeded')) {
    const by = countBy(records.map((r) => r.status));
    throw new LimolabError(`sweep ${sweep.id} (${sweep.name}) has no succeeded arm yet (${Object.entries(by).map(([k, n]) => `${n} ${k}`).join(', ')}); ` +
      `wait for it with \`limolab sweep watch ${sweep.id}\`, or check its failures with \`limolab sweep status ${sweep.id} --tasks\``);
  }
  return records;
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

// Column formats of every known column, for tables that arrive over gRPC as keys only.
const KNOWN_COLUMNS = new Map(queryRuns([], { groupBy: [], columns: [...COLUMN_KEYS] }).columns.map((c) => [c.key, c]));

/** A QueryResults response as a Table with the same keys, rounding and notes as a local
 *  query. The coordinator answers with every column; the short set is kept unless wide
 *  (its ± half-widths are derived from the interval ends). */
export function tableFromWire(res: QueryResultsResponse, wide = false): Table {
  // An older coordinator named the means acc_id_mean / acc_ood_mean.
  const rename = (k: string) => (k === 'acc_id_mean' || k === 'acc_ood_mean' ? k.replace(/_mean$/, '') : k);
  const rows = res.rows.map((r) => Object.fromEntries(Object.entries(r as Record<string, CellValue>).map(([k, x]) => [rename(k), x ?? null])));
  const have = res.columns.map(rename);
  for (const s of ['id', 'ood']) {
    if (!have.includes(`acc_${s}_ci_lo`) || !have.includes(`acc_${s}_ci_hi`)) continue;
    for (const r of rows) {
      const lo = r[`acc_${s}_ci_lo`], hi = r[`acc_${s}_ci_hi`];
      r[`acc_${s}_ci`] ??= typeof lo === 'number' && typeof hi === 'number' ? (hi - lo) / 2 : null;
    }
    if (!have.includes(`acc_${s}_ci`)) have.push(`acc_${s}_ci`);
  }
  const groupKeys = have.filter((k) => !KNOWN_COLUMNS.has(k) && !k.startsWith('m:'));
  const pooled = rows.some((r) => typeof r.n_arms === 'number' && r.n_arms > 1);
  const keys = wide
    ? have.filter((k) => !/^acc_(id|ood)_ci$/.test(k) && (k !== 'n_arms' || pooled))
    : [...groupKeys, ...(pooled ? ['n_arms'] : []), ...shortColumns().filter((k) => have.includes(k))];
  const columns: Column[] = keys.map((key) => {
    const known = KNOWN_COLUMNS.get(key);
    if (known) return known;
    const numeric = rows.length > 0 && rows.every((r) => typeof r[key] === 'number' || r[key] === null || r[key] === undefined);
    return { key, label: key, format: numeric ? 'number' : 'text' };
  });
  const t: Table = { columns, rows: rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k] ?? null]))) };
  t.notes = tableNotes(t);
  return t;
}

function writeOut(path: string, data: string | Buffer): void {
  try {
    writeFileSync(path, data);
  } catch (err) {
    throw new LimolabError(`cannot write ${path}: ${(err as Error).message}; choose another -o path`, { cause: err });
  }
}
