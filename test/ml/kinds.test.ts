// Each ML task kind end to end on the tiny defaults through a real TaskContext (in-memory
// sha256 artifact store): PRETRAIN -> CURATE -> TRAIN(sft) -> EVAL, and ROLLOUT shards ->
// TRAIN(rft); ledgers carry engine FLOPs; same seed, same result; abort cancels.
import { beforeAll, describe, expect, it } from 'vitest';
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, TaskCancelledError, type RunOutput } from '../../worker/runner.js';
import { DATASET_FORMAT, ROLLOUTS_FORMAT, defaultTinyConfig, mlRunner } from '../../worker/ml/index.js';
import { asRole, baseTask, makeContext, MemoryArtifacts } from './harness.js';

const cfg = defaultTinyConfig();
const store = new MemoryArtifacts();

function pretrainTask(seed: number): Task {
  return baseTask(TaskKind.TASK_KIND_PRETRAIN, { $case: 'pretrain', value: { model: cfg.model, domain: cfg.domain, train: cfg.pretrain } }, seed);
}
function curateTask(strategy: string, seed: number, inputs: ArtifactRef[], options: Record<string, unknown> = cfg.curate.options): Task {
  return baseTask(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy, n: cfg.curate.n, k: cfg.curate.k, candidates: cfg.curate.candidates, domain: cfg.domain, options } }, seed, inputs);
}
function evalTask(seed: number, inputs: ArtifactRef[], mode = 'model'): Task {
  const e = cfg.eval;
  return baseTask(TaskKind.TASK_KIND_EVAL, { $case: 'eval', value: { splits: [], nSamples: e.nSamples, k: e.k, temperature: e.temperature, keepOutputs: e.keepOutputs, mode, shots: 2, domain: cfg.domain, options: e.options } }, seed, inputs);
}
function rolloutTask(shard: number, seed: number, inputs: ArtifactRef[]): Task {
  const r = cfg.rollout;
  return baseTask(TaskKind.TASK_KIND_ROLLOUT, { $case: 'rollout', value: { shard, numShards: r.numShards, prompts: r.prompts, k: r.k, temperature: r.temperature, maxTokens: 0, round: 0, domain: cfg.domain, options: r.options } }, seed, inputs);
}
function trainTask(method: 'sft' | 'rft', seed: number, inputs: ArtifactRef[]): Task {
  const t = method === 'sft' ? { ...cfg.sft, maxPerPrompt: 0 } : cfg.rft;
  return baseTask(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method, epochs: t.epochs, lr: t.lr, batchSize: t.batchSize, maxPerPrompt: t.maxPerPrompt, options: t.options } }, seed, inputs);
}
const run = (task: Task, signal?: AbortSignal) => mlRunner.run(makeContext(task, store, { signal }));

function expectLedger(out: RunOutput, opts: { trained?: boolean; generated?: boolean }) {
  expect(out.ledger.deviceKind).toBe('cpu');
  expect(out.ledger.flops).toBeGreaterThan(0);
  expect(out.ledger.params).toBeGreaterThan(0);
  expect(out.ledger.deviceS).toBeGreaterThan(0);
  if (opts.trained) expect(out.ledger.tokensTrained).toBeGreaterThan(0);
  if (opts.generated) {
    expect(out.ledger.tokensGenerated).toBeGreaterThan(0);
    expect(out.ledger.tokensPrompt).toBeGreaterThan(0);
  }
}

let base: ArtifactRef;
let pretrainOut: RunOutput;

beforeAll(async () => {
  pretrainOut = await run(pretrainTask(1));
  base = pretrainOut.outputs[0]!;
});

describe('PRETRAIN', () => {
  it('outputs a checkpoint and charges training FLOPs', async () => {
    expect(base.role).toBe('checkpoint');
    expect(await store.has(base.digest)).toBe(true);
    expectLedger(pretrainOut, { trained: true });
    expect(pretrainOut.metrics.steps).toBe(cfg.pretrain.steps);
    expect(pretrainOut.metrics['loss.final']).toBeLessThan(pretrainOut.metrics['loss.first']!);
  });

  it('rejects an unknown model key as bad input', async () => {
    const t = pretrainTask(1);
    (t.spec!.value as { model: Record<string, unknown> }).model = { ...cfg.model, hiden_size: 8 };
    await expect(run(t)).rejects.toThrow(BadTaskInputError);
  });
});

describe('CURATE', () => {
  it('random needs no model and charges no FLOPs', async () => {
    const out = await run(curateTask('random', 3, []));
    expect(out.outputs[0]!.role).toBe('dataset');
    expect(out.ledger.curatedExamples).toBe(cfg.curate.n);
    expect(out.ledger.flops).toBe(0);
    const ds = JSON.parse(new TextDecoder().decode(await store.get(out.outputs[0]!)));
    expect(ds.format).toBe(DATASET_FORMAT);
    expect(ds.examples).toHaveLength(cfg.curate.n);
  });

  it('hard and limo sample the base, charge it here, and limo picks the best chains', async () => {
    const hard = await run(curateTask('hard', 3, [base]));
    const limo = await run(curateTask('limo', 3, [base]));
    for (const out of [hard, limo]) {
      expectLedger(out, { generated: true });
      expect(out.ledger.curatedExamples).toBe(cfg.curate.n);
      expect(out.metrics['base_pass_rate.chosen']).toBeLessThanOrEqual(out.metrics['base_pass_rate.candidates']!);
    }
    expect(limo.metrics['quality.mean']).toBeCloseTo(1); // full_check is in the pool styles
    expect(limo.metrics['quality.mean']).toBeGreaterThanOrEqual(hard.metrics['quality.mean']!);
  });

  it("limo with limoSource base fails loudly when none of the base's own samples passes the chain checklist", async () => {
    // The tiny base (20 pretraining steps) never writes a chain that checks out: choosing
    // nothing is an error naming the checklist, not an empty dataset that trains nothing.
    const task = curateTask('limo', 3, [base], { ...cfg.curate.options, limoSource: 'base', temperature: 1 });
    await expect(run(task)).rejects.toThrow(BadTaskInputError);
    await expect(run(task)).rejects.toThrow(/passes the checklist \(limoSource base, style full\)/);
  });

  it('rejects an unknown strategy', async () => {
    await expect(run(curateTask('best', 3, [base]))).rejects.toThrow(/strategy "best"/);
  });
});

describe('TRAIN, ROLLOUT, EVAL', () => {
  it('SFT on a curated dataset changes the checkpoint; EVAL reports the named metrics', async () => {
    const ds = (await run(curateTask('limo', 4, [base]))).outputs[0]!;
    const sft = await run(trainTask('sft', 5, [base, ds]));
    expectLedger(sft, { trained: true });
    expect(sft.outputs[0]!.role).toBe('checkpoint');
    expect(sft.outputs[0]!.digest).not.toBe(base.digest);
    expect(sft.metrics.examples).toBe(cfg.curate.n);

    const ev = await run(evalTask(7, [sft.outputs[0]!]));
    expectLedger(ev, { generated: true });
    for (const split of ['test_id', 'test_ood']) {
      expect(ev.metrics[`pass1.${split}`]).toBeGreaterThanOrEqual(0);
      expect(ev.metrics[`pass@2.${split}`]).toBeGreaterThanOrEqual(0);
    }
    expect(Object.keys(ev.metrics)).toEqual(expect.arrayContaining(['pass1.test_id.d1', 'pass1.test_id.d2', 'pass1.test_ood.d3']));
    expect((ev.details!.test_id as unknown[]).length).toBe(cfg.eval.keepOutputs);

    const icl = await run(evalTask(7, [base, asRole(ds, 'dataset')], 'icl'));
    expect(icl.metrics['pass1.test_id']).toBeGreaterThanOrEqual(0);
    expect(icl.metrics['icl_shots.test_id']).toBeGreaterThanOrEqual(0);
  });

  it('ROLLOUT shards cover the round and RFT trains on their accepted samples', async () => {
    const shards = await Promise.all([0, 1].map((s) => run(rolloutTask(s, 9, [base]))));
    let sampled = 0;
    for (const out of shards) {
      expectLedger(out, { generated: true });
      expect(out.outputs[0]!.role).toBe('rollouts');
      const r = JSON.parse(new TextDecoder().decode(await store.get(out.outputs[0]!)));
      expect(r.format).toBe(ROLLOUTS_FORMAT);
      expect(r.samples).toHaveLength(out.metrics.accepted!);
      sampled += out.metrics.sampled!;
    }
    expect(sampled).toBe(cfg.rollout.prompts * cfg.rollout.k);
    const rft = await run(trainTask('rft', 11, [base, ...shards.map((s) => s.outputs[0]!)]));
    expect(rft.outputs[0]!.role).toBe('checkpoint');
    expect(rft.metrics.examples).toBeLessThanOrEqual(shards.reduce((a, s) => a + s.metrics.accepted!, 0));
  });

  it('the same seed gives the same accuracy', async () => {
    const a = await run(evalTask(21, [base]));
    const b = await run(evalTask(21, [base]));
    expect(b.metrics).toEqual(a.metrics);
    const again = await run(pretrainTask(1));
    expect(again.metrics['loss.final']).toBe(pretrainOut.metrics['loss.final']);
  });

  it('an aborted signal cancels the task promptly', async () => {
    const ac = new AbortController();
    ac.abort(new Error('test cancel'));
    await expect(run(evalTask(7, [base]), ac.signal)).rejects.toThrow(TaskCancelledError);
    // Abort in the middle of training: at the first step's progress report.
    const ac2 = new AbortController();
    const ctx = makeContext(pretrainTask(2), store, { signal: ac2.signal, onProgress: (_f, m) => m?.startsWith('step') && ac2.abort(new Error('test cancel')) });
    await expect(mlRunner.run(ctx)).rejects.toThrow(TaskCancelledError);
    expect(ctx.recorded.progress.filter((p) => p.message?.startsWith('step'))).toHaveLength(1);
  });

  it('the runner refuses a task whose kind and spec disagree', async () => {
    const t = evalTask(1, [base]);
    t.kind = TaskKind.TASK_KIND_TRAIN;
    await expect(run(t)).rejects.toThrow(/kind TASK_KIND_TRAIN but a eval spec/);
  });
});
