// The dashboard's HTTP layer without a browser: a coordinator (in-process transport, real
// SQLite file) serving --http with a token; the API's refusals (no token, wrong token, another
// origin), the ?token= redirect, static files and their security headers, 404/405 answers,
// the event stream, and HTTPS with the coordinator's certificate.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTransport } from '../../common/memory-transport.js';
import { startCoordinator } from '../../coordinator/main.js';
import { fillStore, SWEEP } from '../cli/fixture.js';

const TOKEN = 'api-test-token';
const dir = mkdtempSync(join(tmpdir(), 'limolab-http-'));
let c: Awaited<ReturnType<typeof startCoordinator>>;
let url = '';
const transports: MemoryTransport[] = [];
const transport = () => { const t = new MemoryTransport({}); transports.push(t); return t; };
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  fillStore(join(dir, 'l.db'));
  c = await startCoordinator({ db: join(dir, 'l.db'), transport: transport(), listen: '127.0.0.1:0', http: '127.0.0.1:0', token: TOKEN, log: () => {} });
  url = c.http!.url.replace(/\/$/, '');
});
afterAll(async () => { await c?.stop(); for (const t of transports) await t.close(); rmSync(dir, { recursive: true, force: true }); });

describe('dashboard HTTP API', () => {
  it('refuses every API route without the right token and serves it with it', async () => {
    expect((await fetch(`${url}/api/sweeps`)).status).toBe(401);
    expect((await fetch(`${url}/api/sweeps`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${url}/api/sweeps`, { headers: { cookie: 'limolab_token=nope' } })).status).toBe(401);
    const ok = await fetch(`${url}/api/sweeps`, { headers: { cookie: `limolab_token=${TOKEN}` } });
    expect(ok.status).toBe(200);
    const body = await ok.json() as { sweeps: { id: string; progress: number }[] };
    expect(body.sweeps.map((s) => s.id)).toContain(SWEEP);
    expect(body.sweeps.find((s) => s.id === SWEEP)!.progress).toBe(1);
  });

  it('answers a sweep with per-phase counts, its arm table as `limolab results` formats it, and figures', async () => {
    const s = await (await fetch(`${url}/api/sweeps/${SWEEP}`, { headers: auth })).json() as { phases: { phase: string; total: number; done: number }[] };
    expect(s.phases.map((p) => p.phase)).toEqual(['pretrain', 'curation', 'training', 'rollout', 'evaluation']);
    expect(s.phases.find((p) => p.phase === 'training')).toMatchObject({ total: 4, done: 4 });
    const r = await (await fetch(`${url}/api/sweeps/${SWEEP}/results`, { headers: auth })).json() as { table: { cells: string[][] }; figures: { name: string }[]; ledger: { phase: string; flops: number }[] };
    expect(r.table.cells.map((row) => row[0])).toEqual(['rl[k=4]', 'sft[n=10]']);
    expect(r.figures.map((f) => f.name)).toContain('accuracy-vs-flops');
    expect(r.ledger.find((l) => l.phase === 'pretrain')!.flops).toBe(2e12);
    expect((await fetch(`${url}/api/sweeps/nope`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${url}/api/nothing`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${url}/api/sweeps/${SWEEP}`, { method: 'POST', headers: auth })).status).toBe(405);
  });

  it('refuses an action posted from another origin, even with the cookie', async () => {
    const r = await fetch(`${url}/api/sweeps/${SWEEP}/cancel`, { method: 'POST', headers: { cookie: `limolab_token=${TOKEN}`, origin: 'http://evil.example' } });
    expect(r.status).toBe(403);
    const login = await fetch(`${url}/login`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(login.status).toBe(403);
  });

  it('turns ?token= into an HttpOnly SameSite=Strict cookie and redirects within the site only', async () => {
    const r = await fetch(`${url}/?token=${TOKEN}`, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/');
    expect(r.headers.get('set-cookie')).toMatch(/^limolab_token=api-test-token; Path=\/; HttpOnly; SameSite=Strict$/);
    const bad = await fetch(`${url}/?token=wrong`, { redirect: 'manual' });
    expect(bad.headers.get('location')).toBe('/?login=failed');
    expect(bad.headers.get('set-cookie')).toBeNull();
    const sneaky = await fetch(`${url}/x/..//evil.example/?token=${TOKEN}`, { redirect: 'manual' });
    expect(sneaky.headers.get('location')).not.toMatch(/^\/\//);
  });

  it('serves the page, its scripts and the vega builds itself, with a same-origin CSP, and nothing outside assets', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).not.toMatch(/https?:\/\//);
    for (const p of ['/assets/app.js', '/vendor/vega.min.js', '/vendor/vega-lite.min.js', '/vendor/vega-embed.min.js']) {
      const r = await fetch(`${url}${p}`);
      expect(r.status, p).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/javascript/);
    }
    for (const p of ['/assets/../server.ts', '/assets/%2e%2e/server.ts', '/package.json', '/vendor/other.js']) expect((await fetch(`${url}${p}`)).status, p).toBe(404);
  });

  it('streams the state on connect as server-sent events', async () => {
    const ac = new AbortController();
    const r = await fetch(`${url}/api/events?sweep=${SWEEP}`, { headers: auth, signal: ac.signal });
    expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = r.body!.getReader();
    let text = '';
    while (!text.includes('event: workers')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    expect(text).toMatch(/event: progress\ndata: \{"sweep":\{"id":"sw-done"/);
  });

  const haveOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
  it.skipIf(!haveOpenssl)('serves HTTPS with the coordinator\'s certificate and sets a Secure cookie (needs openssl)', async () => {
    const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(gen.status).toBe(0);
    const t = await startCoordinator({ db: join(dir, 't.db'), transport: transport(), listen: '127.0.0.1:0', http: '127.0.0.1:0', token: TOKEN, tls: { cert, key }, log: () => {} });
    try {
      expect(t.http!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        httpsRequest(`${t.http!.url}?token=${TOKEN}`, { ca: readFileSync(cert) }, (r) => { r.resume(); resolve({ status: r.statusCode!, cookie: String(r.headers['set-cookie']) }); }).on('error', reject).end();
      });
      expect(res.status).toBe(303);
      expect(res.cookie).toMatch(/; Secure/);
    } finally { await t.stop(); }
  });
});
