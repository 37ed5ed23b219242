// The study's task-level pieces on the tiny defaults through a real TaskContext: PROBE
// (latent ability: forced chain / forced bare), stratified curation with the chain
// checklist, the process-checked RL reward and the rollout's guess shares, EVAL's
// per-problem outcomes.
import { beforeAll, describe, expect, it } from 'vitest';
import { TaskKind, type ArtifactRef, type Task } from '../../gen/limolab/v1/task.js';
import { defaultTinyConfig, mlRunner } from '../../worker/ml/index.js';
import { hardestPerLength } from '../../worker/ml/curate.js';
import { makeSplits, parseDomainConfig, parseProblem, renderPrompt, type Problem } from '../../experiments/domain/index.js';
import { baseTask, makeContext, MemoryArtifacts } from './harness.js';

const cfg = defaultTinyConfig();
const store = new MemoryArtifacts();
const run = (task: Task) => mlRunner.run(makeContext(task, store));
let base: ArtifactRef;

beforeAll(async () => {
  const out = await run(baseTask(TaskKind.TASK_KIND_PRETRAIN, { $case: 'pretrain', value: { model: cfg.model, domain: cfg.domain, train: cfg.pretrain } }, 1));
  base = out.outputs[0]!;
});

function probeTask(inputs: ArtifactRef[]): Task {
  return baseTask(TaskKind.TASK_KIND_PROBE, { $case: 'eval', value: { splits: ['test_id'], nSamples: 0, k: [], temperature: 0, keepOutputs: 0, mode: 'probe', shots: 0, domain: cfg.domain, options: {} } }, 1, inputs);
}

describe('PROBE', () => {
  it('measures forced-chain and forced-bare accuracy per difficulty, and chance, charging sampling FLOPs', async () => {
    const out = await run(probeTask([base]));
    const m = out.metrics;
    for (const k of ['latent.forced_chain.test_id', 'latent.bare.test_id', 'latent.valid_chain.test_id', 'chance.test_id']) {
      expect(m[k]).toBeGreaterThanOrEqual(0);
      expect(m[k]).toBeLessThanOrEqual(1);
    }
    const splits = makeSplits(parseDomainConfig(cfg.domain));
    expect(m['problems.test_id']).toBe(splits.test_id.length);
    expect(Object.keys(m).filter((k) => /^latent\.forced_chain\.test_id\.d\d$/.test(k)).sort()).toEqual(['latent.forced_chain.test_id.d1', 'latent.forced_chain.test_id.d2']);
    expect(out.ledger.flops).toBeGreaterThan(0);
    expect(out.ledger.tokensGenerated).toBeGreaterThan(0);
    // The forced chain really is forced: every kept output starts with the start value's first digit.
    for (const d of (out.details as { test_id: { chain: string; bare: string; prompt: string }[] }).test_id) {
      const p = parseProblem(d.prompt.replace(/\nA:$/, ''), 99)!;
      expect(d.chain[0]).toBe(String(p.start)[0]);
      expect(d.bare[0]).toBe('#');
    }
  });

  it('is refused with a clear error when its kind and spec disagree', async () => {
    const t = probeTask([base]);
    t.spec = { $case: 'curate', value: { strategy: 'random', n: 1, k: 0, candidates: 0, domain: cfg.domain, options: {} } };
    await expect(run(t)).rejects.toThrow(/kind TASK_KIND_PROBE but a curate spec/);
  });
});

describe('stratified curation', () => {
  const mk = (text: string, passRate: number) => ({ problem: parseProblem(text)! as Problem, passRate });
  it('splits n evenly over lengths, hardest first within each, and hands a short length\'s share on', () => {
    const scored = [
      mk('1+1', 0.5), mk('2+1', 0), mk('3+1', 1),
      mk('1+1+1', 0.25), mk('2+1+1', 0.75),
      mk('1+1+1+1', 0), mk('2+1+1+1', 0.5), mk('3+1+1+1', 0.25), mk('4+1+1+1', 1),
    ];
    const picked = hardestPerLength(scored, 6).map((s) => `${s.problem.start}:${s.problem.steps.length}`);
    // round 1: hardest of each length; round 2: next hardest of each; lengths 1 and 3 only then.
    expect(picked).toEqual(['2:1', '1:2', '1:3', '1:1', '2:2', '3:3']);
    // An unstratified "hardest" would have taken three 0-or-0.25 problems regardless of length.
    expect(hardestPerLength(scored, 20)).toHaveLength(scored.length);
    expect(hardestPerLength(scored, 3, (s) => s.problem.steps.length === 3).map((s) => s.passRate)).toEqual([0, 0.25, 0.5]);
  });

  it('limo with bare answers (the negative control) picks the same problems as limo with chains', async () => {
    const pick = async (solutionStyle: string) => {
      const out = await run(baseTask(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy: 'limo', n: 8, k: 2, candidates: 16, domain: cfg.domain, options: { solutionStyle } } }, 2, [base]));
      return (JSON.parse(new TextDecoder().decode(await store.get(out.outputs[0]!))) as { examples: { problem: string; completion: string; style: string }[] }).examples;
    };
    const chained = await pick('full');
    const bare = await pick('none');
    expect(bare.map((e) => e.problem)).toEqual(chained.map((e) => e.problem));
    for (const e of bare) {
      expect(e.style).toBe('none');
      expect(e.completion.startsWith('#')).toBe(true);
    }
  });

  it('hard and limo curation return n examples spread over every training length, in the asked style', async () => {
    for (const strategy of ['hard', 'limo']) {
      const out = await run(baseTask(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy, n: 8, k: 2, candidates: 16, domain: cfg.domain, options: { solutionStyle: 'full' } } }, 2, [base]));
      const ds = JSON.parse(new TextDecoder().decode(await store.get(out.outputs[0]!))) as { examples: { steps: number; style: string; quality: number }[] };
      expect(ds.examples).toHaveLength(8);
      const lengths = ds.examples.map((e) => e.steps);
      expect(lengths.filter((l) => l === 1)).toHaveLength(4);
      expect(lengths.filter((l) => l === 2)).toHaveLength(4);
      for (const e of ds.examples) {
        expect(e.style).toBe('full');
        expect(e.quality).toBe(1);
      }
    }
  });
});

describe('the tuning phase (recipe search)', () => {
  it('trains one candidate per (lr, epochs), scores each on held-out pool problems, and TRAIN takes the winner', async () => {
    const cur = await run(baseTask(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy: 'random', n: 12, k: 0, candidates: 0, domain: cfg.domain, options: { solutionStyle: 'full' } } }, 4, [base]));
    const data = cur.outputs[0]!;
    const train = (options: Record<string, unknown>, inputs: ArtifactRef[]) =>
      run(baseTask(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method: 'sft', epochs: 1, lr: 1e-4, batchSize: 4, maxPerPrompt: 0, options } }, 4, inputs));
    const search = { lr: [3e-3, 1e-5], epochs: [2, 1], domain: cfg.domain, validation: 10 };
    const tune = await train({ search }, [base, data]);
    expect(tune.outputs.map((o) => o.role)).toEqual(['recipe']);
    const cands = (tune.details as { candidates: { lr: number; epochs: number; val_acc: number; steps: number }[] }).candidates;
    // Every pair, gentlest first; the winner is the best validation score, ties to the gentler one.
    expect(cands.map((c) => [c.lr, c.epochs])).toEqual([[1e-5, 1], [1e-5, 2], [3e-3, 1], [3e-3, 2]]);
    const best = cands.reduce((a, b) => (b.val_acc > a.val_acc ? b : a));
    expect(tune.metrics).toMatchObject({ candidates: 4, 'val.problems': 10, 'recipe.lr': best.lr, 'recipe.epochs': best.epochs, 'recipe.val_acc': best.val_acc });
    // Validation comes from the pool and never overlaps the training examples or a test split.
    const examples = (JSON.parse(new TextDecoder().decode(await store.get(data))) as { examples: { prompt: string }[] }).examples.map((e) => e.prompt);
    const val = (tune.details as { validation: string[] }).validation;
    expect(val).toHaveLength(10);
    const splits = makeSplits(parseDomainConfig(cfg.domain));
    const testPrompts = new Set([...splits.test_id, ...splits.test_ood].map((p) => renderPrompt(p)));
    const poolPrompts = new Set(splits.pool.map((p) => renderPrompt(p)));
    for (const v of val) {
      expect(examples).not.toContain(v);
      expect(testPrompts.has(v)).toBe(false);
      expect(poolPrompts.has(v)).toBe(true);
    }
    // TRAIN with the recipe trains with the winner's lr and epochs (same steps), and the search
    // charged more than that one training run: every candidate plus validation sampling.
    const final = await train({}, [base, data, tune.outputs[0]!]);
    expect(final.metrics).toMatchObject({ 'recipe.lr': best.lr, 'recipe.epochs': best.epochs, steps: best.steps });
    expect(tune.ledger.flops).toBeGreaterThan(final.ledger.flops! * 1.5);
    expect(tune.ledger.tokensGenerated).toBeGreaterThan(0);
  });

  it('with nothing to train on (an RL round that accepted nothing) hands on the spec\'s own recipe, and TRAIN passes the checkpoint through', async () => {
    const empty = await store.put('rollouts', new TextEncoder().encode(JSON.stringify({ format: 'limolab.rollouts/v1', round: 1, shard: 0, samples: [] })), 'application/json');
    const train = (options: Record<string, unknown>, inputs: ArtifactRef[]) =>
      run(baseTask(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method: 'rft', epochs: 3, lr: 2e-4, batchSize: 4, maxPerPrompt: 0, options } }, 6, inputs));
    const tune = await train({ search: { lr: [1e-4, 1e-3], domain: cfg.domain } }, [base, { ...empty, role: 'rollouts' }]);
    expect(tune.metrics).toMatchObject({ candidates: 0, 'recipe.lr': 2e-4, 'recipe.epochs': 3 });
    const final = await train({}, [base, { ...empty, role: 'rollouts' }, tune.outputs[0]!]);
    expect(final.metrics).toMatchObject({ steps: 0, 'recipe.lr': 2e-4 });
    expect(final.ledger.flops).toBe(0); // nothing trained: the input checkpoint goes through
  });

  it('refuses a forged recipe with a clear error', async () => {
    const cur = await run(baseTask(TaskKind.TASK_KIND_CURATE, { $case: 'curate', value: { strategy: 'random', n: 4, k: 0, candidates: 0, domain: cfg.domain, options: {} } }, 5, [base]));
    const bad = await store.put('recipe', new TextEncoder().encode('{"lr": -1, "epochs": 2}'), 'application/json');
    await expect(run(baseTask(TaskKind.TASK_KIND_TRAIN, { $case: 'train', value: { method: 'sft', epochs: 1, lr: 1e-4, batchSize: 4, maxPerPrompt: 0, options: {} } }, 5, [base, cur.outputs[0]!, bad])))
      .rejects.toThrow(/recipe.*no positive lr/);
  });
});

describe('ROLLOUT rewards', () => {
  function rollout(reward: 'answer' | 'process'): Task {
    return baseTask(TaskKind.TASK_KIND_ROLLOUT, { $case: 'rollout', value: { shard: 0, numShards: 1, prompts: 16, k: 4, temperature: 1, maxTokens: 0, round: 0, domain: cfg.domain, options: { reward } } }, 3, [base]);
  }
  it('answer reward records how many accepted samples are bare or wrongly chained; process reward accepts only checked chains', async () => {
    const a = await run(rollout('answer'));
    const p = await run(rollout('process'));
    for (const out of [a, p]) {
      expect(out.metrics.accepted_no_chain_share).toBeGreaterThanOrEqual(0);
      expect(out.metrics.accepted_wrong_chain_share).toBeGreaterThanOrEqual(0);
    }
    // Same seed, same samples: the process reward keeps a subset of the answer reward's.
    expect(p.metrics.right_answers).toBe(a.metrics.right_answers);
    expect(p.metrics.accepted).toBeLessThanOrEqual(a.metrics.accepted!);
    expect(p.metrics.accepted_no_chain_share).toBe(0);
    expect(p.metrics.accepted_wrong_chain_share).toBe(0);
    const shares = a.metrics.accepted! === 0 ? 0 : 1 - a.metrics.accepted_no_chain_share! - a.metrics.accepted_wrong_chain_share!;
    expect(Math.round(shares * a.metrics.accepted!)).toBe(p.metrics.accepted);
  });
});

describe('EVAL outcomes', () => {
  it('records greedy correctness per problem, in split order, agreeing with pass1', async () => {
    const e = cfg.eval;
    const out = await run(baseTask(TaskKind.TASK_KIND_EVAL, { $case: 'eval', value: { splits: [], nSamples: e.nSamples, k: e.k, temperature: e.temperature, keepOutputs: 1, mode: 'model', shots: 0, domain: cfg.domain, options: e.options } }, 1, [base]));
    const outcomes = (out.details as { outcomes: Record<string, string> }).outcomes;
    for (const split of ['test_id', 'test_ood']) {
      const o = outcomes[split]!;
      expect(o).toMatch(/^[01]+$/);
      expect(o.length).toBe(out.metrics[`problems.${split}`]);
      expect([...o].filter((c) => c === '1').length / o.length).toBeCloseTo(out.metrics[`pass1.${split}`]!, 10);
    }
  });
});
