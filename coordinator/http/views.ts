// What the dashboard shows, shaped from the coordinator's live state and the store: sweep
// summaries (status, progress, age, tags), per-phase progress with running/queued/failed
// counts and an ETA, and the worker list with each worker's current task names.
import { kindName } from '../../common/wire.js';
import type { Coordinator } from '../coordinator.js';
import { PHASES } from '../analysis/index.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { PhaseGroup, SweepRow, TaskStatus } from '../store/store.js';

export interface SweepSummary {
  id: string; name: string; status: string; createdMs: number; finishedMs: number; error: string | null;
  tags: string[]; counts: Record<string, number>; progress: number; arms: number;
}

const DONE: ReadonlySet<string> = new Set(['succeeded', 'cached', 'failed', 'skipped', 'cancelled']);

/** Tags of a sweep, wherever this version of limolab keeps them (a column or the spec). */
export function tagsOf(row: SweepRow): string[] {
  const r = row as SweepRow & { tags?: unknown; tagsJson?: unknown };
  const raw = r.tags ?? r.tagsJson ?? (() => { try { return (JSON.parse(row.specJson) as { tags?: unknown }).tags; } catch { return undefined; } })();
  let v: unknown = raw;
  if (typeof v === 'string') { try { v = JSON.parse(v); } catch { v = v ? (v as string).split(',') : []; } }
  return Array.isArray(v) ? v.map(String).filter(Boolean) : [];
}

export function progressOf(c: Record<string, number>): number {
  const total = c.total ?? 0;
  if (!total) return 0;
  let done = 0;
  for (const k of DONE) done += c[k] ?? 0;
  return done / total;
}

export function summarize(coord: Coordinator, row: SweepRow): SweepSummary {
  const state = coord.scheduler.sweepState(row.id);
  const current = state?.row ?? row;
  const counts: Record<string, number> = state ? state.counts : { total: 0 };
  if (!state) for (const [k, n] of Object.entries(coord.store.taskCounts(row.id))) { counts[k] = n ?? 0; counts.total! += n ?? 0; }
  return {
    id: current.id, name: current.name, status: current.status, createdMs: current.createdMs, finishedMs: current.finishedMs ?? 0,
    error: current.error, tags: tagsOf(row), counts, progress: progressOf(counts),
    arms: state ? state.arms.length : coord.store.sweepArms(row.id).length,
  };
}

export function listSweeps(coord: Coordinator, opts: { status?: string; q?: string; limit?: number }): SweepSummary[] {
  const q = opts.q?.trim().toLowerCase();
  // Search looks further back than the page shows, then keeps the newest matches.
  const rows = coord.store.listSweeps(q ? 5000 : opts.limit ?? 200, opts.status || undefined);
  const out: SweepSummary[] = [];
  for (const r of rows) {
    if (q && ![r.id, r.name, ...tagsOf(r)].some((s) => s.toLowerCase().includes(q))) continue;
    out.push(summarize(coord, r));
    if (out.length >= (opts.limit ?? 200)) break;
  }
  return out;
}

export interface PhaseProgress {
  phase: string; total: number; done: number; succeeded: number; running: number; queued: number; pending: number;
  failed: number; skipped: number; cancelled: number; fraction: number; etaS: number | null;
}

interface TaskLike { phase: string; status: TaskStatus; startedMs: number | null; finishedMs: number | null; progress?: number }

/** Per-phase counts, a progress fraction (running tasks count by their reported progress)
 * and an ETA from the phase's own completion rate since its first task started. */
type PhaseAcc = Map<string, PhaseProgress & { firstStart: number; partial: number }>;

/** Counts n tasks of one phase and status into `by` (progress: the sum of their reported progress). */
function addTasks(by: PhaseAcc, phase: string, s: TaskStatus, n: number, progress: number, startedMs: number | null): void {
  let p = by.get(phase);
  if (!p) by.set(phase, p = { phase, total: 0, done: 0, succeeded: 0, running: 0, queued: 0, pending: 0, failed: 0, skipped: 0, cancelled: 0, fraction: 0, etaS: null, firstStart: Infinity, partial: 0 });
  p.total += n;
  if (s === 'succeeded' || s === 'cached') p.succeeded += n;
  else if (s === 'running') { p.running += n; p.partial += Math.min(n, Math.max(0, progress)); }
  else if (s === 'queued' || s === 'pending' || s === 'failed' || s === 'skipped' || s === 'cancelled') p[s] += n;
  if (DONE.has(s)) p.done += n;
  if (startedMs && startedMs < p.firstStart) p.firstStart = startedMs;
}

function phaseList(by: PhaseAcc, now: number): PhaseProgress[] {
  const order = (ph: string) => { const i = (PHASES as readonly string[]).indexOf(ph); return i < 0 ? PHASES.length : i; };
  return [...by.values()].sort((a, b) => order(a.phase) - order(b.phase) || a.phase.localeCompare(b.phase)).map(({ firstStart, partial, ...p }) => {
    const advanced = p.done + partial;
    p.fraction = p.total ? advanced / p.total : 0;
    const left = p.total - advanced;
    if (left > 0 && advanced > 0 && Number.isFinite(firstStart) && p.running + p.queued + p.pending > 0) {
      const rate = advanced / Math.max(1, now - firstStart);  // tasks per ms
      p.etaS = Math.round(left / rate / 1000);
    } else if (left <= 0) p.etaS = 0;
    return p;
  });
}

export function phasesOf(tasks: readonly TaskLike[], now = Date.now()): PhaseProgress[] {
  const by: PhaseAcc = new Map();
  for (const t of tasks) addTasks(by, t.phase, t.status, 1, t.progress ?? 0, t.startedMs);
  return phaseList(by, now);
}

/** The same from tasks counted by phase and status (a running sweep's by the scheduler, an ended
 *  one's in SQL: neither walks its tasks one by one). */
export function phasesFrom(groups: readonly PhaseGroup[], now = Date.now()): PhaseProgress[] {
  const by: PhaseAcc = new Map();
  for (const g of groups) addTasks(by, g.phase, g.status, g.n, g.progress, g.firstStart);
  return phaseList(by, now);
}

export interface SweepProgress { sweep: SweepSummary; phases: PhaseProgress[]; etaS: number | null }

export function sweepProgress(coord: Coordinator, id: string): SweepProgress | null {
  const state = coord.scheduler.sweepState(id);
  const row = state?.row ?? coord.store.getSweep(id);
  if (!row) return null;
  // Counted, not walked: a running sweep's by the scheduler as its tasks change (walking them took
  // 36 ms every 300 ms for a 100k-task sweep), one of the last to end as it closed, an older one
  // in SQL (reading every task row took 466 ms for a 20k-task sweep, as the sweep ended).
  const phases = phasesFrom(state ? state.phaseGroups() : coord.store.phaseCounts(id));
  const etas = phases.map((p) => p.etaS);
  // Phases run one after another per arm but overlap across arms: the slowest phase bounds the sweep.
  const etaS = row.status !== 'running' ? 0 : etas.some((e) => e === null) ? null : Math.max(0, ...(etas as number[]));
  return { sweep: summarize(coord, row), phases, etaS };
}

export interface WorkerView {
  id: string; host: string; pool: string; state: string; slots: number; cpus: number; memoryMb: number; gpus: string[];
  kinds: string[]; running: { id: string; name: string; sweepId: string }[]; heartbeatAgeMs: number; completed: number; failed: number;
}

export function listWorkers(coord: Coordinator, includeGone = true, now = Date.now()): WorkerView[] {
  const ids = coord.listWorkers(includeGone).flatMap((w) => w.running);
  const names = new Map<string, { name: string; sweepId: string }>();
  if (ids.length) {
    const db = (coord.store as SqliteStore).sqlite;
    const stmt = db.prepare('select id, name, sweep_id from tasks where id = ?');
    for (const id of new Set(ids)) {
      const r = stmt.get(id) as { id: string; name: string; sweep_id: string } | undefined;
      if (r) names.set(id, { name: r.name, sweepId: r.sweep_id });
    }
  }
  return coord.listWorkers(includeGone).map((w) => {
    const info = w.info as unknown as Record<string, unknown> & { id: string; host: string; pool: string; slots?: number; cpus?: number; memoryMb?: number; gpus?: { name?: string; memoryMb?: unknown }[]; kinds?: number[] };
    return {
      id: info.id, host: info.host, pool: info.pool, state: w.state, slots: Number(info.slots ?? 0), cpus: Number(info.cpus ?? 0),
      memoryMb: Number(info.memoryMb ?? 0), gpus: (info.gpus ?? []).map((g) => g.name ?? 'gpu'), kinds: (info.kinds ?? []).map(kindName),
      running: w.running.map((id) => ({ id, name: names.get(id)?.name ?? id, sweepId: names.get(id)?.sweepId ?? '' })),
      heartbeatAgeMs: Math.max(0, now - Number(w.lastSeenMs)), completed: w.completed, failed: w.failed,
    };
  });
}

