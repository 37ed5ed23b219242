// `limolab results`, `report` and `plot` as real child processes: on a SQLite file filled
// through SqliteStore (--db), and `results` against a real coordinator over gRPC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_PLOT_NAMES, PLOT_NAMES } from '../../coordinator/report/index.js';
import { Cluster } from '../helpers/cluster.js';
import { ACC, ACC_OOD, CURATED, FLOPS, SWEEP, SWEEP_EMPTY, fillStore } from './fixture.js';
import { hasStackTrace, runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-cli-'));
const db = join(dir, 'limolab.db');

beforeAll(() => fillStore(db));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type JsonTable = { columns: { key: string; label: string }[]; rows: Record<string, string | number | null>[] };
const results = async (...args: string[]) => {
  const r = await runCli(['results', '--db', db, ...args]);
  // CSV puts the table's notes (here: two seeds, no interval) on stderr; nothing else goes there
  expect(r.stderr.split('\n').filter((l) => l && !/^(warning: |gain_id is )/.test(l))).toEqual([]);
  expect(r.code).toBe(0);
  return r.stdout;
};
const json = async (...args: string[]) => JSON.parse(await results('--format', 'json', ...args)) as JsonTable;

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trimEnd().split('\r\n').map((l) => l.split(','));
  return lines.map((l) => Object.fromEntries(head!.map((h, i) => [h, l[i]!])));
}

describe('limolab results --db', () => {
  it('prints the short table, a warning instead of an interval under 3 seeds, and a legend', async () => {
    const out = await results('--sweep', SWEEP);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['arm', 'n_seeds', 'acc_id', 'acc_id_ci', 'acc_ood', 'acc_ood_ci', 'gain_id', 'flops', 'curated_examples']);
    expect(lines[1]).toMatch(/^-+\s+-+/);
    // rows by method, then arm; two seeds: no interval ('-'), and a warning saying why
    expect(lines[2]).toMatch(/^rl\[k=4\]\s+2\s+0\.450\s+-\s+0\.225\s+-\s+-\s+6\.00e\+9\s+0$/);
    expect(lines[3]).toMatch(/^sft\[n=10\]\s+2\s+0\.550\s+-\s+0\.300\s+-\s+-\s+3\.00e\+9\s+10$/);
    expect(lines[4]).toBe('');
    expect(out).toContain('warning: 2 row(s) have fewer than 3 seeds (rl[k=4], sft[n=10]): no 95% interval');
    expect(out).toContain("gain_id is '-': no base-method arm");
    expect(out).not.toContain('95% CI');
    // the legend names every column shown
    for (const k of ['n_seeds', 'acc_id', 'acc_id_ci', 'acc_ood', 'acc_ood_ci', 'gain_id', 'flops', 'curated_examples']) {
      expect(out).toMatch(new RegExp(`\\n${k}\\s{2,}\\S`));
    }
  });

  it('--wide gives every column; the keys are the same in the table, CSV, JSON and --sort', async () => {
    const text = (await results('--sweep', SWEEP, '--wide')).split('\n')[0]!.split(/\s+/);
    const csv = (await results('--sweep', SWEEP, '--wide', '--format', 'csv')).split('\r\n')[0]!.split(',');
    const j = await json('--sweep', SWEEP, '--wide');
    expect(text.length).toBeGreaterThan(15);
    expect(csv).toEqual(text);
    expect(j.columns.map((c) => c.key)).toEqual(text);
    expect(j.columns.map((c) => c.label)).toEqual(text);
    expect(Object.keys(j.rows[0]!)).toEqual(text);
    for (const k of ['acc_id_std', 'acc_id_ci_lo', 'acc_id_ci_hi', 'flops_training', 'flops_evaluation', 'device_s', 'money']) expect(text).toContain(k);
    const sorted = await json('--sweep', SWEEP, '--wide', '--sort', '-flops_rollout');
    expect(sorted.rows.map((r) => r.arm)).toEqual(['rl[k=4]', 'sft[n=10]']);
  });

  it('rounds money for reading', async () => {
    const out = await results('--sweep', SWEEP, '--wide');
    expect(out).toMatch(/\$20\.01/);               // sft: $0.006 of cpu time + 10 examples x $2
    expect(out).not.toMatch(/\$0\.\d{6,}/);
  });

  it('writes CSV with full precision and money from the spec prices', async () => {
    const rows = parseCsv(await results('--sweep', SWEEP, '--format', 'csv'));
    expect(rows.map((r) => r.arm)).toEqual(['rl[k=4]', 'sft[n=10]']);
    const sft = rows[1]!;
    expect(Number(sft.acc_id)).toBeCloseTo((ACC.sft[0]! + ACC.sft[1]!) / 2, 12);
    // method cost: curation + training; evaluation is reported beside it (--wide)
    expect(Number(sft.flops)).toBe(FLOPS.curate + FLOPS.sftTrain);
    expect(Number(sft.curated_examples)).toBe(CURATED);
    const wide = parseCsv(await results('--sweep', SWEEP, '--format', 'csv', '--wide'))[1]!;
    expect(Number(wide.flops_evaluation)).toBe(FLOPS.evaluation);
    // spec prices: cpu $3.6/h = $0.001/s over the 6 counted device-seconds, $2 per curated example
    expect(Number(wide.money)).toBeCloseTo(0.006 + 2 * CURATED, 9);
  });

  it('prints JSON per seed', async () => {
    const t = await json('--sweep', SWEEP, '--per-seed');
    expect(t.columns.slice(0, 2).map((c) => c.key)).toEqual(['arm', 'seed']);
    expect(t.rows.map((r) => [r.arm, r.seed, r.acc_id, r.acc_ood])).toEqual([
      ['rl[k=4]', 0, ACC.rl[0], ACC_OOD.rl[0]], ['rl[k=4]', 1, ACC.rl[1], ACC_OOD.rl[1]],
      ['sft[n=10]', 0, ACC.sft[0], ACC_OOD.sft[0]], ['sft[n=10]', 1, ACC.sft[1], ACC_OOD.sft[1]],
    ]);
    const viaFlag = JSON.parse(await results('--sweep', SWEEP, '--per-seed', '--json')) as JsonTable;
    expect(viaFlag.rows).toEqual(t.rows);
  });

  it('filters by record field and arm parameter; a repeated key matches any of its values', async () => {
    expect((await json('--sweep', SWEEP, '--filter', 'method=sft')).rows.map((r) => r.arm)).toEqual(['sft[n=10]']);
    expect((await json('--sweep', SWEEP, '--filter', 'k=4')).rows.map((r) => r.arm)).toEqual(['rl[k=4]']);
    expect((await json('--sweep', SWEEP, '--filter', 'seed=1', '--per-seed')).rows.map((r) => `${r.arm}/${r.seed}`)).toEqual(['rl[k=4]/1', 'sft[n=10]/1']);
    expect((await json('--sweep', SWEEP, '--filter', 'method=sft', '--filter', 'method=rl')).rows).toHaveLength(2);
  });

  it('groups by the given keys and sorts descending', async () => {
    const t = await json('--sweep', SWEEP, '--group-by', 'method', '--sort', '-acc_id');
    expect(t.columns[0]!.key).toBe('method');
    expect(t.columns.map((c) => c.key)).not.toContain('arm');
    expect(t.rows.map((r) => r.method)).toEqual(['sft', 'rl']);
    expect((await json('--sweep', SWEEP, '--group-by', 'method', '--sort=-acc_id')).rows).toEqual(t.rows);
    expect((await json('--sweep', SWEEP, '--group-by', 'method', '--sort', 'acc_id')).rows.map((r) => r.method)).toEqual(['rl', 'sft']);
  });

  it('defaults to the latest sweep, flags it as cancelled at the top, and says why its table is empty', async () => {
    const r = await runCli(['results', '--db', db]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`warning: sweep ${SWEEP_EMPTY} was CANCELLED (tasks: 1 succeeded, 2 cancelled); the table covers only the runs that finished`);
    expect(lines[1]).toBe('warning: 1 of 1 arm x seed runs have no result (1 cancelled); arms missing seeds: sft 0 of 1');
    expect(lines.slice(-2)[0]).toMatch(/^arm\s+n_seeds/);             // header and rule, no rows
    expect(r.stderr).toContain(`no succeeded arm in sweep ${SWEEP_EMPTY}`);
    const j = JSON.parse((await runCli(['results', '--db', db, '--json'])).stdout) as JsonTable & { notes: string[] };
    expect(j.notes[0]).toContain(`sweep ${SWEEP_EMPTY} was CANCELLED`);
  });

  it('reads ./limolab.db when no --db or --coordinator is given', async () => {
    const r = await runCli(['results', '--sweep', SWEEP, '--json'], { cwd: dir, env: { LIMOLAB_COORDINATOR: '' } });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonTable).rows.map((x) => x.arm)).toEqual(['rl[k=4]', 'sft[n=10]']);
    const plot = await runCli(['plot', 'accuracy-vs-n', '--sweep', SWEEP, '-o', join(dir, 'n.svg')], { cwd: dir, timeoutMs: 60_000 });
    expect(plot.code).toBe(0);
  });

  it('without ./limolab.db and without a coordinator, says both in one line', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'limolab-nodb-'));
    try {
      const r = await runCli(['results'], { cwd: empty, env: { LIMOLAB_COORDINATOR: '' } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^limolab results: no \.\/limolab\.db in this directory and no coordinator at 127\.0\.0\.1:50551; run `limolab run <spec\.yaml>` here first, or pass --db FILE or --coordinator HOST:PORT\n$/);
      expect(existsSync(join(empty, 'limolab.db'))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('opens the database read-only: an unrelated SQLite file is refused and left as it was', async () => {
    const other = join(dir, 'other.db');
    const sql = new Database(other);
    sql.exec('create table notes (id integer primary key, body text); insert into notes (body) values (\'keep me\')');
    sql.close();
    const before = readFileSync(other);
    for (const cmd of [['results', '--db', other], ['report', 'latest', '--db', other, '-o', join(dir, 'o.html')], ['plot', 'cost-by-phase', '--db', other, '-o', join(dir, 'o.svg')]]) {
      const r = await runCli(cmd);
      expect(r.code, cmd[0]).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^limolab ${cmd[0]}: cannot read ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: it has no sweeps, arms, tasks, ledger, metrics tables: not a limolab results database`));
    }
    expect(readFileSync(other).equals(before)).toBe(true);
    const check = new Database(other, { readonly: true });
    expect(check.prepare(`select name from sqlite_master where type = 'table'`).pluck().all()).toEqual(['notes']);
    check.close();
    // and the results database itself is not written by a read
    const mtime = statSync(db).mtimeMs;
    await results('--sweep', SWEEP);
    expect(statSync(db).mtimeMs).toBe(mtime);
  });

  it('rejects an unknown key with one line that lists the allowed keys', async () => {
    for (const args of [['--filter', 'temperature=1'], ['--group-by', 'method,temperature'], ['--sort', 'temperature']]) {
      const r = await runCli(['results', '--db', db, '--sweep', SWEEP, ...args]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^limolab results: unknown (filter|group-by|sort) key 'temperature'; allowed: /);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    const near = await runCli(['results', '--db', db, '--sweep', SWEEP, '--sort', '-acc_id_mean']);
    expect(near.stderr).toMatch(/^limolab results: unknown sort key 'acc_id_mean' \(did you mean 'acc_id'\?\); allowed: /);
    expect((await runCli(['results', '--db', db, '--sweep', SWEEP, '--filter', 'mehtod=sft'])).stderr).toContain("(did you mean 'method'?)");
    const allowed = (await runCli(['results', '--db', db, '--sweep', SWEEP, '--filter', 'temperature=1'])).stderr;
    for (const k of ['method', 'arm', 'seed', 'n', 'k', 'curation']) expect(allowed).toContain(k);
  });

  it('names an unknown sweep, a missing file, a bad --filter and a bad --format', async () => {
    const unknown = await runCli(['results', '--db', db, '--sweep', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no sweep "nope"');
    expect(unknown.stderr).toContain(SWEEP);
    const missing = await runCli(['results', '--db', join(dir, 'absent.db')]);
    expect(missing.stderr).toContain(`no results database at ${join(dir, 'absent.db')}`);
    expect(existsSync(join(dir, 'absent.db'))).toBe(false);
    expect((await runCli(['results', '--db', db, '--filter', 'method'])).stderr).toContain('--filter takes KEY=VALUE');
    expect((await runCli(['results', '--db', db, '--format', 'xml'])).stderr).toContain('--format must be table, csv or json');
  });
});

describe('limolab results against a coordinator', () => {
  it('prints one clear line when the coordinator cannot be reached', async () => {
    const r = await runCli(['results', '--coordinator', '127.0.0.1:1']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^limolab results: cannot reach the coordinator at 127\.0\.0\.1:1 .*--coordinator host:port/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('asks QueryResults over gRPC and prints the same accuracies and FLOPs as --db', async () => {
    const c = new Cluster();
    try {
      fillStore(c.db);
      await c.startNats();
      await c.startCoordinatorInProcess();
      const remote = await runCli(['results', '--coordinator', c.address, '--sweep', SWEEP, '--per-seed', '--format', 'json']);
      expect(remote.stderr).toBe('');
      expect(remote.stdout).not.toContain('fewer than 3 seeds'); // per-seed rows are one seed by design
      const r = JSON.parse(remote.stdout) as JsonTable;
      const local = JSON.parse((await runCli(['results', '--db', db, '--sweep', SWEEP, '--per-seed', '--format', 'json'])).stdout) as JsonTable;
      expect(r.columns).toEqual(local.columns);
      const pick = (t: JsonTable) => t.rows.map((x) => [x.arm, x.seed, x.acc_id, x.acc_ood, x.flops, x.curated_examples]);
      expect(pick(r)).toEqual(pick(local));
      expect(r.rows).toHaveLength(4);
      for (const extra of [[], ['--wide']]) {
        const args = ['--sweep', SWEEP, '--format', 'json', ...extra];
        const rw = JSON.parse((await runCli(['results', '--coordinator', c.address, ...args])).stdout) as JsonTable;
        const lw = JSON.parse((await runCli(['results', '--db', db, ...args])).stdout) as JsonTable;
        expect(rw.columns).toEqual(lw.columns);
        expect(rw.rows).toEqual(lw.rows);
        expect((rw as { notes?: string[] }).notes).toEqual((lw as { notes?: string[] }).notes);
      }

      const text = await runCli(['results', '--coordinator', c.address, '--sweep', SWEEP, '--filter', 'method=sft']);
      expect(text.stdout).toMatch(/\nsft\[n=10\]\s+2\s+0\.550\s/);
      expect(text.stdout).not.toContain('rl[k=4]');

      const latest = await runCli(['results', '--coordinator', c.address]);
      expect(latest.code).toBe(0);
      expect(latest.stderr).toContain(`sweep ${SWEEP_EMPTY} has no succeeded arm`);
      expect(latest.stdout.split('\n')[0]).toContain(`warning: sweep ${SWEEP_EMPTY} was CANCELLED`);

      const unknownSweep = await runCli(['results', '--coordinator', c.address, '--sweep', 'nope']);
      expect(unknownSweep.code).toBe(1);
      expect(unknownSweep.stderr).toMatch(/^limolab results: no sweep with id nope/);

      const badKey = await runCli(['results', '--coordinator', c.address, '--sweep', SWEEP, '--group-by', 'temperature']);
      expect(badKey.code).toBe(1);
      expect(badKey.stderr).toMatch(/^limolab results: unknown group-by key 'temperature'; allowed: /);
    } finally {
      await c.stop();
    }
  }, 240_000); // a coordinator and eight CLI runs
});

describe('limolab report', () => {
  it('writes one self-contained HTML file with every figure, the spec (escaped) and the spec prices', async () => {
    const out = join(dir, 'report.html');
    const r = await runCli(['report', SWEEP, '--db', db, '-o', out], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`wrote ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const name of PLOT_NAMES) expect(html).toContain(`id="plot-${name}"`);
    expect(html).toContain('id="table-summary"');
    expect(html).toContain('&lt;b&gt;escaped&lt;/b&gt;');
    expect(html).not.toContain('<b>escaped</b>');
    expect(html).toContain('cpu $3.60/h');                // cpu price from the spec's prices: block, rounded
    expect(html).not.toMatch(/\$0\.\d{6,}/);
    expect(html).toContain('curated example $2');
    expect(html).not.toMatch(/<script|<link|\bsrc=|href="http/i);
  });

  it('refuses a sweep with no succeeded arm, and an unknown sweep', async () => {
    const empty = await runCli(['report', SWEEP_EMPTY, '--db', db, '-o', join(dir, 'empty.html')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^limolab report: sweep sw-empty \(later\) has no succeeded arm yet \(1 cancelled\)/);
    expect(existsSync(join(dir, 'empty.html'))).toBe(false);
    const unknown = await runCli(['report', 'nope', '--db', db, '-o', join(dir, 'x.html')]);
    expect(unknown.stderr).toContain('no sweep "nope"');
    const noOut = await runCli(['report', SWEEP, '--db', db]);
    expect(noOut.code).toBe(1);
    expect(noOut.stderr).toContain('needs -o FILE');
  });
});

describe('limolab plot', () => {
  it('writes an SVG and a PNG', async () => {
    const svgPath = join(dir, 'cost.svg');
    const svg = await runCli(['plot', 'cost-by-phase', '--sweep', SWEEP, '--db', db, '-o', svgPath], { timeoutMs: 60_000 });
    expect(svg.code).toBe(0);
    const text = readFileSync(svgPath, 'utf8');
    expect(text).toMatch(/^<svg /);
    expect(text).toContain('id="plot-cost-by-phase"');
    const pngPath = join(dir, 'acc.png');
    const png = await runCli(['plot', 'accuracy-vs-flops', '--sweep', SWEEP, '--db', db, '--format', 'png', '-o', pngPath], { timeoutMs: 60_000 });
    expect(png.code).toBe(0);
    const bytes = readFileSync(pngPath);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.length).toBeGreaterThan(2000);
  });

  it('training-loss: one line per arm and seed from the loss its TRAIN tasks stored at steps', async () => {
    const w = new Database(db);
    const ins = w.prepare('insert into metrics (task_id, name, value, step) values (?, ?, ?, ?)');
    for (const [task, n] of [['sfttrain0', 4], ['sfttrain1', 3], ['rltrain0', 2]] as const) {
      for (let s = 1; s <= n; s++) { ins.run(task, 'loss', 2 / s, 10 * s); ins.run(task, 'lr', 1e-4, 10 * s); }  // lr: not a loss, not drawn
    }
    w.close();
    const out = join(dir, 'loss.svg');
    const r = await runCli(['plot', 'training-loss', '--sweep', SWEEP, '--db', db, '-o', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const svg = readFileSync(out, 'utf8');
    // sft seeds 0 and 1, rl seed 0 (rltrain1 stored no steps): three lines of 4, 3 and 2 points
    const paths = [...svg.matchAll(/aria-label="[^"]*arm: ([^;]+); [^"]*series: [^"|]+\|(\d)"[^>]* d="([^"]+)"/g)].map((m) => [m[1], Number(m[2]), m[3]!.split('L').length]);
    expect(paths.sort()).toEqual([['rl[k=4]', 0, 2], ['sft[n=10]', 0, 4], ['sft[n=10]', 1, 3]]);
  });

  it('chooses the format by extension and refuses one it cannot write', async () => {
    const jpg = join(dir, 'x.jpg');
    const r = await runCli(['plot', 'cost-by-phase', '--sweep', SWEEP, '--db', db, '-o', jpg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`limolab plot: limolab plot writes SVG or PNG, not .jpg: name the output .svg or .png (e.g. -o ${join(dir, 'x.png')})\n`);
    expect(existsSync(jpg)).toBe(false);
    const clash = await runCli(['plot', 'cost-by-phase', '--sweep', SWEEP, '--db', db, '--format', 'png', '-o', join(dir, 'y.svg')]);
    expect(clash.stderr).toContain('ends in .svg but --format is png');
    const png = join(dir, 'byext.PNG');
    expect((await runCli(['plot', 'cost-by-phase', '--sweep', SWEEP, '--db', db, '-o', png], { timeoutMs: 60_000 })).code).toBe(0);
    expect([...readFileSync(png).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('lists the plot names for an unknown one', async () => {
    const r = await runCli(['plot', 'accuracy-vs-money', '--sweep', SWEEP, '--db', db, '-o', join(dir, 'x.svg')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`limolab plot: unknown plot "accuracy-vs-money"; choose one of: ${ALL_PLOT_NAMES.join(', ')}\n`);
    expect(existsSync(join(dir, 'x.svg'))).toBe(false);
  });
});
