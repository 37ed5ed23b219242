// What a user sees for a wrong spec or command line, through the real `limolab` command (a
// child process): a bad seeds value says what is expected, unknown keys get a did-you-mean
// at every level (top, arm, params, base), a YAML error shows the line with a caret and
// what to do, an unknown method stops `limolab run` before it starts anything, `sweep submit
// --help` is submit's own, and `--dry-run` lists arms, grid points and task counts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { hasStackTrace, runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'limolab-spec-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `limolab run` on this spec text in a fresh directory: nothing may be created there. */
async function runSpec(name: string, text: string) {
  const cwd = join(dir, name);
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'spec.yaml'), text);
  const r = await runCli(['run', 'spec.yaml'], { cwd, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(1);
  expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
  // refused before anything started: no database, no workdir, no nats-server store, no progress
  expect(readdirSync(cwd)).toEqual(['spec.yaml']);
  expect(r.stderr).not.toMatch(/nats-server nats:|worker process|running in-process/);
  return r.stderr;
}

describe('spec errors from limolab run', { timeout: 300_000 }, () => {
  it('seeds: two says what seeds takes', async () => {
    const err = await runSpec('seeds', 'name: x\nseeds: two\narms:\n  - {name: a, method: diag}\n');
    expect(err).toContain('limolab run: spec.yaml is invalid; nothing was submitted');
    expect(err).toContain('seeds: expected a number of seeds (an integer from 1 to 1000, e.g. seeds: 3 runs seeds 0, 1, 2) or a list of seed integers (e.g. seeds: [0, 1, 2]), got "two"');
  });

  it('unknown keys at the top and in an arm get a did-you-mean and the allowed keys', async () => {
    const err = await runSpec('keys', 'name: x\nsedes: 3\narms:\n  - {name: a, metod: diag}\n');
    expect(err).toContain('- unknown key "sedes" (did you mean "seeds"?); allowed here: name, description, seeds, priority, cache, defaults, base, prices, arms');
    expect(err).toContain('- arms[0]: unknown key "metod" (did you mean "method"?); allowed here: name, method, params, seeds,');
    expect(err).toContain('- arms[0].method: missing; it is required here (expected string)');
  });

  it("unknown keys in an arm's params and in the base sections get a did-you-mean from the method's own keys", async () => {
    const err = await runSpec('params', 'name: x\narms:\n  - {name: b, method: sft, params: {n: 5, epoch: 3}}\nbase: {pretrian: {steps: 3}, curate: {kk: 2}}\n');
    expect(err).toContain('limolab run: the sweep cannot be planned; nothing was submitted');
    expect(err).toContain('arms[0] (b) params: unknown key "epoch" (did you mean "epochs"?); allowed here: n, curation, epochs, lr,');
    expect(err).toContain('arms[0] (b) base: unknown key "pretrian" (did you mean "pretrain"?); allowed here: model, domain, pretrain,');
    expect(err).toContain('arms[0] (b) base.curate: unknown key "kk" (did you mean "k"?); allowed here: k, candidates, options');
  });

  it('an unknown key in base.domain gets its did-you-mean at submit, not from a worker later', async () => {
    const err = await runSpec('domain', 'name: x\nbase: {domain: {valeMax: 99}}\narms:\n  - {name: b, method: base}\n');
    expect(err).toContain('arms[0] (b) base.domain: unknown key "valeMax" (did you mean "valueMax"?); allowed here: operandMax, valueMax,');
  });

  it('a YAML error names file, line and column, shows the line with a caret under the column, and says what to do', async () => {
    const err = await runSpec('yaml', 'name: x\narms:\n  - name: a\n   method: sft\n');
    expect(err.trimEnd().split('\n')).toEqual([
      'limolab run: spec.yaml:4:1: not valid YAML: Sequence item without - indicator',
      '  4 |    method: sft',
      '    | ^',
      '  Line this key up with the keys of the list item above it (spaces only), or start a new item with "- ". Nothing was submitted.',
    ]);
    const colon = await runSpec('yaml-colon', 'name: x\narms\n  - {name: a, method: sft}\n');
    expect(colon).toContain('spec.yaml:2:1: not valid YAML: Implicit keys need to be on a single line\n  2 | arms\n    | ^\n  Is the ":" after a key missing');
    const caret = await runSpec('yaml-caret', 'name: x\narms: [{name: a, method: "sft: x}]\nseeds: a: b\n');
    expect(caret).toMatch(/^limolab run: spec\.yaml:\d+:\d+: not valid YAML: /);
    const [, line, col] = /spec\.yaml:(\d+):(\d+)/.exec(caret)!;
    const shown = caret.split('\n');
    expect(shown[1]).toMatch(new RegExp(`^  ${line} \\| `));
    expect(shown[2]!.indexOf('^') - shown[2]!.indexOf('|') - 2).toBe(Number(col) - 1);   // the caret sits under the column
  });

  it('an unknown method is refused before nats-server or any worker starts, with a did-you-mean', async () => {
    const err = await runSpec('method', 'name: x\narms:\n  - {name: a, method: sfft}\n');
    expect(err).toContain('arms[0].method: unknown method "sfft" (did you mean "sft"?); known: base, diag,');
  });
});

describe('limolab sweep submit', { timeout: 300_000 }, () => {
  const c = new Cluster();
  beforeAll(async () => {
    await c.startNats();
    await c.startCoordinatorInProcess();
  }, 120_000);
  afterAll(() => c.stop(), 120_000);

  it('--help prints submit\'s own options, not every sweep command', async () => {
    const r = await runCli(['sweep', 'submit', '--help'], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Usage: limolab sweep submit <spec.yaml> [options]');
    for (const o of ['--dry-run', '--watch', '--tag T', '--note TEXT', '--coordinator HOST:PORT']) expect(r.stdout).toContain(o);
    for (const other of ['compare <a> <b>', 'delete <id>', 'status <id>']) expect(r.stdout).not.toContain(other);
    const all = await runCli(['sweep', '--help'], { timeoutMs: 120_000 });
    expect(all.stdout).toContain('compare <a> <b>');
  });

  it('--dry-run lists each arm with its grid points, seeds, runs and tasks by kind, and submits nothing', async () => {
    const path = join(dir, 'dry.yaml');
    // b: pretrain + probe + eval per seed; s: pretrain + probe (shared) + curate, train, eval per
    // grid point and seed: 2 + 2 + 2 x 2 x 3 = 16; all: 2 pretrain, 2 probe, 2 + 4 eval, 4 curate, 4 train = 18
    writeFileSync(path, 'name: dry\nseeds: 2\narms:\n  - {name: b, method: base}\n  - {name: s, method: sft, params: {n: [10, 20]}}\n');
    const r = await runCli(['sweep', 'submit', path, '--dry-run', '--coordinator', c.address], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('sweep dry: 2 arm(s), 6 run(s) (grid points x seeds), 18 task(s), 4 of them shared by several arms');
    const header = lines.findIndex((l) => l.startsWith('arm '));
    expect(lines[header]!.split(/\s+/)).toEqual(['arm', 'method', 'grid_points', 'seeds', 'runs', 'tasks', 'pretrain', 'probe', 'curate', 'train', 'eval']);
    expect(lines[header + 2]!.split(/\s+/)).toEqual(['b', 'base', '1', '2', '2', '6', '2', '2', '0', '0', '2']);
    expect(lines[header + 3]!.split(/\s+/)).toEqual(['s', 'sft', '2', '2', '4', '16', '2', '2', '4', '4', '4']);
    expect(r.stdout).toContain('  s: s[n=10], s[n=20]');
    expect(r.stdout).toContain('valid: the coordinator would plan 18 task(s), 0 of them reused from earlier sweeps; nothing was submitted');
    expect(c.coordinator!.coord.listSweeps().length).toBe(0);
    // --json carries the same breakdown
    const j = JSON.parse((await runCli(['sweep', 'submit', path, '--dry-run', '--json', '--coordinator', c.address], { timeoutMs: 120_000 })).stdout) as { tasksPlanned: number; arms: { arm: string; tasks: number; gridPoints: number }[] };
    expect(j.tasksPlanned).toBe(18);
    expect(j.arms.map((a) => [a.arm, a.gridPoints, a.tasks])).toEqual([['b', 1, 6], ['s', 2, 16]]);
    expect(existsSync(join(dir, 'limolab.db'))).toBe(false);
  });
});
