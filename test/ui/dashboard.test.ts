// The web dashboard in a real browser: `limolab coordinator --http --token` as a child
// process, a real nats-server and worker processes running diag tasks, the results fixture
// (an SFT and an RL arm with figures) in the same SQLite file, and Debian's Chromium. Checks
// login and refusal without the token, live progress, figures' tooltips, a task's log,
// drain and cancel from the page, Compare; no console errors and no off-origin requests.
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { fillStore, SWEEP, SWEEP_EMPTY } from '../cli/fixture.js';
import type { Sweep, WorkerStatus } from '../../gen/limolab/v1/coordinator.js';
import { expectCount, expectText, haveChromium, launchChromium, shot, startCoordinatorWithDashboard, watchedPage, type Watched } from './harness.js';

const TOKEN = 'ui-test-token-7f3a';
const c = new Cluster();
let browser: Browser;
let url = '';
const pages: Watched[] = [];

if (!haveChromium) console.warn('skipping the dashboard browser tests: /usr/bin/chromium not found; install it with apt-get install chromium');

async function loggedIn(path = '/'): Promise<Watched> {
  const w = await watchedPage(browser, url);
  pages.push(w);
  await w.page.goto(`${url}/?token=${TOKEN}`);
  if (path !== '/') await w.page.goto(`${url}/${path}`);
  return w;
}

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    await c.startNats();
    fillStore(c.db);
    // A training-loss curve on the fixture's SFT training task (metrics with steps).
    const db = new Database(c.db);
    const ins = db.prepare('insert into metrics (task_id, name, value, step) values (?, ?, ?, ?)');
    for (let s = 1; s <= 12; s++) ins.run('sfttrain0', 'train.loss', 3 * Math.exp(-s / 4) + 0.2, s * 10);
    // Accuracy by difficulty on every evaluation (levels 1-3, in and out of distribution).
    for (const [task, acc] of [['sfteval0', 0.5], ['sfteval1', 0.6], ['rleval0', 0.4], ['rleval1', 0.5]] as const) {
      for (const d of [1, 2, 3]) for (const split of ['test_id', 'test_ood']) ins.run(task, `pass1.${split}.d${d}`, Math.max(0, acc - 0.1 * (d - 1) - (split === 'test_ood' ? 0.1 : 0)), 0);
    }
    db.close();
    ({ url } = await startCoordinatorWithDashboard(c, TOKEN));
    c.startWorker('ui-w1', ['--slots', '2']);
    c.startWorker('ui-w2');
    browser = await launchChromium();
    const client = c.client(TOKEN);
    await waitFor(async () => (await client.call<object, { workers: WorkerStatus[] }>('listWorkers', { includeLost: false })).workers.length === 2, 'two workers', 90_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await c.stop();
  });

  it('without the token shows a login form and the API answers 401', async () => {
    for (const [method, path] of [['GET', '/api/sweeps'], ['GET', '/api/workers'], ['GET', '/api/events'], ['POST', '/api/workers/ui-w1/drain'], ['POST', `/api/sweeps/${SWEEP}/cancel`]]) {
      const r = await fetch(`${url}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect((await r.json() as { error: string }).error).toMatch(/token/);
    }
    expect((await fetch(`${url}/api/sweeps`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/api/sweeps`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const w = await watchedPage(browser, url);
    pages.push(w);
    await w.page.goto(url);
    await w.page.locator('#login').waitFor();
    await shot(w.page, 'login');
    await w.page.fill('input[name=token]', 'not-the-token');
    await w.page.click('button[type=submit]');
    await w.page.locator('#login .error', { hasText: 'wrong token' }).waitFor();
    w.errors.splice(0);   // the refused login's 401 is expected; nothing else may fail
    await w.page.fill('input[name=token]', TOKEN);
    await w.page.click('button[type=submit]');
    await w.page.locator('h1', { hasText: 'Sweeps' }).waitFor();
    const cookie = (await w.context.cookies()).find((k) => k.name === 'limolab_token')!;
    expect(cookie).toMatchObject({ value: TOKEN, httpOnly: true, sameSite: 'Strict' });
    expect(await w.page.evaluate(() => document.cookie)).toBe('');   // HttpOnly: not readable by scripts
  });

  it('takes ?token= on the first load into the cookie and out of the address bar', async () => {
    const w = await loggedIn();
    await w.page.locator('table.sweeps').waitFor();
    expect(w.page.url()).toBe(`${url}/`);
    expect((await w.context.cookies()).find((k) => k.name === 'limolab_token')?.httpOnly).toBe(true);
    await expectCount(w.page.locator('table.sweeps tbody tr'), 2);
  });

  it('shows a submitted sweep and its per-phase progress changing live, without reloading', async () => {
    const w = await loggedIn();
    await w.page.locator('table.sweeps').waitFor();
    const client = c.client(TOKEN);
    const spec = `name: ui-live\narms:\n  - {name: work, method: diag, params: {tasks: 10, sleep_ms: 2000}}\n  - {name: flaky, method: diag, params: {op: fail, fail_times: 1, message: "flaky on purpose"}, retries: 2}\n`;
    const r = await client.call<object, { sweep: Sweep }>('submitSweep', { spec, specPath: 'ui-live.yaml', dryRun: false });
    const id = r.sweep.id;
    // The list learns of the new sweep from the event stream.
    await w.page.locator(`table.sweeps tr[data-id="${id}"]`).waitFor({ timeout: 15_000 });
    await w.page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    await w.page.click(`table.sweeps tr[data-id="${id}"] a`);
    const phase = w.page.locator('.phase[data-phase="diag"] .counts');
    await phase.waitFor();
    const doneOf = async () => Number(/^(\d+)\/11 done/.exec((await phase.textContent()) ?? '')?.[1] ?? -1);
    const first = await doneOf();
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(11);
    await shot(w.page, 'sweep-running');
    await waitFor(async () => (await doneOf()) > first, 'the diag phase to advance on the page', 30_000, 200);
    await expectText(w.page.locator('#overall'), /running|queued|ETA/);
    await waitFor(async () => (await doneOf()) === 11, 'every task done on the page', 45_000, 250);
    await w.page.locator('h1 .badge', { hasText: 'succeeded' }).waitFor({ timeout: 10_000 });
    expect(await w.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);   // same page, updated in place
    await w.page.locator('table.tasks tbody tr').first().waitFor();
    await shot(w.page, 'sweep-done');
    // diag tasks report no accuracy: each figure says it has nothing to draw instead of bare axes.
    await expectText(w.page.locator('#fig-accuracy-vs-flops'), 'nothing to draw');
    expect(await w.page.locator('.fig svg').count()).toBe(0);

    // No polling: with nothing changing, an open page makes no API requests. The last progress
    // event may still schedule one task-list refetch (debounced 1.5 s), so first wait for the page
    // to fall quiet (a page that polled every 2 s or faster never would), then watch it stay quiet.
    let seen = w.apiCalls.length, quietSince = Date.now();
    await waitFor(() => {
      if (w.apiCalls.length !== seen) { seen = w.apiCalls.length; quietSince = Date.now(); }
      return Date.now() - quietSince >= 2000;
    }, 'the page to stop making API requests once the sweep is done', 15_000, 100);
    const before = w.apiCalls.length;
    await new Promise((res) => setTimeout(res, 3000));
    expect(w.apiCalls.slice(before)).toEqual([]);

    // The flaky task's page: two attempts with their worker, and the first one's error in the log tail.
    await w.page.locator('table.tasks a', { hasText: 'diag 0' }).first().waitFor();
    const flakyRow = w.page.locator('table.tasks tbody tr', { hasText: 'flaky' });
    await flakyRow.locator('a').click();
    await w.page.locator('#log pre').waitFor();
    await expectText(w.page.locator('#log pre'), 'flaky on purpose');
    await expectCount(w.page.locator('.card', { hasText: 'Attempts' }).locator('tbody tr'), 2);
    await expectText(w.page.locator('.card', { hasText: 'Attempts' }), /ui-w[12]/);
    await shot(w.page, 'task-log');
  }, 120_000);

  it("shows an arm's figures with tooltips giving arm, seed, accuracy and FLOPs, and the ledger", async () => {
    const w = await loggedIn(`#/sweep/${SWEEP}`);
    await expectCount(w.page.locator('#arms table.arms tbody tr'), 2);
    await expectText(w.page.locator('#arms'), 'sft[n=10]');
    const seeds = w.page.locator('#fig-accuracy-vs-flops .seed_points_marks path');
    await expectCount(seeds, 4);     // 2 arms x 2 seeds
    await expectCount(w.page.locator('#fig-accuracy-vs-flops .arm_points_marks path'), 2);
    await expectCount(w.page.locator('.fig svg'), 5);
    await w.page.locator('#fig-accuracy-by-difficulty .mark-symbol path').first().waitFor();   // the difficulty panels drew points
    // Every figure fits its card: no legend runs past the card's right edge.
    for (const fig of await w.page.locator('.fig').all()) {
      const card = (await fig.boundingBox())!, svg = (await fig.locator('svg').first().boundingBox())!;
      expect(svg.x + svg.width, `${await fig.getAttribute('id')} is wider than its card`).toBeLessThanOrEqual(card.x + card.width + 1);
    }
    // the report's training-loss figure: the fixture's one TRAIN task with steps (sft seed 0)
    await expectCount(w.page.locator('#fig-training-loss .loss_lines_marks path'), 1);
    // Vega draws the tooltip on pointer moves over the mark: move onto the first seed's symbol.
    await seeds.first().scrollIntoViewIfNeeded();
    const box = (await seeds.first().boundingBox())!;
    await w.page.mouse.move(box.x + box.width / 2 - 15, box.y + box.height / 2 - 15);
    await w.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
    const tip = w.page.locator('#vg-tooltip-element');
    await tip.waitFor({ state: 'visible' });
    for (const k of ['arm', 'seed', 'accuracy', 'FLOPs']) await expectText(tip, k);
    await expectText(tip, /sft\[n=10\]|rl\[k=4\]/);
    await expectCount(w.page.locator('#ledger tbody tr'), 5);   // pretrain, curation, training, rollout, evaluation
    await shot(w.page, 'figures');

    // A training task's loss curve, from its metrics with steps.
    await w.page.goto(`${url}/#/task/sfttrain0`);
    await w.page.locator('#curve svg').waitFor();
    await expectCount(w.page.locator('#curve .mark-line path'), 1);
    await shot(w.page, 'task-curve');
  }, 90_000);

  it('drains a worker from the Workers page', async () => {
    const w = await loggedIn('#/workers');
    await w.page.locator('table.workers tbody tr').nth(1).waitFor();
    await expectText(w.page.locator('table.workers'), 'ui-w2');
    await w.page.click('button.drain[data-worker="ui-w2"]');
    await w.page.locator('p.flash', { hasText: 'ui-w2 is draining' }).waitFor();
    await expectText(w.page.locator('table.workers tbody tr', { hasText: 'ui-w2' }).locator('.badge'), /draining|stopped/);
    const client = c.client(TOKEN);
    // The worker itself got the request: it reports draining (or has stopped) in its heartbeats.
    await waitFor(async () => {
      const ws = (await client.call<object, { workers: WorkerStatus[] }>('listWorkers', { includeLost: true })).workers;
      const st = ws.find((x) => x.info?.id === 'ui-w2')?.state;
      return st === 'draining' || st === 'stopped';
    }, 'ui-w2 to report draining', 15_000);
    await shot(w.page, 'workers');
  });

  it('cancels a running sweep from its page; retry is answered', async () => {
    const client = c.client(TOKEN);
    const r = await client.call<object, { sweep: Sweep }>('submitSweep', { spec: 'name: ui-cancel\narms: [{name: long, method: diag, params: {tasks: 3, sleep_ms: 60000}}]\n', specPath: 'x', dryRun: false });
    const w = await loggedIn(`#/sweep/${r.sweep.id}`);
    await w.page.click('#cancel');
    await w.page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor({ timeout: 15_000 });
    const s = await client.call<object, Sweep>('getSweep', { id: r.sweep.id, includeTasks: false });
    expect(s.status).toBe('cancelled');
    // Retry needs Coordinator.retrySweep: it runs when present, and says so clearly when not.
    const res = await w.page.evaluate(async (id) => { const x = await fetch(`/api/sweeps/${id}/retry`, { method: 'POST' }); return { status: x.status, body: await x.json() }; }, r.sweep.id);
    if (res.status === 501) expect(res.body.error).toMatch(/cannot retry/);
    else expect(res.status).toBe(200);
  });

  it('compares two sweeps side by side', async () => {
    const w = await loggedIn(`#/compare?a=${SWEEP}&b=${SWEEP_EMPTY}`);
    await w.page.locator('#side-a table.arms').waitFor();
    await expectCount(w.page.locator('#side-a tbody tr'), 2);
    await expectText(w.page.locator('#side-b'), 'No arm has finished yet');
    await shot(w.page, 'compare');
  });

  it('made no request outside the coordinator and logged no console errors', () => {
    expect(pages.length).toBeGreaterThan(5);
    for (const w of pages) {
      expect(w.offOrigin).toEqual([]);
      expect(w.errors).toEqual([]);
    }
  });
});
