// Planners for the ML methods on the built-in domain: how a sweep arm becomes a task DAG.
// Every DAG starts PRETRAIN -> PROBE (the base's latent ability, shared by all arms on a base).
//   base: PRETRAIN -> EVAL
//   sft:  PRETRAIN -> CURATE(n, curation) [-> TUNE(recipe search) when tune: true] -> TRAIN(sft) -> EVAL
//   rl:   PRETRAIN [-> CURATE -> TRAIN(sft) when init: sft] -> [ROLLOUT x shards -> TRAIN(rft)] x rounds -> EVAL
//         (tune: true adds a TUNE on round 1's rollouts; every round's TRAIN reads its recipe)
//   icl:  PRETRAIN -> CURATE(shots examples) -> EVAL(mode icl)
// The sweep's `base:` block holds what every arm shares (model, domain, pretrain, eval,
// sampling options); an arm's `params` choose its method's knobs. Identical PRETRAIN tasks
// (same config and seed) merge into one per seed across arms.
import { z } from 'zod';
import { TaskKind } from '../gen/limolab/v1/task.js';
import { formatZodIssues } from '../coordinator/spec.js';
import { CHAIN_STYLES, DomainConfigSchema } from './domain/config.js';
import type { MethodPlanner, PlanArgs, PlannedTask } from '../coordinator/planner.js';
import { costModel, taskSeconds, type CostModel } from './cost-estimate.js';

const Json = z.record(z.string(), z.unknown());

// The fine-tuning recipe: the arm's `lr`/`epochs` as given, or, with `tune: true`, searched per
// arm and seed over base.tune's grid on a validation split carved from the pool; the search is
// its own task in the `tuning` phase, charged to the arm, and TRAIN takes the winner from it.
const Tune = z.strictObject({
  lr: z.array(z.number().positive()).min(1).max(8).default([1e-4, 3e-4, 1e-3]).describe('learning rates to try'),
  epochs_factor: z.array(z.number().positive()).min(1).max(8).default([1]).describe("epochs to try, as multiples of the arm's epochs (rounded, at least 1)"),
  validation: z.number().int().min(1).max(2000).default(48).describe('validation problems from the pool, none used in training'),
});

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
  pretrain_threads: z.number().min(0).optional().describe('CPU threads for PRETRAIN (default: threads)'),
  // One pretrained base for every seed (its PRETRAIN and PROBE use this seed): seeds then vary
  // only what the methods draw (curation, training order, sampling), not the base. Faster;
  // the base's own seed-to-seed variance is left out of the intervals.
  pretrain_seed: z.number().int().min(0).optional().describe('pretrain every seed\'s base with this one seed (one shared base)'),
  // Bases are a grid axis: each named entry overrides model/domain/pretrain for its own
  // PRETRAIN (and everything downstream); every arm runs on every base unless its params name
  // one (`base: cs0.1`). Keep the test-split fields (valueMax, trainSteps, oodSteps, testSize,
  // splitSeed, ...) the same across bases so arms are paired on the same test problems.
  bases: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a base name uses letters, digits, _ . and - only'),
    z.strictObject({ model: Json.optional(), domain: Json.optional(), pretrain: Json.optional() })).optional(),
  // The PROBE task of each base (latent ability on test_id): eval-style options, e.g. {limit: 60}.
  probe: z.strictObject({ splits: z.array(z.enum(['test_id', 'test_ood'])).min(1).default(['test_id']), options: Json.default({}) }).prefault({}),
  // The recipe search of arms with `tune: true`.
  tune: Tune.prefault({}),
});
type MlBase = z.output<typeof MlBaseSchema>;

/** The base named by an arm's `base` param: the shared blocks with that entry's overrides. */
function resolveBase(b: MlBase, name: string | undefined): MlBase {
  if (!b.bases || name === undefined || name === 'default') return b;
  const o = b.bases[name];
  if (!o) throw new Error(`params.base "${name}" is not one of base.bases (${Object.keys(b.bases).join(', ')})`);
  return { ...b, model: { ...b.model, ...(o.model ?? {}) }, domain: { ...b.domain, ...(o.domain ?? {}) }, pretrain: { ...b.pretrain, ...(o.pretrain ?? {}) } };
}

const curation = z.enum(['random', 'hard', 'limo']);
const style = z.enum(['mixed', ...CHAIN_STYLES]);
const baseName = z.string().optional().describe('which of base.bases this arm runs on (set by the grid)');
const SftParams = z.strictObject({
  n: z.number().int().min(1), curation: curation.default('limo'), epochs: z.number().int().min(1).default(10),
  lr: z.number().positive().default(1e-4), k: z.number().int().min(0).optional(), candidates: z.number().int().min(0).optional(),
  tune: z.boolean().default(false).describe("search lr and epochs over base.tune's grid (a tuning-phase task)"),
  style: style.default('full').describe('chain style of the curated solutions (none = bare answers)'),
  control: z.enum(['positive', 'negative']).optional().describe('positive: large-N correct chains vs base; negative: bare answers vs paired_with'),
  paired_with: z.string().optional().describe('negative control: the chain arm (spec arm name) with the same n and curation'),
  base: baseName,
}).refine((p) => p.control !== 'negative' || p.paired_with !== undefined, { message: 'a negative control needs paired_with: <the chain arm it controls>', path: ['paired_with'] });
const RlParams = z.strictObject({
  rounds: z.number().int().min(1).max(50).default(2), prompts: z.number().int().min(1).default(200), k: z.number().int().min(1).default(4),
  shards: z.number().int().min(1).max(64).default(2), temperature: z.number().min(0).default(1), epochs: z.number().int().min(1).default(2),
  lr: z.number().positive().default(1e-4), max_per_prompt: z.number().int().min(1).default(4),
  continue: z.enum(['last', 'base']).default('last').describe('train each round from the last policy, or from the start on all rounds so far'),
  init: z.enum(['base', 'sft']).default('base'),
  sft_n: z.number().int().min(1).default(100), sft_curation: curation.default('limo'), sft_epochs: z.number().int().min(1).default(10),
  sft_lr: z.number().positive().default(1e-4), sft_style: style.default('full'),
  reward: z.enum(['answer', 'process']).default('answer').describe('answer: a right final answer is accepted; process: the chain must check out step by step'),
  tune: z.boolean().default(false).describe("search the rft lr and epochs over base.tune's grid on round 1's rollouts; every round uses the winner"),
  base: baseName,
});
const IclParams = z.strictObject({ shots: z.number().int().min(1).max(16).default(2), curation: curation.default('limo'), style: style.default('full'), base: baseName });
const BaseParams = z.strictObject({ base: baseName });

function check(schema: z.ZodType, args: PlanArgs): string[] {
  const problems: string[] = [];
  const b = MlBaseSchema.safeParse(args.base);
  if (!b.success) problems.push(...formatZodIssues(b.error.issues, ['base'], MlBaseSchema));
  const p = schema.safeParse(args.params);
  if (!p.success) problems.push(...formatZodIssues(p.error.issues, ['params'], schema));
  if (b.success && p.success) {
    const name = (p.data as { base?: string }).base;
    try {
      // The domain block (with the base's overrides) is checked here, at submit, with the
      // schema PRETRAIN applies: a misspelt key gets its did-you-mean now, not from a worker.
      const d = DomainConfigSchema.safeParse(resolveBase(b.data, name).domain);
      const where = b.data.bases && name !== undefined && b.data.bases[name]?.domain ? ['base', `domain (with base.bases.${name}.domain)`] : ['base', 'domain'];
      if (!d.success) problems.push(...formatZodIssues(d.error.issues, where, DomainConfigSchema));
    } catch (e) { problems.push(`params.base: ${(e as Error).message}`); }
  }
  return problems;
}

const PHASE = { pretrain: 'pretrain', curate: 'curation', tune: 'tuning', train: 'training', rollout: 'rollout', eval: 'evaluation' } as const;

/** Latent ability of the base (forced chain / forced bare), charged to pretraining: every arm
 *  on a base shares its one PROBE per seed, so the analysis can read it from any arm. */

class Dag {
  tasks: PlannedTask[] = [];
  constructor(readonly b: MlBase) {}
  private add(t: Omit<PlannedTask, 'resources'>, cpus = this.b.threads): string {
    this.tasks.push({ ...t, resources: { cpus } });
    return t.key;
  }
  private costs: CostModel | null = null;
  /** This base's cost model (sizes and seconds per sequence), made on first use. */
  private get sizes(): CostModel { return (this.costs ??= costModel(this.b)); }
  /** Estimated seconds for a task that trains on or samples `sequences` sequences. */
  private cost(sequences: number): number { return taskSeconds(this.sizes, sequences); }
  pretrain(): string {
    const seed = this.b.pretrain_seed === undefined ? {} : { seed: this.b.pretrain_seed };
    const key = this.add({ key: 'pretrain', name: 'pretrain', kind: TaskKind.TASK_KIND_PRETRAIN, phase: PHASE.pretrain, ...seed,
      spec: { $case: 'pretrain', value: { model: this.b.model, domain: this.b.domain, train: this.b.pretrain } }, cost: this.cost(this.sizes.pretrainSequences) },
      this.b.pretrain_threads ?? this.b.threads);
    this.add({ key: 'probe', name: 'probe latent ability', kind: TaskKind.TASK_KIND_PROBE, phase: PHASE.pretrain, ...seed, deps: [{ key, role: 'checkpoint' }],
      spec: { $case: 'eval', value: { splits: this.b.probe.splits, nSamples: 0, k: [], temperature: 0, keepOutputs: 0, mode: 'probe', shots: 0, domain: this.b.domain, options: this.b.probe.options } },
      cost: this.cost(2 * this.b.probe.splits.length * this.sizes.testSize) });
    return key;
  }
  curate(key: string, base: string, strategy: string, n: number, k?: number, candidates?: number, solutionStyle?: string): string {
    const options = solutionStyle === undefined ? this.b.curate.options : { ...this.b.curate.options, solutionStyle };
    const [kk, cand] = [k ?? this.b.curate.k, candidates ?? this.b.curate.candidates];
    // random draws from the pool without sampling; hard and limo sample k per candidate (0 candidates: the whole pool).
    const sampled = strategy === 'random' ? 0 : kk * (cand || this.sizes.poolSize);
    return this.add({ key, name: `curate ${strategy} n=${n}${solutionStyle ? ` ${solutionStyle}` : ''}`, kind: TaskKind.TASK_KIND_CURATE, phase: PHASE.curate, deps: [{ key: base, role: 'checkpoint' }],
      spec: { $case: 'curate', value: { strategy, n, k: kk, candidates: cand, domain: this.b.domain, options } }, cost: this.cost(sampled) });
  }
  /** A TRAIN task; with `search`, the recipe search for a TRAIN with the same inputs (the tuning phase). */
  /** `examples`: how many examples the data holds (an estimate for rollouts), for the cost estimate only. */
  train(key: string, from: string, data: { key: string; role: 'dataset' | 'rollouts' | 'recipe' }[], method: 'sft' | 'rft', epochs: number, lr: number, maxPerPrompt: number,
    examples: number, search?: { lr: number[]; epochs: number[]; domain: Record<string, unknown>; validation: number }): string {
    const options = search ? { ...this.b.train.options, search } : this.b.train.options;
    // A search trains every recipe and scores each on the validation split.
    const sequences = search
      ? search.lr.length * search.epochs.reduce((a, e) => a + e * examples + search.validation, 0)
      : epochs * examples;
    return this.add({ key, name: search ? `tune ${method} (${search.lr.length * search.epochs.length} recipes)` : key.replace(/\./g, ' '), kind: TaskKind.TASK_KIND_TRAIN,
      phase: search ? PHASE.tune : PHASE.train, deps: [{ key: from, role: 'checkpoint' }, ...data],
      spec: { $case: 'train', value: { method, epochs, lr, batchSize: this.b.train.batch_size, maxPerPrompt, options } }, cost: this.cost(sequences) });
  }
  /** The recipe search over base.tune's grid (epochs as multiples of the arm's). */
  tune(key: string, from: string, data: { key: string; role: 'dataset' | 'rollouts' }[], method: 'sft' | 'rft', epochs: number, maxPerPrompt: number, examples: number): string {
    const t = this.b.tune;
    const search = { lr: t.lr, epochs: [...new Set(t.epochs_factor.map((f) => Math.max(1, Math.round(f * epochs))))], domain: this.b.domain, validation: t.validation };
    return this.train(key, from, data, method, epochs, t.lr[0]!, maxPerPrompt, examples, search);
  }
  rollout(key: string, policy: string, round: number, shard: number, p: z.output<typeof RlParams>): string {
    const options = p.reward === 'answer' ? this.b.rollout.options : { ...this.b.rollout.options, reward: p.reward };
    return this.add({ key, name: `rollout r${round} s${shard + 1}/${p.shards}`, kind: TaskKind.TASK_KIND_ROLLOUT, phase: PHASE.rollout, deps: [{ key: policy, role: 'checkpoint' }],
      spec: { $case: 'rollout', value: { shard, numShards: p.shards, prompts: p.prompts, k: p.k, temperature: p.temperature, maxTokens: this.b.rollout.max_tokens, round, domain: this.b.domain, options } },
      cost: this.cost(Math.ceil(p.prompts / p.shards) * p.k) });
  }
  evaluate(model: string, mode: 'model' | 'icl' = 'model', shots = 0, dataset?: string): string {
    const e = this.b.eval;
    return this.add({ key: 'eval', name: mode === 'icl' ? `eval icl ${shots}-shot` : 'eval', kind: TaskKind.TASK_KIND_EVAL, phase: PHASE.eval, evaluates: true,
      deps: [{ key: model, role: 'checkpoint' }, ...(dataset ? [{ key: dataset, role: 'dataset' }] : [])],
      spec: { $case: 'eval', value: { splits: ['test_id', 'test_ood'], nSamples: e.n_samples, k: e.k, temperature: e.temperature, keepOutputs: e.keep_outputs, mode, shots, domain: this.b.domain, options: e.options } },
      cost: this.cost(2 * this.sizes.testSize * e.n_samples) });
  }
}

function planner(method: string, schema: z.ZodType, build: (d: Dag, p: never) => void): MethodPlanner {
  return {
    method,
    validate: (args) => check(schema, args),
    plan: (args) => {
      const params = schema.parse(args.params) as { base?: string };
      const d = new Dag(resolveBase(MlBaseSchema.parse(args.base), params.base));
      build(d, params as never);
      return d.tasks;
    },
    bases: (base) => {
      const b = MlBaseSchema.safeParse(base);
      return b.success && b.data.bases ? Object.keys(b.data.bases) : [];
    },
  };
}

export const mlPlanners: MethodPlanner[] = [
  planner('base', BaseParams, (d) => { d.evaluate(d.pretrain()); }),
  planner('sft', SftParams, (d, p: z.output<typeof SftParams>) => {
    const base = d.pretrain();
    const data = d.curate('curate', base, p.curation, p.n, p.k, p.candidates, p.style);
    const inputs = [{ key: data, role: 'dataset' as const }];
    const recipe = p.tune ? [{ key: d.tune('tune.sft', base, inputs, 'sft', p.epochs, 0, p.n), role: 'recipe' as const }] : [];
    d.evaluate(d.train('train.sft', base, [...inputs, ...recipe], 'sft', p.epochs, p.lr, 0, p.n));
  }),
  planner('icl', IclParams, (d, p: z.output<typeof IclParams>) => {
    const base = d.pretrain();
    const data = d.curate('curate', base, p.curation, p.shots, undefined, undefined, p.style);
    d.evaluate(base, 'icl', p.shots, data);
  }),
  planner('rl', RlParams, (d, p: z.output<typeof RlParams>) => {
    const base = d.pretrain();
    let start = base;
    if (p.init === 'sft') {
      const data = d.curate('curate', base, p.sft_curation, p.sft_n, undefined, undefined, p.sft_style);
      start = d.train('train.sft', base, [{ key: data, role: 'dataset' }], 'sft', p.sft_epochs, p.sft_lr, 0, p.sft_n);
    }
    let policy = start;
    const all: { key: string; role: 'rollouts' }[] = [];
    let recipe: { key: string; role: 'recipe' }[] = [];
    // Accepted samples per round, for the cost estimate: half of at most max_per_prompt per prompt.
    const perRound = p.prompts * Math.min(p.k, p.max_per_prompt) * 0.5;
    for (let r = 1; r <= p.rounds; r++) {
      const shards = Array.from({ length: p.shards }, (_, s) => ({ key: d.rollout(`rollout.r${r}.s${s}`, policy, r, s, p), role: 'rollouts' as const }));
      all.push(...shards);
      if (r === 1 && p.tune) recipe = [{ key: d.tune('tune.rft', start, shards, 'rft', p.epochs, p.max_per_prompt, perRound), role: 'recipe' }];
      policy = p.continue === 'last'
        ? d.train(`train.rft.r${r}`, policy, [...shards, ...recipe], 'rft', p.epochs, p.lr, p.max_per_prompt, perRound)
        : d.train(`train.rft.r${r}`, start, [...all, ...recipe], 'rft', p.epochs, p.lr, p.max_per_prompt, perRound * r);
    }
    d.evaluate(policy);
  }),
];
