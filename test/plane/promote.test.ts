// promoteYoung(): the coordinator's two young-generation collections after planning a large sweep
// (coordinator/promote.ts) move what survives them out of the young generation, so the sweep's
// first moments pay no promotion pauses. Checked on V8's own space statistics.
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { promoteYoung } from '../../coordinator/promote.js';

const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;

describe('promoteYoung', () => {
  it('leaves objects just made and still referenced in the old generation, and the young one nearly empty', () => {
    const kept: { id: string; n: number; tags: string[] }[] = [];
    for (let i = 0; i < 40_000; i++) kept.push({ id: `task-${i}-${'x'.repeat(40)}`, n: i, tags: [`arm|${i % 7}`] });
    const before = young();
    expect(before).toBeGreaterThan(1024 * 1024);   // they were born young (several MB)
    expect(promoteYoung()).toBe(true);
    expect(young()).toBeLessThan(before / 4);
    expect(kept[39_999]!.id).toMatch(/^task-39999-x+$/);   // still there, unchanged
  });
});
