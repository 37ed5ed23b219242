// The HTML report as text: self-contained (no external references), escaped, with every
// figure and table, and a visible 'not available' section when the data cannot support one.
import { describe, expect, it } from 'vitest';
import { buildReport, escapeHtml, PLOT_NAMES } from '../../coordinator/report/index.js';
import { makeRecord, standardSweep } from '../fixtures/analysis/generate.js';
import { sweepHealth } from '../../coordinator/report/sweep-health.js';
import { countMarks } from './svg-marks.js';

const spec = 'name: fixture\narms:\n  - {method: sft, n: [10, 100, 1000]}  # <script>alert("x")</script> & more';

describe('buildReport', () => {
  it('is one self-contained HTML file with every figure, table and the escaped spec', async () => {
    const html = await buildReport(standardSweep(), { title: 'Fixture <sweep> & co', specText: spec, generatedAt: '2025-01-01T00:00:00Z' });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    // no external fetches: no scripts, stylesheets, images or other src/href at all; the only
    // URLs are the SVG namespace declarations, which browsers never fetch
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import/i);
    const urls = html.match(/https?:\/\/[^"'\s<>]+/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']));
    for (const name of PLOT_NAMES) expect(html).toContain(`<svg id="plot-${name}"`);
    expect(countMarks(html.slice(html.indexOf('id="plot-accuracy-vs-flops"')), 'arm_points')).toBe(7); // base: no method cost, not on the log axis
    for (const id of ['table-summary', 'table-iso-compute', 'table-exchange-rate', 'table-accuracy-vs-n']) {
      expect(html).toContain(`<table id="${id}"`);
    }
    // escaping: title and spec text appear escaped, never as live markup
    expect(html).toContain('<title>Fixture &lt;sweep&gt; &amp; co</title>');
    expect(html).toContain('# &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    // counted runs: 25 records (8 arms x 3 seeds + 1 failed), 24 counted
    expect(html).toContain('25 runs, 24 counted, over 8 arms');
    expect(html).toContain('pretraining, the shared base model, is excluded');
  });

  it('summary rows hold one line per arm and the exchange table the matched RL FLOPs', async () => {
    const html = await buildReport(standardSweep(), { title: 't', generatedAt: 'x' });
    const summary = html.slice(html.indexOf('<table id="table-summary"'), html.indexOf('</table>', html.indexOf('<table id="table-summary"')));
    expect((summary.match(/<tr>/g) ?? []).length).toBe(1 + 8); // header + 8 arms
    // SFT n=100 (acc .40) against RL acc = .25 + .1 log10(rounds), FLOPs 1e12 r + 1e10 eval:
    // .40 lies halfway between rl-r10 (1.001e13) and rl-r100 (1.0001e14) in acc, so the match is
    // their geometric mean, 3.164e13 -> printed 3.16e+13.
    const ex = html.slice(html.indexOf('<table id="table-exchange-rate"'));
    expect(ex).toContain('3.16e+13');
  });

  it('says a comparison is not available instead of failing when a method is missing', async () => {
    const onlySft = standardSweep().filter((r) => r.method === 'sft');
    const html = await buildReport(onlySft, { title: 'SFT only', generatedAt: 'x' });
    expect(html).toMatch(/<section id="exchange-rate">.*Not available: exchange rate needs arms of method &#39;sft&#39; and &#39;rl&#39; \(found: sft\)/s);
    expect(html).toContain('<table id="table-summary"');
  });

  it('escapeHtml escapes the five special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('flags a failed sweep at the top, and says in one sentence when iso-compute and exchange rate have no overlap', async () => {
    const rec = (arm: string, method: string, flops: number, acc: number, seed: number) =>
      makeRecord({ arm, method, seed, metrics: { 'pass1.test_id': acc }, flopsByPhase: { training: flops }, curatedExamples: method === 'sft' ? 10 : 0 });
    // SFT: 1e9..1e10 FLOPs at .6/.7; RL: 1e12..1e13 at .1/.2: no shared budget, no matching accuracy
    const rs = [0, 1, 2].flatMap((s) => [rec('sft-a', 'sft', 1e9, 0.6, s), rec('sft-b', 'sft', 1e10, 0.7, s), rec('rl-a', 'rl', 1e12, 0.1, s), rec('rl-b', 'rl', 1e13, 0.2, s)]);
    const health = sweepHealth({ id: 'sw-x', status: 'failed', counts: { succeeded: 10, failed: 2 } }, [...rs, { ...rs[0]!, seed: 3, status: 'failed' }]);
    const html = await buildReport(rs, { title: 't', generatedAt: 'x', plots: [], health });
    const top = html.indexOf('id="sweep-health"');
    expect(top).toBeGreaterThan(0);
    expect(top).toBeLessThan(html.indexOf('id="figures"'));
    expect(html).toContain('sweep sw-x FAILED (tasks: 10 succeeded, 2 failed)');
    expect(html).toContain('1 of 13 arm x seed runs have no result (1 failed); arms missing seeds: sft-a 3 of 4');
    expect(html).toContain('id="iso-compute-none"');
    expect(html).not.toContain('id="table-iso-compute"');
    expect(html).toContain('id="exchange-rate-none"');
    expect(html).not.toContain('id="table-exchange-rate"');
    // the standard sweep overlaps: tables, no sentence, no flag
    const ok = await buildReport(standardSweep(), { title: 't', generatedAt: 'x', plots: [] });
    expect(ok).toContain('id="table-iso-compute"');
    expect(ok).not.toContain('iso-compute-none');
    expect(ok).not.toContain('id="sweep-health"');
  });
});
