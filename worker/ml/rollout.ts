// TASK_KIND_ROLLOUT: K samples at temperature T for this shard's slice of the round's
// prompts, verified by final answer; the accepted ones go out as role "rollouts". The round's
// prompts are `prompts` pool problems chosen by (task.seed, round), so every shard of a round
// must carry the same task.seed; shard s of S takes the s-th contiguous slice.
import { BadTaskInputError, type RunOutput, type TaskContext } from '../runner.js';
import { chainQuality, deriveSeed, problemText, renderPrompt, Rng, verify } from '../../experiments/domain/index.js';
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
    const accepted: DatasetExample[] = [];
    let promptsSolved = 0;
    mine.forEach((p, i) => {
      const ok = samples[i]!.filter((t) => verify(p, t));
      if (ok.length > 0) promptsSolved++;
      for (const t of ok) accepted.push({ prompt: renderPrompt(p), completion: t, problem: problemText(p), steps: p.steps.length, quality: chainQuality(p, t) });
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
