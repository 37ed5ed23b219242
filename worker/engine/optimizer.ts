// AdamW (decoupled weight decay, as torch.optim.AdamW) over Float32Arrays, global-norm
// gradient clipping, and the warmup + cosine learning-rate schedule. Runs in TypeScript:
// element-wise and O(params) per step, small next to the graph's O(params * tokens).

export interface AdamWHyper { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }

export interface Schedule { lr: number; totalSteps: number; warmupSteps: number; minLrRatio: number }

/** Learning rate at 0-based `step`: linear warmup to lr, then cosine down to lr * minLrRatio. */
export function lrAt(step: number, s: Schedule): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.lr * (s.minLrRatio + (1 - s.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Scales grads in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const k = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * k;
  }
  return norm;
}

export class AdamW {
  step = 0; // updates applied so far (bias correction), kept in checkpoints
  readonly m: Float32Array[];
  readonly v: Float32Array[];

  constructor(sizes: number[], readonly decay: boolean[]) {
    this.m = sizes.map((n) => new Float32Array(n));
    this.v = sizes.map((n) => new Float32Array(n));
  }

  update(params: Float32Array[], grads: Float32Array[], h: AdamWHyper): void {
    this.step++;
    const bc1 = 1 - Math.pow(h.beta1, this.step), bc2 = 1 - Math.pow(h.beta2, this.step);
    const stepSize = h.lr / bc1, b1 = h.beta1, b2 = h.beta2;
    params.forEach((p, t) => {
      const g = grads[t]!, m = this.m[t]!, v = this.v[t]!;
      const shrink = this.decay[t] ? 1 - h.lr * h.weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
        p[i] = p[i]! * shrink - (stepSize * mi) / (Math.sqrt(vi / bc2) + h.eps);
      }
    });
  }
}
