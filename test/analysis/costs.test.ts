// Cost of one run on each axis: method cost = curation + tuning + training + rollout
// (evaluation beside it, except for icl), the pretrain/curation switches and the price sheet.
import { describe, expect, it } from 'vitest';
import {
  AnalysisError, computeMoney, countedPhases, dataMoney, deviceSeconds, evaluationCost, flopsTotal, money, pricePerSecond,
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
  it('counts curation but neither pretrain nor evaluation by default, each switchable', () => {
    expect(countedPhases()).toEqual(['curation', 'tuning', 'training', 'rollout']);
    expect(flopsTotal(r)).toBe(2e11 + 3e12);
    expect(flopsTotal(r, { includeCuration: false })).toBe(3e12);
    expect(flopsTotal(r, { includePretrain: true })).toBe(1e15 + 2e11 + 3e12);
    expect(flopsTotal(r, { includeEvaluation: true })).toBe(2e11 + 3e12 + 1e10);
    expect(deviceSeconds(r)).toBe(140);
    expect(deviceSeconds(r, { includePretrain: true, includeCuration: false })).toBe(1100);
    expect(evaluationCost(r)).toEqual({ flops: 1e10, deviceS: 60 });
  });

  it('charges the tuning phase to the method cost and leaves evaluation beside it', () => {
    const tuned = makeRecord({
      arm: 'sft-tuned', method: 'sft',
      flopsByPhase: { pretrain: 1e15, curation: 1e9, tuning: 4e11, training: 2e11, evaluation: 5e10 },
      deviceSByPhase: { pretrain: 900, curation: 1, tuning: 40, training: 20, evaluation: 5 },
    });
    expect(flopsTotal(tuned)).toBe(1e9 + 4e11 + 2e11);
    expect(deviceSeconds(tuned)).toBe(61);
    // the same run without its search would look 4e11 FLOPs cheaper: the search is not free
    expect(flopsTotal({ ...tuned, flopsByPhase: { ...tuned.flopsByPhase, tuning: 0 } })).toBe(1e9 + 2e11);
  });

  it('charges evaluation to icl, whose inference is the method', () => {
    const icl = makeRecord({
      arm: 'icl', method: 'icl', flopsByPhase: { pretrain: 1e15, curation: 1e9, evaluation: 5e10 },
      deviceSByPhase: { pretrain: 900, curation: 1, evaluation: 5 },
    });
    expect(countedPhases({}, 'icl')).toEqual(['curation', 'tuning', 'training', 'rollout', 'evaluation']);
    expect(flopsTotal(icl)).toBe(1e9 + 5e10);
    expect(deviceSeconds(icl)).toBe(6);
    expect(flopsTotal(icl, { includeEvaluation: false })).toBe(1e9);
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
    // all phases: 1100 s x $1 + 100 s x $0.01 = $1101 over 1200 s. Default counts 140 of 1200 s
    // (pretrain and evaluation excluded) -> $1101 x 140/1200 = $128.45. Data: 50 x $2 = $100.
    expect(computeMoney(r, { prices })).toBeCloseTo(128.45, 9);
    expect(computeMoney(r, { prices, includePretrain: true, includeEvaluation: true })).toBeCloseTo(1101, 9);
    expect(dataMoney(r, { prices })).toBe(100);
    expect(money(r, { prices })).toBeCloseTo(228.45, 9);
    // no by-phase breakdown: the per-kind seconds are charged as they are
    const flat = makeRecord({ arm: 'a', method: 'rl', deviceSByKind: { cpu: 100 } });
    expect(computeMoney(flat, { prices })).toBeCloseTo(1, 12);
  });
});
