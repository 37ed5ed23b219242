// TASK_KIND_EVAL: pass@1 (greedy) and pass@k (unbiased estimator from n samples at the
// spec's temperature) on test_id and test_ood, overall and per difficulty. mode "icl"
// prompts the model with `shots` worked examples (from an input "dataset", else the pool)
// before each problem, without training. Metric names: pass1.<split>, pass@<k>.<split>,
// pass1.<split>.d<steps>, chain_share.<split>, chance.<split> (best constant guess).
// details.outcomes.<split>: greedy correctness per problem ('0'/'1'), in split order.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import {
  chanceAccuracy,
  deriveSeed,
  renderPrompt,
  renderSolution,
  Rng,
  verify,
  type Problem,
  type SplitName,
  type TextExample,
} from '../../experiments/domain/index.js';
import type { Engine } from '../engine/index.js';
import { Ledger, threadsOf, checkEngineFitsDomain, completionBudget, loadEngine, sampleCompletions, taskSeed, throwIfCancelled, withCancellation, type SampleJob } from './common.js';
import { readDataset } from './formats.js';
import { EvalOptionsSchema, domainSplits, parseDomain, parseStruct } from './schemas.js';

const SPLITS: readonly SplitName[] = ['test_id', 'test_ood', 'pool'];

/** Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k). */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`pass@${k} needs at least ${k} samples, got ${n}`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** Share of `ok` per problem length, shortest first. */
export function meanByDifficulty(problems: readonly Problem[], ok: readonly boolean[]): Map<number, number> {
  const groups = new Map<number, number[]>();
  problems.forEach((p, i) => (groups.get(p.steps.length) ?? groups.set(p.steps.length, []).get(p.steps.length)!).push(Number(ok[i])));
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]).map(([d, xs]) => [d, mean(xs)]));
}

/** Up to `limit` problems taken round-robin over difficulties, so every difficulty keeps its share. */
export function evenlyByDifficulty(problems: Problem[], limit: number): Problem[] {
  if (limit <= 0 || limit >= problems.length) return problems;
  const groups = new Map<number, Problem[]>();
  for (const p of problems) (groups.get(p.steps.length) ?? groups.set(p.steps.length, []).get(p.steps.length)!).push(p);
  const lists = [...groups.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  const out: Problem[] = [];
  for (let i = 0; out.length < limit; i++) for (const l of lists) if (i < l.length && out.length < limit) out.push(l[i]!);
  return out;
}

/** Few-shot prompt: as many of `shots` examples as fit the context with room for the answer. */
export function iclPrompt(p: Problem, pool: TextExample[], shots: number, rng: Rng, ctxLen: number): { prompt: string; used: number } {
  const target = renderPrompt(p);
  let prefix = '';
  let used = 0;
  for (const ex of rng.shuffle(pool)) {
    if (used === shots) break;
    if (ex.prompt === target) continue; // never show the answer to the question asked
    const next = `${prefix}${ex.prompt}${ex.completion}\n`;
    if (next.length + target.length + completionBudget(p) + 2 > ctxLen) continue;
    prefix = next;
    used++;
  }
  return { prompt: prefix + target, used };
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

export async function runEval(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'eval') throw new BadTaskInputError(`EVAL task ${ctx.task.id} carries no eval spec`);
  const s = spec.value;
  const mode = s.mode || 'model'; // '' = model
  if (mode !== 'model' && mode !== 'icl') throw new BadTaskInputError(`eval.mode "${s.mode}" is unknown; use model or icl`);
  const splits = s.splits.length > 0 ? s.splits : ['test_id', 'test_ood'];
  for (const sp of splits) if (!(SPLITS as readonly string[]).includes(sp)) throw new BadTaskInputError(`eval.splits has "${sp}"; use ${SPLITS.join(', ')}`);
  const ks = s.k.filter((k) => k >= 1); // pass@1 here is sampled; pass1 is greedy
  for (const k of ks) if (k > s.nSamples) throw new BadTaskInputError(`eval.k ${k} needs n_samples >= ${k} (got ${s.nSamples})`);
  if (s.nSamples > 1 && s.temperature === 0) throw new BadTaskInputError('eval with n_samples > 1 at temperature 0 draws identical samples; set temperature (e.g. 1)');
  const domain = parseDomain(s.domain, 'eval.domain');
  const opts = parseStruct(EvalOptionsSchema, s.options, 'eval.options');
  const keep = s.keepOutputs || 4; // 0 = 4 per split
  const seed = taskSeed(ctx);
  const all = domainSplits(domain, 'eval.domain');
  const ledger = new Ledger(threadsOf(ctx));

  let shotPool: TextExample[] = [];
  const shots = s.shots || 2; // icl only; 0 = 2
  if (mode === 'icl') {
    shotPool = ctx.task.inputs.some((i) => i.role === 'dataset')
      ? (await readDataset(ctx, ctx.input('dataset'))).examples
      : all.pool.map((p) => ({ prompt: renderPrompt(p), completion: renderSolution(p, opts.iclStyle) }));
    if (shotPool.length === 0) throw new BadTaskInputError('eval mode icl found no shot examples; pass a non-empty "dataset" input');
  }

  const engine: Engine = await loadEngine(ctx, ['checkpoint']);
  try {
    checkEngineFitsDomain(engine, domain, 0);
    ledger.params = engine.numParams();
    const ctxLen = engine.config.max_position_embeddings;
    const metrics: Record<string, number> = {};
    const outcomes: Record<string, string> = {};
    const details: Record<string, unknown> = { mode, outcomes };
    const iclRng = new Rng(deriveSeed(seed, 'icl'));
    for (const [si, split] of splits.entries()) {
      throwIfCancelled(ctx, 'eval');
      const problems = evenlyByDifficulty(all[split as SplitName], opts.limit);
      const shotsUsed: number[] = [];
      const jobs: SampleJob[] = problems.map((p) => {
        if (mode === 'model') return { prompt: renderPrompt(p), problem: p };
        const r = iclPrompt(p, shotPool, shots, iclRng, ctxLen);
        shotsUsed.push(r.used);
        return { prompt: r.prompt, problem: p };
      });
      const span = 1 / splits.length;
      const common = { maxNewTokens: opts.maxNewTokens, topK: opts.topK, batch: opts.batch };
      const greedy = await withCancellation(ctx, 'eval', () =>
        sampleCompletions(ctx, engine, ledger, jobs, { ...common, n: 1, temperature: 0, seed: deriveSeed(seed, `greedy:${split}`) },
          { from: si * span, to: (si + (s.nSamples > 0 ? 0.3 : 1)) * span, label: `${split} greedy` }),
      );
      const ok = problems.map((p, i) => verify(p, greedy[i]![0]!));
      metrics[`pass1.${split}`] = mean(ok.map(Number));
      metrics[`chance.${split}`] = chanceAccuracy(problems);
      // Greedy correctness per problem, in split order (the same for every arm that shares the
      // domain's test split): what a paired bootstrap over test problems resamples.
      outcomes[split] = ok.map((x) => (x ? '1' : '0')).join('');
      metrics[`chain_share.${split}`] = mean(greedy.map((g) => Number(!g[0]!.startsWith('#'))));
      for (const [d, v] of meanByDifficulty(problems, ok)) metrics[`pass1.${split}.d${d}`] = v;
      if (mode === 'icl') metrics[`icl_shots.${split}`] = mean(shotsUsed);
      if (s.nSamples > 0) {
        const sampled = await withCancellation(ctx, 'eval', () =>
          sampleCompletions(ctx, engine, ledger, jobs, { ...common, n: s.nSamples, temperature: s.temperature, seed: deriveSeed(seed, `samples:${split}`) },
            { from: (si + 0.3) * span, to: (si + 1) * span, label: `${split} samples` }),
        );
        const correct = problems.map((p, i) => sampled[i]!.filter((t) => verify(p, t)).length);
        metrics[`mean_sample_acc.${split}`] = mean(correct.map((c) => c / s.nSamples));
        for (const k of ks) metrics[`pass@${k}.${split}`] = mean(correct.map((c) => passAtK(s.nSamples, c, k)));
      }
      details[split] = pickSpread(problems, keep).map((p) => {
        const i = problems.indexOf(p);
        return { prompt: jobs[i]!.prompt, output: greedy[i]![0]!, answer: p.answer, correct: ok[i] };
      });
      metrics[`problems.${split}`] = problems.length;
    }
    ctx.progress(1, 'evaluated');
    return { metrics, ledger: ledger.finish(), outputs: [], details };
  } finally {
    await engine.dispose();
  }
}

/** `n` problems spread over the list (which is ordered by difficulty), so kept outputs span difficulties. */
function pickSpread(problems: Problem[], n: number): Problem[] {
  if (n >= problems.length) return problems;
  return Array.from({ length: n }, (_, i) => problems[Math.floor((i * problems.length) / n)]!);
}
