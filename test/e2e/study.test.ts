// The main job end to end: an SFT / RL / ICL / base sweep on the built-in domain through a
// real nats-server, a coordinator and 2 worker processes, with SQLite results. The same
// seed gives the same accuracy; an identical sweep is answered from the cache.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { loadTrainCurves } from '../../coordinator/results.js';

const SPEC = (cache: boolean) => `
name: e2e-study
seeds: [7]
cache: ${cache}
base:
  model: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 80}
  domain: {trainSteps: [1, 2], oodSteps: [3, 3], poolSize: 120, testSize: 12, pretrainSteps: [1, 2], pretrainSize: 300, maxChars: 72}
  pretrain: {steps: 30, batchSize: 16, lr: 0.003, warmupSteps: 2}
  curate: {k: 2, candidates: 16, options: {batch: 32}}
  train: {batch_size: 8}
  rollout: {options: {batch: 32}}
  eval: {n_samples: 2, k: [2], options: {batch: 32}}
arms:
  - {name: base, method: base}
  - {name: icl, method: icl, params: {shots: 2}}
  - {name: sft, method: sft, params: {n: 8, curation: [random, limo], epochs: 1}}
  - {name: rl, method: rl, params: {rounds: 2, prompts: 8, k: 2, shards: 2, epochs: 1}}
`;

let cluster: Cluster;
beforeAll(async () => {
  cluster = new Cluster();
  await cluster.startNats();
  await cluster.startCoordinatorInProcess();
  cluster.startWorker('w1');
  cluster.startWorker('w2');
  await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 2, 'two workers');
});
afterAll(async () => { await cluster?.stop(); });

// The evaluations' results (time.* metrics are where the task's time went, not results).
function evalMetrics(sweepId: string) {
  const d = new Database(cluster.db, { readonly: true });
  try {
    return d.prepare(`select a.arm, m.name, m.value from arms a join metrics m on m.task_id = a.eval_task_id where a.sweep_id = ? and m.name not like 'time.%' order by a.arm, m.name`).all(sweepId) as { arm: string; name: string; value: number }[];
  } finally { d.close(); }
}

async function runSweep(spec: string) {
  const { sweep, planned, reused } = cluster.coordinator!.coord.submit(spec, 'e2e');
  const s = await waitFor(() => { const x = cluster.coordinator!.coord.getSweep(sweep!.id, true); return x.status !== 'running' && x; }, 'the study sweep', 240_000, 250);
  return { s, planned, reused };
}

describe('LIMO vs RL study, end to end', () => {
  it('runs every arm through 2 worker processes, charges each phase, and repeats exactly with the same seed', async () => {
    const a = await runSweep(SPEC(false));
    expect(a.s.status).toBe('succeeded');
    // One PRETRAIN and its PROBE (charged to pretraining) shared by all five arms;
    // rl: 2 rounds x (2 shards + 1 train) + eval.
    const kinds = a.s.tasks.map((t) => t.phase);
    expect(kinds.filter((k) => k === 'pretrain')).toHaveLength(2);
    expect(a.s.tasks.filter((t) => t.name === 'probe latent ability')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'rollout')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'evaluation')).toHaveLength(5);
    const m = evalMetrics(a.s.id);
    for (const arm of ['base', 'icl', 'rl', 'sft[curation=random]', 'sft[curation=limo]']) {
      const names = m.filter((x) => x.arm === arm).map((x) => x.name);
      expect(names).toContain('pass1.test_id');
      expect(names).toContain('pass1.test_ood');
      expect(names).toContain('pass@2.test_id');
    }
    const d = new Database(cluster.db, { readonly: true });
    const phases = d.prepare(`select phase, sum(flops) f, count(*) n from ledger where sweep_id = ? group by phase order by phase`).all(a.s.id) as { phase: string; f: number; n: number }[];
    const curated = d.prepare(`select sum(l.curated_examples) c from ledger l where l.sweep_id = ?`).get(a.s.id) as { c: number };
    const workers = (d.prepare(`select distinct worker_id w from attempts where sweep_id = ? order by w`).all(a.s.id) as { w: string }[]).map((r) => r.w);
    d.close();
    expect(phases.map((p) => p.phase)).toEqual(['curation', 'evaluation', 'pretrain', 'rollout', 'training']);
    for (const p of phases) expect(p.f).toBeGreaterThan(0);
    expect(curated.c).toBe(8 + 8 + 2); // two sft arms of n=8, icl's 2 shots
    expect(workers).toEqual(['w1', 'w2']);
    // every TRAIN task's loss at its steps, as the workers reported it (every 10th step and the
    // last), per arm in plan order; a round that accepted no samples trains no step
    const curves = (id: string) => loadTrainCurves(cluster.coordinator!.coord.store, id)
      .map((c) => [c.arm, c.tasks.map((t) => [t.name, t.points])] as const).sort((x, y) => x[0].localeCompare(y[0]));
    const ca = curves(a.s.id);
    expect(ca.map(([arm, ts]) => [arm, ts.map(([name]) => name)])).toEqual([
      ['rl', ['train rft r1', 'train rft r2']], ['sft[curation=limo]', ['train sft']], ['sft[curation=random]', ['train sft']],
    ]);
    const dm = new Database(cluster.db, { readonly: true });
    const stepsOf = dm.prepare(`select value from metrics where task_id = ? and name = 'steps' and step = 0`).pluck();
    let drawn = 0;
    for (const c of loadTrainCurves(cluster.coordinator!.coord.store, a.s.id)) {
      for (const t of c.tasks) {
        const steps = stepsOf.get(t.task) as number;
        const expected = Array.from({ length: steps }, (_, i) => i + 1).filter((s) => s % 10 === 0 || s === steps);
        expect(t.points.map((p) => p.step), `${c.arm} ${t.name}`).toEqual(expected);
        for (const p of t.points) expect(Number.isFinite(p.loss) && p.loss > 0).toBe(true);
        drawn += t.points.length;
      }
    }
    // Where each task's own time went (worker time.* metrics, read by `limolab timing`): every
    // task that samples from a model built its graphs (a random curation opens no model, and an
    // RL round that accepted nothing trains no step), every task that reads a checkpoint
    // fetched it, and the parts stay within the task's wall time.
    const timeOf = dm.prepare(`select t.kind, t.id,
        (select value from metrics where task_id = t.id and name = 'time.graph_build_s') g,
        (select value from metrics where task_id = t.id and name = 'time.input_s') i,
        (select wall_s from ledger where task_id = t.id) w
      from tasks t where t.sweep_id = ? and t.reused_from is null`).all(a.s.id) as { kind: string; id: string; g: number | null; i: number | null; w: number }[];
    expect(timeOf.length).toBeGreaterThan(5);
    for (const t of timeOf) {
      if (['pretrain', 'probe', 'eval', 'rollout'].includes(t.kind)) expect(t.g ?? 0, `${t.id} (${t.kind}) graph build`).toBeGreaterThan(0);
      if (['probe', 'eval', 'rollout', 'train'].includes(t.kind)) expect(t.i ?? 0, `${t.id} (${t.kind}) input fetch`).toBeGreaterThan(0);
      expect((t.g ?? 0) + (t.i ?? 0), `${t.id}: parts within its wall time`).toBeLessThanOrEqual(t.w + 1e-3);
    }
    dm.close();
    expect(drawn).toBeGreaterThanOrEqual(2);   // the two SFT arms train at least one step each

    const b = await runSweep(SPEC(false));
    expect(b.reused).toBe(0);
    expect(evalMetrics(b.s.id).map((x) => [x.arm, x.name, x.value])).toEqual(m.map((x) => [x.arm, x.name, x.value]));

    const c = await runSweep(SPEC(true));
    expect(c.reused).toBe(c.planned);
    expect(c.s.counts!.cached).toBe(c.planned);
    expect(curves(c.s.id)).toEqual(ca);   // reused tasks show the curves of the tasks they reuse
    expect(evalMetrics(c.s.id).map((x) => [x.arm, x.name, x.value])).toEqual(m.map((x) => [x.arm, x.name, x.value]));
  }, 600_000);
});
