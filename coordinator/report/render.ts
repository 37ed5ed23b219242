// Renders a figure server-side: Vega-Lite spec -> vega-lite compile -> vega View (renderer
// 'none', no DOM) -> SVG string, tagged with a stable id and class ('plot-<name>',
// 'limolab-plot'); PNG by rasterising that SVG with @resvg/resvg-js (system fonts, 2x zoom).
// vega, vega-lite and resvg are loaded on the first figure, not with this module: the
// coordinator imports the report code for its results pages, and vega alone is ~12 MB of its
// heap (measured), which every major GC of a coordinator that never draws a figure would walk.

import type { TopLevelSpec } from 'vega-lite';
import { AnalysisError, type RunRecord } from '../analysis/index.js';
import { plotSpec, type PlotName, type PlotOptions } from './plots.js';

/** vega and vega-lite, imported on the first figure. */
let renderers: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;

/** Vega-Lite spec -> SVG text, via vega's headless View (no hand-assembled SVG). */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  let view: import('vega').View | undefined;
  try {
    const [vega, { compile }] = await (renderers ??= Promise.all([import('vega'), import('vega-lite')]));
    const compiled = compile(spec).spec;
    view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    return await view.toSVG();
  } catch (err) {
    throw new AnalysisError(`rendering a plot failed: ${(err as Error).message}; check the spec with vega-lite's validator`, { cause: err });
  } finally {
    view?.finalize();
  }
}

/** Gives the root <svg> a stable id ('plot-<name>') and the 'limolab-plot' class. */
export function tagSvg(svg: string, name: string): string {
  return svg.replace(/^<svg\b([^>]*?)\bclass="marks"/, `<svg id="plot-${name}" data-plot="${name}"$1class="marks limolab-plot"`);
}

export async function renderPlotSvg(records: readonly RunRecord[], name: PlotName, opts: PlotOptions = {}): Promise<string> {
  return tagSvg(await specToSvg(plotSpec(records, name, opts).spec), name);
}

/** SVG -> PNG bytes. Text uses the system's fonts (DejaVu Sans here); scale 2 for crisp output. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

/** One figure as SVG text or PNG bytes (what `limolab plot` writes). */
export async function renderPlot(records: readonly RunRecord[], name: PlotName, format: 'svg', opts?: PlotOptions): Promise<string>;
export async function renderPlot(records: readonly RunRecord[], name: PlotName, format: 'png', opts?: PlotOptions): Promise<Buffer>;
export async function renderPlot(records: readonly RunRecord[], name: PlotName, format: 'svg' | 'png', opts: PlotOptions = {}): Promise<string | Buffer> {
  if (format !== 'svg' && format !== 'png') throw new AnalysisError(`unknown plot format '${String(format)}'; use 'svg' or 'png'`);
  const svg = await renderPlotSvg(records, name, opts);
  return format === 'svg' ? svg : await svgToPng(svg);
}
