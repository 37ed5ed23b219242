// promoteYoung(): the coordinator's two young-generation collections after planning a large sweep
// (coordinator/promote.ts) move what survives them out of the young generation, so the sweep's
// first moments pay no promotion pauses. Checked on V8's own space statistics.
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { promoteYoung } from '../../coordinator/promote.js';

const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;

describe('promoteYoung', () => {
  it('leaves objects just made and still referenced in the old generation, and the young one nearly empty', () => {
    // Made until 256 KiB of them sit in the young generation (its size differs between processes:
    // from 0.5 MiB a semi-space up; a scavenge during the loop moves some on, and the loop goes on).
    promoteYoung();
    const kept: { id: string; n: number; tags: string[] }[] = [];
    const start = young();
    while (young() < start + 256 * 1024 && kept.length < 1_000_000) {
      for (let i = kept.length, end = i + 500; i < end; i++) kept.push({ id: `task-${i}-${'x'.repeat(40)}`, n: i, tags: [`arm|${i % 7}`] });
    }
    const before = young();
    expect(before).toBeGreaterThan(256 * 1024);   // they were born young
    expect(promoteYoung()).toBe(true);
    expect(young()).toBeLessThan(before / 4);
    const last = kept.length - 1;
    expect(kept[last]!.id).toBe(`task-${last}-${'x'.repeat(40)}`);   // still there, unchanged
  });
});
