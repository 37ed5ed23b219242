// `limolab sweep compare A B`: two sweeps' arm tables side by side, joined on the arm, with
// the difference B - A. Each side is the analysis layer's queryRuns table (mean over seeds of
// succeeded arms): from a coordinator's QueryResults, or straight from a SQLite file (--db).
import { NotFoundError, SpecError } from '../common/errors.js';
import type { QueryResultsResponse, Sweep } from '../gen/limolab/v1/coordinator.js';
import { formatCell, queryRuns, type CellValue, type ColumnFormat } from '../coordinator/analysis/index.js';
import { loadRunRecords, pricesOf } from '../coordinator/results.js';
import { clientFrom } from './args.js';
import { Client } from './client.js';
import { openStore } from './results-db.js';
import { table } from './format.js';

type Row = Record<string, CellValue>;
interface Side { id: string; name: string; status: string; rows: Row[] }

/** Columns compared, each with the keys it has had (analysis renamed acc_id_mean to acc_id). */
const COLUMNS: { label: string; keys: string[]; format: ColumnFormat; diff: boolean }[] = [
  { label: 'n', keys: ['n_seeds'], format: 'int', diff: false },
  { label: 'acc_id', keys: ['acc_id', 'acc_id_mean'], format: 'acc', diff: true },
  { label: 'acc_ood', keys: ['acc_ood', 'acc_ood_mean'], format: 'acc', diff: true },
  { label: 'flops', keys: ['flops'], format: 'sci', diff: false },
  { label: 'money', keys: ['money'], format: 'money', diff: false },
];

export async function compareMain(ids: string[], v: Record<string, unknown>): Promise<number> {
  if (ids.length !== 2) throw new SpecError(`sweep compare takes two sweep ids, e.g. \`limolab sweep compare SWEEP_A SWEEP_B\` (got ${ids.length})`);
  const [a, b] = ids as [string, string];
  const sides = typeof v.db === 'string' ? fromDb(v.db, [a, b]) : await fromCoordinator(v, [a, b]);
  const [A, B] = sides as [Side, Side];
  const arms = [...new Set([...A.rows, ...B.rows].map((r) => String(r.arm)))].sort();
  const pick = (r: Row | undefined, keys: string[]) => { for (const k of keys) if (r && r[k] !== undefined) return r[k] ?? null; return null; };
  const cols = COLUMNS.filter((c) => [...A.rows, ...B.rows].some((r) => pick(r, c.keys) !== null));
  const out = arms.map((arm) => {
    const ra = A.rows.find((r) => r.arm === arm), rb = B.rows.find((r) => r.arm === arm);
    const cells: Record<string, CellValue> = { arm };
    for (const c of cols) {
      const x = pick(ra, c.keys), y = pick(rb, c.keys);
      cells[`${c.label}_a`] = x;
      cells[`${c.label}_b`] = y;
      if (c.diff) cells[`${c.label}_diff`] = typeof x === 'number' && typeof y === 'number' ? y - x : null;
    }
    return cells;
  });
  if (v.json) {
    console.log(JSON.stringify({ a: { id: A.id, name: A.name, status: A.status }, b: { id: B.id, name: B.name, status: B.status }, rows: out }));
    return 0;
  }
  console.log(`A: ${A.id} (${A.name}, ${A.status})\nB: ${B.id} (${B.name}, ${B.status})`);
  const header = ['arm', ...cols.flatMap((c) => [`${c.label} A`, `${c.label} B`, ...(c.diff ? [`${c.label} B-A`] : [])])];
  const body = out.map((r) => [String(r.arm), ...cols.flatMap((c) => [
    show(r[`${c.label}_a`] ?? null, c.format), show(r[`${c.label}_b`] ?? null, c.format),
    ...(c.diff ? [r[`${c.label}_diff`] === null ? '-' : signed(r[`${c.label}_diff`] as number)] : []),
  ])]);
  console.log(table(header, body));
  console.log('Means over the seeds of succeeded arms; "-": the arm has no succeeded seed in that sweep.');
  return 0;
}

const show = (x: CellValue, f: ColumnFormat) => formatCell(x, f);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

function fromDb(path: string, ids: string[]): Side[] {
  const store = openStore(path);
  try {
    return ids.map((id) => {
      const sweep = store.getSweep(id);
      if (!sweep) throw new NotFoundError(`no sweep "${id}" in ${path}; \`limolab sweep list\` shows the sweeps`);
      const t = queryRuns(loadRunRecords(store, id), { prices: pricesOf(sweep) });
      return { id, name: sweep.name, status: sweep.status, rows: t.rows };
    });
  } finally {
    store.close();
  }
}

async function fromCoordinator(v: Record<string, unknown>, ids: string[]): Promise<Side[]> {
  const client = new Client(clientFrom(v));
  try {
    const out: Side[] = [];
    for (const id of ids) {
      const s = await client.call<object, Sweep>('getSweep', { id, includeTasks: false });
      const r = await client.call<object, QueryResultsResponse>('queryResults', { sweep: id, filter: {}, groupBy: [], sort: '', perSeed: false });
      out.push({ id, name: s.name, status: s.status, rows: r.rows as Row[] });
    }
    return out;
  } finally {
    client.close();
  }
}
