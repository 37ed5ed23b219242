// The analysis side of a sweep for the dashboard: the arm table (queryRuns, as `limolab
// results` prints it), the report's Vega-Lite figures with hover tooltips added (arm, seed,
// accuracy, FLOPs), the ledger by phase, and the study's verdicts when that analysis exists.
import { ACC_ID, PHASES, flopsTotal, formatCell, queryRuns, type RunRecord, type Table } from '../analysis/index.js';
import { armColors, plotSpec, PLOT_NAMES, type PlotName, type TrainCurve } from '../report/index.js';
import { loadRunRecords, loadTrainCurves, pricesOf } from '../results.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { Store, SweepRow } from '../store/store.js';

export interface ArmTable { columns: { key: string; label: string; format: string }[]; rows: Record<string, unknown>[]; cells: string[][]; note: string }

export function armTable(records: RunRecord[], sweep: SweepRow): ArmTable {
  const t: Table = queryRuns(records, { prices: pricesOf(sweep) });
  const cells = t.rows.map((r) => t.columns.map((c) => formatCell(r[c.key] ?? null, c.format)));
  const left = new Set(records.filter((r) => r.status !== 'succeeded').map((r) => `${r.arm} (${r.status})`));
  const note = left.size ? `not in the table until every task of the arm and seed succeeds: ${[...left].slice(0, 12).join(', ')}${left.size > 12 ? `, and ${left.size - 12} more` : ''}` : '';
  return { columns: t.columns, rows: t.rows, cells, note };
}

export interface Figure { name: PlotName; title: string; notes: string[]; spec: Record<string, unknown> }

type Layer = { name?: string; mark?: unknown; encoding?: Record<string, unknown>; layer?: Layer[]; hconcat?: Layer[]; data?: unknown };

/** Every figure of the report for the succeeded arm instances, with tooltips. */
export function figures(records: RunRecord[], sweep: SweepRow, curves?: TrainCurve[]): Figure[] {
  const ok = records.filter((r) => r.status === 'succeeded');
  if (!ok.length) return [];
  // colours from every arm of the sweep, as the report does: an arm keeps its colour when another fails
  // 400 px plots leave a card (half of a 1360 px page) room for a 160 px legend (vega's label limit)
  const opts = { prices: pricesOf(sweep), width: 400, height: 260, armColors: armColors(records), curves };
  const out: Figure[] = [];
  for (const name of PLOT_NAMES) {
    let p;
    try { p = plotSpec(ok, name, opts); } catch (e) { out.push({ name, title: name, notes: [`cannot draw: ${(e as Error).message}`], spec: {} }); continue; }
    const spec = structuredClone(p.spec) as unknown as Layer & Record<string, unknown>;
    // An empty frame (no arm has the figure's metric yet) says so instead of drawing bare axes.
    if (!hasValues(spec)) { out.push({ name, title: p.title, notes: [...p.notes, 'nothing to draw: no succeeded arm has this figure\'s data'], spec: {} }); continue; }
    addTooltips(spec);
    if (name === 'accuracy-vs-flops') addSeedPoints(spec, ok, opts);
    // Side-by-side panels cannot take the container's width: their legend goes below them.
    if (spec.hconcat) spec.config = { ...(spec.config as object), legend: { ...((spec.config as { legend?: object } | undefined)?.legend), orient: 'bottom' } };
    out.push({ name, title: p.title, notes: p.notes, spec });
  }
  return out;
}

const TIPS: Record<string, { title: string; type: string; format?: string }> = {
  arm: { title: 'arm', type: 'nominal' }, method: { title: 'method', type: 'nominal' }, seed: { title: 'seed', type: 'quantitative' },
  acc: { title: 'accuracy', type: 'quantitative', format: '.3f' }, flops: { title: 'FLOPs', type: 'quantitative', format: '.3e' },
  seeds: { title: 'seeds', type: 'quantitative' }, n: { title: 'curated examples', type: 'quantitative' },
  lo: { title: '95% CI low', type: 'quantitative', format: '.3f' }, hi: { title: '95% CI high', type: 'quantitative', format: '.3f' },
  phase: { title: 'phase', type: 'nominal' }, value: { title: 'cost', type: 'quantitative', format: '.3e' }, difficulty: { title: 'difficulty', type: 'ordinal' },
  share: { title: 'share', type: 'quantitative', format: '.1%' }, step: { title: 'step', type: 'quantitative' }, loss: { title: 'loss', type: 'quantitative', format: '.4f' },
  task: { title: 'task', type: 'nominal' },
};

/** True when some layer of the spec has at least one data row. */
function hasValues(spec: Layer): boolean {
  const rows = (spec.data as { values?: unknown[] } | undefined)?.values;
  if (rows?.length) return true;
  return [...(spec.layer ?? []), ...(spec.hconcat ?? [])].some((child) => hasValues(child));
}

/** Each layer's points get a tooltip listing the fields its data carries. */
function addTooltips(spec: Layer, inherited: unknown = undefined): void {
  const data = spec.data ?? inherited;
  for (const child of [...(spec.layer ?? []), ...(spec.hconcat ?? [])]) addTooltips(child, data);
  if (!spec.mark || !spec.encoding || /labels|refs|ci$|line/.test(spec.name ?? '')) return;
  const values = (data as { values?: Record<string, unknown>[] } | undefined)?.values ?? [];
  const fields = Object.keys(TIPS).filter((f) => values.some((v) => f in v));
  if (fields.length) spec.encoding.tooltip = fields.map((f) => ({ field: f, ...TIPS[f] }));
}

/** One faint point per seed behind each arm's mean, so hovering shows arm, seed, accuracy, FLOPs. */
function addSeedPoints(spec: Layer, records: RunRecord[], opts: Parameters<typeof flopsTotal>[1]): void {
  // the arm points' colour encoding (the sweep's arm colours), so a seed has its arm's colour
  const color = (spec.layer?.find((l) => l.name === 'arm_points')?.encoding?.color ?? { field: 'arm', type: 'nominal' }) as Record<string, unknown>;
  const values = records.filter((r) => Number.isFinite(r.metrics[ACC_ID])).map((r) => ({ arm: r.arm, method: r.method, seed: r.seed, acc: r.metrics[ACC_ID]!, flops: flopsTotal(r, opts) }))
    .filter((v) => v.flops > 0);
  if (!values.length || !spec.layer) return;
  const x = { field: 'flops', type: 'quantitative', scale: { type: 'log' } };
  spec.layer.splice(1, 0, {
    name: 'seed_points', data: { values }, mark: { type: 'point', size: 30, opacity: 0.45 },
    encoding: { x, y: { field: 'acc', type: 'quantitative' }, color: { ...color, legend: null }, tooltip: ['arm', 'method', 'seed', 'acc', 'flops'].map((f) => ({ field: f, ...TIPS[f] })) },
  });
}

export interface LedgerRow { phase: string; tasks: number; flops: number; tokensPrompt: number; tokensGenerated: number; tokensTrained: number; wallS: number; deviceS: number; curatedExamples: number; money: number }

/** The sweep's ledger summed by phase; money is device-seconds at the sweep's prices per device kind. */
export function ledgerByPhase(store: Store, sweep: SweepRow): LedgerRow[] {
  const db = (store as SqliteStore).sqlite;
  const rows = db.prepare(`select phase, device_kind kind, count(*) tasks, sum(flops) flops, sum(tokens_prompt) tp, sum(tokens_generated) tg,
    sum(tokens_trained) tt, sum(wall_s) wall, sum(device_s) dev, sum(curated_examples) cur from ledger where task_id in (select id from tasks where sweep_id = ?) group by phase, device_kind`).all(sweep.id) as
    { phase: string; kind: string; tasks: number; flops: number; tp: number; tg: number; tt: number; wall: number; dev: number; cur: number }[];
  const prices = pricesOf(sweep);
  const perSecond = (kind: string) => prices.perDeviceSecond[kind] ?? prices.perDeviceSecond[kind.split(':')[0]!] ?? 0;
  const by = new Map<string, LedgerRow>();
  for (const r of rows) {
    const l = by.get(r.phase) ?? { phase: r.phase, tasks: 0, flops: 0, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS: 0, deviceS: 0, curatedExamples: 0, money: 0 };
    l.tasks += r.tasks; l.flops += r.flops; l.tokensPrompt += r.tp; l.tokensGenerated += r.tg; l.tokensTrained += r.tt;
    l.wallS += r.wall; l.deviceS += r.dev; l.curatedExamples += r.cur; l.money += r.dev * perSecond(r.kind);
    by.set(r.phase, l);
  }
  for (const l of by.values()) l.money += l.curatedExamples * prices.perCuratedExample;
  const order = (p: string) => { const i = (PHASES as readonly string[]).indexOf(p); return i < 0 ? PHASES.length : i; };
  return [...by.values()].sort((a, b) => order(a.phase) - order(b.phase) || a.phase.localeCompare(b.phase));
}

export interface SweepResults { table: ArmTable; figures: Figure[]; ledger: LedgerRow[]; study: unknown }

export async function sweepResults(store: Store, sweep: SweepRow): Promise<SweepResults> {
  const records = loadRunRecords(store, sweep.id);
  return { table: armTable(records, sweep), figures: figures(records, sweep, loadTrainCurves(store, sweep.id)), ledger: ledgerByPhase(store, sweep), study: await studyOf(records, sweep) };
}

// ----------------------------------------------------------------- the study's verdicts

type StudyModules = { study: Record<string, unknown>; tables: Record<string, unknown> };
let studyModules: Promise<StudyModules | null> | undefined;

export interface StudyPanel { controls: ArmTable; exchange: ArmTable; warnings: string[] }

/** The study analysis (coordinator/analysis/study.ts) is loaded when this checkout has it:
 * the controls' verdicts and the exchange rates are shown; without it the panel is left out. */
async function studyOf(records: RunRecord[], sweep: SweepRow): Promise<StudyPanel | { error: string } | null> {
  studyModules ??= Promise.all([import(/* @vite-ignore */ '../analysis/' + 'study.js'), import(/* @vite-ignore */ '../analysis/' + 'study-tables.js')])
    .then(([study, tables]) => ({ study, tables }) as StudyModules, () => null);
  const mods = await studyModules;
  const analyse = mods?.study.studyAnalysis as ((r: RunRecord[], o?: object) => StudyLike) | undefined;
  if (!mods || typeof analyse !== 'function') return null;
  const ok = records.filter((r) => r.status === 'succeeded');
  if (!ok.length) return null;
  let s: StudyLike;
  try { s = analyse(ok, { prices: pricesOf(sweep) }); } catch (e) { return { error: `the study analysis failed: ${(e as Error).message}` }; }
  const ci = (mods.tables.ciText as ((lo: number | null, hi: number | null, n: number, min: number, f: (x: number) => string) => string) | undefined)
    ?? ((lo: number | null, hi: number | null) => (lo === null && hi === null ? '-' : `[${lo}, ${hi}]`));
  const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
  const controls: Table = {
    columns: [
      { key: 'name', label: 'control', format: 'text' }, { key: 'arm', label: 'arm', format: 'text' }, { key: 'baseline_arm', label: 'against', format: 'text' },
      { key: 'base', label: 'base', format: 'text' }, { key: 'delta', label: 'delta', format: 'acc' }, { key: 'ci', label: 'ci_95', format: 'text' },
      { key: 'passed', label: 'passed', format: 'text' }, { key: 'verdict', label: 'verdict', format: 'text' },
    ],
    rows: (s.controls ?? []).map((r) => ({ ...r, ci: ci(r.ci_lo, r.ci_hi, r.n_seeds, s.min_seeds ?? 3, signed), passed: r.passed === null ? 'undetermined' : r.passed ? 'yes' : 'no' })),
  };
  const exchangeTable = mods.tables.studyExchangeTable as ((x: StudyLike) => Table) | undefined;
  const exchange = exchangeTable ? exchangeTable(s) : { columns: [], rows: [] };
  return { controls: cellsOf(controls), exchange: cellsOf(exchange), warnings: s.warnings ?? [] };
}

interface StudyLike {
  controls?: { ci_lo: number | null; ci_hi: number | null; n_seeds: number; passed: boolean | null; [k: string]: unknown }[];
  warnings?: string[]; min_seeds?: number;
}

function cellsOf(t: Table): ArmTable {
  return { columns: t.columns, rows: t.rows, cells: t.rows.map((r) => t.columns.map((c) => formatCell(r[c.key] ?? null, c.format))), note: '' };
}
