// Sweep administration behind the Coordinator (issue 13): tags, note and provenance at
// submit; retry (failed, skipped, cancelled and stuck tasks run again, succeeded ones are
// kept); archive and delete; per-task logs (stored tails plus live lines of running
// attempts); the artifacts tasks wrote and read.
import { LimolabError, NotFoundError, SpecError } from '../common/errors.js';
import type { ConsumeResultsOptions, DeliveredResult, Transport } from '../common/transport.js';
import type { GetTaskLogsResponse, Provenance as ProvenanceMsg, TaskArtifact, TaskLog, TaskSummary } from '../gen/limolab/v1/coordinator.js';
import type { LogLine, TaskEvent } from '../gen/limolab/v1/task.js';
import { provenance } from './provenance.js';
import type { Scheduler } from './scheduler.js';
import { SweepAdminStore, type SweepMeta } from './store/sweep-admin.js';
import type { Store, TaskRow } from './store/store.js';

const TAG = /^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$/;
const MAX_NOTE = 2000;
/** Live lines kept per running attempt (the worker sends the stored tail with the result). */
const LIVE_LINES = 200;
/** A sweep's logs answer stops adding attempts past this many bytes (gRPC's default limit is 4 MiB). */
const MAX_LOG_BYTES = 3 * 1024 * 1024;
/** How long a running sweep's worker hosts are served from memory. */
const HOSTS_MS = 1000;
const REDO: ReadonlySet<string> = new Set(['failed', 'skipped', 'cancelled']);
/** Stepped metric points (loss curves) kept per running attempt; past this, every other one is dropped. */
const MAX_CURVE_POINTS = 4000;

/** The stepped metric points (a loss curve) one attempt has sent so far. */
interface Curve { sweepId: string; attemptId: string; points: Map<string, { name: string; step: number; value: number }> }

export interface SubmitMeta { tags?: string[]; note?: string }

export function checkMeta(m: SubmitMeta): { tags: string[]; note: string } {
  const tags = [...new Set(m.tags ?? [])];
  for (const t of tags) if (!TAG.test(t)) throw new SpecError(`tag ${JSON.stringify(t)} is not valid: use 1-64 letters, digits and _ . : / + - (starting with a letter or digit)`);
  const note = m.note ?? '';
  if (note.length > MAX_NOTE) throw new SpecError(`the note is ${note.length} characters; keep it under ${MAX_NOTE} (put longer text in the spec file)`);
  return { tags, note };
}

export class SweepAdmin {
  readonly db: SweepAdminStore;
  private live = new Map<string, { sweepId: string; attemptId: string; lines: LogLine[] }>();
  /** Per task: the stepped metrics (step > 0: a training loss every few steps) its current
   *  attempt sent as events; stored with its result when that attempt's result is the one kept. */
  private curves = new Map<string, Curve>();
  /** Tasks whose curve was stored, by attempt: points arriving after the result go straight in. */
  private storedCurves = new Map<string, string>();
  /** Sweep meta as stored, and a running sweep's worker hosts as of `hostsMs`: every GetSweep,
   * WatchSweep flush and ListSweeps row needs them, and asking the store each time (a join
   * over the sweep's attempts) is what made calls queue behind a thousand watchers. Kept
   * true by dropping an entry whenever this class writes its row. */
  private metaCache = new Map<string, { meta: SweepMeta | null; hosts?: string[]; hostsMs: number }>();

  constructor(private store: Store, sqlite: ConstructorParameters<typeof SweepAdminStore>[0], private scheduler: () => Scheduler,
    private transport: Transport, private summarize: (t: TaskRow & { progress?: number }) => TaskSummary, private log: (l: string) => void) {
    this.db = new SweepAdminStore(sqlite);
  }

  /** The transport the scheduler uses, with log lines taken off results (stored before the
   * scheduler applies them) and off live events. Everything else passes through. */
  capture(transport: Transport): Transport {
    return new Proxy(transport, {
      get: (target, prop) => {
        if (prop === 'consumeResults') {
          return (handler: (b: DeliveredResult[]) => Promise<void>, onBad: (e: Error) => void, opts?: ConsumeResultsOptions) =>
            target.consumeResults(async (batch) => {
              this.storeLogs(batch);
              // Taken before the scheduler applies the batch: its last result may end the sweep,
              // and closed() drops what is left of that sweep's curves.
              const curves = this.takeCurves(batch);
              try {
                await handler(batch);
              } catch (err) {
                for (const c of curves) this.curves.set(c.taskId, c.curve); // the batch comes again
                throw err;
              }
              this.storeCurves(curves);
            }, onBad, opts);
        }
        if (prop === 'subscribeEvents') {
          return (handler: (ev: TaskEvent) => void, onBad: (e: Error) => void) => target.subscribeEvents((ev) => { this.liveLine(ev); this.liveMetric(ev); handler(ev); }, onBad);
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  private storeLogs(batch: DeliveredResult[]): void {
    const rows = [];
    for (const { result: r } of batch) {
      this.live.delete(r.taskId);
      if (r.log?.length) rows.push({ attemptId: r.attemptId, taskId: r.taskId, sweepId: r.sweepId, lines: r.log });
    }
    if (!rows.length) return;
    // Logs are secondary: a failed write is reported, never allowed to hold up the results.
    try { this.db.insertLogs(rows); } catch (err) { this.log(`coordinator: could not store the log lines of ${rows.length} attempt(s): ${(err as Error).message}`); }
  }

  private liveMetric(ev: TaskEvent): void {
    if (ev.event?.$case !== 'metric') return;
    const m = ev.event.value;
    if (!(m.step > 0) || !Number.isFinite(m.value) || !m.name || m.name.length > 200) return;
    const point = { name: m.name, step: m.step, value: m.value };
    if (this.storedCurves.get(ev.taskId) === ev.attemptId) {
      this.writeCurves([{ taskId: ev.taskId, attemptId: ev.attemptId, points: [point] }]);
      return;
    }
    let c = this.curves.get(ev.taskId);
    if (!c || c.attemptId !== ev.attemptId) this.curves.set(ev.taskId, (c = { sweepId: ev.sweepId, attemptId: ev.attemptId, points: new Map() }));
    c.points.set(`${m.name}\u0000${m.step}`, point);
    if (c.points.size > MAX_CURVE_POINTS) {
      // Thin it: every other point of the curve so far (a long run keeps its shape).
      let i = 0;
      for (const k of [...c.points.keys()]) if (i++ % 2 === 1) c.points.delete(k);
    }
  }

  /** The curves of the batch's successful attempts, out of the live map. */
  private takeCurves(batch: DeliveredResult[]) {
    const out: { taskId: string; curve: Curve }[] = [];
    for (const { result: r } of batch) {
      if (r.error) continue;
      const c = this.curves.get(r.taskId);
      if (!c || c.attemptId !== r.attemptId) continue;
      this.curves.delete(r.taskId);
      out.push({ taskId: r.taskId, curve: c });
    }
    return out;
  }

  /** After the scheduler stored a batch: the curves taken from it; a point that arrives after its
   *  result (events and results travel apart) goes straight in. */
  private storeCurves(taken: { taskId: string; curve: Curve }[]): void {
    for (const { taskId, curve } of taken) this.remember(taskId, curve.attemptId);
    if (taken.length) this.writeCurves(taken.map(({ taskId, curve }) => ({ taskId, attemptId: curve.attemptId, points: [...curve.points.values()] })));
  }

  private remember(taskId: string, attemptId: string): void {
    this.storedCurves.delete(taskId);
    this.storedCurves.set(taskId, attemptId);
    if (this.storedCurves.size > 2000) this.storedCurves.delete(this.storedCurves.keys().next().value!);
  }

  private writeCurves(rows: Parameters<SweepAdminStore['insertCurves']>[0]): string[] {
    // Curves are secondary, like logs: a failed write is reported, never allowed to hold up results.
    try { return this.db.insertCurves(rows); } catch (err) {
      this.log(`coordinator: could not store the loss curves of ${rows.length} task(s): ${(err as Error).message}`);
      return [];
    }
  }

  private liveLine(ev: TaskEvent): void {
    if (ev.event?.$case !== 'log') return;
    let l = this.live.get(ev.taskId);
    if (!l || l.attemptId !== ev.attemptId) this.live.set(ev.taskId, (l = { sweepId: ev.sweepId, attemptId: ev.attemptId, lines: [] }));
    l.lines.push({ tsMs: Number(ev.tsMs) || Date.now(), source: 'runner', line: ev.event.value.slice(0, 1000) });
    if (l.lines.length > LIVE_LINES) l.lines.shift();
  }

  /** A sweep ended: its live lines go (the results carried the tails), its worker hosts are recorded. */
  closed(sweepId: string, workerIds: string[] | null = null): void {
    for (const [id, l] of this.live) if (l.sweepId === sweepId) this.live.delete(id);
    for (const [id, c] of this.curves) if (c.sweepId === sweepId) this.curves.delete(id);
    this.metaCache.delete(sweepId);
    try { this.db.recordWorkerHosts(sweepId, workerIds); } catch (err) { this.log(`coordinator: could not record the worker hosts of sweep ${sweepId}: ${(err as Error).message}`); }
  }

  submitted(sweepId: string, meta: { tags: string[]; note: string }): void {
    this.db.setMeta(sweepId, { ...meta, provenance: provenance() });
    this.metaCache.delete(sweepId);
  }

  /** Tags, note, archived flag and provenance (with worker hosts) for the Sweep message. */
  sweepFields(sweepId: string, meta?: SweepMeta | null): { tags: string[]; note: string; archived: boolean; provenance: ProvenanceMsg | undefined } {
    let c = this.metaCache.get(sweepId);
    if (meta !== undefined) c = { ...c, meta, hostsMs: c?.hostsMs ?? 0 };
    else if (!c) c = { meta: this.db.meta(sweepId), hostsMs: 0 };
    // A finished sweep's hosts are stored with it; a running one's change as attempts start,
    // so they are asked for again at most once a second.
    const now = Date.now();
    if (c.meta && !c.meta.workerHosts && (!c.hosts || now - c.hostsMs > HOSTS_MS)) {
      // A running sweep's workers are kept in memory as its attempts are stored: no scan of
      // every sweep's attempts (attempts has no sweep index) once a second while it is watched.
      const live = this.scheduler().liveSweep(sweepId);
      c.hosts = live ? this.db.hostsOf([...live.workerIds((id) => this.db.attemptWorkers(id))]) : this.db.workerHosts(sweepId);
      c.hostsMs = now;
    }
    if (this.metaCache.size > 10_000) this.metaCache.clear();
    this.metaCache.set(sweepId, c);
    const m = c.meta;
    if (!m) return { tags: [], note: '', archived: false, provenance: undefined };
    const p = m.provenance;
    return {
      tags: m.tags, note: m.note, archived: m.archived,
      provenance: {
        gitCommit: p?.gitCommit ?? '', limolabVersion: p?.limolabVersion ?? '', nodeVersion: p?.nodeVersion ?? '', coordinatorHost: p?.coordinatorHost ?? '',
        workerHosts: m.workerHosts ?? c.hosts ?? [],
      },
    };
  }

  // ------------------------------------------------------------------ retry

  /** Running tasks that will not finish where they are: their worker is lost or stopped, or
   * no live worker has held them for longer than a lease (their message may be gone). */
  private stuck(tasks: TaskRow[]): Set<string> {
    const live = this.scheduler().registry.list();
    const liveIds = new Set(live.map(([id]) => id));
    const held = new Set(live.flatMap(([, w]) => w.running));
    const since = Date.now() - this.transport.ackWaitMs;
    return new Set(tasks.filter((t) => t.status === 'running' && !held.has(t.id)
      && ((t.workerId !== null && !liveIds.has(t.workerId)) || (t.startedMs ?? 0) < since)).map((t) => t.id));
  }

  async retry(sweepId: string): Promise<{ requeued: number }> {
    const sched = this.scheduler();
    const live = sched.liveSweep(sweepId);
    const row = live?.row ?? this.store.getSweep(sweepId);
    if (!row) throw new NotFoundError(`no sweep with id ${sweepId}; \`limolab sweep list --all\` shows the sweeps`);
    const tasks: TaskRow[] = live ? live.tasks : this.store.sweepTasks(sweepId);
    const stuck = live ? this.stuck(tasks) : new Set<string>();
    const redo = tasks.filter((t) => REDO.has(t.status) || stuck.has(t.id));
    if (!redo.length) return { requeued: 0 };
    // Each task gets its arm's retry budget again, counted from the dispatches it has had
    // (attempt ids keep counting up, so no attempt row is ever overwritten).
    const spec = JSON.parse(row.specJson) as { defaults?: { retries?: number }; arms?: { name: string; retries?: number }[] };
    const groupOf = new Map(this.store.sweepArms(sweepId).map((a) => [a.arm, a.armGroup]));
    const budget = (t: TaskRow) => spec.arms?.find((a) => a.name === groupOf.get(t.arm))?.retries ?? spec.defaults?.retries ?? 2;
    // An aborted attempt that has not reported yet would, arriving after the retry, end its
    // task as cancelled again: give live workers a moment (up to 10 s) to report.
    const liveWorkers = new Set(sched.registry.list().map(([w]) => w));
    const unreported = () => redo.some((t) => !stuck.has(t.id) && this.store.attemptsOf(t.id).some((a) => a.status === 'running' && a.workerId !== null && liveWorkers.has(a.workerId)));
    for (let i = 0; i < 50 && unreported(); i++) await new Promise((r) => setTimeout(r, 200));
    const reopened = redo.map((t) => ({ id: t.id, maxRetries: t.dispatches + budget(t) }));
    this.db.reopen(sweepId, reopened);                       // stored first
    this.metaCache.delete(sweepId);
    if (row.status === 'cancelled') {
      // Workers drop tasks of a sweep they were told was cancelled; tell them it is back.
      await this.transport.control('all', { op: { $case: 'resumeSweep', value: sweepId } }).catch(() => null);
    }
    sched.reopen(sweepId, new Map(reopened.map((t) => [t.id, t.maxRetries])));
    this.log(`coordinator: sweep ${sweepId} retried: ${redo.length} task(s) run again (${[...countBy(redo.map((t) => (stuck.has(t.id) ? 'stuck' : t.status)))].map(([k, n]) => `${n} ${k}`).join(', ')})`);
    return { requeued: redo.length };
  }

  // ------------------------------------------------------------------ archive, delete

  archive(id: string, archived: boolean): void {
    this.metaCache.delete(id);
    if (!this.db.setArchived(id, archived)) throw new NotFoundError(`no sweep with id ${id}; \`limolab sweep list --all\` shows the sweeps`);
  }

  delete(id: string): number {
    const live = this.scheduler().liveSweep(id);
    if (live) throw new LimolabError(`sweep ${id} is running; cancel it first (\`limolab sweep cancel ${id}\`), then delete it`);
    if (!this.store.getSweep(id)) throw new NotFoundError(`no sweep with id ${id}; \`limolab sweep list --all\` shows the sweeps`);
    const n = this.db.deleteSweep(id);
    this.metaCache.delete(id);
    this.scheduler().forgetEnded(id);
    this.log(`coordinator: sweep ${id} deleted (${n} task(s))`);
    return n;
  }

  // ------------------------------------------------------------------ logs, artifacts

  /** The sweep's tasks (from memory while it runs), or the one task `id` names. */
  private resolve(id: string): { sweepId: string; tasks: TaskRow[]; single: boolean } {
    const sched = this.scheduler();
    const live = sched.liveSweep(id);
    if (live) return { sweepId: id, tasks: live.tasks, single: false };
    if (this.store.getSweep(id)) return { sweepId: id, tasks: this.store.sweepTasks(id), single: false };
    const t = this.db.findTask(id);
    if (t === 'ambiguous') throw new SpecError(`"${id}" is the start of several task ids; give more of it`);
    if (!t) throw new NotFoundError(`no sweep or task with id ${id}; \`limolab sweep list\` shows sweeps and \`limolab sweep status <sweep> --tasks\` their task ids`);
    const inMemory = sched.liveSweep(t.sweepId)?.task(t.id);
    return { sweepId: t.sweepId, tasks: [inMemory ?? this.store.sweepTasks(t.sweepId).find((x) => x.id === t.id)!], single: true };
  }

  logs(id: string, opts: { failedOnly?: boolean; tail?: number }): GetTaskLogsResponse {
    const { sweepId, tasks, single } = this.resolve(id);
    const chosen = opts.failedOnly ? tasks.filter((t) => t.status === 'failed') : tasks;
    const byId = new Map(chosen.map((t) => [t.id, t]));
    const logs: TaskLog[] = [];
    let bytes = 0, omitted = 0;
    for (const a of this.db.logs(chosen.map((t) => t.id), opts.tail ?? 0)) {
      const live = this.live.get(a.taskId);
      const liveLines = live?.attemptId === a.id && !a.lines.length ? (opts.tail ? live.lines.slice(-opts.tail) : live.lines) : null;
      const lines = liveLines ?? a.lines;
      // A whole sweep shows only attempts with something to read: lines or an error.
      if (!single && !lines.length && !a.error) continue;
      const size = lines.reduce((n, l) => n + l.line.length + 16, 0) + (a.error?.length ?? 0);
      if (!single && bytes + size > MAX_LOG_BYTES) { omitted++; continue; }
      bytes += size;
      logs.push({
        task: this.summarize(byId.get(a.taskId)!), attemptId: a.id, workerId: a.workerId ?? '', workerHost: a.host ?? '', status: a.status,
        startedMs: a.startedMs ?? 0, finishedMs: a.finishedMs ?? 0, error: a.error ?? '', live: !!liveLines,
        lines: lines.map((l) => ({ tsMs: l.tsMs, source: l.source, line: l.line })),
      });
    }
    if (omitted) this.log(`coordinator: logs of sweep ${sweepId}: ${omitted} attempt(s) left out of one answer (over ${MAX_LOG_BYTES >> 20} MiB)`);
    return { logs, sweepId, omitted };
  }

  artifacts(id: string): TaskArtifact[] {
    const { tasks, single } = this.resolve(id);
    const outs = this.db.outputs(tasks.map((t) => t.id));
    const out: TaskArtifact[] = [];
    for (const t of tasks) {
      const base = { taskId: t.id, taskName: t.name, arm: t.arm, seed: t.seed };
      // One task also shows what it read: its dependencies' outputs of the roles it takes.
      if (single && t.deps.length) {
        const depOuts = this.db.outputs(t.deps.map((d) => d.task));
        for (const d of t.deps) for (const ref of depOuts.get(d.task) ?? []) if (ref.role === d.role) out.push({ ...base, direction: 'in', ref });
      }
      for (const ref of outs.get(t.id) ?? []) out.push({ ...base, direction: 'out', ref });
    }
    return out;
  }
}

function countBy(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
