// The ML task kinds on the embedded engine: PRETRAIN, PROBE, CURATE, TRAIN, ROLLOUT, EVAL for the
// built-in reasoning domain. `mlRunner` dispatches on task.spec.$case (checked against
// task.kind); each kind lives in its own file. Spec structs: worker/ml/schemas.ts.
import { TaskKind } from '../../gen/limolab/v1/task.js';
import { BadTaskInputError, type RunOutput, type Runner, type TaskContext } from '../runner.js';
import { runCurate } from './curate.js';
import { runEval } from './eval.js';
import { runProbe } from './latent.js';
import { runPretrain } from './pretrain.js';
import { runRollout } from './rollout.js';
import { runTrain } from './train.js';

const KINDS: Record<string, { kind: TaskKind; run: (ctx: TaskContext) => Promise<RunOutput> }> = {
  pretrain: { kind: TaskKind.TASK_KIND_PRETRAIN, run: runPretrain },
  curate: { kind: TaskKind.TASK_KIND_CURATE, run: runCurate },
  train: { kind: TaskKind.TASK_KIND_TRAIN, run: runTrain },
  rollout: { kind: TaskKind.TASK_KIND_ROLLOUT, run: runRollout },
  eval: { kind: TaskKind.TASK_KIND_EVAL, run: runEval },
};

const PROBE = { kind: TaskKind.TASK_KIND_PROBE, run: runProbe };

export const mlRunner: Runner = {
  name: 'builtin-ml',
  kinds: [...Object.values(KINDS).map((k) => k.kind), PROBE.kind],
  async run(ctx: TaskContext): Promise<RunOutput> {
    const c = ctx.task.spec?.$case;
    // PROBE reuses the eval spec (splits, domain, options): dispatch on the kind for it.
    const entry = ctx.task.kind === TaskKind.TASK_KIND_PROBE && c === 'eval' ? PROBE : c === undefined ? undefined : KINDS[c];
    if (!entry) throw new BadTaskInputError(`task ${ctx.task.id} (kind ${TaskKind[ctx.task.kind] ?? ctx.task.kind}) has spec "${c ?? 'none'}"; the ML runner handles ${Object.keys(KINDS).join(', ')}`);
    if (ctx.task.kind !== entry.kind) throw new BadTaskInputError(`task ${ctx.task.id} has kind ${TaskKind[ctx.task.kind]} but a ${c} spec; they must agree`);
    return entry.run(ctx);
  },
};

export { runCurate, runEval, runPretrain, runProbe, runRollout, runTrain };
export { passAtK, evenlyByDifficulty, iclPrompt } from './eval.js';
export { dedupeAndCap } from './train.js';
export { shardSlice } from './rollout.js';
export { defaultStudyConfig, defaultTinyConfig, type MlConfig } from './defaults.js';
export * from './schemas.js';
export * from './formats.js';
