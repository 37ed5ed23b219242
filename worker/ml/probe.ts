// A one-process probe of an SFT arm on the study defaults, for tuning: PRETRAIN -> EVAL(base)
// -> CURATE -> TRAIN(sft) -> EVAL, through mlRunner with an in-memory artifact store.
// Run: npx tsx worker/ml/probe.ts ['{"pretrain":{"steps":1500},"strategy":"limo","threads":2,"saveBase":"/tmp/base.bin"}']
// ("loadBase" skips pretraining and the base eval; "rl": true runs rollout/rft rounds instead of SFT.)
// The JSON merges (one level deep) over defaultStudyConfig(); prints metrics and seconds per task.
import { readFileSync, writeFileSync } from 'node:fs';
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import type { TaskContext } from '../runner.js';
import { defaultStudyConfig, type MlConfig } from './defaults.js';
import { mlRunner } from './index.js';
import { MemoryArtifacts } from './memory-artifacts.js';

type Probe = MlConfig & { strategy: string; seed: number; threads: number; evalLimit: number; skipSft: boolean; saveBase: string; loadBase: string; rl: boolean };
const over = JSON.parse(process.argv[2] ?? '{}') as Partial<Record<keyof Probe, unknown>>;
const base: Probe = { ...defaultStudyConfig(), strategy: 'limo', seed: 1, threads: 2, evalLimit: 0, skipSft: false, saveBase: '', loadBase: '', rl: false };
const cfg = Object.fromEntries(Object.entries(base).map(([k, v]) => {
  const o = over[k as keyof Probe];
  return [k, o !== undefined && typeof v === 'object' && !Array.isArray(v) ? { ...v, ...(o as object) } : (o ?? v)];
})) as Probe;
const store = new MemoryArtifacts();
let n = 0;

async function run(kind: TaskKind, spec: Task['spec'], inputs: ArtifactRef[] = []) {
  const task: Task = { id: `p${++n}`, sweepId: 'probe', arm: 'probe', kind, phase: 'probe', seed: cfg.seed, resources: undefined, inputs, attempt: 1, timeoutS: 0, cacheKey: '', costEstimate: 0, spec, modelRef: undefined };
  const ctx: TaskContext = {
    task, signal: new AbortController().signal, artifacts: store, threads: cfg.threads,
    progress: () => {}, log: (l) => console.log(`  log: ${l}`), metric: () => {},
    input: (role) => { const r = inputs.find((i) => i.role === role); if (!r) throw new Error(`no input ${role}`); return r; },
  };
  const t0 = performance.now();
  const out = await mlRunner.run(ctx);
  const s = (performance.now() - t0) / 1000;
  const m = Object.entries(out.metrics).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' ');
  console.log(`${spec!.$case} ${s.toFixed(1)}s GFLOP=${((out.ledger.flops ?? 0) / 1e9).toFixed(1)} ${m}`);
  return out;
}

const evalSpec = (): Task['spec'] => ({ $case: 'eval', value: { splits: [], nSamples: cfg.eval.nSamples, k: cfg.eval.k, temperature: cfg.eval.temperature, keepOutputs: 3, mode: 'model', shots: 0, domain: cfg.domain, options: { ...cfg.eval.options, limit: cfg.evalLimit } } });
console.log(JSON.stringify({ model: cfg.model, domain: cfg.domain, pretrain: cfg.pretrain, curate: cfg.curate, sft: cfg.sft, strategy: cfg.strategy }));
let ckpt: ArtifactRef;
if (cfg.loadBase) {
  ckpt = await store.put('checkpoint', new Uint8Array(readFileSync(cfg.loadBase)));
} else {
  ckpt = (await run(TaskKind.TASK_KIND_PRETRAIN, { $case: 'pretrain', value: { model: cfg.model, domain: cfg.domain, train: cfg.pretrain } })).outputs[0]!;
  if (cfg.saveBase) writeFileSync(cfg.saveBase, await store.get(ckpt));
  const ev0 = await run(TaskKind.TASK_KIND_EVAL, evalSpec(), [ckpt]);
  console.log('  base outputs:', JSON.stringify(ev0.details?.test_id));
}
if (cfg.rl) {
  // Sample-and-select: rounds of ROLLOUT shards -> TRAIN(rft), each round from the last policy.
  let policy = ckpt;
  const r = cfg.rollout;
  for (let round = 0; round < r.rounds; round++) {
    const shards = [];
    for (let shard = 0; shard < r.numShards; shard++) {
      shards.push((await run(TaskKind.TASK_KIND_ROLLOUT, { $case: 'rollout', value: { shard, numShards: r.numShards, prompts: r.prompts, k: r.k, temperature: r.temperature, maxTokens: 0, round, domain: cfg.domain, options: r.options } }, [policy])).outputs[0]!);
    }
    policy = (await run(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method: 'rft', epochs: cfg.rft.epochs, lr: cfg.rft.lr, batchSize: cfg.rft.batchSize, maxPerPrompt: cfg.rft.maxPerPrompt, options: cfg.rft.options } }, [policy, ...shards])).outputs[0]!;
  }
  const ev = await run(TaskKind.TASK_KIND_EVAL, evalSpec(), [policy]);
  console.log('  rl outputs:', JSON.stringify(ev.details?.test_ood));
} else if (!cfg.skipSft) {
  const cur = await run(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy: cfg.strategy, n: cfg.curate.n, k: cfg.curate.k, candidates: cfg.curate.candidates, domain: cfg.domain, options: cfg.curate.options } }, [ckpt]);
  const sft = await run(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method: 'sft', epochs: cfg.sft.epochs, lr: cfg.sft.lr, batchSize: cfg.sft.batchSize, maxPerPrompt: 0, options: cfg.sft.options } }, [ckpt, cur.outputs[0]!]);
  const ev1 = await run(TaskKind.TASK_KIND_EVAL, evalSpec(), [sft.outputs[0]!]);
  console.log('  sft outputs:', JSON.stringify(ev1.details?.test_ood));
}
