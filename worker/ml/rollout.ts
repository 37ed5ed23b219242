// TASK_KIND_ROLLOUT: K samples at temperature T for this shard's slice of the round's
// prompts, verified by final answer; the accepted ones go out as role "rollouts". The round's
// prompts are `prompts` pool problems chosen by (task.seed, round), so every shard of a round
// (options.reward: 'answer' accepts a right final answer, 'process' also a chain that checks out)
// must carry the same task.seed; shard s of S takes the s-th contiguous slice.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import { chainQuality, checkChain, deriveSeed, passesChainChecks, problemText, renderPrompt, Rng } from '../../experiments/domain/index.js';
import { Ledger, threadsOf, checkEngineFitsDomain, loadEngine, sampleCompletions, taskSeed, withCancellation } from './common.js';
import { writeRollouts, type DatasetExample } from './formats.js';
import { RolloutOptionsSchema, domainSplits, parseDomain, parseStruct } from './schemas.js';

/** [start, end) of shard `shard` of `numShards` over `total` items; sizes differ by at most one. */
export function shardSlice(total: number, shard: number, numShards: number): [number, number] {
  return [Math.floor((total * shard) / numShards), Math.floor((total * (shard + 1)) / numShards)];
}

export async function runRollout(ctx: TaskContext): Promise<RunOutput> {
  const spec = ctx.task.spec;
  if (spec?.$case !== 'rollout') throw new BadTaskInputError(`ROLLOUT task ${ctx.task.id} carries no rollout spec`);
  const s = spec.value;
  const numShards = s.numShards || 1; // 0 = 1 shard
  if (s.shard >= numShards) throw new BadTaskInputError(`rollout.shard ${s.shard} is not below num_shards ${numShards}`);
  if (s.prompts < 1) throw new BadTaskInputError('rollout.prompts must be >= 1 (prompts in the whole round)');
  if (s.k < 1) throw new BadTaskInputError('rollout.k must be >= 1 (samples per prompt)');
  if (s.k > 1 && s.temperature === 0) throw new BadTaskInputError('rollout with k > 1 at temperature 0 draws k identical samples; set temperature (e.g. 1)');
  const domain = parseDomain(s.domain, 'rollout.domain');
  const opts = parseStruct(RolloutOptionsSchema, s.options, 'rollout.options');
  const seed = taskSeed(ctx);
  const pool = domainSplits(domain, 'rollout.domain').pool;
  if (s.prompts > pool.length) throw new BadTaskInputError(`rollout.prompts ${s.prompts} exceeds the pool (${pool.length}); raise domain.poolSize`);
  const round = new Rng(deriveSeed(seed, `rollout-round:${s.round}`)).shuffle(pool).slice(0, s.prompts);
  const [lo, hi] = shardSlice(round.length, s.shard, numShards);
  const mine = round.slice(lo, hi);
  const ledger = new Ledger(threadsOf(ctx));

  const engine = await loadEngine(ctx, ['checkpoint']);
  try {
    checkEngineFitsDomain(engine, domain, 0);
    ledger.params = engine.numParams();
    const samples = await withCancellation(ctx, 'rollout', () =>
      sampleCompletions(ctx, engine, ledger, mine.map((p) => ({ prompt: renderPrompt(p), problem: p })),
        { n: s.k, temperature: s.temperature, maxNewTokens: s.maxTokens || opts.maxNewTokens, topK: opts.topK, batch: opts.batch, seed: deriveSeed(seed, `rollout-sample:${s.round}:${s.shard}`) },
        { from: 0, to: 0.95, label: 'sampling' }),
    );
    // reward 'answer': the final answer is right (a bare guess passes too). reward 'process':
    // the chain must also check out step by step (checkChain: every step present, traceable, right).
    const accepted: DatasetExample[] = [];
    let promptsSolved = 0, rightAnswers = 0, noChain = 0, wrongChain = 0;
    mine.forEach((p, i) => {
      let solved = false;
      for (const t of samples[i]!) {
        const c = checkChain(p, t);
        if (!c.answerCorrect) continue;
        rightAnswers++;
        const validChain = passesChainChecks(c);
        if (opts.reward === 'process' && !validChain) continue;
        if (!c.hasChain) noChain++;
        else if (!validChain) wrongChain++;
        solved = true;
        accepted.push({ prompt: renderPrompt(p), completion: t, problem: problemText(p), steps: p.steps.length, quality: chainQuality(p, t) });
      }
      if (solved) promptsSolved++;
    });
    const sampled = mine.length * s.k;
    const out = await writeRollouts(ctx, { round: s.round, shard: s.shard, samples: accepted });
    ctx.progress(1, `accepted ${accepted.length}/${sampled}`);
    return {
      metrics: {
        accepted: accepted.length,
        sampled,
        accept_rate: sampled === 0 ? 0 : accepted.length / sampled,
        prompts: mine.length,
        prompts_solved: promptsSolved,
        'chain_share.accepted': accepted.length === 0 ? 0 : accepted.filter((a) => !a.completion.startsWith('#')).length / accepted.length,
        right_answers: rightAnswers,
        // Of the accepted samples: bare answers (no chain), and right answers reached by a
        // chain that does not check out (guessing or a lucky slip): what an answer-only reward pays for.
        accepted_no_chain_share: accepted.length === 0 ? 0 : noChain / accepted.length,
        accepted_wrong_chain_share: accepted.length === 0 ? 0 : wrongChain / accepted.length,
        'quality.accepted': accepted.length === 0 ? 0 : accepted.reduce((a, b) => a + b.quality, 0) / accepted.length,
      },
      ledger: ledger.finish(),
      outputs: [out],
      details: { kept: accepted.slice(0, 4).map((a) => a.prompt + a.completion) },
    };
  } finally {
    await engine.dispose();
  }
}
