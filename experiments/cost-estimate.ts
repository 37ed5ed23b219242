// Rough work estimates for the ML planners' tasks, in seconds on one CPU thread of the
// built-in engine: only the coordinator's ready queue reads them (Task.cost_estimate), to
// start the chains with the most work left first. A task costs a fixed start-up plus its
// sequences (trained or sampled) times a per-sequence time that grows with the model's
// weights. The constants were fitted to the quick study's measured task times on the
// 2-core development machine (0.8 ms per sequence at hidden size 64, 2 layers); an order
// of magnitude right is all the ordering needs, and they change no result.

const TASK_START_S = 0.1;
const SEQ_BASE_S = 2e-4;
const SEQ_PER_WEIGHT_S = 6e-9;

const num = (o: Record<string, unknown> | undefined, key: string, fallback: number): number => {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
};

/** Seconds per trained or sampled sequence for a model config (PretrainSpec.model). */
export function secondsPerSequence(model: Record<string, unknown>): number {
  const d = num(model, 'hidden_size', 64), L = num(model, 'num_hidden_layers', 2), I = num(model, 'intermediate_size', 176);
  const vocab = num(model, 'vocab_size', 40);
  return SEQ_BASE_S + SEQ_PER_WEIGHT_S * (L * (4 * d * d + 3 * d * I) + vocab * d);
}

/** A task's estimate from the sequences it trains on or samples. */
export function taskSeconds(model: Record<string, unknown>, sequences: number): number {
  return TASK_START_S + Math.max(0, sequences) * secondsPerSequence(model);
}

/** Test problems per split and pool size of a domain block (the domain's own defaults otherwise). */
export function domainSizes(domain: Record<string, unknown>): { test: number; pool: number } {
  return { test: num(domain, 'testSize', 120), pool: num(domain, 'poolSize', 2000) };
}

/** PRETRAIN's sequences: steps x batch (PretrainTrainSchema's defaults). */
export function pretrainSequences(train: Record<string, unknown>): number {
  return num(train, 'steps', 2000) * num(train, 'batchSize', 32);
}
