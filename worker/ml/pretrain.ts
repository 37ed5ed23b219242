// TASK_KIND_PRETRAIN: builds the base model of the built-in domain. A fresh engine (config
// from spec.model, vocabulary from the domain's alphabet) trained on pretrainCorpus: single
// steps and short problems, mostly answered without a chain. Output role "checkpoint".
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import { CharTokenizer, Engine, type ModelConfig } from '../engine/index.js';
import { deriveSeed, pretrainCorpus, type DomainConfig } from '../../experiments/domain/index.js';
import { Ledger, threadsOf, engineOptions, checkEngineFitsDomain, taskSeed, throwIfCancelled, toExample, withCancellation } from './common.js';
import { ModelSpecSchema, PretrainTrainSchema, domainSplits, parseDomain, parseStruct, type ModelSpec } from './schemas.js';

export function modelConfigFor(spec: ModelSpec, domain: DomainConfig): { config: ModelConfig; tokenizer: CharTokenizer } {
  const tokenizer = new CharTokenizer(domain.alphabet);
  const { vocab_size, ...rest } = spec;
  if (vocab_size !== undefined && vocab_size < tokenizer.vocabSize) {
    throw new BadTaskInputError(`model.vocab_size ${vocab_size} is smaller than the domain alphabet needs (${tokenizer.vocabSize}); drop vocab_size to derive it`);
  }
  return { config: { ...rest, vocab_size: vocab_size ?? tokenizer.vocabSize }, tokenizer };
}

export async function runPretrain(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'pretrain') throw new BadTaskInputError(`PRETRAIN task ${ctx.task.id} carries no pretrain spec`);
  const modelSpec = parseStruct(ModelSpecSchema, spec.value.model, 'pretrain.model');
  const domain = parseDomain(spec.value.domain, 'pretrain.domain');
  const train = parseStruct(PretrainTrainSchema, spec.value.train, 'pretrain.train');
  const seed = taskSeed(ctx);
  const ledger = new Ledger(threadsOf(ctx));

  domainSplits(domain, 'pretrain.domain'); // the corpus excludes the tests: fail here with a clear message
  const corpus = pretrainCorpus(domain, seed);
  const { config, tokenizer } = modelConfigFor(modelSpec, domain);
  const examples = corpus.map((e) => toExample(tokenizer, e.prompt, e.completion, train.promptWeight));
  throwIfCancelled(ctx, 'pretrain');
  ctx.progress(0.02, `corpus of ${examples.length} examples`);

  let engine: Engine;
  try {
    engine = await Engine.create({ config, tokenizer, seed: deriveSeed(seed, 'init'), ...engineOptions(ctx) });
  } catch (e) {
    throw new BadTaskInputError(`pretrain.model does not make a valid engine: ${(e as Error).message}`, { cause: e });
  }
  try {
    checkEngineFitsDomain(engine, domain, Math.max(...examples.map((x) => x.tokens.length - 2)));
    ledger.params = engine.numParams();
    const r = await withCancellation(ctx, 'pretrain', () =>
      engine.train(examples, {
        steps: train.steps,
        batchSize: train.batchSize,
        lr: train.lr,
        warmupSteps: train.warmupSteps,
        gradClip: train.gradClip,
        seed: deriveSeed(seed, 'train'),
        signal: ctx.signal,
        onStep: (step, total, loss) => {
          if (step % Math.max(1, Math.floor(total / 100)) === 0 || step === total) {
            ctx.progress(0.05 + 0.9 * (step / total), `step ${step}/${total} loss ${loss.toFixed(3)}`);
            ctx.metric('loss', loss, step);
          }
        },
      }),
    );
    ledger.addTrain(r);
    const tail = r.losses.slice(-Math.max(1, Math.floor(r.losses.length / 10)));
    const out = await ctx.artifacts.put('checkpoint', engine.toBytes(), 'application/x-limolab-engine');
    ctx.progress(1, 'pretrained');
    return {
      metrics: {
        'loss.first': r.losses[0] ?? NaN,
        'loss.final': tail.reduce((a, b) => a + b, 0) / tail.length,
        steps: r.steps,
        params: ledger.params,
        corpus_examples: examples.length,
      },
      ledger: ledger.finish(),
      outputs: [out],
    };
  } finally {
    await engine.dispose();
  }
}
