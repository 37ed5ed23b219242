// Public API of limolab's report layer: figures rendered server-side from Vega-Lite (vega
// View, renderer 'none') and a self-contained HTML report.
//
//   buildReport(records, {title, specText, prices, includePretrain, includeCuration, ...})
//     -> Promise<string>: one HTML file, no external URLs          (limolab report <sweep> -o f.html)
//   renderPlot(records, name, 'svg' | 'png', opts) -> Promise<string | Buffer>   (limolab plot)
//     name: 'accuracy-vs-flops' | 'accuracy-vs-n' | 'cost-by-phase' | 'accuracy-by-difficulty' | 'training-loss'
//     (opts.curves: loadTrainCurves; opts.armColors: armColors(all records), one colour per arm)
//   Each figure's <svg> has id 'plot-<name>' and class 'limolab-plot'; its marks are named per
//   PLOT_MARKS (e.g. '.arm_points_marks' holds one symbol per arm).

export { buildReport, escapeHtml, tableHtml, type ReportOptions } from './html.js';
export { renderPlot, renderPlotSvg, specToSvg, svgToPng, tagSvg } from './render.js';
export { armColors, plotSpec, ALL_PLOT_NAMES, PLOT_NAMES, PLOT_MARKS, type ArmColors, type PlotName, type PlotOptions, type PlotSpec, type TrainCurve } from './plots.js';
