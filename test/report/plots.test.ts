// Figures rendered server-side: each SVG carries its stable id and class, and the named
// marks have one item per datum (one point per arm, one bar segment per counted phase, ...).
import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../coordinator/analysis/index.js';
import { plotSpec, renderPlot, type PlotName } from '../../coordinator/report/index.js';
import { standardSweep, STANDARD } from '../fixtures/analysis/generate.js';
import { countMarks } from './svg-marks.js';

const recs = standardSweep();

async function svgOf(name: PlotName, opts = {}) {
  return renderPlot(recs, name, 'svg', opts);
}

describe('renderPlot', () => {
  it('accuracy vs FLOPs: one point and one interval per arm, a frontier line per method, log x axis', async () => {
    const svg = await svgOf('accuracy-vs-flops');
    expect(svg.startsWith('<svg id="plot-accuracy-vs-flops" data-plot="accuracy-vs-flops"')).toBe(true);
    expect(svg).toMatch(/class="marks limolab-plot"/);
    // 3 SFT + 4 RL = 7: the base arm has no method cost (evaluation is not counted) and is left
    // off the log axis, with a note
    const arms = STANDARD.sftN.length + STANDARD.rlRounds.length;
    expect(countMarks(svg, 'arm_points')).toBe(arms);
    expect(countMarks(svg, 'arm_ci')).toBe(arms);
    expect(countMarks(svg, 'arm_labels')).toBe(arms);
    // one line group per method drawn (a line mark is one path per series): sft, rl
    expect((svg.match(/role-mark frontier_marks"/g) ?? []).length).toBe(2);
    // log axis: decade ticks labelled 1e+12 etc.
    expect(svg).toContain('1e+12');
  });

  it('accuracy vs N: one point per SFT arm, reference lines for base and RL', async () => {
    const svg = await svgOf('accuracy-vs-n');
    expect(countMarks(svg, 'n_points')).toBe(3);
    expect(countMarks(svg, 'n_refs')).toBe(2);
    expect(svg).toContain('rl best: rl-r1000 (0.550)');
  });

  it('cost by phase: one bar segment per arm and non-zero counted phase', async () => {
    // base: none; SFT: curation, training (3 x 2); RL: training, rollout (4 x 2). Pretrain and
    // evaluation are not method cost by default. 0 + 6 + 8 = 14.
    expect(countMarks(await svgOf('cost-by-phase'), 'phase_bars')).toBe(14);
    // without curation: the SFT arms lose one segment each -> 11; with pretrain all 8 arms gain one -> 22
    expect(countMarks(await svgOf('cost-by-phase', { includeCuration: false }), 'phase_bars')).toBe(11);
    expect(countMarks(await svgOf('cost-by-phase', { includePretrain: true }), 'phase_bars')).toBe(22);
  });

  it('accuracy by difficulty: arms x difficulties points in each of the ID and OOD panels', async () => {
    const svg = await svgOf('accuracy-by-difficulty');
    expect(countMarks(svg, 'difficulty_id_points')).toBe(8 * 5);
    expect(countMarks(svg, 'difficulty_ood_points')).toBe(8 * 5);
  });

  it('PNG output is a real PNG of the figure', async () => {
    const png = await renderPlot(recs, 'accuracy-vs-flops', 'png');
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR width at byte 16: the SVG is drawn at 2x zoom
    const svg = await svgOf('accuracy-vs-flops');
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(png.readUInt32BE(16)).toBe(2 * w);
  });

  it('unknown plot names and formats are errors that list the choices', async () => {
    expect(() => plotSpec(recs, 'pie' as PlotName)).toThrow(AnalysisError);
    expect(() => plotSpec(recs, 'pie' as PlotName)).toThrow(/unknown plot 'pie'; choose one of: accuracy-vs-flops/);
    await expect(renderPlot(recs, 'accuracy-vs-n', 'gif' as 'svg')).rejects.toThrow(/use 'svg' or 'png'/);
  });
});
