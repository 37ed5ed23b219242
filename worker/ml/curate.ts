// TASK_KIND_CURATE: chooses N training examples from the domain's pool.
//   random: N pool problems at random, each with a worked solution (options.solutionStyle).
//   hard:   the N lowest base pass rates over k samples per problem among `candidates` pool
//           problems (sampling FLOPs are charged here); solutions as in random.
//   limo:   hard, then per problem the best chain by chainQuality among the pool's worked
//           solutions (domain.poolStyles) and/or the base's own correct samples.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import {
  chainQuality,
  deriveSeed,
  problemText,
  renderPrompt,
  renderSolution,
  Rng,
  verify,
  type ChainStyle,
  type DomainConfig,
  type Problem,
} from '../../experiments/domain/index.js';
import { Ledger, threadsOf, checkEngineFitsDomain, loadEngine, sampleCompletions, taskSeed, withCancellation } from './common.js';
import { writeDataset, type DatasetExample } from './formats.js';
import { CurateOptionsSchema, domainSplits, parseDomain, parseStruct, type CurateOptions } from './schemas.js';
import type { Engine } from '../engine/index.js';

const STRATEGIES = ['random', 'hard', 'limo'] as const;

interface Scored {
  problem: Problem;
  passRate: number;
  correct: string[]; // the base's correct samples
}

function pickStyle(rng: Rng, domain: DomainConfig, opts: CurateOptions): ChainStyle {
  return opts.solutionStyle === 'mixed' ? rng.pick(domain.poolStyles) : opts.solutionStyle;
}

function example(p: Problem, completion: string, style: string, passRate?: number): DatasetExample {
  return { prompt: renderPrompt(p), completion, problem: problemText(p), steps: p.steps.length, quality: chainQuality(p, completion), style, ...(passRate === undefined ? {} : { passRate }) };
}

/** The best chain for a problem; null when `base` is the only source and no sample was right. */
function bestChain(s: Scored, domain: DomainConfig, source: CurateOptions['limoSource']): { completion: string; style: string } | null {
  const cands: { completion: string; style: string }[] = [];
  if (source !== 'base') for (const st of domain.poolStyles) cands.push({ completion: renderSolution(s.problem, st), style: st });
  if (source !== 'pool') for (const c of new Set(s.correct)) cands.push({ completion: c, style: 'base' });
  let best: { completion: string; style: string; q: number } | null = null;
  for (const c of cands) {
    const q = chainQuality(s.problem, c.completion);
    if (q > 0 && (best === null || q > best.q)) best = { ...c, q };
  }
  return best;
}

export async function runCurate(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'curate') throw new BadTaskInputError(`CURATE task ${ctx.task.id} carries no curate spec`);
  const { strategy, n } = spec.value;
  if (!(STRATEGIES as readonly string[]).includes(strategy)) throw new BadTaskInputError(`curate.strategy "${strategy}" is unknown; use one of ${STRATEGIES.join(', ')}`);
  if (n < 1) throw new BadTaskInputError('curate.n must be >= 1 (examples to choose)');
  const domain = parseDomain(spec.value.domain, 'curate.domain');
  const opts = parseStruct(CurateOptionsSchema, spec.value.options, 'curate.options');
  const seed = taskSeed(ctx);
  const rng = new Rng(deriveSeed(seed, 'curate'));
  const ledger = new Ledger(threadsOf(ctx));
  const pool = rng.shuffle(domainSplits(domain, 'curate.domain').pool);
  if (n > pool.length) throw new BadTaskInputError(`curate.n ${n} exceeds the pool (${pool.length}); raise domain.poolSize or lower n`);

  if (strategy === 'random') {
    const examples = pool.slice(0, n).map((p) => {
      const st = pickStyle(rng, domain, opts);
      return example(p, renderSolution(p, st), st);
    });
    ledger.curatedExamples = examples.length;
    const out = await writeDataset(ctx, { strategy, examples });
    ctx.progress(1, `chose ${n} at random`);
    return { metrics: summary(examples), ledger: ledger.finish(), outputs: [out] };
  }

  // hard / limo: base pass rates over k samples per candidate.
  const k = spec.value.k || 4; // 0 = 4 samples per candidate
  const candidates = spec.value.candidates || Math.min(pool.length, 4 * n); // 0 = 4 x n
  if (candidates < n) throw new BadTaskInputError(`curate.candidates ${candidates} < n ${n}; score at least n pool problems`);
  if (candidates > pool.length) throw new BadTaskInputError(`curate.candidates ${candidates} exceeds the pool (${pool.length}); raise domain.poolSize`);
  if (k > 1 && opts.temperature === 0) throw new BadTaskInputError('curate with k > 1 at temperature 0 draws k identical samples; set options.temperature (e.g. 1)');
  const engine: Engine = await loadEngine(ctx, ['checkpoint']);
  try {
    const cands = pool.slice(0, candidates);
    checkEngineFitsDomain(engine, domain, 0);
    ledger.params = engine.numParams();
    const samples = await withCancellation(ctx, 'curate', () =>
      sampleCompletions(ctx, engine, ledger, cands.map((p) => ({ prompt: renderPrompt(p), problem: p })),
        { n: k, temperature: opts.temperature, maxNewTokens: opts.maxNewTokens, topK: opts.topK, batch: opts.batch, seed: deriveSeed(seed, 'curate-sample') },
        { from: 0, to: 0.95, label: 'scoring candidates' }),
    );
    // Stable sort of an already shuffled list: ties in pass rate are broken at random.
    const scored: Scored[] = cands
      .map((p, i) => {
        const correct = samples[i]!.filter((t) => verify(p, t));
        return { problem: p, passRate: correct.length / k, correct };
      })
      .sort((a, b) => a.passRate - b.passRate);
    const examples: DatasetExample[] = [];
    for (const s of scored) {
      if (examples.length === n) break;
      if (strategy === 'hard') {
        const st = pickStyle(rng, domain, opts);
        examples.push(example(s.problem, renderSolution(s.problem, st), st, s.passRate));
      } else {
        const best = bestChain(s, domain, opts.limoSource);
        if (best) examples.push(example(s.problem, best.completion, best.style, s.passRate));
      }
    }
    if (examples.length < n) ctx.log(`curate: only ${examples.length} of ${n} candidates had a usable chain (limoSource ${opts.limoSource})`);
    ledger.curatedExamples = examples.length;
    const out = await writeDataset(ctx, { strategy, examples });
    ctx.progress(1, `chose ${examples.length} of ${candidates} candidates`);
    const metrics = {
      ...summary(examples),
      'base_pass_rate.chosen': mean(examples.map((e) => e.passRate ?? 0)),
      'base_pass_rate.candidates': mean(scored.map((s) => s.passRate)),
      candidates,
      samples_per_candidate: k,
    };
    return { metrics, ledger: ledger.finish(), outputs: [out] };
  } finally {
    await engine.dispose();
  }
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function summary(examples: DatasetExample[]): Record<string, number> {
  return {
    curated: examples.length,
    'steps.mean': mean(examples.map((e) => e.steps)),
    'quality.mean': mean(examples.map((e) => e.quality)),
    'completion_chars.mean': mean(examples.map((e) => e.completion.length)),
  };
}
