// Chaos scenarios, issue 10 items 8 and 9 (and the timeout_s bound of item 5): specs that
// hung or crashed the coordinator are refused at submit, quickly, with the real error
// over gRPC, and create nothing. Real nats-server, SQLite and gRPC on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Plane, figure } from './plane.js';

let plane: Plane;
beforeAll(async () => {
  plane = new Plane();
  await plane.startNats();
  await plane.startCoord({ limits: { maxTasks: 100_000 } });
}, 120_000);
afterAll(async () => { await plane?.stop(); });

async function refused(spec: string): Promise<{ msg: string; ms: number }> {
  const t0 = Date.now();
  const err = await plane.client().call('submitSweep', { spec, specPath: 'chaos.yaml' }).then(() => null, (e: Error) => e);
  expect(err, 'the spec was accepted').toBeInstanceOf(Error);
  return { msg: (err as Error).message, ms: Date.now() - t0 };
}

describe('chaos: bounded inputs', () => {
  it('refuses oversized plans arithmetically before planning, creating nothing, with the real error', async () => {
    const a = await refused('name: huge\narms: [{name: a, method: diag, params: {tasks: 1000000}}]');
    expect(a.msg).toMatch(/would plan 1000000 tasks; this coordinator takes at most 100000 per sweep \(its --max-tasks\)/);
    expect(a.msg).not.toMatch(/cannot reach/);
    const b = await refused('name: huge2\narms: [{name: a, method: diag, params: {tasks: 1000000, stages: 100}}]');
    expect(b.msg).toMatch(/would plan 100000000 tasks/);
    const seeds = (n: number) => `name: seeds\nseeds: [${Array.from({ length: n }, (_, i) => i).join(',')}]\narms: [{name: a, method: diag}]`;
    const c = await refused(seeds(200_000));
    expect(c.msg).toMatch(/is 1288942 bytes; a sweep spec is at most 1048576/);
    const c2 = await refused(seeds(20_000));
    expect(c2.msg).toMatch(/20000 arm instances .* at most 10000/);
    expect(plane.count('select count(*) n from sweeps')).toBe(0);
    expect(plane.count('select count(*) n from tasks')).toBe(0);
    figure('plan-limits', `1e6 tasks refused in ${a.ms} ms, 1e8 (stages 100) in ${b.ms} ms, 200k-seed list (1.3 MB) in ${c.ms} ms, 20k seeds in ${c2.ms} ms; 0 sweeps, 0 tasks created`);
  }, 180_000);

  it('truncates a thousand problems with a count, and gives clear errors for deep nesting, NaN, bad base.model/domain, huge payloads and long timeouts', async () => {
    const many = `name: many\narms:\n${Array.from({ length: 1000 }, (_, i) => `  - {name: a${i}, method: diag, params: {tasks: -1}}`).join('\n')}`;
    const m = await refused(many);
    expect(m.msg).toMatch(/\.\.\. and 950 more problem\(s\) \(1000 in all\)/);
    expect(m.msg.length).toBeLessThan(20_000);
    const deep = `name: deep\nbase: {x: ${'['.repeat(1000)}${']'.repeat(1000)}}\narms: [{name: a, method: diag}]`;
    const d = await refused(deep);
    expect(d.msg).toMatch(/nests brackets 1001 deep; a sweep spec nests at most 32 levels/);
    const deepBlock = `name: deep2\nbase:\n${Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} 1\narms: [{name: a, method: diag}]`;
    expect((await refused(deepBlock)).msg).toMatch(/nested more than 32 levels deep|nested too deeply/);
    for (const bad of ['3.5', '[]', 'null', '.nan']) {
      const r = await refused(`name: b\nbase: {model: ${bad}}\narms: [{name: a, method: diag}]`);
      expect(r.msg).toMatch(bad === '.nan' ? /base\.model: NaN is not a finite number/ : /base\.model: must be a mapping of settings/);
    }
    expect((await refused('name: b\nbase: {domain: []}\narms: [{name: a, method: diag}]')).msg).toMatch(/base\.domain: must be a mapping/);
    const big = await refused(`name: big\narms: [{name: a, method: diag, params: {op: echo, message: "${'x'.repeat(2 * 1024 * 1024)}"}}]`);
    expect(big.msg).toMatch(/is \d+ bytes; a sweep spec is at most 1048576/);
    const payload = await refused(`name: big\narms: [{name: a, method: diag, params: {op: echo, message: "${'x'.repeat(1_000_000)}"}}]`);
    expect(payload.msg).toMatch(/encodes to \d+ bytes; a task message is at most \d+ bytes \(the NATS max_payload/);
    const t = await refused('name: long\ndefaults: {timeout_s: 2147484}\narms: [{name: a, method: diag}]');
    expect(t.msg).toMatch(/defaults\.timeout_s: timeout_s is at most 1209600 \(14 days\)/);
    expect(plane.count('select count(*) n from sweeps')).toBe(0);
    figure('spec-inputs', `1000 problems -> ${m.msg.length} chars (50 shown + count); 1000-deep YAML, NaN, model 3.5/[]/null, 2 MiB payload, timeout_s 2147484: all refused at submit, 0 sweeps created`);
  }, 180_000);
});
