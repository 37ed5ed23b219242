// The report opened in headless Chromium (playwright-core, Debian's /usr/bin/chromium): the
// figures' SVG elements are present with the expected number of marks, the page logs no
// console errors and makes no network requests, and a screenshot goes to
// test-artifacts/report.png for a human to look at. Skipped when Chromium is not installed.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../coordinator/report/index.js';
import { standardCurves, standardSweep, STANDARD } from '../fixtures/analysis/generate.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`skipping the report browser test: ${CHROMIUM} not found; install it with apt-get install chromium`);
}

describe.skipIf(!haveChromium)('report in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => { await browser?.close(); });

  it('shows every figure with one mark per datum, no console errors, no network', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const html = await buildReport(standardSweep(), {
      title: 'limolab fixture sweep', generatedAt: '2025-01-01T00:00:00Z', curves: standardCurves(),
      specText: 'name: fixture\narms:\n  - {method: sft, n: [10, 100, 1000]}\n  - {method: rl, rounds: [1, 10, 100, 1000]}\n',
    });
    const file = join(ARTIFACTS, 'report.html');
    writeFileSync(file, html);

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
    await page.goto(`file://${file}`, { waitUntil: 'load' });

    const arms = 1 + STANDARD.sftN.length + STANDARD.rlRounds.length;
    const count = (sel: string) => page.locator(sel).count();
    expect(await count('svg.limolab-plot')).toBe(5);
    expect(await count('#plot-accuracy-vs-flops .arm_points_marks > [role="graphics-symbol"]')).toBe(arms - 1); // base: no method cost
    expect(await count('#plot-accuracy-vs-flops .frontier_marks')).toBe(2); // one frontier per method drawn (base has no method cost)
    expect(await count('#plot-accuracy-vs-n .n_points_marks > [role="graphics-symbol"]')).toBe(STANDARD.sftN.length);
    expect(await count('#plot-cost-by-phase .phase_bars_marks > [role="graphics-symbol"]')).toBe(14); // evaluation is not method cost
    expect(await count('#plot-accuracy-by-difficulty .difficulty_ood_points_marks > [role="graphics-symbol"]')).toBe(arms * 5);
    expect(await count('#plot-accuracy-by-difficulty .difficulty_id_ci_marks > [role="graphics-symbol"]')).toBe(arms * 5);
    expect(await count('#plot-accuracy-vs-n .n_labels_marks > [role="graphics-symbol"]')).toBe(STANDARD.sftN.length);
    expect(await count('#plot-training-loss .loss_lines_marks')).toBe((arms - 1) * 3); // every arm but base, 3 seeds
    expect(await count('#table-summary tbody tr')).toBe(arms);
    // the figures are laid out with a real size (not collapsed to zero)
    const box = await page.locator('#plot-accuracy-vs-flops').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(200);

    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
