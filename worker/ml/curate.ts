// TASK_KIND_CURATE: chooses N training examples from the domain's pool.
//   random: N pool problems at random, each with the worked solution in options.solutionStyle
//           (the arm's chain style; 'mixed' = one of domain.poolStyles at random per problem).
//   hard:   difficulty = the base's pass rate over k samples per problem among `candidates`
//           pool problems (sampling FLOPs are charged here), stratified within each problem
//           length (hardestPerLength); solutions as in random.
//   limo:   hard, keeping only problems with a chain that passes the documented checklist
//           (experiments/domain/solution.ts checkChain): the pool's solution in the arm's style,
//           or the base's own passing samples (options.limoSource). docs/study.md says more.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import {
  chainQuality,
  checkChain,
  deriveSeed,
  passesChainChecks,
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

/**
 * The chain limo curation uses for a problem: one that passes every required checklist
 * property (passesChainChecks: right answer, every step present, traceable, right). The pool's
 * worked solution in the arm's style comes first (limoSource pool|both), then the base's own
 * correct samples that pass (limoSource base|both). null when none passes.
 */
function bestChain(s: Scored, domain: DomainConfig, opts: CurateOptions): { completion: string; style: string } | null {
  const source = opts.limoSource;
  // With style none (the negative control's bare answers) a problem qualifies exactly as it
  // would for the chained arm it controls (its full chain must pass), so both arms train on
  // the same problems; only the written solution differs.
  const bare = opts.solutionStyle === 'none';
  const cands: { completion: string; style: string }[] = [];
  if (source !== 'base') {
    const styles = opts.solutionStyle === 'mixed' ? domain.poolStyles : [bare ? 'full' as const : opts.solutionStyle];
    for (const st of styles) cands.push({ completion: renderSolution(s.problem, st), style: st });
  }
  if (source !== 'pool') for (const c of new Set(s.correct)) cands.push({ completion: c, style: 'base' });
  const found = cands.find((c) => passesChainChecks(checkChain(s.problem, c.completion))) ?? null;
  return found && bare ? { completion: renderSolution(s.problem, 'none'), style: 'none' } : found;
}

/**
 * Difficulty stratified within each problem length: n split as evenly as possible over the
 * lengths present (a length with too few usable candidates hands its share to the others),
 * and within a length the lowest base pass rates first. Candidates arrive shuffled, so ties
 * in pass rate are broken at random. Without stratification "hard" is nearly all longest
 * problems, and SFT then adds steps to short ones.
 */
export function hardestPerLength<T extends { problem: Problem; passRate: number }>(scored: readonly T[], n: number, usable: (s: T) => boolean = () => true): T[] {
  const byLen = new Map<number, T[]>();
  for (const s of scored) {
    if (!usable(s)) continue;
    const d = s.problem.steps.length;
    (byLen.get(d) ?? byLen.set(d, []).get(d)!).push(s);
  }
  const groups = [...byLen.entries()].sort((a, b) => a[0] - b[0]).map(([, xs]) => [...xs].sort((a, b) => a.passRate - b.passRate));
  const out: T[] = [];
  const taken = groups.map(() => 0);
  // Round-robin over lengths, hardest remaining of each, until n or everything is used.
  for (let progress = true; out.length < n && progress; ) {
    progress = false;
    for (let g = 0; g < groups.length && out.length < n; g++) {
      if (taken[g]! < groups[g]!.length) { out.push(groups[g]![taken[g]!++]!); progress = true; }
    }
  }
  return out;
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
    const scored: Scored[] = cands.map((p, i) => {
      const correct = samples[i]!.filter((t) => verify(p, t));
      return { problem: p, passRate: correct.length / k, correct };
    });
    const examples: DatasetExample[] = [];
    for (const sc of hardestPerLength(scored, n, strategy === 'limo' ? (x) => bestChain(x, domain, opts) !== null : () => true)) {
      if (strategy === 'hard') {
        const st = pickStyle(rng, domain, opts);
        examples.push(example(sc.problem, renderSolution(sc.problem, st), st, sc.passRate));
      } else {
        const best = bestChain(sc, domain, opts)!;
        examples.push(example(sc.problem, best.completion, best.style, sc.passRate));
      }
    }
    if (examples.length === 0) throw new BadTaskInputError(`curate ${strategy}: none of ${candidates} candidates had a chain that passes the checklist (limoSource ${opts.limoSource}, style ${opts.solutionStyle}); use limoSource pool or a chained style`);
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
