// Browser harness for the dashboard tests: Debian's Chromium through playwright-core, with
// flags that keep it from calling Google; every page records console errors, page errors
// and any request that leaves the coordinator's origin; screenshots go to test-artifacts/.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { BIN, type Cluster } from '../helpers/cluster.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    // playwright gives every launch a fresh temporary profile (it refuses --user-data-dir here).
  });
}

export interface Watched { page: Page; context: BrowserContext; errors: string[]; offOrigin: string[]; apiCalls: string[] }

/** A fresh context (no cookies) and page that records what the page did wrong. */
export async function watchedPage(browser: Browser, origin: string): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  const w: Watched = { page, context, errors: [], offOrigin: [], apiCalls: [] };
  page.on('console', (m) => { if (m.type() === 'error') w.errors.push(m.text()); });
  page.on('pageerror', (e) => w.errors.push(e.message));
  page.on('dialog', (d) => { void d.accept(); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) w.offOrigin.push(u);
    if (u.startsWith(`${origin}/api/`)) w.apiCalls.push(u.slice(origin.length));
  });
  return w;
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

/** `limolab coordinator --http 127.0.0.1:0 --token T` as a child process; resolves with its addresses. */
export async function startCoordinatorWithDashboard(c: Cluster, token: string): Promise<{ proc: ChildProcess; grpc: string; url: string }> {
  const proc = spawn(process.execPath, [BIN, 'coordinator', '--nats', c.nats.url, '--db', c.db, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0',
    '--token', token, '--lost-after-ms', '5000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().trim().split('\n')) c.logs.push(`[coordinator] ${l}`); });
  c.coordinatorProc = proc;
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`coordinator exited with ${code}: ${c.logs.join('\n')}`)));
  });
  const { listening, http } = JSON.parse(line) as { listening: string; http: string };
  c.address = listening;
  return { proc, grpc: listening, url: http.replace(/\/$/, '') };
}

/** Waits until the locator matches `n` elements (the page updates asynchronously); fails with what it saw. */
export async function expectCount(l: Locator, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    seen = await l.count();
    if (seen === n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected ${n} element(s) for ${l.toString()}, saw ${seen}`);
}

/** Waits until the locator's text matches; fails with the text it last saw. */
export async function expectText(l: Locator, want: string | RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string | null = null;
  while (Date.now() < deadline) {
    seen = await l.first().textContent({ timeout: 1000 }).catch(() => null);
    if (seen !== null && (typeof want === 'string' ? seen.includes(want) : want.test(seen))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected ${l.toString()} to contain ${String(want)}; its text was ${JSON.stringify(seen?.slice(0, 500))}`);
}
