// Planning the study: bases as a grid axis with one PRETRAIN and one PROBE per base and
// seed shared by every arm on that base, control arms, chain style and reward knobs.
import { describe, expect, it } from 'vitest';
import { parseSweepSpec } from '../../coordinator/spec.js';
import { planSweep } from '../../coordinator/planner.js';
import { defaultPlanners } from '../../coordinator/planners/index.js';
import { SpecError } from '../../common/errors.js';
import { chainRanks, taskRanks } from '../../coordinator/scheduler.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SPEC = `
name: study-plan
seeds: 2
base:
  model: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 80}
  domain: {trainSteps: [1, 2], oodSteps: [3, 3], poolSize: 120, testSize: 12, pretrainSteps: [1, 2], pretrainSize: 300, maxChars: 72}
  pretrain: {steps: 20}
  bases:
    low: {domain: {chainShareInPretrain: 0.0}}
    high: {domain: {chainShareInPretrain: 0.5}}
arms:
  - {name: base, method: base}
  - {name: sft-limo, method: sft, params: {n: 8, curation: limo}}
  - {name: sft-bare, method: sft, params: {n: 8, curation: limo, style: none, control: negative, paired_with: sft-limo}}
  - {name: sft-positive, method: sft, params: {n: 40, curation: random, control: positive}}
  - {name: rl-process, method: rl, params: {rounds: 1, prompts: 8, reward: process}}
  - {name: pinned, method: base, params: {base: high}}
`;

describe('study planning', () => {
  it('runs every arm on every base, sharing one PRETRAIN and one PROBE per base and seed', async () => {
    const spec = parseSweepSpec(SPEC);
    const plan = planSweep('s', spec, await defaultPlanners());
    const pretrains = plan.tasks.filter((t) => t.kind === 'pretrain');
    const probes = plan.tasks.filter((t) => t.kind === 'probe');
    expect(pretrains).toHaveLength(4); // 2 bases x 2 seeds
    expect(probes).toHaveLength(4);
    for (const p of probes) {
      expect(p.phase).toBe('pretrain');
      expect(p.deps.map((d) => d.role)).toEqual(['checkpoint']);
      expect(pretrains.map((t) => t.id)).toContain(p.deps[0]!.task);
    }
    const names = [...new Set(plan.arms.map((a) => a.arm))].sort();
    expect(names).toEqual([
      'base[base=high]', 'base[base=low]', 'pinned',
      'rl-process[base=high]', 'rl-process[base=low]',
      'sft-bare[base=high]', 'sft-bare[base=low]',
      'sft-limo[base=high]', 'sft-limo[base=low]',
      'sft-positive[base=high]', 'sft-positive[base=low]',
    ]);
    // Every arm on base "high" with seed 0 shares the one probe of (high, 0).
    const probeOf = (arm: string, seed: number) => probes.filter((p) => p.arms.includes(`${arm}|${seed}`));
    const highProbe = probeOf('base[base=high]', 0);
    expect(highProbe).toHaveLength(1);
    for (const arm of ['sft-limo[base=high]', 'rl-process[base=high]', 'pinned']) expect(probeOf(arm, 0)).toEqual(highProbe);
    expect(probeOf('sft-limo[base=low]', 0)[0]!.id).not.toBe(highProbe[0]!.id);
    // Params carry what the analysis needs: the base name and the control roles.
    const arm = (name: string) => plan.arms.find((a) => a.arm === name && a.seed === 0)!;
    expect(arm('sft-bare[base=low]').params).toMatchObject({ base: 'low', control: 'negative', paired_with: 'sft-limo', style: 'none' });
    expect(arm('sft-positive[base=high]').params).toMatchObject({ base: 'high', control: 'positive' });
    expect(arm('pinned').params).toEqual({ base: 'high' });
  });

  it('passes the chain style to CURATE and the reward to ROLLOUT', async () => {
    const plan = planSweep('s', parseSweepSpec(SPEC), await defaultPlanners());
    const curate = plan.tasks.find((t) => t.kind === 'curate' && t.arms.some((a) => a.startsWith('sft-bare[base=low]')))!;
    expect(curate.task!.spec).toMatchObject({ $case: 'curate', value: { options: { solutionStyle: 'none' } } });
    const rollout = plan.tasks.find((t) => t.kind === 'rollout')!;
    expect(rollout.task!.spec).toMatchObject({ $case: 'rollout', value: { options: { reward: 'process' } } });
    // The negative control's curation differs from its chain arm's only by style: same problems.
    const limo = plan.tasks.find((t) => t.kind === 'curate' && t.arms.some((a) => a.startsWith('sft-limo[base=low]')))!;
    const strip = (t: typeof limo) => { const v = structuredClone((t.task!.spec as { value: { options: Record<string, unknown> } }).value); delete v.options.solutionStyle; return v; };
    expect(strip(curate)).toEqual(strip(limo));
  });

  it('plans a recipe search as a tuning-phase task whose recipe the TRAIN reads', async () => {
    const spec = parseSweepSpec(SPEC.replace("params: {n: 40, curation: random, control: positive}", "params: {n: 40, curation: random, epochs: 4, control: positive, tune: true}")
      .replace("  pretrain: {steps: 20}", "  pretrain: {steps: 20}\n  tune: {lr: [1.0e-4, 1.0e-3], epochs_factor: [0.5, 1], validation: 16}"));
    const plan = planSweep('s', spec, await defaultPlanners());
    const mine = (t: (typeof plan.tasks)[number]) => t.arms.some((a) => a.startsWith('sft-positive[base=low]|'));
    const tunes = plan.tasks.filter((t) => t.phase === 'tuning');
    expect(tunes).toHaveLength(4); // 2 bases x 2 seeds, only the tuned arm
    const tune = tunes.find(mine)!;
    expect(tune.kind).toBe('train');
    expect(tune.task!.spec).toMatchObject({ $case: 'train', value: { method: 'sft', options: { search: { lr: [1e-4, 1e-3], epochs: [2, 4], validation: 16, domain: { chainShareInPretrain: 0 } } } } });
    const curate = plan.tasks.find((t) => t.kind === 'curate' && mine(t))!;
    expect(tune.deps.map((d) => d.role).sort()).toEqual(['checkpoint', 'dataset']);
    expect(tune.deps.find((d) => d.role === 'dataset')!.task).toBe(curate.id);
    const train = plan.tasks.find((t) => t.phase === 'training' && mine(t))!;
    expect(train.deps.find((d) => d.role === 'recipe')!.task).toBe(tune.id);
    // Untuned arms have no tuning task and no recipe input.
    const limoTrain = plan.tasks.find((t) => t.phase === 'training' && t.arms.some((a) => a.startsWith('sft-limo[base=low]|')))!;
    expect(limoTrain.deps.map((d) => d.role)).not.toContain('recipe');
    // An empty search is refused at planning, naming the field.
    let err: unknown;
    try { planSweep('s', parseSweepSpec(SPEC.replace("  pretrain: {steps: 20}", "  pretrain: {steps: 20}\n  tune: {lr: []}")), await defaultPlanners()); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues.join(' ')).toMatch(/base\.tune\.lr/);
  });

  it('estimates each task\'s work from its sequences, so the ready queue starts the longest remaining work first', async () => {
    const spec = parseSweepSpec(readFileSync(join(import.meta.dirname, '../../experiments/quick.yaml'), 'utf8'));
    const plan = planSweep('s', spec, await defaultPlanners());
    const cost = (arm: string, name: string) => plan.tasks.find((t) => t.arm === arm && t.seed === 0 && t.name.startsWith(name))!.task!.costEstimate;
    // Every ML task has an estimate; the estimates follow the sequences each trains on or samples.
    for (const t of plan.tasks) expect(t.task!.costEstimate, t.name).toBeGreaterThan(0);
    const perSeq = (cost('sft-limo[n=50]', 'train') - 0.1) / (20 * 50);      // 20 epochs x 50 examples
    expect(cost('base', 'pretrain')).toBeCloseTo(0.1 + 2000 * 64 * perSeq, 6);    // steps x batch
    expect(cost('sft-positive', 'train')).toBeCloseTo(0.1 + 4 * 1600 * perSeq, 6);
    // The search trains 2 lrs x epochs {2, 4} and scores each recipe on 48 validation problems.
    expect(cost('sft-positive', 'tune')).toBeCloseTo(0.1 + 2 * (2 * 1600 + 48 + 4 * 1600 + 48) * perSeq, 6);
    expect(cost('rl[rounds=1]', 'rollout r1 s1')).toBeCloseTo(0.1 + 100 * 4 * perSeq, 6); // 200 prompts / 2 shards x k 4
    expect(cost('sft-positive', 'curate')).toBeCloseTo(0.1, 6);                  // random: no sampling
    expect(cost('sft-limo[n=50]', 'curate')).toBeCloseTo(0.1 + 2 * 100 * perSeq, 6); // k x candidates
    // Ranked by estimated work, the positive control's short but heavy chain (curate, a 4-recipe
    // search on 1600 examples, train, eval) goes before RL's long chain of light rounds; by
    // chain length in tasks it came after every RL round-1 rollout.
    const rank = taskRanks(plan.tasks);
    const byCount = chainRanks(plan.tasks);
    const id = (arm: string, name: string) => plan.tasks.find((t) => t.arm === arm && t.seed === 0 && t.name.startsWith(name))!.id;
    const [pos, rl] = [id('sft-positive', 'curate'), id('rl[rounds=1]', 'rollout r1 s1')];
    expect(rank.get(pos)).toBeGreaterThan(rank.get(rl)!);
    expect(byCount.get(pos)).toBeLessThan(byCount.get(rl)!);
  });

  it('refuses an unknown base and a negative control without its pair, creating nothing', async () => {
    const bad = SPEC.replace("params: {base: high}", "params: {base: mid}");
    expect(() => planSweep('s', parseSweepSpec(bad), defaultPlannersSync)).toThrow(SpecError);
    const unpaired = SPEC.replace(', paired_with: sft-limo', '');
    let err: unknown;
    try { planSweep('s', parseSweepSpec(unpaired), await defaultPlanners()); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues.join(" ")).toMatch(/negative control needs paired_with/);
  });
});

const defaultPlannersSync = await defaultPlanners();
