// TASK_KIND_PROBE: a base model's latent ability, the study's independent variable (LIMO:
// curated examples *elicit* what pretraining already put in). On test_id, greedy decoding
// from two forced prompts: the chain's first character appended (a bare '#<answer>' is then
// impossible), and '#' appended (the answer must come bare). Charged to pretraining.
// Metrics: latent.forced_chain.<split>, latent.bare.<split> (+ .d<steps>), chance.<split>.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import {
  FORCED_BARE_PREFIX, chanceAccuracy, checkChain, deriveSeed, forcedChainPrefix, passesChainChecks, renderPrompt, verify,
  type SplitName,
} from '../../experiments/domain/index.js';
import { Ledger, threadsOf, checkEngineFitsDomain, loadEngine, sampleCompletions, taskSeed, withCancellation } from './common.js';
import { evenlyByDifficulty, meanByDifficulty } from './eval.js';
import { EvalOptionsSchema, domainSplits, parseDomain, parseStruct } from './schemas.js';

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

export async function runProbe(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'eval') throw new BadTaskInputError(`PROBE task ${ctx.task.id} carries no eval spec (a probe reuses EvalSpec: splits, domain, options)`);
  const s = spec.value;
  const splits = s.splits.length > 0 ? s.splits : ['test_id'];
  for (const sp of splits) if (sp !== 'test_id' && sp !== 'test_ood') throw new BadTaskInputError(`probe.splits has "${sp}"; use test_id, test_ood`);
  const domain = parseDomain(s.domain, 'probe.domain');
  const opts = parseStruct(EvalOptionsSchema, s.options, 'probe.options');
  const all = domainSplits(domain, 'probe.domain');
  const seed = taskSeed(ctx);
  const ledger = new Ledger(threadsOf(ctx));
  const engine = await loadEngine(ctx, ['checkpoint']);
  try {
    checkEngineFitsDomain(engine, domain, 0);
    ledger.params = engine.numParams();
    const metrics: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    for (const [si, split] of splits.entries()) {
      const problems = evenlyByDifficulty(all[split as SplitName], opts.limit);
      const common = { maxNewTokens: opts.maxNewTokens, topK: 0, batch: opts.batch, n: 1, temperature: 0 };
      const span = 1 / splits.length;
      const forced = problems.map((p) => forcedChainPrefix(p));
      const chain = await withCancellation(ctx, 'probe', () => sampleCompletions(ctx, engine, ledger,
        problems.map((p, i) => ({ prompt: renderPrompt(p) + forced[i], problem: p })),
        { ...common, seed: deriveSeed(seed, `probe-chain:${split}`) }, { from: si * span, to: (si + 0.5) * span, label: `${split} forced chain` }));
      const bare = await withCancellation(ctx, 'probe', () => sampleCompletions(ctx, engine, ledger,
        problems.map((p) => ({ prompt: renderPrompt(p) + FORCED_BARE_PREFIX, problem: p })),
        { ...common, seed: deriveSeed(seed, `probe-bare:${split}`) }, { from: (si + 0.5) * span, to: (si + 1) * span, label: `${split} forced bare` }));
      const chainTexts = problems.map((_, i) => forced[i] + chain[i]![0]!);
      const okChain = problems.map((p, i) => verify(p, chainTexts[i]!));
      const okBare = problems.map((p, i) => verify(p, FORCED_BARE_PREFIX + bare[i]![0]!));
      const validChain = problems.map((p, i) => passesChainChecks(checkChain(p, chainTexts[i]!)));
      metrics[`latent.forced_chain.${split}`] = mean(okChain.map(Number));
      metrics[`latent.bare.${split}`] = mean(okBare.map(Number));
      metrics[`latent.valid_chain.${split}`] = mean(validChain.map(Number));
      metrics[`chance.${split}`] = chanceAccuracy(problems);
      for (const [d, v] of meanByDifficulty(problems, okChain)) metrics[`latent.forced_chain.${split}.d${d}`] = v;
      for (const [d, v] of meanByDifficulty(problems, okBare)) metrics[`latent.bare.${split}.d${d}`] = v;
      metrics[`problems.${split}`] = problems.length;
      details[split] = problems.slice(0, 4).map((p, i) => ({ prompt: renderPrompt(p), chain: chainTexts[i], bare: FORCED_BARE_PREFIX + bare[i]![0]!, answer: p.answer }));
    }
    ctx.progress(1, 'probed');
    return { metrics, ledger: ledger.finish(), outputs: [], details };
  } finally {
    await engine.dispose();
  }
}
