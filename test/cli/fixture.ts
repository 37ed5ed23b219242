// A small results database filled through SqliteStore's real API (createSweep, apply): two
// sweeps, one finished (an SFT and an RL arm, two seeds each, shared PRETRAIN per seed) and a
// later one cancelled before any arm finished. The numbers are chosen so tests can check sums.
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import type { ArmRow, ResultRecord, SweepRow, TaskRow, TaskStatus } from '../../coordinator/store/store.js';

export const SWEEP = 'sw-done';
export const SWEEP_EMPTY = 'sw-empty';
export const SPEC_TEXT = 'name: fixture\n# <b>escaped</b>\narms: [{name: sft, method: sft}, {name: rl, method: rl}]\n';

export const FLOPS = { pretrain: 1e12, curate: 1e9, sftTrain: 2e9, rollout: 5e9, rlTrain: 1e9, evaluation: 1e8 };
export const ACC = { sft: [0.5, 0.6], rl: [0.4, 0.5] };          // pass1.test_id by seed
export const ACC_OOD = { sft: [0.3, 0.3], rl: [0.2, 0.25] };
export const CURATED = 10;
export const DEVICE_S = { pretrain: 100, curate: 2, train: 4, rollout: 8, evaluation: 1 };

function task(sweepId: string, id: string, arm: string, seed: number, kind: string, phase: string, arms: string[], status: TaskStatus): TaskRow {
  return {
    id, sweepId, arm, seed, name: `${kind} ${arm} s${seed}`, kind, phase, pool: 'default', status, priority: 0, taskProto: '',
    deps: [], cacheKey: `ck-${id}`, maxRetries: 2, dispatches: status === 'pending' ? 0 : 1, nextDispatchMs: null, workerId: null,
    createdMs: 1, startedMs: status === 'pending' ? null : 1000, finishedMs: status === 'pending' ? null : 3500, error: null, reusedFrom: null, arms,
  };
}

function result(t: TaskRow, flops: number, deviceS: number, extra: { curated?: number; metrics?: Record<string, number>; reused?: boolean } = {}): ResultRecord {
  return {
    taskId: t.id, sweepId: t.sweepId, attemptId: `${t.id}#1.1`, phase: t.phase, outputs: [],
    metrics: Object.entries(extra.metrics ?? {}).map(([name, value]) => ({ name, value, step: 0 })),
    ledger: { flops, tokensPrompt: 100, tokensGenerated: 50, tokensTrained: 200, wallS: deviceS, deviceKind: 'cpu', deviceS, params: 1000, curatedExamples: extra.curated ?? 0 },
    reused: extra.reused ?? false, createdMs: 5,
  };
}

const sweepRow = (id: string, name: string, status: SweepRow['status'], createdMs: number, specJson: object): SweepRow => ({
  id, name, status, priority: 0, specText: SPEC_TEXT, specJson: JSON.stringify(specJson), createdMs, finishedMs: createdMs + 10, error: null,
});

/** Fills (or creates) the SQLite file at path and closes it. */
export function fillStore(path: string): void {
  const store = new SqliteStore(path);
  try {
    const arms: ArmRow[] = [];
    const tasks: TaskRow[] = [];
    const results: ResultRecord[] = [];
    for (const seed of [0, 1]) {
      const sft = 'sft[n=10]', rl = 'rl[k=4]';
      const pre = task(SWEEP, `pre${seed}`, sft, seed, 'pretrain', 'pretrain', [`${sft}|${seed}`, `${rl}|${seed}`], 'succeeded');
      const cur = task(SWEEP, `cur${seed}`, sft, seed, 'curate', 'curation', [`${sft}|${seed}`], 'succeeded');
      const st = task(SWEEP, `sfttrain${seed}`, sft, seed, 'train', 'training', [`${sft}|${seed}`], 'succeeded');
      const se = task(SWEEP, `sfteval${seed}`, sft, seed, 'eval', 'evaluation', [`${sft}|${seed}`], 'succeeded');
      const ro = task(SWEEP, `roll${seed}`, rl, seed, 'rollout', 'rollout', [`${rl}|${seed}`], 'succeeded');
      const rt = task(SWEEP, `rltrain${seed}`, rl, seed, 'train', 'training', [`${rl}|${seed}`], 'succeeded');
      const re = task(SWEEP, `rleval${seed}`, rl, seed, 'eval', 'evaluation', [`${rl}|${seed}`], 'succeeded');
      tasks.push(pre, cur, st, se, ro, rt, re);
      arms.push({ sweepId: SWEEP, arm: sft, armGroup: 'sft', method: 'sft', seed, params: { n: 10, curation: 'limo' }, evalTaskId: se.id });
      arms.push({ sweepId: SWEEP, arm: rl, armGroup: 'rl', method: 'rl', seed, params: { k: 4 }, evalTaskId: re.id });
      results.push(
        result(pre, FLOPS.pretrain, DEVICE_S.pretrain, { reused: seed === 1 }),
        result(cur, FLOPS.curate, DEVICE_S.curate, { curated: CURATED }),
        result(st, FLOPS.sftTrain, DEVICE_S.train),
        result(se, FLOPS.evaluation, DEVICE_S.evaluation, { metrics: { 'pass1.test_id': ACC.sft[seed]!, 'pass1.test_ood': ACC_OOD.sft[seed]! } }),
        result(ro, FLOPS.rollout, DEVICE_S.rollout),
        result(rt, FLOPS.rlTrain, DEVICE_S.train),
        result(re, FLOPS.evaluation, DEVICE_S.evaluation, { metrics: { 'pass1.test_id': ACC.rl[seed]!, 'pass1.test_ood': ACC_OOD.rl[seed]! } }),
      );
    }
    store.createSweep(sweepRow(SWEEP, 'fixture', 'succeeded', 1000, { name: 'fixture', prices: { per_device_hour: { cpu: 3.6 }, per_curated_example: 2 } }), arms, tasks, new Map());
    // rltrain0 needed a second delivery: its first worker failed.
    store.apply({
      attempts: [
        { id: 'rltrain0#1.1', taskId: 'rltrain0', sweepId: SWEEP, dispatch: 1, delivery: 1, workerId: 'w1', status: 'failed', startedMs: 1000, finishedMs: 1500, error: 'out of memory', errorCode: 'OOM' },
        { id: 'rltrain0#2.1', taskId: 'rltrain0', sweepId: SWEEP, dispatch: 2, delivery: 1, workerId: 'w2', status: 'succeeded', startedMs: 2000, finishedMs: 3500, error: null, errorCode: null },
      ],
      results,
    });

    // A later sweep, cancelled while its only arm was still training.
    const eArm = 'sft';
    const ep = task(SWEEP_EMPTY, 'e-pre', eArm, 0, 'pretrain', 'pretrain', [`${eArm}|0`], 'succeeded');
    const et = task(SWEEP_EMPTY, 'e-train', eArm, 0, 'train', 'training', [`${eArm}|0`], 'cancelled');
    const ee = task(SWEEP_EMPTY, 'e-eval', eArm, 0, 'eval', 'evaluation', [`${eArm}|0`], 'cancelled');
    store.createSweep(sweepRow(SWEEP_EMPTY, 'later', 'cancelled', 2000, { name: 'later' }),
      [{ sweepId: SWEEP_EMPTY, arm: eArm, armGroup: 'sft', method: 'sft', seed: 0, params: { n: 5 }, evalTaskId: ee.id }], [ep, et, ee], new Map());
    store.apply({ results: [result(ep, FLOPS.pretrain, DEVICE_S.pretrain)] });
  } finally {
    store.close();
  }
}
