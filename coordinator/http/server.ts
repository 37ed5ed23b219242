// The dashboard's HTTP(S) server: static assets (the page, its scripts, and vega, vega-lite
// and vega-embed's browser builds from node_modules: nothing from a CDN), the JSON API under
// /api/, server-sent events at /api/events, and login. Started by `limolab coordinator
// --http HOST:PORT` and `limolab run --ui`; same bearer token and TLS as the gRPC API.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { LimolabError } from '../../common/errors.js';
import type { Coordinator } from '../coordinator.js';
import { Api, send } from './api.js';
import { Auth } from './auth.js';
import { EventHub } from './events.js';
import { LogTails } from './task-view.js';

export interface HttpServerOptions {
  address: string;                                   // HOST:PORT; port 0 picks a free one
  token?: string;
  tls?: { cert: string; key: string; ca?: string };  // file paths, as for gRPC
  log?: (line: string) => void;
}

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
// Vega compiles its expressions with Function(), hence 'unsafe-eval'; vega-embed's tooltip
// handler adds a <style> element. Everything else must come from this origin.
const CSP = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Browser builds of the plotting libraries, found through the packages' own entry points. */
function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);   // import.meta.resolve is missing under some loaders (vitest)
  const dir = (pkg: string) => dirname(require.resolve(pkg));
  return {
    '/vendor/vega.min.js': join(dir('vega'), 'vega.min.js'),
    '/vendor/vega-lite.min.js': join(dir('vega-lite'), 'vega-lite.min.js'),
    '/vendor/vega-embed.min.js': join(dir('vega-embed'), 'vega-embed.min.js'),
  };
}

export interface HttpServerHandle { server: Server; url: string; address: string; hub: EventHub; stop(): Promise<void> }

export async function startHttpServer(coord: Coordinator, opts: HttpServerOptions): Promise<HttpServerHandle> {
  const m = /^(.*):(\d+)$/.exec(opts.address);
  if (!m) throw new LimolabError(`--http ${opts.address}: expected HOST:PORT, e.g. 127.0.0.1:8470 (port 0 picks a free one)`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1'), port = Number(m[2]);
  const auth = new Auth(opts.token, !!opts.tls);
  const logs = new LogTails();
  const hub = new EventHub(coord, logs);
  const api = new Api(coord, logs);
  const vendor = vendorFiles();
  const cache = new Map<string, Buffer>();
  const file = (p: string) => { let b = cache.get(p); if (!b) { b = readFileSync(p); cache.set(p, b); } return b; };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;

    if (path === '/login' && req.method === 'POST') return login(req, res, auth);
    if (path === '/logout' && req.method === 'POST') { auth.setCookie(res, null); return send(res, 200, { ok: true }); }
    if (path.startsWith('/api/')) {
      if (!auth.ok(req)) return send(res, 401, { error: 'this dashboard needs the coordinator\'s token: log in on the page, or send "Authorization: Bearer <token>"' });
      if (req.method !== 'GET' && req.method !== 'HEAD' && !auth.sameOrigin(req)) return send(res, 403, { error: 'refused: the request came from another site' });
      if (path === '/api/events' && req.method === 'GET') return hub.open(req, res, url);
      if (!(await api.handle(req, res, url))) send(res, 404, { error: `no API route ${path}; the routes are under /api/sweeps, /api/tasks, /api/workers, /api/compare` });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: `${req.method} is not allowed on ${path}` });
    // `?token=` on a first load: check it, keep it in the cookie, and take it out of the address bar.
    const given = url.searchParams.get('token');
    if (given !== null && auth.required) {
      if (!auth.check(given)) { res.writeHead(303, { location: '/?login=failed' }); return res.end(); }
      auth.setCookie(res, given);
      url.searchParams.delete('token');
      res.writeHead(303, { location: `/${path.replace(/^\/+/, '')}${url.search}` });   // never '//host': no open redirect
      return res.end();
    }
    const vendorPath = vendor[path];
    const rel = path === '/' ? 'index.html' : path.startsWith('/assets/') ? normalize(path.slice('/assets/'.length)) : null;
    const full = vendorPath ?? (rel && !rel.startsWith('..') && !rel.includes('\0') ? join(ASSETS, rel) : null);
    if (!full || !isFile(full)) return send(res, 404, { error: `not found: ${path}` });
    res.writeHead(200, { 'content-type': TYPES[extname(full)] ?? 'application/octet-stream', 'cache-control': vendorPath ? 'public, max-age=86400' : 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file(full));
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => { if (!res.headersSent) send(res, 500, { error: (e as Error).message }); else res.destroy(); });
  };
  const server: Server = opts.tls
    ? createHttps({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key), ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca) } : {}) }, listener)
    : createHttp(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new LimolabError(`cannot serve the dashboard on ${opts.address}: ${e.message}; choose another --http address`, { cause: e })));
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const url = `${opts.tls ? 'https' : 'http'}://${shown}:${a.port}/`;
  if (!isLoopback(host) && !opts.token) (opts.log ?? console.error)(`coordinator: the dashboard on ${opts.address} is reachable from the network without a token; start with --token to require one`);
  return {
    server, url, address: `${shown}:${a.port}`, hub,
    stop: () => new Promise<void>((resolve) => { hub.close(); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function login(req: IncomingMessage, res: ServerResponse, auth: Auth): Promise<void> {
  if (!auth.sameOrigin(req)) return send(res, 403, { error: 'refused: the login came from another site' });
  let body = '';
  for await (const chunk of req) { body += chunk; if (body.length > 10_000) return send(res, 413, { error: 'login body too large' }); }
  let token = '';
  try { token = (req.headers['content-type'] ?? '').includes('json') ? String((JSON.parse(body) as { token?: unknown }).token ?? '') : new URLSearchParams(body).get('token') ?? ''; }
  catch { return send(res, 400, { error: 'send {"token": "..."} as JSON or token=... as a form' }); }
  if (!auth.check(token)) return send(res, 401, { error: 'wrong token: use the one the coordinator was started with (--token or LIMOLAB_TOKEN)' });
  if (auth.required) auth.setCookie(res, token);
  send(res, 200, { ok: true });
}

function isFile(p: string): boolean { try { return statSync(p).isFile(); } catch { return false; } }
function isLoopback(host: string): boolean { return host === 'localhost' || host === '::1' || /^127\./.test(host); }
