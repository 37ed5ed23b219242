// The study's result (study.ts) as Tables for the text formatter and the HTML report: method
// cost, iso-compute per base, exchange rates, gain against latent ability, rollout shares.
// An interval is one text cell: "[lo, hi]", or the stated reason there is none.

import type { CellValue, Table } from './query.js';
import type { StudyResult } from './study.js';

const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
const sci = (x: number) => (x === 0 ? '0' : x.toExponential(2));

/** "[lo, hi]"; "n<3 seeds: no interval" when the row has too few seeds; "[lo, unbounded]"
 *  where bootstrap draws fell outside the frontier on that side. */
export function ciText(lo: number | null, hi: number | null, nSeeds: number, minSeeds: number, f: (x: number) => string): string {
  if (lo === null && hi === null) return nSeeds < minSeeds ? `n<${minSeeds} seeds: no interval` : '-';
  return `[${lo === null ? 'unbounded' : f(lo)}, ${hi === null ? 'unbounded' : f(hi)}]`;
}

export function studyCostTable(s: StudyResult): Table {
  return {
    columns: [
      { key: 'base', label: 'base', format: 'text' }, { key: 'arm', label: 'arm', format: 'text' },
      { key: 'method', label: 'method', format: 'text' }, { key: 'n_seeds', label: 'n_seeds', format: 'int' },
      { key: 'flops', label: 'method_flops', format: 'sci' }, { key: 'device_s', label: 'method_device_s', format: 'seconds' },
      { key: 'flops_tuning', label: 'of_which_tuning', format: 'sci' },
      { key: 'flops_eval', label: 'eval_flops', format: 'sci' }, { key: 'device_s_eval', label: 'eval_device_s', format: 'seconds' },
    ],
    rows: s.costs.map((r) => ({ ...r })),
  };
}

/** One row per base and budget, one accuracy column per method. */
export function studyIsoTable(s: StudyResult): Table {
  const methods = [...new Set(s.iso_compute.map((r) => r.method))].sort();
  const keys = [...new Set(s.iso_compute.map((r) => `${r.base}\u0000${r.budget}`))];
  return {
    columns: [
      { key: 'base', label: 'base', format: 'text' }, { key: 'budget', label: 'budget_flops', format: 'sci' },
      ...methods.map((m) => ({ key: `m:${m}`, label: `acc_${m}`, format: 'acc' as const })),
    ],
    rows: keys.map((k) => {
      const [base, budget] = k.split('\u0000') as [string, string];
      const row: Record<string, CellValue> = { base, budget: Number(budget) };
      for (const m of methods) row[`m:${m}`] = s.iso_compute.find((r) => r.base === base && r.budget === Number(budget) && r.method === m)?.acc ?? null;
      return row;
    }),
  };
}

export function studyExchangeTable(s: StudyResult): Table {
  return {
    columns: [
      { key: 'base', label: 'base', format: 'text' }, { key: 'sft_arm', label: 'sft_arm', format: 'text' },
      { key: 'n_curated', label: 'n_curated', format: 'number' }, { key: 'sft_acc', label: 'sft_acc', format: 'acc' },
      { key: 'rl_flops_match', label: 'rl_flops_match', format: 'sci' }, { key: 'ci', label: 'ci_95', format: 'text' },
      { key: 'flops_per_example', label: 'flops_per_example', format: 'sci' }, { key: 'note', label: 'note', format: 'text' },
    ],
    rows: s.exchange.map((r) => ({
      base: r.base, sft_arm: r.sft_arm, n_curated: r.n_curated, sft_acc: r.sft_acc, rl_flops_match: r.rl_flops_match,
      ci: r.rl_flops_match === null ? '-' : ciText(r.ci_lo, r.ci_hi, r.n_seeds, s.min_seeds, sci),
      flops_per_example: r.flops_per_example, note: r.note,
    })),
  };
}

export function studyLatentTable(s: StudyResult): Table {
  return {
    columns: [
      { key: 'method', label: 'method', format: 'text' }, { key: 'base', label: 'base', format: 'text' },
      { key: 'latent_ability', label: 'latent_ability', format: 'acc' }, { key: 'bare_ability', label: 'bare_ability', format: 'acc' },
      { key: 'arm', label: 'arm', format: 'text' }, { key: 'gain', label: 'gain', format: 'text' },
      { key: 'ci', label: 'ci_95', format: 'text' }, { key: 'n_seeds', label: 'n_seeds', format: 'int' },
    ],
    rows: s.latent.map((r) => ({
      method: r.method, base: r.base, latent_ability: r.latent_ability, bare_ability: r.bare_ability, arm: r.arm,
      gain: r.gain === null ? null : signed(r.gain), ci: r.gain === null ? '-' : ciText(r.ci_lo, r.ci_hi, r.n_seeds, s.min_seeds, signed), n_seeds: r.n_seeds,
    })),
  };
}

export function studyRolloutTable(s: StudyResult): Table {
  return {
    columns: [
      { key: 'base', label: 'base', format: 'text' }, { key: 'arm', label: 'arm', format: 'text' },
      { key: 'accepted_no_chain_share', label: 'accepted_no_chain', format: 'acc' },
      { key: 'accepted_wrong_chain_share', label: 'accepted_wrong_chain', format: 'acc' },
    ],
    rows: s.rollout.map((r) => ({ ...r })),
  };
}

