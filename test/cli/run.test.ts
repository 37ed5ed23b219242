// `limolab run` as a user runs it: a child process on a spec file, with a nats-server it
// starts itself, and with the in-process transport.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(process.execPath, [BIN, 'run', ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 },
    (err, stdout, stderr) => resolve({ code: err ? Number(err.code) || 1 : 0, stdout, stderr })));
}

const SPEC = `
name: run-cli
arms:
  - {name: chain, method: diag, params: {tasks: 4, stages: 3, output_bytes: 64}}
  - {name: flaky, method: diag, params: {op: fail, fail_times: 1}}
defaults: {retries: 2, backoff_ms: 10}
`;

describe('limolab run', () => {
  for (const mode of ['nats-server', 'in-process'] as const) {
    it(`runs a sweep to the end and prints the results (${mode})`, async () => {
      const spec = join(dir, `${mode}.yaml`);
      writeFileSync(spec, SPEC);
      const db = join(dir, `${mode}.db`);
      const r = await run([spec, '--db', db, '--json', '--workers', '2', ...(mode === 'in-process' ? ['--in-process'] : [])]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { sweep: { status: string; counts: { succeeded: number } }; results: { arm: string }[] };
      expect(out.sweep.status).toBe('succeeded');
      expect(out.sweep.counts.succeeded).toBe(13);
      expect(out.results.map((x) => x.arm).sort()).toEqual(['chain', 'flaky']);
      const d = new Database(db, { readonly: true });
      expect((d.prepare('select count(*) n from results').get() as { n: number }).n).toBe(13);
      expect((d.prepare(`select count(*) n from attempts where status = 'failed'`).get() as { n: number }).n).toBe(1);
      d.close();
    });
  }

  it('ends with the table `limolab results` prints for the sweep, legend included; --wide as results --wide', async () => {
    const spec = join(dir, 'table.yaml');
    writeFileSync(spec, SPEC.replace('name: run-cli', 'name: run-table').replace('arms:', 'seeds: 2\narms:'));
    const db = join(dir, 'table.db');
    const r = await run([spec, '--db', db, '--workers', '1', '--in-process', '--wide']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^sweep \S+ \(run-table\): succeeded$/);
    expect(lines[1]).toMatch(/^ {2}tasks \d+: /);
    const results = (args: string[]) => new Promise<string>((resolve, reject) => execFile(process.execPath, [BIN, 'results', '--db', db, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout))));
    const wide = await results(['--wide']);
    expect(lines.slice(2).join('\n')).toBe(wide);
    expect(wide).toMatch(/^arm +n_seeds +acc_id +acc_id_std +acc_id_ci_lo/);
    expect(wide).toMatch(/^n_seeds +distinct seeds with a result$/m);   // the legend
    expect(wide).toMatch(/warning: 2 row\(s\) have fewer than 3 seeds/);
    // without --wide: the short table, as `limolab results` prints it
    const again = await run([spec, '--db', db, '--workers', '1', '--in-process']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.split('\n').slice(2).join('\n')).toBe(await results([]));
    expect(again.stdout.split('\n')[2]!.split(/\s+/)).toEqual(['arm', 'n_seeds', 'acc_id', 'acc_id_ci', 'acc_ood', 'acc_ood_ci', 'gain_id', 'flops', 'curated_examples']);
  }, 300_000);

  it('rejects a malformed spec before starting anything', async () => {
    const spec = join(dir, 'bad.yaml');
    writeFileSync(spec, 'name: bad\narms: [{name: a, method: diag, params: {tasks: -3}}]\nextra: 1\n');
    const r = await run([spec, '--db', join(dir, 'bad.db')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown key "extra"/);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^limolab run: .*invalid; nothing was submitted/);
  });
});
