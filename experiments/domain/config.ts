// The built-in reasoning domain's configuration: one zod schema with a default on every
// field (unknown keys rejected). Problems are left-to-right integer arithmetic whose start,
// intermediates and result stay in 0..valueMax, so every string stays short.
import { z } from 'zod';

export const CHAIN_STYLES = ['none', 'terse', 'full', 'full_check'] as const;
export type ChainStyle = (typeof CHAIN_STYLES)[number];
export const OPS = ['+', '-', '*', '/'] as const;
export type Op = (typeof OPS)[number];

/** Every character a prompt or completion may contain. Order fixes token ids: never reorder. */
export const DEFAULT_ALPHABET = '0123456789+-*/=;()#QA:\n';

const stepRange = z
  .tuple([z.number().int().min(1).max(12), z.number().int().min(1).max(12)])
  .refine(([lo, hi]) => lo <= hi, { message: 'step range must be [min, max] with min <= max' });

export const DomainConfigSchema = z
  .strictObject({
    operandMax: z.number().int().min(2).max(19).default(9), // b in `a op b` is 1..operandMax (2.. for * and /)
    // start, intermediates, answer in 0..valueMax. The default 0..19 is small and quick (a d=64
    // 2-layer base learns single steps in ~1500 steps) but a bare guess is right > 10% of the
    // time. The study specs use 0..199 with ops + and - (commonest answer < 1% at every length;
    // chanceAccuracy); that base needs ~3000 steps and half the corpus as facts (1-step ~80%).
    valueMax: z.number().int().min(9).max(999).default(19),
    ops: z.array(z.enum(OPS)).min(1).default(['+', '-', '*', '/']),
    trainSteps: stepRange.default([1, 4]), // difficulties of the training pool and of test_id
    oodSteps: stepRange.default([5, 6]), // test_ood: longer than any training example
    poolSize: z.number().int().min(1).default(2000),
    testSize: z.number().int().min(1).default(120), // per split, spread evenly over its difficulties
    splitSeed: z.number().int().min(0).default(1), // fixes pool and tests for every arm and seed of a study
    // The pool's worked solutions come in these styles; random/hard curation take one at
    // random per problem, limo takes the best-scored.
    poolStyles: z.array(z.enum(CHAIN_STYLES)).min(1).default(['terse', 'full', 'full_check']),
    // The base model's knowledge: single steps plus short problems, mostly answered bare.
    pretrainSteps: stepRange.default([1, 3]),
    // Single steps as bare equations (`12+3=15`, no prompt): the notation chains are written
    // in, so the base knows every step as a fact without ever having chained one.
    pretrainFactShare: z.number().min(0).max(1).default(0.3),
    pretrainSingleShare: z.number().min(0).max(1).default(0.3), // share of 1-step problems among the Q/A examples
    chainShareInPretrain: z.number().min(0).max(1).default(0.1), // share of Q/A answered with a chain (LIMO: the base rarely reasons aloud)
    pretrainChainStyles: z.array(z.enum(CHAIN_STYLES)).min(1).default(['full', 'full_check']),
    pretrainSize: z.number().int().min(1).default(20000), // examples in the corpus (cycled by PRETRAIN)
    maxChars: z.number().int().min(16).default(200), // prompt + longest completion of any generated example
    alphabet: z.string().min(1).default(DEFAULT_ALPHABET),
  })
  .superRefine((c, ctx) => {
    if (c.oodSteps[0] <= c.trainSteps[1]) {
      ctx.addIssue({
        code: 'custom',
        path: ['oodSteps'],
        message: `oodSteps must start above trainSteps' max (${c.trainSteps[1]}): test_ood is longer than any training example`,
      });
    }
    const missing = [...new Set(DEFAULT_ALPHABET)].filter((ch) => !c.alphabet.includes(ch));
    if (missing.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['alphabet'],
        message: `alphabet lacks ${JSON.stringify(missing.join(''))}; it must contain every character of ${JSON.stringify(DEFAULT_ALPHABET)}`,
      });
    }
    if (new Set(c.alphabet).size !== c.alphabet.length) {
      ctx.addIssue({ code: 'custom', path: ['alphabet'], message: 'alphabet has repeated characters' });
    }
  });

export type DomainConfig = z.infer<typeof DomainConfigSchema>;
export type DomainConfigInput = z.input<typeof DomainConfigSchema>;

/** Parses a domain config; throws an Error naming every bad field. */
export function parseDomainConfig(input: unknown): DomainConfig {
  const r = DomainConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid domain config: ${issues}`);
  }
  return r.data;
}

/** Default domain config (all defaults). */
export function defaultDomainConfig(overrides: DomainConfigInput = {}): DomainConfig {
  return parseDomainConfig(overrides);
}
