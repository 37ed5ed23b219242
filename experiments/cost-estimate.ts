// Rough work estimates for the ML planners' tasks, in seconds on one CPU thread of the
// built-in engine: only the coordinator's ready queue reads them (Task.cost_estimate), to
// start the chains with the most work left first. A task costs a fixed start-up plus its
// sequences (trained or sampled) times a per-sequence time that grows with the model's
// weights (the ledger's own count, worker/engine/flops.ts). The constants were fitted to the
// quick study's measured task times on the 2-core development machine (0.8 ms per sequence at
// hidden size 64, 2 layers); an order of magnitude right is all the ordering needs, and they
// change no result.
import { matmulParams } from '../worker/engine/flops.js';
import { CharTokenizer } from '../worker/engine/tokenizer.js';
import { ModelSpecSchema, PretrainTrainSchema } from '../worker/ml/schemas.js';
import { DomainConfigSchema } from './domain/config.js';

const TASK_START_S = 0.1;
const SEQ_BASE_S = 2e-4;
const SEQ_PER_WEIGHT_S = 6e-9;

/** What a base's tasks cost per sequence, and the sizes its tasks are counted in. */
export interface CostModel { perSequenceS: number; testSize: number; poolSize: number; pretrainSequences: number }

/** The blocks as the runners will read them, defaults filled; a block they would refuse counts as all defaults. */
const parsed = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, v: unknown): T => {
  const r = schema.safeParse(v ?? {});
  return r.success ? r.data : (schema.safeParse({}) as { data: T }).data;
};

const models = new Map<string, CostModel>();

/** The cost model of a base (its model, domain and pretrain blocks), made once per distinct base. */
export function costModel(base: { model: unknown; domain: unknown; pretrain: unknown }): CostModel {
  const key = JSON.stringify([base.model, base.domain, base.pretrain]);
  let m = models.get(key);
  if (!m) {
    const spec = parsed(ModelSpecSchema, base.model), domain = parsed(DomainConfigSchema, base.domain), train = parsed(PretrainTrainSchema, base.pretrain);
    const vocab = spec.vocab_size ?? new CharTokenizer(domain.alphabet).vocabSize;   // as PRETRAIN derives it
    m = {
      perSequenceS: SEQ_BASE_S + SEQ_PER_WEIGHT_S * matmulParams({ ...spec, vocab_size: vocab }),
      testSize: domain.testSize, poolSize: domain.poolSize, pretrainSequences: train.steps * train.batchSize,
    };
    if (models.size >= 256) models.clear();   // a long-running coordinator sees few distinct bases; bounded anyway
    models.set(key, m);
  }
  return m;
}

/** A task's estimate from the sequences it trains on or samples. */
export function taskSeconds(m: CostModel, sequences: number): number {
  return TASK_START_S + Math.max(0, sequences) * m.perSequenceS;
}
