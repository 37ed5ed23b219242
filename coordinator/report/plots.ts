// Vega-Lite specifications of the report's figures, built from RunRecords: accuracy vs
// FLOPs (log x, per-method Pareto frontier), accuracy vs curated examples, cost by phase per
// arm (stacked bars), accuracy by difficulty (ID and OOD, with intervals over seeds), and
// training loss per TRAIN task. Each arm has one colour in every figure (armColors: computed
// once per sweep). Marks carry stable names ('<name>_marks' in the SVG) so tests can count
// one symbol per arm.

import type { TopLevelSpec } from 'vega-lite';
import {
  ACC_ID, AnalysisError, PHASES, accuracyVsN, armPoints, bootstrapMeanCI, countedPhases, frontiers, seedFor,
  DEFAULT_BOOTSTRAP_SEED, studyAnalysis, type CompareOptions, type RunRecord,
} from '../analysis/index.js';
import { latentGainSpec } from './study-section.js';

export type PlotName = 'accuracy-vs-flops' | 'accuracy-vs-n' | 'cost-by-phase' | 'accuracy-by-difficulty' | 'training-loss' | 'gain-vs-latent';
/** The figures of the report's and the dashboard's results section. */
export const PLOT_NAMES: readonly PlotName[] = ['accuracy-vs-flops', 'accuracy-vs-n', 'cost-by-phase', 'accuracy-by-difficulty', 'training-loss'];
/** Every figure `limolab plot` draws: the results figures and the study's gain-vs-latent (which
 *  the report shows in its study section). */
export const ALL_PLOT_NAMES: readonly PlotName[] = [...PLOT_NAMES, 'gain-vs-latent'];

/** Names of the mark that has one item per plotted datum, per figure (used by tests and docs). */
export const PLOT_MARKS: Record<PlotName, string[]> = {
  'accuracy-vs-flops': ['arm_points', 'arm_ci', 'arm_labels', 'frontier'],
  'accuracy-vs-n': ['n_points', 'n_ci', 'n_labels', 'n_line'],
  'cost-by-phase': ['phase_bars', 'phase_totals', 'phase_arm_keys'],
  'accuracy-by-difficulty': ['difficulty_id_points', 'difficulty_ood_points', 'difficulty_id_ci', 'difficulty_ood_ci'],
  'training-loss': ['loss_lines'],
  'gain-vs-latent': ['latent_points', 'latent_ci', 'latent_lines'],
};

/** The training loss a TRAIN task reported at its steps (metric 'loss' with step > 0). */
export interface TrainCurve {
  sweep: string; arm: string; method: string; seed: number;
  /** The arm's TRAIN tasks in plan order (an RL arm has one per round), each with its points. */
  tasks: { task: string; name: string; points: { step: number; loss: number }[] }[];
}

/** A fixed colour per arm: Vega-Lite scale domain and range. */
export interface ArmColors { domain: string[]; range: string[] }

export interface PlotOptions extends CompareOptions {
  costAxis?: 'flops' | 'device_s'; // what cost-by-phase stacks; default 'flops'
  /** cost-by-phase: 'share' stacks each arm's phases to 100% and writes its total beside the
   *  bar (readable when totals span decades, as they do); 'absolute' stacks raw values. */
  phaseScale?: 'share' | 'absolute';
  width?: number;                   // default 520
  height?: number;                  // default 300
  /** The arm colours of the sweep (armColors of all its records); default: from the records given. */
  armColors?: ArmColors;
  /** Loss curves of the TRAIN tasks (loadTrainCurves), for 'training-loss'. */
  curves?: readonly TrainCurve[];
}

/** A figure's spec plus what the caption should say (e.g. arms that could not be drawn). */
export interface PlotSpec { name: PlotName; title: string; spec: TopLevelSpec; notes: string[] }

// Tableau 20, the ten strong colours first: arms beyond 20 reuse them in order.
const ARM_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#a0cbe8', '#ffbe7d', '#ff9d9a', '#86bcb6', '#8cd17d', '#f1ce63', '#d4a6c8', '#fabfd2', '#d7b5a6', '#79706e'];

/** One colour per arm, stable for a sweep: arms ordered by method, then by name (numbers in
 *  names compare as numbers: n=10 before n=100), coloured in that order. Compute it once from
 *  every record of the sweep and pass it to each figure, so an arm keeps its colour whichever
 *  arms a figure leaves out. */
export function armColors(records: readonly { arm: string; method: string }[]): ArmColors {
  const methodOf = new Map<string, string>();
  for (const r of records) if (!methodOf.has(r.arm)) methodOf.set(r.arm, r.method);
  const domain = [...methodOf.keys()].sort((a, b) =>
    methodOf.get(a)!.localeCompare(methodOf.get(b)!) || a.localeCompare(b, 'en', { numeric: true }));
  return { domain, range: domain.map((_, i) => ARM_PALETTE[i % ARM_PALETTE.length]!) };
}

/** The colour encoding of arms for one figure: the sweep's map, restricted to the arms drawn
 *  (so the legend lists only those) without changing any arm's colour. */
function armColor(o: PlotOptions, records: readonly RunRecord[], drawn: readonly string[], legend = true) {
  const all = o.armColors ?? armColors(records);
  const keep = all.domain.map((a, i) => [a, all.range[i]!] as const).filter(([a]) => drawn.includes(a));
  // arms not in the map (another sweep's) get grey rather than a colour another arm has
  for (const a of new Set(drawn)) if (!all.domain.includes(a)) keep.push([a, '#999999']);
  return {
    field: 'arm', type: 'nominal' as const, title: 'arm',
    scale: { domain: keep.map(([a]) => a), range: keep.map(([, c]) => c) },
    ...(legend ? {} : { legend: null }),
  };
}

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

const metricLabel = (m: string) => (m === ACC_ID ? 'accuracy (pass@1, test ID)' : m);

function accuracyVsFlops(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const metric = o.metric ?? ACC_ID;
  const baseSeed = o.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const fs = frontiers(records, { ...o, axis: 'flops' });
  const notes: string[] = [];
  const pts = fs.flatMap((f) => f.points.map((p) => {
    const ci = bootstrapMeanCI(p.records.map((r) => r.metrics[metric]!), { ...o.bootstrap, seed: seedFor(baseSeed, `plot|${p.sweep}|${p.arm}`) });
    const frontier = f.frontier.includes(p);
    return { method: p.method, arm: p.arm, flops: p.cost, acc: p.acc, lo: ci.lo, hi: ci.hi, seeds: p.nSeeds, frontier, fade: frontier ? 1 : 0.45 };
  }));
  const drawn = pts.filter((p) => p.flops > 0);
  const dropped = pts.filter((p) => !(p.flops > 0)).map((p) => p.arm);
  if (dropped.length) notes.push(`not drawn on the log axis (zero counted FLOPs): ${dropped.join(', ')}`);
  notes.push('colour: arm (the same in every figure); shape: method; lines: each method\'s Pareto frontier; faded points are off it');
  const front = drawn.filter((p) => p.frontier);
  const color = armColor(o, records, drawn.map((p) => p.arm));
  const x = { field: 'flops', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'FLOPs (log scale)', axis: { format: '.0e' } };
  const y = { field: 'acc', type: 'quantitative' as const, title: metricLabel(metric) };
  const methods = [...new Set(drawn.map((p) => p.method))].sort();
  return {
    name: 'accuracy-vs-flops', title: 'Accuracy against total FLOPs, with each method\'s Pareto frontier', notes,
    spec: {
      width: o.width ?? 520, height: o.height ?? 300, config: CONFIG,
      layer: [
        { name: 'frontier', data: { values: front }, mark: { type: 'line', strokeWidth: 1.5, color: '#777', opacity: 0.8 },
          encoding: { x, y, detail: { field: 'method', type: 'nominal' }, strokeDash: { field: 'method', type: 'nominal', title: 'frontier', scale: { domain: methods } }, order: { field: 'flops', type: 'quantitative' } } },
        { name: 'arm_ci', data: { values: drawn }, mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.7 },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
        { name: 'arm_labels', data: { values: drawn }, mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 10, color: '#555' },
          encoding: { x, y, text: { field: 'arm' } } },
        { name: 'arm_points', data: { values: drawn }, mark: { type: 'point', filled: true, size: 70 },
          encoding: { x, y, color, shape: { field: 'method', type: 'nominal', title: 'method', scale: { domain: methods } },
            opacity: { field: 'fade', type: 'quantitative', scale: null, legend: null } } },
      ],
      resolve: { scale: { color: 'shared' } },
    } as TopLevelSpec,
  };
}

function accuracyVsNPlot(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const rows = accuracyVsN(records, o);
  const notes = rows.length ? [] : ['no arm used curated examples'];
  const all = armPoints(records, o);
  const color = armColor(o, records, rows.map((r) => r.arm));
  const x = { field: 'n', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'curated examples N (log scale)' };
  const y = { field: 'acc', type: 'quantitative' as const, title: metricLabel(o.metric ?? ACC_ID) };
  const values = rows.map((r) => ({ method: r.method, arm: r.arm, n: r.n, acc: r.acc, lo: r.accLo, hi: r.accHi, label: `${r.arm} (N=${r.n}, ${r.acc.toFixed(3)})` }));
  // Reference lines: the best arm of each method that used no curated data (base model, RL).
  const refs = [...new Set(all.filter((p) => p.curatedExamples === 0).map((p) => p.method))].map((m) => {
    const best = all.filter((p) => p.method === m && p.curatedExamples === 0).sort((a, b) => b.acc - a.acc)[0]!;
    return { acc: best.acc, label: `${m} best: ${best.arm} (${best.acc.toFixed(3)})` };
  });
  const layers: object[] = [
    { name: 'n_line', mark: { type: 'line', strokeWidth: 1.2, color: '#999', opacity: 0.7 }, encoding: { x, y, detail: { field: 'method', type: 'nominal' }, order: { field: 'n', type: 'quantitative' } } },
    { name: 'n_ci', mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
    { name: 'n_points', mark: { type: 'point', filled: true, size: 70, opacity: 1 }, encoding: { x, y, color } },
    { name: 'n_labels', mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 10, color: '#555' }, encoding: { x, y, text: { field: 'label' } } },
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
  const unit = axis === 'flops' ? 'FLOPs' : 'device-seconds';
  // Stacked by hand (x0..x1 per segment) so each segment and each bar's end are known here:
  // a segment wide enough gets its absolute value written inside, each bar its total beside it.
  const by = axis === 'flops' ? 'flopsByPhase' : 'deviceSByPhase';
  const values: { arm: string; method: string; phase: string; order: number; value: number; share: number; x0: number; x1: number; text: string }[] = [];
  const totals: { arm: string; method: string; end: number; total: number; text: string }[] = [];
  for (const p of pts) {
    const segs = phases.map((phase) => ({ phase, v: p.records.reduce((s, r) => s + (r[by][phase] ?? 0), 0) / p.records.length })).filter((d) => d.v > 0);
    const total = segs.reduce((s, d) => s + d.v, 0);
    let at = 0;
    for (const d of segs) {
      const w = share ? d.v / total : d.v;
      values.push({ arm: p.arm, method: p.method, phase: d.phase, order: PHASES.indexOf(d.phase), value: d.v, share: d.v / total, x0: at, x1: at + w, text: fmt(d.v) });
      at += w;
    }
    totals.push({ arm: p.arm, method: p.method, end: total > 0 ? (share ? 1 : total) : 0, total, text: total > 0 ? `${fmt(total)} ${axis === 'flops' ? 'FLOPs' : ''}`.trim() : `no counted ${unit}` });
  }
  const armOrder = pts.slice().sort((a, b) => a.method.localeCompare(b.method) || a.cost - b.cost).map((p) => p.arm);
  const excluded = PHASES.filter((p) => !phases.includes(p));
  const notes = excluded.length ? [`phases not counted: ${excluded.join(', ')}`] : [];
  if (share) notes.push(`bars show each phase's share of the arm's ${unit}; the number in a segment is that phase's ${unit}, the one beside the bar the arm's total (mean over seeds)`);
  const y = { field: 'arm', type: 'nominal' as const, sort: armOrder, title: 'arm', axis: { labelLimit: 0 } };
  const x = share
    ? { field: 'x0', type: 'quantitative' as const, title: `share of ${unit}`, axis: { format: '.0%' }, scale: { domain: [0, 1] } }
    : { field: 'x0', type: 'quantitative' as const, title: unit, axis: { format: '.2s' } };
  // the segment label fits when the segment is at least ~70 px wide
  const minShare = 70 / (o.width ?? 520);
  const widest = Math.max(1e-300, ...totals.map((t) => t.end));
  const labelled = values.filter((v) => (v.x1 - v.x0) / (share ? 1 : widest) >= minShare);
  return {
    name: 'cost-by-phase', title: `${axis === 'flops' ? 'FLOPs' : 'Device-seconds'} by phase per arm (mean over seeds)`, notes,
    spec: {
      width: o.width ?? 520, height: Math.max(120, 24 * armOrder.length), config: CONFIG,
      layer: [
        { name: 'phase_bars', data: { values }, mark: { type: 'bar' },
          encoding: { y, x, x2: { field: 'x1' }, color: { field: 'phase', type: 'nominal', scale: { domain: phases, scheme: 'pastel1' }, title: 'phase', legend: { orient: 'bottom', direction: 'horizontal' } } } },
        { name: 'phase_values', data: { values: labelled }, mark: { type: 'text', fontSize: 9, color: '#333' },
          encoding: { y, x: { field: 'mid', type: 'quantitative' }, text: { field: 'text' } }, transform: [{ calculate: '(datum.x0 + datum.x1) / 2', as: 'mid' }] },
        { name: 'phase_arm_keys', data: { values: totals }, mark: { type: 'square', size: 90, xOffset: 10, opacity: 1 },
          encoding: { y, x: { field: 'end', type: 'quantitative' }, color: armColor(o, records, totals.map((t) => t.arm), false) } },
        { name: 'phase_totals', data: { values: totals }, mark: { type: 'text', align: 'left', xOffset: 20, fontSize: 10, color: '#222' },
          encoding: { y, x: { field: 'end', type: 'quantitative' }, text: { field: 'text' } } },
      ],
      resolve: { scale: { color: 'independent' } },
    } as TopLevelSpec,
  };
}

/** Per arm and difficulty d: the mean over seeds of pass1.<split>.d<d> and its 95% bootstrap
 *  interval (none under 2 seeds), for split test_id / test_ood. */
function difficultyValues(records: readonly RunRecord[], o: PlotOptions, split: 'test_id' | 'test_ood') {
  const re = new RegExp(`^pass1\\.${split}\\.d(\\d+)$`);
  const baseSeed = o.bootstrap?.seed ?? DEFAULT_BOOTSTRAP_SEED;
  return armPoints(records, o).flatMap((p) => {
    const sums = new Map<number, number[]>();
    for (const r of p.records) for (const [k, v] of Object.entries(r.metrics)) {
      const m = re.exec(k);
      if (m && Number.isFinite(v)) { const d = Number(m[1]); if (!sums.has(d)) sums.set(d, []); sums.get(d)!.push(v); }
    }
    return [...sums.entries()].map(([d, xs]) => {
      const ci = xs.length >= 2 ? bootstrapMeanCI(xs, { ...o.bootstrap, seed: seedFor(baseSeed, `difficulty|${split}|${p.sweep}|${p.arm}|${d}`) }) : null;
      return { arm: p.arm, method: p.method, difficulty: d, acc: xs.reduce((a, b) => a + b, 0) / xs.length, seeds: xs.length, lo: ci?.lo ?? null, hi: ci?.hi ?? null };
    });
  });
}

function accuracyByDifficulty(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const id = difficultyValues(records, o, 'test_id');
  const ood = difficultyValues(records, o, 'test_ood');
  const notes = id.length + ood.length ? [] : ['no pass1.test_id.d<k> / pass1.test_ood.d<k> metrics in these runs'];
  const arms = [...new Set([...id, ...ood].map((d) => d.arm))];
  if (arms.length) notes.push('bars: 95% bootstrap interval of the mean over seeds (none for an arm with one seed); arms are spread sideways around each difficulty so their bars do not overlap');
  const color = armColor(o, records, arms);
  // Each arm is shifted a little left or right of its difficulty (x is quantitative).
  const step = Math.min(0.08, 0.6 / Math.max(1, arms.length));
  const shift = (a: string) => (arms.indexOf(a) - (arms.length - 1) / 2) * step;
  const place = <T extends { arm: string; difficulty: number }>(v: T) => ({ ...v, x: v.difficulty + shift(v.arm) });
  const panel = (split: 'id' | 'ood', raw: ReturnType<typeof difficultyValues>) => {
    const values = raw.map(place);
    const withCi = values.filter((v) => v.lo !== null && v.hi !== null);
    const ds = [...new Set(raw.map((v) => v.difficulty))].sort((a, b) => a - b);
    const x = { field: 'x', type: 'quantitative' as const, title: 'difficulty', scale: { domain: ds.length ? [ds[0]! - 0.5, ds[ds.length - 1]! + 0.5] : [0, 1], nice: false }, axis: { values: ds, format: 'd', labelAngle: 0 } };
    return {
      title: split === 'id' ? 'in-distribution (test_id)' : 'out-of-distribution (test_ood)',
      width: Math.round((o.width ?? 520) / 2) - 20, height: o.height ?? 260, data: { values },
      layer: [
        { name: `difficulty_${split}_lines`, mark: { type: 'line', strokeWidth: 1.5, opacity: 0.6 },
          encoding: { x, y: { field: 'acc', type: 'quantitative', title: 'pass@1', scale: { domain: [0, 1] } }, color, order: { field: 'x', type: 'quantitative' } } },
        // (empty inline data would fall back to the panel's: leave the layer out instead)
        ...(withCi.length ? [{ name: `difficulty_${split}_ci`, data: { values: withCi }, mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } }] : []),
        { name: `difficulty_${split}_points`, mark: { type: 'point', filled: true, size: 40, opacity: 1 },
          encoding: { x, y: { field: 'acc', type: 'quantitative' }, color } },
      ],
    };
  };
  return {
    name: 'accuracy-by-difficulty', title: 'Accuracy by difficulty, in and out of distribution (mean over seeds, 95% interval)', notes,
    spec: {
      config: CONFIG, hconcat: [panel('id', id), panel('ood', ood)], resolve: { scale: { color: 'shared' } },
    } as TopLevelSpec,
  };
}

/** Loss against step, one line per arm and seed. An arm with several TRAIN tasks (RL rounds)
 *  continues its x axis from one task to the next, in plan order. */
function trainingLoss(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const curves = (o.curves ?? []).filter((c) => c.tasks.some((t) => t.points.length));
  const values: { arm: string; method: string; seed: number; series: string; task: string; step: number; task_step: number; loss: number }[] = [];
  for (const c of curves) {
    let offset = 0;
    for (const t of c.tasks) {
      for (const p of t.points) values.push({ arm: c.arm, method: c.method, seed: c.seed, series: `${c.arm}|${c.seed}`, task: t.name, step: offset + p.step, task_step: p.step, loss: p.loss });
      offset += Math.max(0, ...t.points.map((p) => p.step));
    }
  }
  const notes: string[] = [];
  if (!values.length) {
    notes.push(o.curves === undefined
      ? 'no loss curves were given to this figure'
      : 'no TRAIN task of these arms reported its loss at steps (a coordinator stores the loss a worker reports every 10 steps; tasks run before it did, or reused from such runs, have none)');
  } else {
    const multi = curves.filter((c) => c.tasks.filter((t) => t.points.length).length > 1).map((c) => c.arm);
    notes.push('one line per arm and seed; loss = the training loss the worker reported at that step');
    if (multi.length) notes.push(`arms with several TRAIN tasks (RL rounds: ${[...new Set(multi)].slice(0, 6).join(', ')}${new Set(multi).size > 6 ? ', ...' : ''}) continue the step axis from one round to the next`);
  }
  const arms = [...new Set(values.map((v) => v.arm))];
  const x = { field: 'step', type: 'quantitative' as const, title: 'training step (TRAIN tasks of an arm in order)' };
  return {
    name: 'training-loss', title: 'Training loss per TRAIN task', notes,
    spec: {
      width: o.width ?? 520, height: o.height ?? 300, config: CONFIG,
      layer: [
        { name: 'loss_lines', data: { values }, mark: { type: 'line', strokeWidth: 1.3, opacity: 0.8 },
          encoding: { x, y: { field: 'loss', type: 'quantitative', title: 'training loss', scale: { zero: false } }, color: armColor(o, records, arms),
            detail: { field: 'series', type: 'nominal' }, order: { field: 'step', type: 'quantitative' } } },
      ],
    } as TopLevelSpec,
  };
}

/** The study's figure (as in the report): each method's gain over its own base arm against
 *  the base's latent ability (PROBE forced-chain accuracy), with paired-bootstrap intervals. */
function gainVsLatent(records: readonly RunRecord[], o: PlotOptions): PlotSpec {
  const s = studyAnalysis(records);
  const { spec, drawn } = latentGainSpec(s, { width: o.width, height: o.height });
  if (!drawn) throw new AnalysisError('gain-vs-latent needs a PROBE (latent ability) and a base arm on the same base; this sweep has no such pair (run a study spec such as experiments/quick.yaml)');
  return { name: 'gain-vs-latent', title: "Gain over the base arm against the base's latent ability, per method (95% paired-bootstrap intervals)", notes: [], spec };
}

/** The Vega-Lite spec of one figure. */
export function plotSpec(records: readonly RunRecord[], name: PlotName, opts: PlotOptions = {}): PlotSpec {
  switch (name) {
    case 'accuracy-vs-flops': return accuracyVsFlops(records, opts);
    case 'accuracy-vs-n': return accuracyVsNPlot(records, opts);
    case 'cost-by-phase': return costByPhase(records, opts);
    case 'accuracy-by-difficulty': return accuracyByDifficulty(records, opts);
    case 'training-loss': return trainingLoss(records, opts);
    case 'gain-vs-latent': return gainVsLatent(records, opts);
    default:
      throw new AnalysisError(`unknown plot '${String(name)}'; choose one of: ${ALL_PLOT_NAMES.join(', ')}`);
  }
}
