// TASK_KIND_TRAIN: weighted next-token loss from a checkpoint (role "checkpoint", else
// "sft_checkpoint"). method sft: the curated "dataset"; method rft: every "rollouts" input,
// deduplicated and capped at max_per_prompt per prompt. Loss weight 0 on prompt tokens
// (options.promptWeight), 1 on the completion and EOS. Output role "checkpoint".
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import { deriveSeed, Rng } from '../../experiments/domain/index.js';
import { Ledger, threadsOf, loadEngine, taskSeed, throwIfCancelled, toExample, withCancellation } from './common.js';
import { readDataset, readRollouts, type DatasetExample } from './formats.js';
import { TrainOptionsSchema, parseStruct } from './schemas.js';

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

  const engine = await loadEngine(ctx, ['checkpoint', 'sft_checkpoint']);
  try {
    ledger.params = engine.numParams();
    const metrics: Record<string, number> = { examples: examples.length, examples_raw: rawCount };
    if (examples.length === 0) {
      // Nothing accepted this round: the policy is unchanged (and costs nothing to train).
      ctx.log('train: no examples; passing the input checkpoint through unchanged');
      metrics.steps = 0;
    } else {
      const tok = engine.tokenizer;
      const order = new Rng(deriveSeed(seed, 'train-order')).shuffle(examples);
      const weighted = order.map((e) => toExample(tok, e.prompt, e.completion, opts.promptWeight));
      const longest = Math.max(...weighted.map((w) => w.tokens.length));
      if (longest > engine.config.max_position_embeddings) {
        throw new BadTaskInputError(`a training example has ${longest} tokens but the model's context is ${engine.config.max_position_embeddings}; curate shorter chains or use a longer context`);
      }
      const r = await withCancellation(ctx, 'train', () =>
        engine.train(weighted, {
          ...(opts.steps > 0 ? { steps: opts.steps } : { epochs }),
          batchSize: Math.min(batchSize, weighted.length),
          lr,
          warmupSteps: opts.warmupSteps,
          gradClip: opts.gradClip,
          seed: deriveSeed(seed, 'train'),
          signal: ctx.signal,
          onStep: (step, total, loss) => {
            ctx.progress(0.05 + 0.9 * (step / total), `step ${step}/${total} loss ${loss.toFixed(3)}`);
            if (step % 10 === 0 || step === total) ctx.metric('loss', loss, step);
          },
        }),
      );
      ledger.addTrain(r);
      const tail = r.losses.slice(-Math.max(1, Math.floor(r.losses.length / 10)));
      Object.assign(metrics, {
        steps: r.steps,
        'loss.first': r.losses[0] ?? NaN,
        'loss.final': tail.reduce((a, b) => a + b, 0) / tail.length,
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
