// Splits of the built-in domain and the base model's pretraining corpus, deterministic by
// seed. Tests are drawn first (evenly per difficulty); the pool and the corpus's multi-step
// problems never contain a test problem (dedupe by canonical problem text). Single steps in
// the corpus are facts the base is meant to know, so they may coincide with 1-step tests.
import { CHAIN_STYLES, type ChainStyle, type DomainConfig } from './config.js';
import { generateProblem, problemText, renderPrompt, type Problem } from './problem.js';
import { renderChain, renderSolution } from './solution.js';
import { deriveSeed, Rng } from './rng.js';

export interface Splits {
  pool: Problem[];
  test_id: Problem[];
  test_ood: Problem[];
}
export type SplitName = keyof Splits;
export const SPLIT_NAMES: readonly SplitName[] = ['pool', 'test_id', 'test_ood'];

export interface TextExample {
  prompt: string;
  completion: string;
}

function gen(rng: Rng, config: DomainConfig, steps: number): Problem {
  return generateProblem(rng, { steps, operandMax: config.operandMax, valueMax: config.valueMax, ops: config.ops });
}

function range([lo, hi]: readonly [number, number]): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** `want` distinct problems of `steps` steps not in `taken`; adds their keys to `taken`. */
function drawUnique(rng: Rng, config: DomainConfig, steps: number, want: number, taken: Set<string>, what: string): Problem[] {
  const out: Problem[] = [];
  let misses = 0;
  while (out.length < want) {
    const p = gen(rng, config, steps);
    const key = problemText(p);
    if (taken.has(key)) {
      if (++misses > 50 * want + 1000) {
        throw new Error(`makeSplits: found only ${out.length} of ${want} distinct ${steps}-step problems for ${what}; lower poolSize/testSize or raise valueMax/operandMax`);
      }
      continue;
    }
    taken.add(key);
    out.push(p);
  }
  return out;
}

/** Longest text an example of this problem can take (the full_check chain), prompt included. */
export function maxExampleChars(p: Problem): number {
  return Math.max(...CHAIN_STYLES.map((s) => renderPrompt(p).length + renderSolution(p, s).length));
}

function checkLength(p: Problem, config: DomainConfig): void {
  const n = maxExampleChars(p);
  if (n > config.maxChars) {
    throw new Error(`domain: ${p.steps.length}-step problem ${problemText(p)} needs ${n} chars > maxChars ${config.maxChars}; lower oodSteps or valueMax, or raise maxChars (and the model's context)`);
  }
}

/** Pool and test splits. Same config and seed give the same splits; studies pass config.splitSeed. */
export function makeSplits(config: DomainConfig, seed: number = config.splitSeed): Splits {
  const taken = new Set<string>();
  const tests = (name: 'test_id' | 'test_ood', steps: number[]): Problem[] => {
    const rng = new Rng(deriveSeed(seed, name));
    const out: Problem[] = [];
    steps.forEach((d, i) => {
      const want = Math.floor(config.testSize / steps.length) + (i < config.testSize % steps.length ? 1 : 0);
      out.push(...drawUnique(rng, config, d, want, taken, name));
    });
    return out;
  };
  const test_id = tests('test_id', range(config.trainSteps));
  const test_ood = tests('test_ood', range(config.oodSteps));
  const rng = new Rng(deriveSeed(seed, 'pool'));
  // Round-robin over difficulties; one that runs out of distinct problems (1 step with small
  // values has only a few hundred) drops out and the others fill the pool.
  let difficulties = range(config.trainSteps);
  const pool: Problem[] = [];
  for (let i = 0; pool.length < config.poolSize; i++) {
    if (difficulties.length === 0) {
      throw new Error(`makeSplits: only ${pool.length} distinct pool problems of ${config.poolSize} exist outside the tests; lower poolSize or raise valueMax/operandMax`);
    }
    const d = difficulties[i % difficulties.length]!;
    try {
      pool.push(...drawUnique(rng, config, d, 1, taken, 'pool'));
    } catch {
      difficulties = difficulties.filter((x) => x !== d);
    }
  }
  const shuffled = rng.shuffle(pool);
  for (const p of [...test_id, ...test_ood, ...shuffled]) checkLength(p, config);
  return { pool: shuffled, test_id, test_ood };
}

/** The keys (canonical problem text) of every test problem, for excluding them elsewhere. */
export function testKeys(splits: Splits): Set<string> {
  return new Set([...splits.test_id, ...splits.test_ood].map(problemText));
}

export interface PretrainExample extends TextExample {
  kind: 'fact' | 'problem';
  steps: number;
  style: ChainStyle; // 'full' for facts
}

/**
 * The base model's knowledge: `size` examples: single-step facts as bare equations (share
 * pretrainFactShare, prompt ''), and Q/A problems (pretrainSteps; 1-step with share
 * pretrainSingleShare) answered bare except a share chainShareInPretrain written with a chain
 * in one of pretrainChainStyles. Multi-step test problems are excluded.
 */
export function pretrainCorpus(config: DomainConfig, seed: number, size: number = config.pretrainSize): PretrainExample[] {
  const exclude = testKeys(makeSplits(config));
  const rng = new Rng(deriveSeed(seed, 'pretrain'));
  const multi = range([Math.max(2, config.pretrainSteps[0]), Math.max(2, config.pretrainSteps[1])]);
  const single = config.pretrainSteps[0] === 1;
  const out: PretrainExample[] = [];
  while (out.length < size) {
    if (rng.next() < config.pretrainFactShare) {
      const p = gen(rng, config, 1);
      out.push({ prompt: '', completion: renderChain(p, 'full'), kind: 'fact', steps: 1, style: 'full' });
      continue;
    }
    const steps = single && (config.pretrainSteps[1] === 1 || rng.next() < config.pretrainSingleShare) ? 1 : rng.pick(multi);
    const p = gen(rng, config, steps);
    if (steps > 1 && exclude.has(problemText(p))) continue;
    const style: ChainStyle = rng.next() < config.chainShareInPretrain ? rng.pick(config.pretrainChainStyles) : 'none';
    out.push({ prompt: renderPrompt(p), completion: renderSolution(p, style), kind: 'problem', steps, style });
  }
  return out;
}
