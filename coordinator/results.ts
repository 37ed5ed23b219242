// From the store to analysis: one RunRecord per arm instance and seed, with the arm's
// accuracy (its evaluating task's metrics and per-problem outcomes), its base's PROBE
// metrics, its rollouts' mean acceptance shares, and its cost by phase. An arm is charged the
// full cost of every task in its DAG, shared ones included (a PRETRAIN shared by all
// arms is charged to each): that is what the arm costs on its own.
import type { QueryResultsRequest, QueryResultsResponse } from '../gen/limolab/v1/coordinator.js';
import type { SqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';
import { DEFAULT_PRICES, queryRuns, type Phase, type Prices, type RunRecord } from './analysis/index.js';
import type { SweepRow } from './store/store.js';
import type { TrainCurve } from './report/plots.js';

export function loadRunRecords(store: Store, sweepId?: string): RunRecord[] {
  const db = (store as SqliteStore).sqlite;
  const sweeps = sweepId ? [sweepId] : (db.prepare('select id from sweeps order by created_ms').pluck().all() as string[]);
  const out: RunRecord[] = [];
  for (const sid of sweeps) {
    const arms = store.sweepArms(sid);
    if (!arms.length) continue;
    const rows = db.prepare(`select t.id, t.kind, t.arms_json, t.status, l.phase, l.flops, l.device_s, l.device_kind, l.curated_examples
      from tasks t left join ledger l on l.task_id = t.id where t.sweep_id = ?`).all(sid) as {
      id: string; kind: string; arms_json: string; status: string; phase: string | null; flops: number | null; device_s: number | null; device_kind: string | null; curated_examples: number | null;
    }[];
    const metricStmt = db.prepare('select name, value from metrics where task_id = ? and step = 0');
    const detailsStmt = db.prepare('select details_json from results where task_id = ?').pluck();
    const byArm = new Map<string, RunRecord>();
    for (const a of arms) {
      const metrics: Record<string, number> = {};
      if (a.evalTaskId) for (const m of metricStmt.all(a.evalTaskId) as { name: string; value: number }[]) metrics[m.name] = m.value;
      const outcomes = a.evalTaskId ? outcomesOf(detailsStmt.get(a.evalTaskId) as string | null | undefined) : undefined;
      byArm.set(`${a.arm}|${a.seed}`, {
        sweep: sid, arm: a.arm, group: a.armGroup, method: a.method, seed: a.seed, params: a.params as RunRecord['params'], metrics,
        ...(outcomes ? { outcomes } : {}),
        flopsByPhase: {}, deviceSByPhase: {}, deviceSByKind: {}, curatedExamples: 0, status: 'succeeded',
      });
    }
    // Rollout acceptance shares, averaged over each arm's rollouts: key -> metric -> values.
    const rolloutShares = new Map<RunRecord, Map<string, number[]>>();
    for (const r of rows) {
      const probe = r.kind === 'probe';
      const rollout = r.kind === 'rollout' && (r.status === 'succeeded' || r.status === 'cached');
      const extra = probe || rollout ? (metricStmt.all(r.id) as { name: string; value: number }[]) : [];
      for (const key of JSON.parse(r.arms_json) as string[]) {
        const rec = byArm.get(key);
        if (!rec) continue;
        // A base's PROBE lists every arm|seed on that base, like the shared PRETRAIN.
        if (probe) for (const m of extra) rec.metrics[m.name] = m.value;
        for (const m of rollout ? extra : []) {
          if (!ROLLOUT_SHARES.includes(m.name)) continue;
          const by = rolloutShares.get(rec) ?? new Map<string, number[]>();
          rolloutShares.set(rec, by);
          by.set(m.name, [...(by.get(m.name) ?? []), m.value]);
        }
        // A PROBE measures the base; no step of any arm depends on it, so its failure costs the
        // arms their latent-ability metrics, not their status.
        if (probe && r.status !== 'succeeded' && r.status !== 'cached') continue;
        // failed: a task failed or was skipped after a failed dependency; cancelled: a task was
        // cancelled (its sweep was) and none failed; partial: some still to run.
        if (r.status === 'failed' || r.status === 'skipped') rec.status = 'failed';
        else if (r.status === 'cancelled' && rec.status !== 'failed') rec.status = 'cancelled';
        else if (r.status !== 'succeeded' && r.status !== 'cached' && rec.status !== 'failed' && rec.status !== 'cancelled') rec.status = 'partial';
        if (r.phase === null) continue;
        const ph = r.phase as Phase;
        rec.flopsByPhase[ph] = (rec.flopsByPhase[ph] ?? 0) + (r.flops ?? 0);
        rec.deviceSByPhase[ph] = (rec.deviceSByPhase[ph] ?? 0) + (r.device_s ?? 0);
        const kind = r.device_kind ?? 'cpu';
        rec.deviceSByKind[kind] = (rec.deviceSByKind[kind] ?? 0) + (r.device_s ?? 0);
        rec.curatedExamples += r.curated_examples ?? 0;
      }
    }
    for (const [rec, by] of rolloutShares) for (const [name, xs] of by) rec.metrics[name] = xs.reduce((a, b) => a + b, 0) / xs.length;
    out.push(...byArm.values());
  }
  return out;
}

/** The training loss of each arm and seed's TRAIN tasks, in plan order: the 'loss' metric
 *  the worker reported at steps (step > 0), or another metric named like it. A task reused
 *  from an earlier sweep shows that task's curve. */
export function loadTrainCurves(store: Store, sweepId: string): TrainCurve[] {
  const db = (store as SqliteStore).sqlite;
  const arms = new Map(store.sweepArms(sweepId).map((a) => [`${a.arm}|${a.seed}`, a]));
  const tasks = db.prepare(`select id, name, arms_json, reused_from from tasks where sweep_id = ? and kind = 'train' order by rowid`).all(sweepId) as
    { id: string; name: string; arms_json: string; reused_from: string | null }[];
  const stmt = db.prepare(`select name, step, value from metrics where task_id = ? and step > 0 and name like '%loss%' order by step`);
  const pointsOf = (id: string) => {
    const rows = stmt.all(id) as { name: string; step: number; value: number }[];
    const name = rows.some((r) => r.name === 'loss') ? 'loss' : rows[0]?.name;
    return rows.filter((r) => r.name === name).map((r) => ({ step: r.step, loss: r.value }));
  };
  const out = new Map<string, TrainCurve>();
  for (const t of tasks) {
    let points = pointsOf(t.id);
    if (!points.length && t.reused_from) points = pointsOf(t.reused_from);
    for (const key of JSON.parse(t.arms_json) as string[]) {
      const a = arms.get(key);
      if (!a) continue;
      let c = out.get(key);
      if (!c) out.set(key, (c = { sweep: sweepId, arm: a.arm, method: a.method, seed: a.seed, tasks: [] }));
      c.tasks.push({ task: t.id, name: t.name, points });
    }
  }
  return [...out.values()];
}

/** Rollout metrics surfaced per RL arm (mean over its rollouts). */
const ROLLOUT_SHARES = ['accepted_no_chain_share', 'accepted_wrong_chain_share'];

/** The eval result's `outcomes` ({split: "0110..."}), kept only when well formed. */
function outcomesOf(detailsJson: string | null | undefined): Record<string, string> | undefined {
  if (!detailsJson) return undefined;
  let d: unknown;
  try { d = JSON.parse(detailsJson); } catch { return undefined; }
  const o = (d as { outcomes?: unknown } | null)?.outcomes;
  if (!o || typeof o !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [split, v] of Object.entries(o)) if (typeof v === 'string' && /^[01]*$/.test(v)) out[split] = v;
  return Object.keys(out).length ? out : undefined;
}

export function makeQueryHandler(store: Store) {
  return (req: QueryResultsRequest): QueryResultsResponse => {
    const records = loadRunRecords(store, req.sweep || undefined);
    const sweep = req.sweep ? store.getSweep(req.sweep) : null;
    const statuses = req.statuses?.includes('all') ? 'all' as const : req.statuses?.length ? req.statuses : undefined;
    // Every column (wide): the client keeps the short set unless asked for --wide.
    const t = queryRuns(records, { wide: true, prices: sweep ? pricesOf(sweep) : DEFAULT_PRICES, filter: req.filter, statuses, groupBy: req.perSeed ? ['arm', 'seed'] : req.groupBy.length ? req.groupBy : undefined, sort: req.sort ? [req.sort] : undefined });
    return { columns: t.columns.map((c) => c.key), rows: t.rows };
  };
}

/** The sweep spec's prices (per device hour, per curated example) over the defaults. */
export function pricesOf(sweep: SweepRow): Prices {
  let spec: { prices?: { per_device_hour?: Record<string, number>; per_curated_example?: number } };
  try { spec = JSON.parse(sweep.specJson); } catch { return DEFAULT_PRICES; }
  const p = spec.prices;
  if (!p) return DEFAULT_PRICES;
  const perDeviceSecond = { ...DEFAULT_PRICES.perDeviceSecond };
  for (const [kind, perHour] of Object.entries(p.per_device_hour ?? {})) perDeviceSecond[kind] = perHour / 3600;
  return { perDeviceSecond, perCuratedExample: p.per_curated_example ?? DEFAULT_PRICES.perCuratedExample };
}

