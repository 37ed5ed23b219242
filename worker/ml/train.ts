// TASK_KIND_TRAIN: weighted next-token loss from a checkpoint (role "checkpoint", else
// "sft_checkpoint"). method sft: the curated "dataset"; method rft: every "rollouts" input,
// deduplicated and capped at max_per_prompt per prompt. Loss weight 0 on prompt tokens
// (options.promptWeight), 1 on the completion and EOS. Output role "checkpoint".
// With options.search it is the tuning phase instead: it trains one candidate per (lr,
// epochs), scores each on pool problems held out from training, and outputs a "recipe";
// a TRAIN with a "recipe" input takes its lr and epochs from there.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import { deriveSeed, renderPrompt, Rng, verify } from '../../experiments/domain/index.js';
import type { Engine } from '../engine/index.js';
import { Ledger, threadsOf, checkEngineFitsDomain, checkpointOpener, decodeJson, encodeJson, loadEngine, sampleCompletions, taskSeed, throwIfCancelled, toExample, withCancellation, type SampleJob } from './common.js';
import { evenlyByDifficulty } from './eval.js';
import { readDataset, readRollouts, type DatasetExample } from './formats.js';
import { TrainOptionsSchema, domainSplits, parseDomain, parseStruct, type TrainOptions } from './schemas.js';

export const DEFAULT_MAX_PER_PROMPT = 4;

/** Distinct (prompt, completion) pairs, at most `cap` per prompt, in input order. */
export function dedupeAndCap(samples: DatasetExample[], cap: number): DatasetExample[] {
  const seen = new Set<string>();
  const perPrompt = new Map<string, number>();
  const out: DatasetExample[] = [];
  for (const s of samples) {
    const key = `${s.prompt}\u0000${s.completion}`;
    if (seen.has(key)) continue;
    const c = perPrompt.get(s.prompt) ?? 0;
    if (c >= cap) continue;
    seen.add(key);
    perPrompt.set(s.prompt, c + 1);
    out.push(s);
  }
  return out;
}

export async function runTrain(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'train') throw new BadTaskInputError(`TRAIN task ${ctx.task.id} carries no train spec`);
  const { method } = spec.value;
  const opts = parseStruct(TrainOptionsSchema, spec.value.options, 'train.options');
  const epochs = spec.value.epochs || 1; // 0 = 1 epoch
  const lr = spec.value.lr || 1e-3; // 0 = 1e-3
  const batchSize = spec.value.batchSize || 16; // 0 = 16
  const seed = taskSeed(ctx);
  const ledger = new Ledger(threadsOf(ctx));

  let examples: DatasetExample[];
  let rawCount: number;
  if (method === 'sft') {
    examples = (await readDataset(ctx, ctx.input('dataset'))).examples;
    rawCount = examples.length;
  } else if (method === 'rft') {
    const refs = ctx.task.inputs.filter((i) => i.role === 'rollouts');
    if (refs.length === 0) throw new BadTaskInputError(`rft TRAIN task ${ctx.task.id} has no "rollouts" inputs; pass the round's ROLLOUT outputs`);
    const all: DatasetExample[] = [];
    for (const r of refs) all.push(...(await readRollouts(ctx, r)).samples);
    rawCount = all.length;
    examples = dedupeAndCap(all, spec.value.maxPerPrompt || DEFAULT_MAX_PER_PROMPT); // 0 = 4
  } else {
    throw new BadTaskInputError(`train.method "${method}" is unknown; use sft or rft`);
  }
  throwIfCancelled(ctx, 'train');
  if (opts.search) return runSearch(ctx, examples, rawCount, opts, { epochs, lr, batchSize, seed });

  // A recipe from a TUNE task (phase "tuning") replaces the spec's lr and epochs.
  let recipe: Recipe | undefined;
  const recipeRef = ctx.task.inputs.find((i) => i.role === 'recipe');
  if (recipeRef) recipe = parseRecipe(decodeJson(await ctx.artifacts.get(recipeRef), 'the "recipe" input'));
  const engine = await loadEngine(ctx, ['checkpoint', 'sft_checkpoint']);
  try {
    ledger.params = engine.numParams();
    const metrics: Record<string, number> = { examples: examples.length, examples_raw: rawCount };
    if (recipe) Object.assign(metrics, { 'recipe.lr': recipe.lr, 'recipe.epochs': recipe.epochs });
    if (examples.length === 0) {
      // Nothing accepted this round: the policy is unchanged (and costs nothing to train).
      ctx.log('train: no examples; passing the input checkpoint through unchanged');
      metrics.steps = 0;
    } else {
      const r = await fit(ctx, engine, examples, opts, { epochs: recipe?.epochs ?? epochs, lr: recipe?.lr ?? lr, batchSize, seed }, [0.05, 0.95], true);
      ledger.addTrain(r);
      Object.assign(metrics, {
        steps: r.steps,
        'loss.first': r.losses[0] ?? NaN,
        'loss.final': finalLoss(r.losses),
        'chain_share': examples.filter((e) => !e.completion.startsWith('#')).length / examples.length,
      });
    }
    const out = await ctx.artifacts.put('checkpoint', engine.toBytes(), 'application/x-limolab-engine');
    ctx.progress(1, 'trained');
    return { metrics, ledger: ledger.finish(), outputs: [out] };
  } finally {
    await engine.dispose();
  }
}

interface Recipe { lr: number; epochs: number }
function parseRecipe(v: unknown): Recipe {
  const r = v as Partial<Recipe> | null;
  if (!r || typeof r !== 'object' || !(Number(r.lr) > 0) || !Number.isInteger(r.epochs) || !(r.epochs! >= 1)) {
    throw new BadTaskInputError('the "recipe" input has no positive lr and integer epochs >= 1; it must come from a TRAIN task with options.search');
  }
  return { lr: Number(r.lr), epochs: r.epochs! };
}

type Fit = { epochs: number; lr: number; batchSize: number; seed: number };

/** Mean loss over the last tenth of the steps (at least one). */
const finalLoss = (losses: number[]) => {
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
};

/** One training run of `engine` on `examples` (in place), progress mapped onto [from, to]. */
async function fit(ctx: TaskContext, engine: Engine, examples: DatasetExample[], opts: TrainOptions, f: Fit, [from, to]: [number, number], lossMetric: boolean) {
  const tok = engine.tokenizer;
  const order = new Rng(deriveSeed(f.seed, 'train-order')).shuffle(examples);
  const weighted = order.map((e) => toExample(tok, e.prompt, e.completion, opts.promptWeight));
  const longest = Math.max(...weighted.map((w) => w.tokens.length));
  if (longest > engine.config.max_position_embeddings) {
    throw new BadTaskInputError(`a training example has ${longest} tokens but the model's context is ${engine.config.max_position_embeddings}; curate shorter chains or use a longer context`);
  }
  return withCancellation(ctx, 'train', () =>
    engine.train(weighted, {
      ...(opts.steps > 0 ? { steps: opts.steps } : { epochs: f.epochs }),
      batchSize: Math.min(f.batchSize, weighted.length),
      lr: f.lr,
      warmupSteps: opts.warmupSteps,
      gradClip: opts.gradClip,
      seed: deriveSeed(f.seed, 'train'),
      signal: ctx.signal,
      onStep: (step, total, loss) => {
        ctx.progress(from + (to - from) * (step / total), `step ${step}/${total} loss ${loss.toFixed(3)}`);
        if (lossMetric && (step % 10 === 0 || step === total)) ctx.metric('loss', loss, step);
      },
    }),
  );
}

/** The tuning phase: every (lr, epochs) candidate trained from the input checkpoint, scored by
 *  greedy accuracy on validation problems from the pool that no training example uses. The
 *  best wins; ties go to the gentler candidate (smaller lr, then fewer epochs). Every
 *  candidate's training and validation FLOPs are charged to this task. */
async function runSearch(ctx: TaskContext, examples: DatasetExample[], rawCount: number, opts: TrainOptions, base: Fit): Promise<RunOutput> {
  const search = opts.search!;
  if (examples.length === 0) {
    // Nothing to train on (e.g. an RL round that accepted no sample): nothing to choose between.
    // The recipe is the spec's own lr and epochs; the TRAIN that reads it passes its checkpoint through.
    ctx.log('tuning: no training examples; the recipe is the spec\'s own lr and epochs');
    const out = await ctx.artifacts.put('recipe', encodeJson({ lr: base.lr, epochs: base.epochs, val_acc: null, validation: 0, candidates: [] }), 'application/json');
    return { metrics: { examples: 0, examples_raw: rawCount, candidates: 0, 'recipe.lr': base.lr, 'recipe.epochs': base.epochs }, ledger: new Ledger(threadsOf(ctx)).finish(), outputs: [out] };
  }
  const domain = parseDomain(search.domain, 'train.options.search.domain');
  const used = new Set(examples.map((e) => e.prompt));
  const held = domainSplits(domain, 'train.options.search.domain').pool.filter((p) => !used.has(renderPrompt(p)));
  const val = evenlyByDifficulty(held, search.validation);
  if (val.length === 0) throw new BadTaskInputError('the pool has no problems left for validation once the training prompts are removed; raise domain.poolSize');
  const grid = [...search.lr].sort((a, b) => a - b).flatMap((lr) => [...(search.epochs ?? [base.epochs])].sort((a, b) => a - b).map((epochs) => ({ lr, epochs })));
  const ledger = new Ledger(threadsOf(ctx));
  const metrics: Record<string, number> = { examples: examples.length, examples_raw: rawCount, 'val.problems': val.length, candidates: grid.length };
  const scored: { lr: number; epochs: number; val_acc: number; steps: number; loss_final: number }[] = [];
  const open = await checkpointOpener(ctx, ['checkpoint', 'sft_checkpoint']); // read once, opened per candidate
  const jobs: SampleJob[] = val.map((p) => ({ prompt: renderPrompt(p), problem: p }));
  const span = 1 / grid.length;
  for (const [i, c] of grid.entries()) {
    throwIfCancelled(ctx, 'train');
    const engine = await open();
    try {
      checkEngineFitsDomain(engine, domain, 0);
      ledger.params = engine.numParams();
      const r = await fit(ctx, engine, examples, opts, { ...base, ...c }, [i * span, (i + 0.8) * span], false);
      ledger.addTrain(r);
      const out = await withCancellation(ctx, 'train', () => sampleCompletions(ctx, engine, ledger, jobs, { n: 1, temperature: 0, maxNewTokens: 0, topK: 0, batch: 64, seed: deriveSeed(base.seed, 'validation') },
        { from: (i + 0.8) * span, to: (i + 1) * span, label: `validate lr ${c.lr} epochs ${c.epochs}` }));
      const acc = val.filter((p, j) => verify(p, out[j]![0]!)).length / val.length;
      scored.push({ ...c, val_acc: acc, steps: r.steps, loss_final: finalLoss(r.losses) });
      metrics[`val_acc.c${i}`] = acc;
      ctx.log(`tuning: lr ${c.lr} epochs ${c.epochs}: validation accuracy ${acc.toFixed(3)} on ${val.length} pool problems (${r.steps} steps)`);
    } finally {
      await engine.dispose();
    }
  }
  const best = scored.reduce((a, b) => (b.val_acc > a.val_acc ? b : a));
  Object.assign(metrics, { 'recipe.lr': best.lr, 'recipe.epochs': best.epochs, 'recipe.val_acc': best.val_acc });
  const out = await ctx.artifacts.put('recipe', encodeJson({ lr: best.lr, epochs: best.epochs, val_acc: best.val_acc, validation: val.length, candidates: scored }), 'application/json');
  ctx.progress(1, `recipe: lr ${best.lr}, ${best.epochs} epochs`);
  return { metrics, ledger: ledger.finish(), outputs: [out], details: { candidates: scored, validation: val.map((p) => renderPrompt(p)) } };
}
