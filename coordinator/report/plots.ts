// Vega-Lite specifications of the report's figures, built from RunRecords: accuracy vs
// FLOPs (log x, per-method Pareto frontier), accuracy vs curated examples, cost by phase per
// arm (stacked bars), accuracy by difficulty (ID and OOD). Marks carry stable names
// ('<name>_marks' in the SVG) so tests can count one symbol per arm.

import type { TopLevelSpec } from 'vega-lite';
import {
  ACC_ID, AnalysisError, PHASES, accuracyVsN, armPoints, bootstrapMeanCI, countedPhases, frontiers, seedFor,
  DEFAULT_BOOTSTRAP_SEED, type CompareOptions, type RunRecord,
} from '../analysis/index.js';

export type PlotName = 'accuracy-vs-flops' | 'accuracy-vs-n' | 'cost-by-phase' | 'accuracy-by-difficulty';
export const PLOT_NAMES: readonly PlotName[] = ['accuracy-vs-flops', 'accuracy-vs-n', 'cost-by-phase', 'accuracy-by-difficulty'];

/** Names of the mark that has one item per plotted datum, per figure (used by tests and docs). */
export const PLOT_MARKS: Record<PlotName, string[]> = {
  'accuracy-vs-flops': ['arm_points', 'arm_ci', 'frontier'],
  'accuracy-vs-n': ['n_points', 'n_ci', 'n_line'],
  'cost-by-phase': ['phase_bars'],
  'accuracy-by-difficulty': ['difficulty_id_points', 'difficulty_ood_points'],
};

export interface PlotOptions extends CompareOptions {
  costAxis?: 'flops' | 'device_s'; // what cost-by-phase stacks; default 'flops'
  /** cost-by-phase: 'share' stacks each arm's phases to 100% and puts its total in the label
   *  (readable when totals span decades, as they do); 'absolute' stacks raw values. */
  phaseScale?: 'share' | 'absolute';
  width?: number;                   // default 520
  height?: number;                  // default 300
}

/** A figure's spec plus what the caption should say (e.g. arms that could not be drawn). */
export interface PlotSpec { name: PlotName; title: string; spec: TopLevelSpec; notes: string[] }

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

/** One colour per method, the same in every figure. */
function methodColor(all: string[], present: string[] = all) {
  const domain = [...new Set(all)].sort();
  const palette = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d'];
  const keep = domain.filter((m) => present.includes(m));
  return { domain: keep, range: keep.map((m) => palette[domain.indexOf(m) % palette.length]!) };
}

const metricLabel = (m: string) => (m === ACC_ID ? 'accuracy (pass@1, test ID)' : m);

function accuracyVsFlops(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const metric = o.metric ?? ACC_ID;
  const baseSeed = o.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const fs = frontiers(records, { ...o, axis: 'flops' });
  const notes: string[] = [];
  const pts = fs.flatMap((f) => f.points.map((p) => {
    const ci = bootstrapMeanCI(p.records.map((r) => r.metrics[metric]!), { ...o.bootstrap, seed: seedFor(baseSeed, `plot|${p.sweep}|${p.arm}`) });
    return { method: p.method, arm: p.arm, flops: p.cost, acc: p.acc, lo: ci.lo, hi: ci.hi, seeds: p.nSeeds,
      frontier: f.frontier.includes(p) };
  }));
  const drawn = pts.filter((p) => p.flops > 0);
  const dropped = pts.filter((p) => !(p.flops > 0)).map((p) => p.arm);
  if (dropped.length) notes.push(`not drawn on the log axis (zero counted FLOPs): ${dropped.join(', ')}`);
  const front = drawn.filter((p) => p.frontier);
  const color = { field: 'method', type: 'nominal' as const, scale: methodColor(pts.map((p) => p.method)), title: 'method' };
  const x = { field: 'flops', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'FLOPs (log scale)', axis: { format: '.0e' } };
  const y = { field: 'acc', type: 'quantitative' as const, title: metricLabel(metric) };
  return {
    name: 'accuracy-vs-flops', title: 'Accuracy against total FLOPs, with each method\'s Pareto frontier', notes,
    spec: {
      width: o.width ?? 520, height: o.height ?? 300, config: CONFIG,
      layer: [
        { name: 'frontier', data: { values: front }, mark: { type: 'line', strokeWidth: 2, opacity: 0.8 },
          encoding: { x, y, color, order: { field: 'flops', type: 'quantitative' } } },
        { name: 'arm_ci', data: { values: drawn }, mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.6 },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
        { name: 'arm_labels', data: { values: drawn }, mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 10, color: '#555' },
          encoding: { x, y, text: { field: 'arm' } } },
        { name: 'arm_points', data: { values: drawn }, mark: { type: 'point', filled: true, size: 70, opacity: 1 },
          encoding: { x, y, color, shape: { field: 'frontier', type: 'nominal', title: 'on frontier', scale: { domain: [true, false], range: ['circle', 'triangle-up'] } } } },
      ],
    } as TopLevelSpec,
  };
}

function accuracyVsNPlot(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const rows = accuracyVsN(records, o);
  const notes = rows.length ? [] : ['no arm used curated examples'];
  const all = armPoints(records, o);
  const color = { field: 'method', type: 'nominal' as const, scale: methodColor(all.map((p) => p.method), rows.map((r) => r.method)), title: 'method' };
  const x = { field: 'n', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'curated examples N (log scale)' };
  const y = { field: 'acc', type: 'quantitative' as const, title: metricLabel(o.metric ?? ACC_ID) };
  const values = rows.map((r) => ({ method: r.method, arm: r.arm, n: r.n, acc: r.acc, lo: r.accLo, hi: r.accHi }));
  // Reference lines: the best arm of each method that used no curated data (base model, RL).
  const refs = [...new Set(all.filter((p) => p.curatedExamples === 0).map((p) => p.method))].map((m) => {
    const best = all.filter((p) => p.method === m && p.curatedExamples === 0).sort((a, b) => b.acc - a.acc)[0]!;
    return { acc: best.acc, label: `${m} best: ${best.arm} (${best.acc.toFixed(3)})` };
  });
  const layers: object[] = [
    { name: 'n_line', mark: { type: 'line', strokeWidth: 1.5, opacity: 0.6 }, encoding: { x, y, color, order: { field: 'n', type: 'quantitative' } } },
    { name: 'n_ci', mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
    { name: 'n_points', mark: { type: 'point', filled: true, size: 70 }, encoding: { x, y, color } },
  ];
  if (refs.length && rows.length) {
    layers.unshift(
      { name: 'n_refs', data: { values: refs }, mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { y: { field: 'acc', type: 'quantitative' } } },
      { name: 'n_ref_labels', data: { values: refs }, mark: { type: 'text', align: 'left', baseline: 'bottom', x: 4, dy: -2, fontSize: 10, color: '#666' },
        encoding: { y: { field: 'acc', type: 'quantitative' }, text: { field: 'label' } } },
    );
  }
  return {
    name: 'accuracy-vs-n', title: 'Accuracy against number of curated examples (95% bootstrap interval over seeds)', notes,
    spec: { width: o.width ?? 520, height: o.height ?? 300, config: CONFIG, data: { values }, layer: layers } as TopLevelSpec,
  };
}

function costByPhase(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const axis = o.costAxis ?? 'flops';
  const share = (o.phaseScale ?? 'share') === 'share';
  const phases = countedPhases(o);
  const pts = armPoints(records, { ...o, axis: axis === 'flops' ? 'flops' : 'device_s' });
  const fmt = (v: number) => (axis === 'flops' ? v.toExponential(1) : `${v.toPrecision(3)} s`);
  const label = (p: (typeof pts)[number]) => (share ? `${p.arm}  (${fmt(p.cost)})` : p.arm);
  const values = pts.flatMap((p) => phases.map((phase) => {
    const by = axis === 'flops' ? 'flopsByPhase' : 'deviceSByPhase';
    const v = p.records.reduce((s, r) => s + (r[by][phase] ?? 0), 0) / p.records.length;
    return { arm: p.arm, label: label(p), method: p.method, phase, order: PHASES.indexOf(phase), value: v };
  })).filter((d) => d.value > 0);
  const armOrder = pts.slice().sort((a, b) => a.method.localeCompare(b.method) || a.cost - b.cost).map(label);
  const excluded = PHASES.filter((p) => !phases.includes(p));
  const notes = excluded.length ? [`phases not counted: ${excluded.join(', ')}`] : [];
  if (share) notes.push(`bars show each phase's share of the arm's total; the total is in parentheses`);
  const unit = axis === 'flops' ? 'FLOPs' : 'device-seconds';
  return {
    name: 'cost-by-phase', title: `${axis === 'flops' ? 'FLOPs' : 'Device-seconds'} by phase per arm (mean over seeds)`, notes,
    spec: {
      width: o.width ?? 520, height: Math.max(120, 22 * armOrder.length), config: CONFIG, data: { values },
      layer: [{
        name: 'phase_bars', mark: { type: 'bar' },
        encoding: {
          y: { field: 'label', type: 'nominal', sort: armOrder, title: share ? `arm (total ${unit})` : 'arm' },
          x: share
            ? { field: 'value', type: 'quantitative', stack: 'normalize', title: `share of ${unit}`, axis: { format: '.0%' } }
            : { field: 'value', type: 'quantitative', stack: 'zero', title: unit, axis: { format: '.2s' } },
          color: { field: 'phase', type: 'nominal', scale: { domain: phases, scheme: 'tableau10' }, title: 'phase' },
          order: { field: 'order', type: 'quantitative' },
        },
      }],
    } as TopLevelSpec,
  };
}

/** Mean per arm of pass1.<split>.d<k>, for split test_id / test_ood. */
function difficultyValues(records: readonly RunRecord[], o: PlotOptions, split: 'test_id' | 'test_ood') {
  const re = new RegExp(`^pass1\\.${split}\\.d(\\d+)$`);
  return armPoints(records, o).flatMap((p) => {
    const sums = new Map<number, number[]>();
    for (const r of p.records) for (const [k, v] of Object.entries(r.metrics)) {
      const m = re.exec(k);
      if (m && Number.isFinite(v)) { const d = Number(m[1]); if (!sums.has(d)) sums.set(d, []); sums.get(d)!.push(v); }
    }
    return [...sums.entries()].map(([d, xs]) => ({ arm: p.arm, method: p.method, difficulty: d, acc: xs.reduce((a, b) => a + b, 0) / xs.length }));
  });
}

function accuracyByDifficulty(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const id = difficultyValues(records, o, 'test_id');
  const ood = difficultyValues(records, o, 'test_ood');
  const notes = id.length + ood.length ? [] : ['no pass1.test_id.d<k> / pass1.test_ood.d<k> metrics in these runs'];
  const arms = [...new Set([...id, ...ood].map((d) => d.arm))];
  const panel = (split: 'id' | 'ood', values: object[]) => ({
    title: split === 'id' ? 'in-distribution (test_id)' : 'out-of-distribution (test_ood)',
    width: Math.round((o.width ?? 520) / 2) - 20, height: o.height ?? 260, data: { values },
    layer: [
      { name: `difficulty_${split}_lines`, mark: { type: 'line', strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x: { field: 'difficulty', type: 'ordinal', title: 'difficulty', axis: { labelAngle: 0 } }, y: { field: 'acc', type: 'quantitative', title: 'pass@1', scale: { domain: [0, 1] } }, color: { field: 'arm', type: 'nominal', scale: { domain: arms }, title: 'arm' } } },
      { name: `difficulty_${split}_points`, mark: { type: 'point', filled: true, size: 40 },
        encoding: { x: { field: 'difficulty', type: 'ordinal' }, y: { field: 'acc', type: 'quantitative' }, color: { field: 'arm', type: 'nominal', scale: { domain: arms } } } },
    ],
  });
  return {
    name: 'accuracy-by-difficulty', title: 'Accuracy by difficulty, in and out of distribution (mean over seeds)', notes,
    spec: {
      config: CONFIG, hconcat: [panel('id', id), panel('ood', ood)], resolve: { scale: { color: 'shared' } },
    } as TopLevelSpec,
  };
}

/** The Vega-Lite spec of one figure. */
export function plotSpec(records: readonly RunRecord[], name: PlotName, opts: PlotOptions = {}): PlotSpec {
  switch (name) {
    case 'accuracy-vs-flops': return accuracyVsFlops(records, opts);
    case 'accuracy-vs-n': return accuracyVsNPlot(records, opts);
    case 'cost-by-phase': return costByPhase(records, opts);
    case 'accuracy-by-difficulty': return accuracyByDifficulty(records, opts);
    default:
      throw new AnalysisError(`unknown plot '${String(name)}'; choose one of: ${PLOT_NAMES.join(', ')}`);
  }
}
