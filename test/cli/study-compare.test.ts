// `limolab compare` as a real child process on SQLite files written through the store: the
// --json shape, each control's verdict, the plain-words failure line, no interval below
// 3 seeds, read-only access, and clear errors for a wrong file or sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillStudyStore, STUDY_SWEEP } from '../fixtures/analysis/study-db.js';
import { hasStackTrace, runCli } from './run-cli.js';
import { countMarks } from '../report/svg-marks.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-compare-'));
const studyDb = join(dir, 'study.db');
const TWO_SEEDS = 'sw-two-seeds';

// The full study, and an earlier sweep of the same arms on seeds 0 and 1 only.
beforeAll(() => { fillStudyStore(studyDb, { sweepId: TWO_SEEDS, seeds: [0, 1], createdMs: 1000 }); fillStudyStore(studyDb); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Row = Record<string, unknown>;
// Each run starts node + tsx; on a loaded 2-core machine that alone can take tens of seconds.
const cli = (args: string[]) => runCli(args, { timeoutMs: 120_000 });
type Study = { controls: Row[]; exchange: Row[]; latent: Row[]; warnings: string[]; sweep: string };
const compareJson = async (db: string, ...args: string[]) => {
  const r = await cli(['compare', '--db', db, '--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Study;
};
let latest: Study; // `compare --json` with no --sweep, run once (each run starts a node process)
beforeAll(async () => { latest = await compareJson(studyDb); }, 150_000);
const hasKeys = (rows: Row[], keys: string[]) => { for (const r of rows) for (const k of keys) expect(r, `row ${JSON.stringify(r)} lacks ${k}`).toHaveProperty(k); };

describe('limolab compare', () => {
  it('--json gives controls, exchange and latent rows with the study\'s keys', async () => {
    const j = latest;
    expect(j.sweep).toBe(STUDY_SWEEP); // latest by default
    expect(j.controls).toHaveLength(4);
    expect(j.exchange).toHaveLength(2);
    expect(j.latent).toHaveLength(10);
    hasKeys(j.controls, ['name', 'arm', 'baseline_arm', 'delta', 'ci_lo', 'ci_hi', 'passed']);
    hasKeys(j.exchange, ['sft_arm', 'n_curated', 'rl_flops_match', 'ci_lo', 'ci_hi', 'flops_per_example']);
    hasKeys(j.latent, ['method', 'base', 'latent_ability', 'gain', 'ci_lo', 'ci_hi']);
    for (const c of j.controls) {
      expect(typeof c.delta).toBe('number');
      expect(typeof c.passed).toBe('boolean');
      expect(c.ci_lo as number).toBeLessThanOrEqual(c.delta as number);
      expect(c.ci_hi as number).toBeGreaterThanOrEqual(c.delta as number);
    }
  });

  it('gives each control its verdict: both pass on the able base, both fail where training did not help', async () => {
    const j = latest;
    const v = Object.fromEntries(j.controls.map((c) => [c.arm, [c.name, c.baseline_arm, c.passed]]));
    expect(v).toEqual({
      'pos[base=hi]': ['positive', 'base[base=hi]', true],
      'neg[base=hi]': ['negative', 'sft-limo[base=hi]', true],
      'pos[base=lo]': ['positive', 'base[base=lo]', false],
      'neg[base=lo]': ['negative', 'sft-limo[base=lo]', false],
    });
    const lo = j.exchange.find((e) => e.base === 'lo')!;
    expect(lo.rl_flops_match).toBeNull();
    const hi = j.exchange.find((e) => e.base === 'hi')!;
    expect(hi.rl_flops_match as number).toBeGreaterThan(1.1e10);
    expect(hi.rl_flops_match as number).toBeLessThan(4.4e10);
    expect(hi.flops_per_example).toBeCloseTo((hi.rl_flops_match as number) / 50, 0);
  });

  it('says plainly in text when a positive control failed, and why no exchange rate is given', async () => {
    const r = await cli(['compare', '--db', studyDb, '--sweep', 'latest']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('positive control FAILED on base lo: training did not help; no exchange rate reported');
    expect(r.stdout).toContain('positive control passed on base hi: training helped (delta +0.500, 95% CI [');
    expect(r.stdout).toMatch(/^Exchange rates/m);
    expect(r.stdout).toMatch(/^hi\s+sft-limo\[base=hi\]\s+50\s+0\.700\s+3\.11e\+10\s+\[/m);
    expect(r.stdout).toMatch(/^Gain over the base arm against latent ability/m);
  });

  it('prints no interval with fewer than 3 seeds and leaves the verdicts open, saying why; the file is not written', async () => {
    const before = createHash('sha256').update(readFileSync(studyDb)).digest('hex');
    const j = await compareJson(studyDb, '--sweep', TWO_SEEDS);
    expect(j.sweep).toBe(TWO_SEEDS);
    for (const row of [...j.controls, ...j.exchange, ...j.latent]) { expect(row.ci_lo).toBeNull(); expect(row.ci_hi).toBeNull(); }
    expect(j.controls.map((c) => c.passed)).toEqual([null, null, null, null]);
    expect(j.warnings.some((w) => w.includes('n<3 seeds (2): no interval'))).toBe(true);
    // read-only: the database file is byte-identical, and any WAL sqlite made is empty
    expect(createHash('sha256').update(readFileSync(studyDb)).digest('hex')).toBe(before);
    if (existsSync(`${studyDb}-wal`)) expect(readFileSync(`${studyDb}-wal`).length).toBe(0);
  });

  it('names a missing file or sweep in one line, without a stack trace', async () => {
    const missing = await cli(['compare', '--db', join(dir, 'nope.db')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`no results database at ${join(dir, 'nope.db')}; pass --db FILE`);
    const wrong = await cli(['compare', '--db', studyDb, '--sweep', 'sw-nope']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`no sweep "sw-nope" in ${studyDb}; latest sweeps there: ${STUDY_SWEEP} (study-fixture)`);
    expect(hasStackTrace(missing.stderr + wrong.stderr)).toBe(false);
  });
});

describe('limolab plot gain-vs-latent', () => {
  it("draws one point per latent row (method x base), as the report's study figure does", async () => {
    const out = join(dir, 'latent.svg');
    const r = await cli(['plot', 'gain-vs-latent', '--db', studyDb, '-o', out]);
    expect(r.code).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(countMarks(svg, 'latent_points')).toBe(latest.latent.length);
    expect(countMarks(svg, 'latent_ci')).toBe(latest.latent.filter((l) => l.ci_lo !== null && l.ci_hi !== null).length);
    expect(svg).toContain('latent ability of the base');
  });
});
