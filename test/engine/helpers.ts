// Shared helpers for the engine tests: the PyTorch fixture and tensor comparisons.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from '../../worker/engine/index.js';

export interface RefCase {
  config: ModelConfig;
  examples: { tokens: number[]; weights: number[] }[];
  loss: number;
  nll: number[][];
  logits: number[][];
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
}

export function loadReference(): RefCase[] {
  const path = fileURLToPath(new URL('../fixtures/engine/torch-reference.json', import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: RefCase[] }).cases;
}

/** max |a - b| / max |b|: tensor-relative error, robust to individual near-zero entries. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); m = Math.max(m, Math.abs(b[i]!)); }
  return m === 0 ? d : d / m;
}
