// Planners for the ML methods on the built-in domain: how a sweep arm becomes a task DAG.
//   base: PRETRAIN -> EVAL
//   sft:  PRETRAIN -> CURATE(n, curation) -> TRAIN(sft) -> EVAL
//   rl:   PRETRAIN [-> CURATE -> TRAIN(sft) when init: sft] -> [ROLLOUT x shards -> TRAIN(rft)] x rounds -> EVAL
//   icl:  PRETRAIN -> CURATE(shots examples) -> EVAL(mode icl)
// The sweep's `base:` block holds what every arm shares (model, domain, pretrain, eval,
// sampling options); an arm's `params` choose its method's knobs. Identical PRETRAIN tasks
// (same config and seed) merge into one per seed across arms.
import { z } from 'zod';
import { TaskKind } from '../gen/limolab/v1/task.js';
import { formatZodIssues } from '../coordinator/spec.js';
import type { MethodPlanner, PlanArgs, PlannedTask } from '../coordinator/planner.js';

const Json = z.record(z.string(), z.unknown());

/** The sweep's `base:` block for ML methods. */
export const MlBaseSchema = z.strictObject({
  model: Json.default({}).describe('engine model config (worker/ml/schemas.ts ModelSpecSchema)'),
  domain: Json.default({}).describe('domain config (experiments/domain/config.ts)'),
  pretrain: Json.default({}).describe('PRETRAIN training knobs (PretrainTrainSchema)'),
  curate: z.strictObject({ k: z.number().int().min(0).default(4), candidates: z.number().int().min(0).default(0), options: Json.default({}) }).prefault({}),
  train: z.strictObject({ batch_size: z.number().int().min(0).default(16), options: Json.default({}) }).prefault({}),
  rollout: z.strictObject({ max_tokens: z.number().int().min(0).default(0), options: Json.default({}) }).prefault({}),
  eval: z.strictObject({
    n_samples: z.number().int().min(1).default(4), k: z.array(z.number().int().min(1)).default([4]), temperature: z.number().min(0).default(1),
    keep_outputs: z.number().int().min(0).default(4), options: Json.default({}),
  }).prefault({}),
  threads: z.number().min(0).default(1).describe('CPU threads (worker slots) per ML task'),
});
type MlBase = z.output<typeof MlBaseSchema>;

const curation = z.enum(['random', 'hard', 'limo']);
const SftParams = z.strictObject({
  n: z.number().int().min(1), curation: curation.default('limo'), epochs: z.number().int().min(1).default(10),
  lr: z.number().positive().default(1e-3), k: z.number().int().min(0).optional(), candidates: z.number().int().min(0).optional(),
});
const RlParams = z.strictObject({
  rounds: z.number().int().min(1).max(50).default(2), prompts: z.number().int().min(1).default(200), k: z.number().int().min(1).default(4),
  shards: z.number().int().min(1).max(64).default(2), temperature: z.number().min(0).default(1), epochs: z.number().int().min(1).default(2),
  lr: z.number().positive().default(1e-3), max_per_prompt: z.number().int().min(1).default(4),
  continue: z.enum(['last', 'base']).default('last').describe('train each round from the last policy, or from the start on all rounds so far'),
  init: z.enum(['base', 'sft']).default('base'),
  sft_n: z.number().int().min(1).default(100), sft_curation: curation.default('limo'), sft_epochs: z.number().int().min(1).default(10),
});
const IclParams = z.strictObject({ shots: z.number().int().min(1).max(16).default(2), curation: curation.default('limo') });
const BaseParams = z.strictObject({});

function check(schema: z.ZodType, args: PlanArgs): string[] {
  const problems: string[] = [];
  const b = MlBaseSchema.safeParse(args.base);
  if (!b.success) problems.push(...formatZodIssues(b.error.issues, ['base']));
  const p = schema.safeParse(args.params);
  if (!p.success) problems.push(...formatZodIssues(p.error.issues, ['params']));
  return problems;
}

const PHASE = { pretrain: 'pretrain', curate: 'curation', train: 'training', rollout: 'rollout', eval: 'evaluation' } as const;

class Dag {
  tasks: PlannedTask[] = [];
  constructor(readonly b: MlBase) {}
  private add(t: Omit<PlannedTask, 'resources'>): string {
    this.tasks.push({ ...t, resources: { cpus: this.b.threads } });
    return t.key;
  }
  pretrain(): string {
    return this.add({ key: 'pretrain', name: 'pretrain', kind: TaskKind.TASK_KIND_PRETRAIN, phase: PHASE.pretrain,
      spec: { $case: 'pretrain', value: { model: this.b.model, domain: this.b.domain, train: this.b.pretrain } } });
  }
  curate(key: string, base: string, strategy: string, n: number, k?: number, candidates?: number): string {
    return this.add({ key, name: `curate ${strategy} n=${n}`, kind: TaskKind.TASK_KIND_CURATE, phase: PHASE.curate, deps: [{ key: base, role: 'checkpoint' }],
      spec: { $case: 'curate', value: { strategy, n, k: k ?? this.b.curate.k, candidates: candidates ?? this.b.curate.candidates, domain: this.b.domain, options: this.b.curate.options } } });
  }
  train(key: string, from: string, data: { key: string; role: 'dataset' | 'rollouts' }[], method: 'sft' | 'rft', epochs: number, lr: number, maxPerPrompt = 0): string {
    return this.add({ key, name: key.replace(/\./g, ' '), kind: TaskKind.TASK_KIND_TRAIN, phase: PHASE.train,
      deps: [{ key: from, role: 'checkpoint' }, ...data],
      spec: { $case: 'train', value: { method, epochs, lr, batchSize: this.b.train.batch_size, maxPerPrompt, options: this.b.train.options } } });
  }
  rollout(key: string, policy: string, round: number, shard: number, p: z.output<typeof RlParams>): string {
    return this.add({ key, name: `rollout r${round} s${shard + 1}/${p.shards}`, kind: TaskKind.TASK_KIND_ROLLOUT, phase: PHASE.rollout, deps: [{ key: policy, role: 'checkpoint' }],
      spec: { $case: 'rollout', value: { shard, numShards: p.shards, prompts: p.prompts, k: p.k, temperature: p.temperature, maxTokens: this.b.rollout.max_tokens, round, domain: this.b.domain, options: this.b.rollout.options } } });
  }
  evaluate(model: string, mode: 'model' | 'icl' = 'model', shots = 0, dataset?: string): string {
    const e = this.b.eval;
    return this.add({ key: 'eval', name: mode === 'icl' ? `eval icl ${shots}-shot` : 'eval', kind: TaskKind.TASK_KIND_EVAL, phase: PHASE.eval, evaluates: true,
      deps: [{ key: model, role: 'checkpoint' }, ...(dataset ? [{ key: dataset, role: 'dataset' }] : [])],
      spec: { $case: 'eval', value: { splits: ['test_id', 'test_ood'], nSamples: e.n_samples, k: e.k, temperature: e.temperature, keepOutputs: e.keep_outputs, mode, shots, domain: this.b.domain, options: e.options } } });
  }
}

function planner(method: string, schema: z.ZodType, build: (d: Dag, p: never) => void): MethodPlanner {
  return {
    method,
    validate: (args) => check(schema, args),
    plan: (args) => {
      const d = new Dag(MlBaseSchema.parse(args.base));
      build(d, schema.parse(args.params) as never);
      return d.tasks;
    },
  };
}

export const mlPlanners: MethodPlanner[] = [
  planner('base', BaseParams, (d) => { d.evaluate(d.pretrain()); }),
  planner('sft', SftParams, (d, p: z.output<typeof SftParams>) => {
    const base = d.pretrain();
    const data = d.curate('curate', base, p.curation, p.n, p.k, p.candidates);
    d.evaluate(d.train('train.sft', base, [{ key: data, role: 'dataset' }], 'sft', p.epochs, p.lr));
  }),
  planner('icl', IclParams, (d, p: z.output<typeof IclParams>) => {
    const base = d.pretrain();
    const data = d.curate('curate', base, p.curation, p.shots);
    d.evaluate(base, 'icl', p.shots, data);
  }),
  planner('rl', RlParams, (d, p: z.output<typeof RlParams>) => {
    const base = d.pretrain();
    let start = base;
    if (p.init === 'sft') {
      const data = d.curate('curate', base, p.sft_curation, p.sft_n);
      start = d.train('train.sft', base, [{ key: data, role: 'dataset' }], 'sft', p.sft_epochs, p.lr);
    }
    let policy = start;
    const all: { key: string; role: 'rollouts' }[] = [];
    for (let r = 1; r <= p.rounds; r++) {
      const shards = Array.from({ length: p.shards }, (_, s) => ({ key: d.rollout(`rollout.r${r}.s${s}`, policy, r, s, p), role: 'rollouts' as const }));
      all.push(...shards);
      policy = p.continue === 'last'
        ? d.train(`train.rft.r${r}`, policy, shards, 'rft', p.epochs, p.lr, p.max_per_prompt)
        : d.train(`train.rft.r${r}`, start, [...all], 'rft', p.epochs, p.lr, p.max_per_prompt);
    }
    d.evaluate(policy);
  }),
];
