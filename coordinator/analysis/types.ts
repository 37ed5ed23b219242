// Input types for the analysis layer: one RunRecord per arm x seed of a sweep, as the store
// hands them over, and the price sheet that turns device-seconds and curated examples into
// money. The shapes here are the contract with the store; keep them in step with it.

// 'tuning' is the learning-rate/epochs search on a validation split; PROBE tasks (latent
// ability of a base) are charged to 'pretrain'.
export type Phase = 'pretrain' | 'curation' | 'tuning' | 'training' | 'rollout' | 'evaluation';
export interface RunRecord {           // one arm x seed of a sweep
  sweep: string; arm: string; method: string;   // 'sft' | 'rl' | 'icl' | 'base' | other
  group?: string;                      // the spec's arm name (arm group); absent: the arm name before '['
  seed: number;
  params: Record<string, string | number | boolean>;  // arm parameters: n, curation, k, rounds, epochs, base, control, ...
  /** Eval metrics, the base's PROBE metrics ('latent.forced_chain.test_id', 'latent.bare.test_id')
   *  and rollout means ('accepted_no_chain_share'): 'pass1.test_id', 'pass1.test_ood', 'pass@8.test_id', ... */
  metrics: Record<string, number>;
  /** Greedy correctness per test problem by split ('test_id' -> "0110..."), one char per problem,
   *  in a problem order shared by every arm and seed on the same test split. */
  outcomes?: Record<string, string>;
  flopsByPhase: Partial<Record<Phase, number>>;
  deviceSByPhase: Partial<Record<Phase, number>>;
  deviceSByKind: Record<string, number>;      // 'cpu' | 'cuda:H100' | ... -> device-seconds
  curatedExamples: number;
  status: string;                      // 'succeeded' | 'failed' | 'cancelled' | 'partial'
}
export interface Prices { perDeviceSecond: Record<string, number>; perCuratedExample: number }  // default: cpu 0.0000139 $/s (~$0.05/h), cuda 0.000694 $/s (~$2.5/h), example $1

/** Every phase, in pipeline order (the order of stacked bars and by-phase columns). */
export const PHASES: readonly Phase[] = ['pretrain', 'curation', 'tuning', 'training', 'rollout', 'evaluation'];

/** Default price sheet. A device kind 'cuda:H100' is priced by its exact key if present,
 *  else by the family before the colon ('cuda'). */
export const DEFAULT_PRICES: Prices = {
  perDeviceSecond: {
    cpu: 0.0000139, // ~$0.05 per core-hour
    cuda: 0.000694, // ~$2.5 per GPU-hour
  },
  perCuratedExample: 1, // $1 per curated example with a worked solution
};

/** Which phases count towards the cost axes (method cost = curation + tuning + training +
 *  rollout). Pretraining (and the PROBE) builds the shared base model, a constant every arm
 *  pays, so it is left out unless asked for; curation is an arm's own spend and is counted
 *  unless asked not to. Evaluation is reported beside the method cost, not inside it (else
 *  arms that answer with long chains look costlier merely for being measured), except for
 *  method 'icl', where inference is the method. */
export interface CostOptions {
  includePretrain?: boolean;   // default false
  includeCuration?: boolean;   // default true
  includeEvaluation?: boolean; // default: only for method 'icl'
  prices?: Prices;           // default DEFAULT_PRICES
}

/** Metric keys of the two headline accuracies. */
export const ACC_ID = 'pass1.test_id';
export const ACC_OOD = 'pass1.test_ood';
