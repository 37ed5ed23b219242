// `limolab compare`: the study's verdicts for one sweep, read straight from the SQLite file
// (opened read-only): the controls, method cost, iso-compute accuracy, exchange rates with
// intervals, and each method's gain over its base against the base's latent ability.
// --json prints studyAnalysis's object: {controls, exchange, latent, ...}.
// (Not `limolab sweep compare A B`, which sets two sweeps' tables side by side: cli/compare.ts.)
import { NotFoundError } from '../common/errors.js';
import { loadRunRecords } from '../coordinator/results.js';
import type { SweepRow } from '../coordinator/store/store.js';
import {
  formatTable, studyAnalysis, studyCostTable, studyExchangeTable, studyIsoTable, studyLatentTable, studyRolloutTable,
  type StudyResult, type Table,
} from '../coordinator/analysis/index.js';
import { readSweepCommand } from './results-db.js';

const USAGE = `Usage: limolab compare [options]

The study's verdicts for one sweep (succeeded arms only):
  controls     positive (SFT on many correct chains vs the base arm on the same base: does
               training help?) passes when its 95% CI of the accuracy difference lies above 0;
               negative (bare answers on the same problems vs the chain arm named by
               paired_with) passes when bare answers do significantly worse (CI below 0)
  cost         method cost = curation + tuning + training + rollout (FLOPs, device-seconds);
               evaluation beside it, counted only for icl; pretraining and the PROBE excluded
  iso-compute  each method's accuracy at common FLOP budgets, per base
  exchange     RL FLOPs matching each SFT arm on its base's RL frontier (log10 interpolation),
               and FLOPs per curated example; none on a base whose positive control failed
  latent       each method's gain over its base arm against the base's latent ability
               (PROBE forced-chain accuracy)
Intervals: paired bootstrap over seeds and test problems; with fewer than 3 seeds none is
printed and the output says so.
  --db FILE        the SQLite file (default ./limolab.db), opened read-only
  --sweep ID       the sweep, or "latest" (default)
  --json           {"controls":[...],"exchange":[...],"latent":[...],...} on stdout
  -h, --help       this text`;

export function main(argv: string[]): Promise<number> {
  return readSweepCommand(argv, 'compare', USAGE, (store, sweep, json) => {
    const records = loadRunRecords(store, sweep.id);
    if (!records.some((r) => r.status === 'succeeded')) {
      throw new NotFoundError(`sweep ${sweep.id} (${sweep.name}) has no succeeded arm yet; wait for it with \`limolab sweep watch ${sweep.id}\``);
    }
    const result = studyAnalysis(records);
    return json ? JSON.stringify({ sweep: sweep.id, ...result }, null, 2) + '\n' : renderText(sweep, result);
  });
}

const block = (title: string, t: Table, empty: string) => `${title}\n${t.rows.length ? formatTable(t, 'text') : `  ${empty}\n`}`;

/** The human-readable report: verdicts in words first, then the tables. */
export function renderText(sweep: Pick<SweepRow, 'id' | 'name'>, s: StudyResult): string {
  const out: string[] = [`Sweep ${sweep.id} (${sweep.name})\n`];
  out.push('Controls');
  out.push(s.controls.length ? s.controls.map((c) => `  ${c.verdict} [${c.arm} vs ${c.baseline_arm ?? 'no baseline'}]`).join('\n') + '\n'
    : '  none: this sweep has no arm with params.control (positive or negative)\n');
  out.push(block('Method cost per arm (mean over seeds; curation + tuning + training + rollout; evaluation beside it, counted only for icl)', studyCostTable(s), 'no arms'));
  out.push(block('Iso-compute accuracy (per base; log10-FLOPs interpolation on each method\'s frontier; "-" = outside its range; controls left out)', studyIsoTable(s), 'no method with positive FLOPs'));
  out.push(block('Exchange rates (RL FLOPs of method cost matching each SFT arm on its own base)', studyExchangeTable(s), 'no SFT arms'));
  out.push(block('Gain over the base arm against latent ability (PROBE forced-chain accuracy), per method', studyLatentTable(s), 'no arms besides the base'));
  if (s.rollout.length) out.push(block('RL rollouts: share of accepted samples with no chain / a wrong chain (mean over rollouts and seeds)', studyRolloutTable(s), ''));
  if (s.warnings.length) out.push(`Warnings\n${s.warnings.map((w) => `  ${w}`).join('\n')}\n`);
  return out.join('\n');
}
