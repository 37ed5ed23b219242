// Whether a sweep's results are complete, in words: the flag printed at the top of
// `limolab results` and of the report when a sweep is still running, failed or was
// cancelled, or when some arm x seed runs have no result (a table of arm means would
// otherwise hide that an arm has one seed where the spec asked for three).
import type { RunRecord } from '../analysis/types.js';

export interface SweepState {
  id: string;
  status: string;                                  // running | succeeded | failed | cancelled
  counts?: Partial<Record<string, number>>;        // tasks by status, when known
  error?: string | null;
}

/** Lines to show above the results; empty when the sweep ended well and every arm x seed
 *  run has its result. records: every RunRecord of the sweep (all statuses), when known. */
export function sweepHealth(s: SweepState, records?: readonly Pick<RunRecord, 'arm' | 'status'>[]): string[] {
  const lines: string[] = [];
  const tasks = s.counts ? taskSummary(s.counts) : '';
  if (s.status === 'running') lines.push(`sweep ${s.id} is still running${tasks}: these results are partial`);
  else if (s.status === 'failed') lines.push(`sweep ${s.id} FAILED${tasks}${s.error ? `: ${s.error}` : ''}; the table covers only the runs that finished`);
  else if (s.status === 'cancelled') lines.push(`sweep ${s.id} was CANCELLED${tasks}; the table covers only the runs that finished`);
  else if (s.status !== 'succeeded') lines.push(`sweep ${s.id} is ${s.status}${tasks}`);
  if (records?.length) {
    const bad = records.filter((r) => r.status !== 'succeeded');
    if (bad.length) {
      const by = new Map<string, { planned: number; ok: number }>();
      for (const r of records) {
        const a = by.get(r.arm) ?? { planned: 0, ok: 0 };
        by.set(r.arm, a);
        a.planned++;
        if (r.status === 'succeeded') a.ok++;
      }
      const short = [...by].filter(([, a]) => a.ok < a.planned);
      const statuses = countBy(bad.map((r) => r.status));
      lines.push(`${bad.length} of ${records.length} arm x seed runs have no result (${statuses}); ` +
        `arms missing seeds: ${short.slice(0, 8).map(([arm, a]) => `${arm} ${a.ok} of ${a.planned}`).join(', ')}${short.length > 8 ? `, and ${short.length - 8} more` : ''}`);
    }
  }
  if (lines.length && s.status !== 'running') lines.push(`\`limolab sweep status ${s.id} --tasks\` shows which tasks did not finish`);
  return lines;
}

function taskSummary(c: Partial<Record<string, number>>): string {
  const parts = ['succeeded', 'cached', 'running', 'queued', 'pending', 'failed', 'skipped', 'cancelled']
    .filter((k) => (c[k] ?? 0) > 0).map((k) => `${c[k]} ${k}`);
  return parts.length ? ` (tasks: ${parts.join(', ')})` : '';
}

function countBy(xs: string[]): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(', ');
}
