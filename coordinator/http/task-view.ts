// One task for the dashboard: its row, planned spec, attempts (worker, times, errors),
// metrics (a training-loss curve where metrics carry steps), artifacts, and a log tail: the
// coordinator's stored per-attempt logs when it keeps them, else the lines workers sent
// while this process ran (in memory, bounded) and every failed attempt's error.
import { Task } from '../../gen/limolab/v1/task.js';
import type { Coordinator } from '../coordinator.js';
import type { SqliteStore } from '../store/sqlite-store.js';

/** The last lines each task logged, for the tasks that logged most recently. */
export class LogTails {
  private tails = new Map<string, string[]>();
  constructor(private linesPerTask = 200, private maxTasks = 2000) {}

  add(taskId: string, line: string): void {
    let t = this.tails.get(taskId);
    if (t) this.tails.delete(taskId);  // re-insert: Map order is recency
    else t = [];
    t.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
    if (t.length > this.linesPerTask) t.splice(0, t.length - this.linesPerTask);
    this.tails.set(taskId, t);
    if (this.tails.size > this.maxTasks) this.tails.delete(this.tails.keys().next().value!);
  }

  get(taskId: string): string[] { return this.tails.get(taskId) ?? []; }
}

interface TaskDbRow {
  id: string; sweep_id: string; arm: string; seed: number; name: string; kind: string; phase: string; pool: string; status: string;
  priority: number; task_proto: string; deps_json: string; max_retries: number; dispatches: number; worker_id: string | null;
  created_ms: number; started_ms: number | null; finished_ms: number | null; error: string | null; reused_from: string | null;
}

export function taskDetail(coord: Coordinator, logs: LogTails, id: string) {
  const db = (coord.store as SqliteStore).sqlite;
  const r = db.prepare('select * from tasks where id = ?').get(id) as TaskDbRow | undefined;
  if (!r) return null;
  const live = coord.scheduler.liveSweep(r.sweep_id)?.task(id);
  let spec: unknown;
  try { spec = Task.toJSON(Task.decode(Buffer.from(r.task_proto, 'base64'))); } catch (e) { spec = { error: `cannot decode the planned task: ${(e as Error).message}` }; }
  const attempts = coord.store.attemptsOf(id).sort((a, b) => a.dispatch - b.dispatch || a.delivery - b.delivery);
  const metrics = db.prepare('select name, value, step from metrics where task_id = ? order by name, step').all(id) as { name: string; value: number; step: number }[];
  const result = db.prepare('select outputs_json, details_json, attempt_id from results where task_id = ?').get(id) as { outputs_json: string; details_json: string | null; attempt_id: string } | undefined;
  const ledger = db.prepare('select * from ledger where task_id = ?').get(id) as Record<string, unknown> | undefined;
  const outputs = result ? (JSON.parse(result.outputs_json) as Record<string, unknown>[]) : [];
  const stored = storedLogs(coord, id);
  // Stored logs already carry each attempt's error; without them, list the errors here.
  const errors = stored.length ? [] : attempts.filter((a) => a.error).map((a) => `[attempt ${a.dispatch}.${a.delivery}${a.workerId ? ` on ${a.workerId}` : ''}] ${a.status}: ${a.error}`);
  return {
    task: {
      id: r.id, sweepId: r.sweep_id, arm: r.arm, seed: r.seed, name: r.name, kind: r.kind, phase: r.phase, pool: r.pool,
      status: live?.status ?? r.status, progress: live?.progress ?? (r.status === 'succeeded' ? 1 : 0), priority: r.priority, maxRetries: r.max_retries,
      dispatches: live?.dispatches ?? r.dispatches, workerId: live?.workerId ?? r.worker_id, createdMs: r.created_ms,
      startedMs: live?.startedMs ?? r.started_ms, finishedMs: live?.finishedMs ?? r.finished_ms, error: live?.error ?? r.error,
      reusedFrom: r.reused_from, deps: JSON.parse(r.deps_json) as { task: string; role: string }[],
    },
    spec, attempts, metrics,
    curves: curvesOf(metrics),
    artifacts: outputs, details: result?.details_json ? JSON.parse(result.details_json) as unknown : null,
    ledger: ledger ?? null,
    log: [...(stored.length ? stored : logs.get(id)), ...errors].slice(-300),
  };
}

/** Metrics with more than one step are curves (training loss, learning rate, ...). */
function curvesOf(metrics: { name: string; value: number; step: number }[]) {
  const by = new Map<string, { step: number; value: number }[]>();
  for (const m of metrics) {
    if (m.step <= 0) continue;
    if (!by.has(m.name)) by.set(m.name, []);
    by.get(m.name)!.push({ step: m.step, value: m.value });
  }
  return [...by].filter(([, pts]) => pts.length > 1).map(([name, points]) => ({ name, points }))
    .sort((a, b) => Number(!/loss/.test(a.name)) - Number(!/loss/.test(b.name)) || a.name.localeCompare(b.name));
}

/** Log lines the coordinator stores per attempt (runner stderr, worker lines), when this
 * version keeps them (Coordinator.taskLogs); each attempt opens with a header line. */
function storedLogs(coord: Coordinator, id: string): string[] {
  const c = coord as Coordinator & { taskLogs?: (id: string, o: { tail?: number }) => { logs?: StoredLog[] } };
  if (typeof c.taskLogs !== 'function') return [];
  let logs: StoredLog[];
  try { logs = c.taskLogs(id, { tail: 200 }).logs ?? []; } catch { return []; }
  return logs.flatMap((a) => [
    `── attempt ${a.attemptId}${a.workerId ? ` on ${a.workerId}` : ''}: ${a.status}${a.live ? ' (live)' : ''}`,
    ...(a.lines ?? []).map((l) => (l.source ? `[${l.source}] ${l.line}` : l.line)),
    ...(a.error ? [`error: ${a.error}`] : []),
  ]);
}

interface StoredLog { attemptId: string; workerId?: string; status?: string; live?: boolean; error?: string; lines?: { line: string; source?: string }[] }
