// `limolab results`, `limolab report`, `limolab plot`: result tables from a running
// coordinator (gRPC QueryResults) or straight from the SQLite file (--db), a self-contained
// HTML report, and single figures as SVG or PNG. Report and plot read the SQLite file
// (default ./limolab.db) because they need every record of the sweep.
import { existsSync, writeFileSync } from 'node:fs';
import { SpecError, LimolabError, NotFoundError } from '../common/errors.js';
import type { QueryResultsResponse, Sweep } from '../gen/limolab/v1/coordinator.js';
import { loadRunRecords, pricesOf } from '../coordinator/results.js';
import { SqliteStore } from '../coordinator/store/sqlite-store.js';
import type { SweepRow } from '../coordinator/store/store.js';
import {
  formatTable, queryRuns, type CellValue, type Column, type FilterValue, type RunRecord, type Table, type TableFormat,
} from '../coordinator/analysis/index.js';
import { buildReport, renderPlot, PLOT_NAMES, type PlotName } from '../coordinator/report/index.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, parse } from './args.js';
import { Client } from './client.js';

const DEFAULT_DB = 'limolab.db';

const RESULTS_USAGE = `Usage: limolab results [options]

One row per arm (mean over seeds, with std and a bootstrap 95% interval), succeeded arms only.
Asks a running coordinator unless --db is given. Money uses the sweep spec's prices: block
when it has one, else the default prices.
  --db FILE               read this SQLite file directly; no coordinator needed
  --sweep ID              the sweep (default: the latest one)
  --filter KEY=VALUE      keep rows whose arm has KEY=VALUE (sweep, arm, method, seed, status
                          or any arm parameter); repeat for several keys; with --db the
                          same key twice matches either value
  --group-by A,B          group keys (default method,arm)
  --sort COL              sort by a column; prefix with - for descending (e.g. -acc_id_mean)
  --per-seed              one row per arm and seed (group by arm,seed)
  --format F              table, csv or json (default table)
${CLIENT_HELP} (same as --format json)`;

const RESULTS_OPTIONS = {
  ...CLIENT_OPTIONS, db: { type: 'string' }, sweep: { type: 'string' }, filter: { type: 'string', multiple: true },
  'group-by': { type: 'string' }, sort: { type: 'string' }, 'per-seed': { type: 'boolean' }, format: { type: 'string' },
} as const;

export async function resultsMain(argv: string[]): Promise<number> {
  // "--sort -acc_id_mean" would read as short options; take the value as it was meant.
  const args = argv.flatMap((a, i) => (argv[i - 1] === '--sort' && a.startsWith('-') ? [] : a === '--sort' && argv[i + 1]?.startsWith('-') ? [`--sort=${argv[i + 1]}`] : [a]));
  const { values: v, positionals: p } = parse(args, RESULTS_OPTIONS, RESULTS_USAGE);
  if (v.help) { console.log(RESULTS_USAGE); return 0; }
  if (p.length) throw new SpecError(`limolab results takes no positional arguments (got ${p.join(' ')}); pass the sweep with --sweep ID\n\n${RESULTS_USAGE}`);
  const format = tableFormat(v.json ? 'json' : v.format);
  const filter = parseFilters(v.filter ?? []);
  const groupBy = v['group-by'] ? v['group-by'].split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const perSeed = !!v['per-seed'];

  if (v.db !== undefined) {
    const store = openStore(v.db);
    try {
      const sweep = resolveSweep(store, v.db, v.sweep);
      const records = loadRunRecords(store, sweep.id);
      const t = queryRuns(records, { filter, groupBy: perSeed ? ['arm', 'seed'] : groupBy, sort: v.sort ? [v.sort] : undefined, prices: pricesOf(sweep) });
      process.stdout.write(formatTable(t, format));
      if (!t.rows.length) process.stderr.write(emptyNote(sweep.id, records) + '\n');
      return 0;
    } finally {
      store.close();
    }
  }

  const client = new Client(clientFrom(v));
  try {
    let sweepId = v.sweep;
    if (!sweepId || sweepId === 'latest') {
      const r = await client.call<object, { sweeps: Sweep[] }>('listSweeps', { limit: 1, status: '' });
      if (!r.sweeps.length) throw new NotFoundError(`the coordinator at ${client.opts.address} has no sweeps yet; submit one with \`limolab sweep submit <spec.yaml>\``);
      sweepId = r.sweeps[0]!.id;
    } else {
      await client.call<object, Sweep>('getSweep', { id: sweepId, includeTasks: false }); // a clear NOT_FOUND for a wrong id
    }
    const single: Record<string, string> = {};
    for (const [k, val] of Object.entries(filter)) {
      if (Array.isArray(val)) throw new SpecError(`--filter ${k} is given ${val.length} times; a coordinator query takes one value per key (use --db FILE for several)`);
      single[k] = String(val);
    }
    const res = await client.call<object, QueryResultsResponse>('queryResults', { sweep: sweepId, filter: single, groupBy: groupBy ?? [], sort: v.sort ?? '', perSeed });
    const t = tableFromWire(res);
    process.stdout.write(formatTable(t, format));
    if (!t.rows.length) process.stderr.write(`sweep ${sweepId} has no succeeded arm matching this query yet; \`limolab sweep status ${sweepId}\` shows its progress\n`);
    return 0;
  } finally {
    client.close();
  }
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
    const html = await buildReport(records, {
      title: v.title ?? `limolab sweep ${sweep.name} (${sweep.id})`, specText: sweep.specText, prices: pricesOf(sweep),
      includePretrain: !!v['include-pretrain'], includeCuration: !v['exclude-curation'],
    });
    writeOut(v.output, html);
    const arms = new Set(records.filter((r) => r.status === 'succeeded').map((r) => r.arm)).size;
    console.error(`wrote ${v.output} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB): sweep ${sweep.id}, ${arms} arm(s) with results`);
    return 0;
  } finally {
    store.close();
  }
}

const PLOT_USAGE = `Usage: limolab plot <name> -o FILE [options]

One figure of a sweep, from the SQLite file.
  name                    ${PLOT_NAMES.join(', ')}
  -o, --output FILE       where to write it (required)
  --sweep ID              the sweep (default: the latest one)
  --db FILE               SQLite file (default ./${DEFAULT_DB})
  --format svg|png        default: from the file extension, else svg
  --include-pretrain      count pretraining in the cost axes (default: left out)
  --exclude-curation      leave curation out of the cost axes (default: counted)`;

export async function plotMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    output: { type: 'string', short: 'o' }, sweep: { type: 'string' }, db: { type: 'string' }, format: { type: 'string' },
    'include-pretrain': { type: 'boolean' }, 'exclude-curation': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, PLOT_USAGE);
  if (v.help) { console.log(PLOT_USAGE); return 0; }
  const name = p[0];
  if (!name) throw new SpecError(`limolab plot needs a figure name: one of ${PLOT_NAMES.join(', ')}\n\n${PLOT_USAGE}`);
  if (!(PLOT_NAMES as readonly string[]).includes(name)) throw new SpecError(`unknown plot "${name}"; choose one of: ${PLOT_NAMES.join(', ')}`);
  if (!v.output) throw new SpecError(`limolab plot needs -o FILE, the file to write\n\n${PLOT_USAGE}`);
  const format = v.format ?? (/\.png$/i.test(v.output) ? 'png' : 'svg');
  if (format !== 'svg' && format !== 'png') throw new SpecError(`--format must be svg or png, got "${format}"`);
  const db = v.db ?? DEFAULT_DB;
  const store = openStore(db);
  try {
    const sweep = resolveSweep(store, db, v.sweep);
    const records = requireSucceeded(sweep, loadRunRecords(store, sweep.id));
    const opts = { prices: pricesOf(sweep), includePretrain: !!v['include-pretrain'], includeCuration: !v['exclude-curation'] };
    const out = format === 'png' ? await renderPlot(records, name as PlotName, 'png', opts) : await renderPlot(records, name as PlotName, 'svg', opts);
    writeOut(v.output, out);
    console.error(`wrote ${v.output} (${format}, ${name}): sweep ${sweep.id}`);
    return 0;
  } finally {
    store.close();
  }
}

// ---- shared helpers ----

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

/** Opens an existing results database; a missing file is an error rather than a new empty one. */
export function openStore(path: string): SqliteStore {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new NotFoundError(`no results database at ${path}; pass --db FILE (the file \`limolab run\` or \`limolab coordinator --db\` wrote)`);
  }
  return new SqliteStore(path);
}

/** The sweep named by id, or the latest one when id is absent or "latest". */
export function resolveSweep(store: SqliteStore, dbPath: string, id: string | undefined): SweepRow {
  if (!id || id === 'latest') {
    const latest = store.listSweeps(1)[0];
    if (!latest) throw new NotFoundError(`${dbPath} holds no sweeps yet; run one with \`limolab run <spec.yaml>\``);
    return latest;
  }
  const row = store.getSweep(id);
  if (row) return row;
  const known = store.listSweeps(10).map((s) => `${s.id} (${s.name})`);
  throw new NotFoundError(`no sweep "${id}" in ${dbPath}; latest sweeps there: ${known.join(', ') || 'none'}`);
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

/** The spec's `prices:` block (dollars per device-hour, per curated example) over the defaults. */
// Column formats of the default result columns, for tables that arrive over gRPC as keys only.
const KNOWN_COLUMNS = new Map(queryRuns([], { groupBy: [] }).columns.map((c) => [c.key, c]));

/** A QueryResults response as a Table with the same labels and rounding as a local query. */
export function tableFromWire(res: QueryResultsResponse): Table {
  const rows = res.rows.map((r) => r as Record<string, CellValue>);
  const columns: Column[] = res.columns.map((key) => {
    const known = KNOWN_COLUMNS.get(key);
    if (known) return known;
    const numeric = rows.length > 0 && rows.every((r) => typeof r[key] === 'number' || r[key] === null || r[key] === undefined);
    return { key, label: key, format: numeric ? 'number' : 'text' };
  });
  return { columns, rows: rows.map((r) => Object.fromEntries(res.columns.map((k) => [k, r[k] ?? null]))) };
}

function writeOut(path: string, data: string | Buffer): void {
  try {
    writeFileSync(path, data);
  } catch (err) {
    throw new LimolabError(`cannot write ${path}: ${(err as Error).message}; choose another -o path`, { cause: err });
  }
}
