// Every shipped sweep spec parses and plans; the full study keeps at least 3 seeds per arm.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepSpec } from '../../coordinator/spec.js';
import { planSweep } from '../../coordinator/planner.js';
import { defaultPlanners } from '../../coordinator/planners/index.js';
import { ROOT } from '../helpers/cluster.js';

const dir = join(ROOT, 'experiments');
const specs = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('task ids', () => {
  it('sort in plan order past the width of each base-36 digit, and a merged task keeps one id', async () => {
    // 1,300 diag tasks cross 36^2 = 1,296; two arms with the same cacheable work share a task.
    const spec = parseSweepSpec('name: ids\narms: [{name: a, method: diag, params: {tasks: 1300}}]', 'ids.yaml');
    const plan = planSweep('ids-abc', spec, await defaultPlanners());
    const ids = plan.tasks.map((t) => t.id);
    expect(ids).toHaveLength(1300);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every((id) => id.startsWith('ids-abc.'))).toBe(true);
    const quick = parseSweepSpec(readFileSync(join(dir, 'quick.yaml'), 'utf8'), 'quick.yaml');
    const q = planSweep('q', quick, await defaultPlanners());
    const pretrain = q.tasks.filter((t) => t.kind === 'pretrain');
    expect(pretrain).toHaveLength(1);
    expect(pretrain[0]!.arms.length).toBeGreaterThan(1);   // one row, shared by every arm
  });
});

describe('shipped sweep specs', () => {
  it('include the quick and the full study', () => {
    expect(specs).toEqual(expect.arrayContaining(['quick.yaml', 'limo-vs-rl.yaml']));
  });
  for (const f of specs) {
    it(`${f} parses and plans`, async () => {
      const spec = parseSweepSpec(readFileSync(join(dir, f), 'utf8'), f);
      const plan = planSweep('s', spec, await defaultPlanners());
      expect(plan.tasks.length).toBeGreaterThan(0);
      // Task ids sort in plan order (the store's indexes grow at one end) and are unique;
      // a task's dependencies are planned, so sorted, before it.
      const ids = plan.tasks.map((t) => t.id);
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
      for (const t of plan.tasks) for (const d of t.deps) expect(d.task < t.id).toBe(true);
      for (const a of plan.arms) expect(a.evalTaskId).not.toBeNull();
      if (f === 'limo-vs-rl.yaml' || f === 'quick.yaml') {
        const methods = new Set(plan.arms.map((a) => a.method));
        expect([...methods].sort()).toEqual(['base', 'rl', 'sft']);
        expect(spec.seeds.length).toBeGreaterThanOrEqual(3); // fewer gives no interval
        // Both controls, and one PRETRAIN and one PROBE per base and seed, shared by every arm on it.
        const controls = new Set(plan.arms.map((a) => a.params.control).filter(Boolean));
        expect([...controls].sort()).toEqual(['negative', 'positive']);
        const bases = Object.keys((spec.base as { bases?: object }).bases ?? { default: 1 });
        if (f === 'limo-vs-rl.yaml') expect(bases.length).toBeGreaterThanOrEqual(4);
        // base.pretrain_seed (quick.yaml) shares one base across seeds.
        const shared = (spec.base as { pretrain_seed?: number }).pretrain_seed !== undefined;
        expect(plan.tasks.filter((t) => t.kind === 'pretrain')).toHaveLength((shared ? 1 : spec.seeds.length) * bases.length);
        expect(plan.tasks.filter((t) => t.kind === 'probe')).toHaveLength((shared ? 1 : spec.seeds.length) * bases.length);
        // Every trained arm searches its recipe: one tuning task per SFT arm and seed, one per RL chain.
        const tuned = plan.arms.filter((a) => a.method !== 'base');
        for (const a of tuned) expect(a.params.tune).toBe(true);
        expect(plan.tasks.filter((t) => t.phase === 'tuning').length).toBeGreaterThan(0);
      }
    });
  }
});
