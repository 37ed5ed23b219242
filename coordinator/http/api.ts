// The dashboard's JSON API under /api/: read-only views of sweeps, tasks, workers and
// results, plus the three actions (cancel a sweep, retry a sweep, drain a worker), which
// are POSTs. Authentication is checked by the server before any route here runs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LimolabError, NotFoundError, SpecError } from '../../common/errors.js';
import { AnalysisError } from '../analysis/index.js';
import type { Coordinator } from '../coordinator.js';
import { loadRunRecords } from '../results.js';
import type { SweepRow } from '../store/store.js';
import { json } from './events.js';
import { armTable, sweepResults, type SweepResults } from './results-view.js';
import { taskDetail, type LogTails } from './task-view.js';
import { listSweeps, listWorkers, sweepProgress, summarize } from './views.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); this.name = 'HttpError'; }
}

type Handler = (m: RegExpMatchArray, url: URL) => unknown;

export class Api {
  private cache = new Map<string, { key: string; value: Promise<SweepResults> }>();
  private routes: { method: string; re: RegExp; fn: Handler }[];

  constructor(private coord: Coordinator, private logs: LogTails) {
    const q = (u: URL, k: string) => u.searchParams.get(k) ?? undefined;
    this.routes = [
      { method: 'GET', re: /^\/api\/session$/, fn: () => ({ ok: true }) },
      { method: 'GET', re: /^\/api\/sweeps$/, fn: (_m, u) => ({ sweeps: listSweeps(coord, { status: q(u, 'status'), q: q(u, 'q'), limit: Number(q(u, 'limit') ?? 200) || 200 }) }) },
      { method: 'GET', re: /^\/api\/sweeps\/([^/]+)$/, fn: (m) => this.sweep(m[1]!) },
      { method: 'GET', re: /^\/api\/sweeps\/([^/]+)\/results$/, fn: (m) => this.results(this.row(m[1]!)) },
      { method: 'GET', re: /^\/api\/sweeps\/([^/]+)\/tasks$/, fn: (m, u) => this.tasks(m[1]!, q(u, 'status'), q(u, 'phase')) },
      { method: 'GET', re: /^\/api\/tasks\/([^/]+)$/, fn: (m) => taskDetail(coord, logs, m[1]!) ?? notFound(`no task with id ${m[1]}`) },
      { method: 'GET', re: /^\/api\/workers$/, fn: () => ({ workers: listWorkers(coord) }) },
      { method: 'GET', re: /^\/api\/compare$/, fn: (_m, u) => this.compare(q(u, 'a'), q(u, 'b')) },
      { method: 'POST', re: /^\/api\/sweeps\/([^/]+)\/cancel$/, fn: async (m) => { await coord.cancel(this.row(m[1]!).id); return { sweep: sweepProgress(coord, m[1]!) }; } },
      { method: 'POST', re: /^\/api\/sweeps\/([^/]+)\/retry$/, fn: (m) => this.retry(m[1]!) },
      { method: 'POST', re: /^\/api\/workers\/([^/]+)\/drain$/, fn: async (m) => { await coord.drainWorker(m[1]!); return { workers: listWorkers(coord) }; } },
    ];
  }

  /** Answers the request when it is an API route; false when no route matches. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    const matches = this.routes.map((r) => ({ r, m: path.match(r.re) })).filter((x) => x.m);
    if (!matches.length) return false;
    const hit = matches.find((x) => x.r.method === req.method);
    try {
      if (!hit) throw new HttpError(405, `${req.method} is not allowed on ${path}; use ${matches.map((x) => x.r.method).join(' or ')}`);
      const m = hit.m!.map((s, i) => (i ? decodeURIComponent(s) : s)) as unknown as RegExpMatchArray;
      send(res, 200, await hit.r.fn(m, url));
    } catch (e) {
      const [status, message] = errorStatus(e);
      send(res, status, { error: message });
    }
    return true;
  }

  private row(id: string): SweepRow {
    return this.coord.scheduler.liveSweep(id)?.row ?? this.coord.store.getSweep(id) ?? notFound(`no sweep with id ${id}`);
  }

  private sweep(id: string) {
    const row = this.row(id);
    const progress = sweepProgress(this.coord, id)!;
    return { ...progress, spec: row.specText, retry: typeof (this.coord as { retrySweep?: unknown }).retrySweep === 'function' };
  }

  /** Results are recomputed only when the sweep's stored results or status changed. */
  private results(row: SweepRow): Promise<SweepResults> {
    const key = `${this.coord.store.resultCount(row.id)}|${row.status}`;
    const hit = this.cache.get(row.id);
    if (hit?.key === key) return hit.value;
    const value = sweepResults(this.coord.store, row);
    value.catch(() => this.cache.delete(row.id));
    this.cache.set(row.id, { key, value });
    if (this.cache.size > 50) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  private tasks(id: string, status?: string, phase?: string) {
    this.row(id);
    const live = this.coord.scheduler.liveSweep(id);
    const all = live ? live.tasks : this.coord.store.sweepTasks(id);
    const kept = all.filter((t) => (!status || t.status === status) && (!phase || t.phase === phase));
    // Failed and running first: those are what a person opens a task for.
    const rank: Record<string, number> = { failed: 0, running: 1, queued: 2, pending: 3, skipped: 4, cancelled: 5, succeeded: 6, cached: 7 };
    kept.sort((a, b) => (rank[a.status] ?? 9) - (rank[b.status] ?? 9) || a.createdMs - b.createdMs);
    return {
      total: kept.length,
      tasks: kept.slice(0, 500).map((t) => ({
        id: t.id, name: t.name, arm: t.arm, seed: t.seed, kind: t.kind, phase: t.phase, status: t.status, workerId: t.workerId,
        attempts: t.dispatches, startedMs: t.startedMs, finishedMs: t.finishedMs, error: t.error, progress: (t as { progress?: number }).progress ?? (t.status === 'succeeded' ? 1 : 0),
      })),
    };
  }

  private compare(a?: string, b?: string) {
    if (!a || !b) throw new HttpError(400, 'compare needs two sweeps: /api/compare?a=SWEEP_ID&b=SWEEP_ID');
    const side = (id: string) => {
      const row = this.row(id);
      return { sweep: summarize(this.coord, row), table: armTable(loadRunRecords(this.coord.store, id), row) };
    };
    return { a: side(a), b: side(b) };
  }

  private async retry(id: string) {
    this.row(id);
    const c = this.coord as Coordinator & { retrySweep?: (id: string) => unknown };
    if (typeof c.retrySweep !== 'function') throw new HttpError(501, 'this coordinator cannot retry sweeps yet (Coordinator.retrySweep is missing); resubmit the spec instead');
    const r = await c.retrySweep(id);
    return { result: r ?? null, sweep: sweepProgress(this.coord, id) };
  }
}

function notFound(message: string): never { throw new HttpError(404, message); }

function errorStatus(e: unknown): [number, string] {
  if (e instanceof HttpError) return [e.status, e.message];
  if (e instanceof NotFoundError) return [404, e.message];
  if (e instanceof SpecError || e instanceof AnalysisError) return [400, e.message];
  if (e instanceof LimolabError) return [409, e.message];
  return [500, (e as Error)?.message ?? String(e)];
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = json(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

