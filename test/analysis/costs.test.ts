// Cost of one run on each axis, with the pretrain/curation switches and the price sheet.
import { describe, expect, it } from 'vitest';
import {
  AnalysisError, computeMoney, countedPhases, dataMoney, deviceSeconds, flopsTotal, money, pricePerSecond,
} from '../../coordinator/analysis/index.js';
import { makeRecord } from '../fixtures/analysis/generate.js';

const r = makeRecord({
  arm: 'sft-n50', method: 'sft', curatedExamples: 50,
  flopsByPhase: { pretrain: 1e15, curation: 2e11, training: 3e12, evaluation: 1e10 },
  // 1000 s pretrain + 100 s training on the GPU; 40 s curation + 60 s eval on CPU
  deviceSByPhase: { pretrain: 1000, curation: 40, training: 100, evaluation: 60 },
  deviceSByKind: { 'cuda:H100': 1100, cpu: 100 },
});

describe('costs', () => {
  it('counts curation but not pretrain by default, each switchable', () => {
    expect(countedPhases()).toEqual(['curation', 'training', 'rollout', 'evaluation']);
    expect(flopsTotal(r)).toBe(2e11 + 3e12 + 1e10);
    expect(flopsTotal(r, { includeCuration: false })).toBe(3e12 + 1e10);
    expect(flopsTotal(r, { includePretrain: true })).toBe(1e15 + 2e11 + 3e12 + 1e10);
    expect(deviceSeconds(r)).toBe(200);
    expect(deviceSeconds(r, { includePretrain: true, includeCuration: false })).toBe(1160);
  });

  it('prices device kinds by exact key, then by family', () => {
    const prices = { perDeviceSecond: { cpu: 0.01, cuda: 1, 'cuda:A100': 0.5 }, perCuratedExample: 2 };
    expect(pricePerSecond('cuda:H100', prices)).toBe(1);
    expect(pricePerSecond('cuda:A100', prices)).toBe(0.5);
    expect(() => pricePerSecond('tpu:v5', prices)).toThrow(AnalysisError);
    expect(() => pricePerSecond('tpu:v5', prices)).toThrow(
      "no price for device kind 'tpu:v5'; add perDeviceSecond['tpu:v5'] or ['tpu'] to the price sheet (priced kinds: cpu, cuda, cuda:A100)",
    );
  });

  it('money apportions per-kind seconds by the counted share and adds the data price', () => {
    const prices = { perDeviceSecond: { cpu: 0.01, cuda: 1 }, perCuratedExample: 2 };
    // all phases: 1100 s x $1 + 100 s x $0.01 = $1101 over 1200 s. Default counts 200 of 1200 s
    // (pretrain excluded) -> $1101 x 200/1200 = $183.5. Data: 50 x $2 = $100.
    expect(computeMoney(r, { prices })).toBeCloseTo(183.5, 9);
    expect(computeMoney(r, { prices, includePretrain: true })).toBeCloseTo(1101, 9);
    expect(dataMoney(r, { prices })).toBe(100);
    expect(money(r, { prices })).toBeCloseTo(283.5, 9);
    // no by-phase breakdown: the per-kind seconds are charged as they are
    const flat = makeRecord({ arm: 'a', method: 'rl', deviceSByKind: { cpu: 100 } });
    expect(computeMoney(flat, { prices })).toBeCloseTo(1, 12);
  });
});
