// buildReport: one self-contained HTML file (inline CSS and SVG, no scripts, no external
// URLs; opens offline) with the figures, the summary / iso-compute / exchange-rate /
// accuracy-vs-N tables, the cost switches and prices used, and the sweep spec text. Every
// string from the records or the spec is HTML-escaped.

import {
  ACC_ID, AnalysisError, DEFAULT_PRICES, accuracyVsN, accuracyVsNTable, countedPhases, exchangeRate, exchangeTable,
  formatCell, isoCompute, isoComputeTable, queryRuns, type Prices, type RunRecord, type Table,
} from '../analysis/index.js';
import { fmtMoney, fmtRate } from '../analysis/format.js';
import { armColors, plotSpec, PLOT_NAMES, type PlotName, type PlotOptions } from './plots.js';
import { specToSvg, tagSvg } from './render.js';
import { studySectionHtml } from './study-section.js';

export interface ReportOptions extends Omit<PlotOptions, 'prices'> {
  title: string;
  specText?: string;          // the sweep spec (YAML) shown at the end, escaped
  prices?: Prices;            // default DEFAULT_PRICES
  generatedAt?: string;       // shown in the header; default now (pass one for reproducible output)
  budgets?: number[];         // iso-compute budgets; default: every frontier cost
  sftMethod?: string;         // default 'sft'
  rlMethod?: string;          // default 'rl'
  plots?: PlotName[];         // default all
  /** Flags shown at the top (sweepHealth): a running, failed or cancelled sweep, missing seeds. */
  health?: string[];
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A Table as an HTML table with the same per-column rounding as the text formatter. */
export function tableHtml(t: Table, id: string): string {
  const head = t.columns.map((c) => `<th class="${c.format === 'text' ? 't' : 'n'}">${escapeHtml(c.label)}</th>`).join('');
  const body = t.rows.map((r) =>
    `<tr>${t.columns.map((c) => `<td class="${c.format === 'text' ? 't' : 'n'}">${escapeHtml(formatCell(r[c.key] ?? null, c.format))}</td>`).join('')}</tr>`,
  ).join('\n');
  return `<table id="${id}" class="limolab-table"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const CSS = `
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}.note{color:#666;font-size:12px;margin:4px 0}
figure{margin:16px 0}figcaption{font-size:13px;color:#333;margin-bottom:6px;font-weight:bold}
figure svg{max-width:100%;height:auto}
table.limolab-table{border-collapse:collapse;font-size:12px;margin:8px 0;font-variant-numeric:tabular-nums}
table.limolab-table th,table.limolab-table td{padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap}
table.limolab-table th{background:#f6f6f6;border-bottom:1px solid #ccc}
.n{text-align:right}.t{text-align:left}.unavailable{color:#a33;font-size:13px}
pre.spec{background:#f7f7f7;border:1px solid #e3e3e3;padding:12px;font-size:12px;overflow:auto}
.wide{overflow-x:auto}
.health{background:#fff4e5;border:1px solid #f0b36b;padding:6px 12px;margin:8px 0;font-size:14px;color:#7a3e00}.health p{margin:4px 0}`;

/** Renders one section, or a visible 'not available' line when the data cannot support it. */
function section(id: string, heading: string, body: () => string): string {
  let inner: string;
  try {
    inner = body();
  } catch (err) {
    if (!(err instanceof AnalysisError)) throw err;
    inner = `<p class="unavailable">Not available: ${escapeHtml(err.message)}</p>`;
  }
  return `<section id="${id}"><h2>${escapeHtml(heading)}</h2>\n${inner}\n</section>`;
}

/** The summary table with its notes (too few seeds for an interval, pooled arms). */
function summaryHtml(t: Table): string {
  return `<div class="wide">${tableHtml(t, 'table-summary')}</div>` + (t.notes ?? []).map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('');
}

async function figureHtml(records: readonly RunRecord[], name: PlotName, opts: PlotOptions): Promise<string> {
  const p = plotSpec(records, name, opts);
  const svg = tagSvg(await specToSvg(p.spec), name);
  const notes = p.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('');
  return `<figure id="fig-${name}" class="limolab-figure"><figcaption>${escapeHtml(p.title)}</figcaption>\n${svg}\n${notes}</figure>`;
}

export async function buildReport(records: readonly RunRecord[], opts: ReportOptions): Promise<string> {
  const prices = opts.prices ?? DEFAULT_PRICES;
  // One arm -> colour map for every figure of the report, from every record of the sweep.
  const o = { ...opts, prices, armColors: opts.armColors ?? armColors(records) };
  const statuses = opts.statuses ?? ['succeeded'];
  const succeeded = statuses === 'all' ? records : records.filter((r) => statuses.includes(r.status));
  const sweeps = [...new Set(records.map((r) => r.sweep))];
  const arms = new Set(succeeded.map((r) => `${r.sweep}/${r.arm}`));
  const figures: string[] = [];
  for (const name of opts.plots ?? PLOT_NAMES) figures.push(await figureHtml(records, name, o));

  const phases = countedPhases(o).join(', ');
  const priceText = Object.entries(prices.perDeviceSecond).map(([k, v]) => `${k} ${fmtRate(v)}`).join('; ') +
    `; curated example ${fmtMoney(prices.perCuratedExample)}`;
  const metric = opts.metric ?? ACC_ID;

  const summary = section('summary', 'Summary by arm (mean over seeds)', () =>
    summaryHtml(queryRuns(records, { ...o, groupBy: ['method', 'arm'], sort: ['method', 'flops'], wide: true })) +
    `<p class="note">acc_id = pass1.test_id, acc_ood = pass1.test_ood${metric === ACC_ID ? '' : ` (figures and comparisons use ${escapeHtml(metric)})`}; ` +
    `ci = 95% bootstrap interval of the mean over seeds; money = device time + curated data.</p>`);
  const iso = section('iso-compute', 'Iso-compute: accuracy at common FLOP budgets', () => {
    const rows = isoCompute(records, { ...o, axis: 'flops' });
    const budgets = [...new Set(rows.map((r) => r.budget))];
    const shared = budgets.filter((b) => rows.filter((r) => r.budget === b && r.acc !== null).length >= 2);
    // A table of dashes says nothing: with no budget inside two methods' ranges, say so instead.
    if (!shared.length) {
      return `<p class="unavailable" id="iso-compute-none">No FLOP budget lies inside the range of two methods' frontiers, so no method can be compared with another at equal compute (each is interpolated, never extrapolated). Widen the arms' compute ranges until they overlap.</p>`;
    }
    return tableHtml(isoComputeTable(rows), 'table-iso-compute') +
    `<p class="note">Linear interpolation in log10(FLOPs) along each method's Pareto frontier; "-" where the budget is outside that method's range (not extrapolated).</p>`;
  });
  const exchange = section('exchange-rate', 'Exchange rate: RL FLOPs that match SFT with N curated examples', () => {
    const rows = exchangeRate(records, o);
    if (rows.length && rows.every((r) => r.rlFlops === null)) {
      return `<p class="unavailable" id="exchange-rate-none">No SFT arm's accuracy lies within the accuracy range of the RL frontier, so no RL compute can be matched to a number of curated examples (not extrapolated). RL arms that reach (and bracket) the SFT arms' accuracy would give a rate.</p>`;
    }
    return `<div class="wide">${tableHtml(exchangeTable(rows), 'table-exchange-rate')}</div>` +
    `<p class="note">rl_flops_match: inverse interpolation of the SFT arm's accuracy on the RL frontier in log10(FLOPs); ` +
    `ci: 95% bootstrap over seeds of every arm, "-" = unbounded (draws fell outside RL's range); flops_per_example = rl_flops_match / N.</p>`;
  });
  const accN = section('accuracy-vs-n', 'Accuracy against curated examples', () =>
    tableHtml(accuracyVsNTable(accuracyVsN(records, o)), 'table-accuracy-vs-n') +
    `<p class="note">flops ${o.includeCuration === false ? 'exclude' : 'include'} curation compute.</p>`);
  const spec = opts.specText === undefined ? '' :
    `<section id="spec"><h2>Sweep spec</h2>\n<pre class="spec">${escapeHtml(opts.specText)}</pre></section>`;

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<style>${CSS}</style></head>
<body>
<header><h1>${escapeHtml(opts.title)}</h1>
<p class="meta">Sweeps: ${escapeHtml(sweeps.join(', ') || 'none')} · ${records.length} runs, ${succeeded.length} counted, over ${arms.size} arms · generated ${escapeHtml(opts.generatedAt ?? new Date().toISOString())}</p>
${opts.health?.length ? `<div id="sweep-health" class="health">${opts.health.map((l) => `<p>&#9888; ${escapeHtml(l)}</p>`).join('')}</div>\n` : ''}<p class="meta">Cost axes count phases: ${escapeHtml(phases)}${o.includePretrain ? '' : ' (pretraining, the shared base model, is excluded)'}. Prices: ${escapeHtml(priceText)}.</p>
</header>
<section id="figures"><h2>Figures</h2>
${figures.join('\n')}
</section>
${summary}
${iso}
${exchange}
${accN}
${await studySectionHtml(records, o)}
${spec}
</body></html>
`;
}
