// Figures rendered server-side: each SVG carries its stable id and class, and the named
// marks have one item per datum (one point per arm, one bar segment per counted phase, ...).
import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../coordinator/analysis/index.js';
import { armColors, plotSpec, renderPlot, type PlotName, type PlotOptions } from '../../coordinator/report/index.js';
import { standardCurves, standardSweep, STANDARD } from '../fixtures/analysis/generate.js';
import { armColorsOf, countMarks } from './svg-marks.js';

const recs = standardSweep();

async function svgOf(name: PlotName, opts: PlotOptions = {}) {
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

  it('accuracy vs N labels every point with its arm, N and accuracy', async () => {
    const svg = await svgOf('accuracy-vs-n');
    expect(countMarks(svg, 'n_labels')).toBe(STANDARD.sftN.length);
    for (const n of STANDARD.sftN) expect(svg).toContain(`>sft-n${n} (N=${n}, ${STANDARD.sftAcc(n).toFixed(3)})</text>`);
  });

  it('gives each arm one colour in every figure, from the sweep-wide map', async () => {
    const colors = armColors(recs);
    // 8 arms, ordered by method then name (numbers as numbers), 8 distinct colours
    expect(colors.domain).toEqual(['base', 'rl-r1', 'rl-r10', 'rl-r100', 'rl-r1000', 'sft-n10', 'sft-n100', 'sft-n1000']);
    expect(new Set(colors.range).size).toBe(8);
    const opts = { armColors: colors, curves: standardCurves(recs) };
    const seen: Map<string, string>[] = [
      armColorsOf(await svgOf('accuracy-vs-flops', opts), 'arm_points'),
      armColorsOf(await svgOf('accuracy-vs-n', opts), 'n_points'),
      armColorsOf(await svgOf('accuracy-by-difficulty', opts), 'difficulty_id_points'),
      armColorsOf(await svgOf('cost-by-phase', opts), 'phase_arm_keys'),
      armColorsOf(await svgOf('training-loss', opts), 'loss_lines'),
    ];
    expect(seen.map((m) => m.size)).toEqual([7, 3, 8, 8, 7]);   // arms drawn in each figure
    for (const m of seen) for (const [arm, c] of m) expect(c, arm).toBe(colors.range[colors.domain.indexOf(arm)]);
    // a figure that draws fewer arms (only SFT) keeps their colours
    const sftOnly = armColorsOf(await renderPlot(recs.filter((r) => r.method === 'sft'), 'accuracy-vs-flops', 'svg', opts), 'arm_points');
    expect(sftOnly.get('sft-n100')).toBe(seen[0]!.get('sft-n100'));
  });

  it("cost by phase: full arm labels, each bar's total FLOPs beside it and the larger segments' FLOPs inside", async () => {
    const long = recs.map((r) => (r.arm === 'sft-n10' ? { ...r, arm: 'sft-limo-chains-very-long-arm-name[n=10,curation=limo]' } : r));
    const svg = await renderPlot(long, 'cost-by-phase', 'svg');
    expect(svg).toContain('>sft-limo-chains-very-long-arm-name[n=10,curation=limo]</text>');
    expect(svg).not.toContain('…');
    expect(countMarks(svg, 'phase_totals')).toBe(8);
    // rl-r10: 9e12 rollout + 1e12 training = 1.0e+13 in all; its rollout segment (90%) is labelled
    expect(svg).toContain('>1.0e+13 FLOPs</text>');
    expect(svg).toContain('>9.0e+12</text>');
    expect(svg).toContain('>no counted FLOPs</text>');      // base: evaluation and pretraining are not method cost
  });

  it('accuracy by difficulty: a 95% interval bar per arm and difficulty, around the mean over seeds', async () => {
    const svg = await svgOf('accuracy-by-difficulty');
    expect(countMarks(svg, 'difficulty_id_ci')).toBe(8 * 5);
    expect(countMarks(svg, 'difficulty_ood_ci')).toBe(8 * 5);
    // with one seed there is no interval to draw
    const one = await renderPlot(standardSweep({ seeds: 1, withFailure: false }), 'accuracy-by-difficulty', 'svg');
    expect(countMarks(one, 'difficulty_id_points')).toBe(8 * 5);
    expect(countMarks(one, 'difficulty_id_ci')).toBe(0);
  });

  it('training loss: one line per arm and seed over its TRAIN tasks, or a note when no task reported steps', async () => {
    const curves = standardCurves(recs);
    const svg = await svgOf('training-loss', { curves });
    // 7 trained arms (base trains nothing) x 3 seeds
    expect((svg.match(/role-mark loss_lines_marks"/g) ?? []).length).toBe(7 * 3);
    // rl-r1000 has 3 TRAIN tasks of 5 points, continued on one axis: one path of 15 points
    const rl = /aria-label="[^"]*arm: rl-r1000; [^"]*series: rl-r1000\|0"[^>]* d="([^"]+)"/.exec(svg)![1]!;
    expect(rl.split('L')).toHaveLength(15);
    const none = plotSpec(recs, 'training-loss', { curves: [] });
    expect(none.notes[0]).toMatch(/no TRAIN task of these arms reported its loss at steps/);
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
