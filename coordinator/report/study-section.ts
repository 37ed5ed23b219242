// The report's study section (issue 9): the controls' verdicts in words, method cost,
// iso-compute accuracy per base, exchange rates with intervals, and a figure of each method's
// gain over its base against the base's latent ability (one line per method configuration,
// 95% paired-bootstrap intervals), from the same studyAnalysis that `limolab compare` prints.

import type { TopLevelSpec } from 'vega-lite';
import {
  AnalysisError, studyAnalysis, studyCostTable, studyExchangeTable, studyIsoTable, studyLatentTable, studyRolloutTable,
  type RunRecord, type StudyOptions, type StudyResult,
} from '../analysis/index.js';
import { escapeHtml, tableHtml } from './html.js';
import { specToSvg, tagSvg } from './render.js';

/** Marks with one item per latent row drawn (tests count them). */
export const LATENT_MARKS = ['latent_points', 'latent_ci', 'latent_lines'];

/** An arm's series in the latent figure: its name without the base, so one configuration of a
 *  method ('rl[rounds=4]') is one line across bases. */
export function seriesOf(arm: string): string {
  return arm.replace(/([[,])base=[^,\]]*,?/, '$1').replace(/,\]$/, ']').replace(/\[\]$/, '');
}

/** Vega-Lite spec of gain over the base against latent ability. */
export function latentGainSpec(s: StudyResult, size: { width?: number; height?: number } = {}): { spec: TopLevelSpec; drawn: number } {
  const values = s.latent.filter((r) => r.latent_ability !== null && r.gain !== null)
    .map((r) => ({ series: seriesOf(r.arm), method: r.method, arm: r.arm, base: r.base, latent: r.latent_ability, gain: r.gain, lo: r.ci_lo, hi: r.ci_hi }));
  const x = { field: 'latent', type: 'quantitative' as const, title: 'latent ability of the base (PROBE forced-chain accuracy)', scale: { zero: false, padding: 16 } };
  const y = { field: 'gain', type: 'quantitative' as const, title: 'gain over the base arm (accuracy)' };
  const color = { field: 'series', type: 'nominal' as const, title: 'method' };
  const spec = {
    width: size.width ?? 520, height: size.height ?? 300,
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', view: { stroke: '#ddd' }, axis: { gridColor: '#eee' } },
    layer: [
      { name: 'zero', data: { values: [{ gain: 0 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { y: { field: 'gain', type: 'quantitative' } } },
      { name: 'latent_lines', data: { values }, mark: { type: 'line', strokeWidth: 1.5, opacity: 0.7 }, encoding: { x, y, color, order: { field: 'latent', type: 'quantitative' } } },
      { name: 'latent_ci', data: { values: values.filter((v) => v.lo !== null && v.hi !== null) }, mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.6 },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
      { name: 'latent_points', data: { values }, mark: { type: 'point', filled: true, size: 60 }, encoding: { x, y, color, tooltip: [{ field: 'arm' }, { field: 'base' }] } },
    ],
  };
  return { spec: spec as TopLevelSpec, drawn: values.length };
}

function controlsHtml(s: StudyResult): string {
  if (!s.controls.length) return '<p class="note">No control arms in this sweep (params.control: positive | negative): training and the chains\' role are untested.</p>';
  const items = s.controls.map((c) => {
    const cls = c.passed === true ? 'passed' : c.passed === false ? 'failed' : 'undetermined';
    return `<li class="control ${cls}" data-arm="${escapeHtml(c.arm)}">${escapeHtml(c.verdict)} <span class="note">(${escapeHtml(c.arm)} vs ${escapeHtml(c.baseline_arm ?? 'no baseline')})</span></li>`;
  });
  return `<ul id="study-controls">\n${items.join('\n')}\n</ul>`;
}

/** The whole `<section id="study">`; a visible 'not available' line if the analysis cannot run. */
export async function studySectionHtml(records: readonly RunRecord[], opts: StudyOptions = {}): Promise<string> {
  let inner: string;
  try {
    const s = studyAnalysis(records, opts);
    const { spec, drawn } = latentGainSpec(s);
    const figure = drawn
      ? `<figure id="fig-latent-gain" class="limolab-figure"><figcaption>Gain over the base arm against the base's latent ability, per method (95% paired-bootstrap intervals)</figcaption>\n${tagSvg(await specToSvg(spec), 'latent-gain')}</figure>`
      : '<p class="note">No gain against latent ability to draw: the sweep needs a base arm and PROBE metrics (latent.forced_chain.test_id) on each base.</p>';
    const rollout = s.rollout.length ? `<h3>RL rollouts: accepted samples with no chain or a wrong chain</h3>\n${tableHtml(studyRolloutTable(s), 'table-study-rollout')}` : '';
    const warnings = s.warnings.length ? `<ul class="note" id="study-warnings">${s.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : '';
    inner = [
      '<h3>Controls</h3>', controlsHtml(s),
      '<p class="note">Positive control: SFT on many correct chains against the base arm on the same base; it passes when the 95% interval of the accuracy difference lies above 0. ' +
        'Negative control: bare answers on the same problems against the chain arm it names; it passes when bare answers do significantly worse (interval below 0). ' +
        'Intervals: paired bootstrap over seeds and, within each seed, test problems; none with fewer than ' + s.min_seeds + ' seeds.</p>',
      figure,
      '<h3>Method cost</h3>', `<div class="wide">${tableHtml(studyCostTable(s), 'table-study-cost')}</div>`,
      '<p class="note">Method cost = curation + tuning + training + rollout; evaluation is shown beside it and counted only for icl (inference is its method); pretraining and the PROBE are excluded.</p>',
      '<h3>Iso-compute accuracy per base</h3>', tableHtml(studyIsoTable(s), 'table-study-iso'),
      '<h3>Exchange rates</h3>', `<div class="wide">${tableHtml(studyExchangeTable(s), 'table-study-exchange')}</div>`,
      '<p class="note">RL FLOPs of method cost at which the pure-RL frontier on the same base, interpolated in log10 FLOPs, matches the SFT arm; none on a base whose positive control failed.</p>',
      '<h3>Gain against latent ability</h3>', `<div class="wide">${tableHtml(studyLatentTable(s), 'table-study-latent')}</div>`,
      rollout, warnings,
    ].filter(Boolean).join('\n');
  } catch (err) {
    if (!(err instanceof AnalysisError)) throw err;
    inner = `<p class="unavailable">Not available: ${escapeHtml(err.message)}</p>`;
  }
  return `<section id="study"><h2>Study: controls, exchange rates, gain against latent ability</h2>\n${inner}\n</section>`;
}
