// Seeded pseudo-random numbers for the built-in domain and the ML task kinds.
// mulberry32 for the stream, splitmix32 to derive independent child seeds from a
// seed and a label, so "pool" and "test_id" never share a stream. Never Math.random.

/** splitmix32 finaliser: a well-mixed 32-bit value from any 32-bit input. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A child seed from a parent seed and a label: deriveSeed(7, 'pool') != deriveSeed(7, 'test_id'). */
export function deriveSeed(seed: number, label: string | number): number {
  let h = mix32(Math.floor(seed) >>> 0 ^ Math.floor(seed / 2 ** 32) >>> 0);
  const s = String(label);
  for (let i = 0; i < s.length; i++) h = mix32(h ^ Math.imul(s.charCodeAt(i), 0x27d4eb2d));
  return h;
}

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = mix32(Math.floor(seed) >>> 0);
  }

  /** Uniform in [0, 1). mulberry32. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Fisher-Yates shuffle into a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A 32-bit seed for a child stream (e.g. an engine call). */
  seed(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}
