// The methods a sweep arm can name. ML methods come from experiments/ (they know the
// built-in domain); they are loaded when present so the plane works without them.
import { PlannerRegistry } from '../planner.js';
import { diagPlanner } from './diag.js';

export async function defaultPlanners(): Promise<PlannerRegistry> {
  const reg = new PlannerRegistry().register(diagPlanner);
  const ml = await import('../../experiments/planners.js').catch(() => null);
  for (const p of ml?.mlPlanners ?? []) reg.register(p);
  // External models (model_ref: an OpenAI-compatible endpoint or a local HF checkpoint).
  const ext = await import('../../experiments/external.js').catch(() => null);
  for (const p of ext?.externalPlanners ?? []) reg.register(p);
  // Training an external Hugging Face model (external-sft, external-rl); a load error is thrown, not hidden.
  const extTrain = await import('../../experiments/external-train.js');
  for (const p of extTrain.externalTrainPlanners) reg.register(p);
  return reg;
}
