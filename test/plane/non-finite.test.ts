// nonFinite (coordinator/ingest.ts): the check every result passes before it is stored. A NaN or
// infinite number in a metric or in any numeric ledger field refuses the result, naming each.
import { describe, expect, it } from 'vitest';
import { nonFinite } from '../../coordinator/ingest.js';
import { TaskResult } from '../../gen/limolab/v1/task.js';

const ledger = { flops: 1e9, tokensPrompt: 10, tokensGenerated: 20, tokensTrained: 0, wallS: 0.5, deviceKind: 'cpu', deviceS: 0, params: 1000, curatedExamples: 0 };

describe('nonFinite', () => {
  it('passes a result whose metrics and ledger are all finite', () => {
    expect(nonFinite(TaskResult.fromPartial({ metrics: [{ name: 'acc', value: 0.5, step: 0 }], ledger }))).toBeNull();
    expect(nonFinite(TaskResult.fromPartial({ metrics: [] }))).toBeNull();   // no ledger at all
  });

  it('names every non-finite ledger field and metric', () => {
    const why = nonFinite(TaskResult.fromPartial({
      metrics: [{ name: 'loss', value: NaN, step: 3 }, { name: 'acc', value: 0.1, step: 0 }],
      ledger: { ...ledger, flops: Infinity, wallS: -Infinity },
    }));
    expect(why).toMatch(/^result refused: /);
    expect(why).toContain('metric loss (step 3) = NaN');
    expect(why).toContain('ledger flops = Infinity');
    expect(why).toContain('ledger wallS = -Infinity');
    expect(why).not.toContain('acc');
    expect(why).not.toContain('deviceKind');
  });
});
