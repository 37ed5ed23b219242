// A binary min-heap of ids ordered by (key, seq): the scheduler's ready queue, where
// key = -priority (then -chain rank, coordinator/scheduler.ts) and seq keeps first-in-first-out
// order within a key.
export class MinHeap<T> {
  private items: { v: T; k: number; s: number }[] = [];
  get size() { return this.items.length; }
  /** The smallest key, or undefined when empty. */
  peekKey(): number | undefined { return this.items[0]?.k; }

  push(v: T, key: number, seq: number): void {
    const a = this.items;
    a.push({ v, k: key, s: seq });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      swap(a, i, p);
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0]!.v;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        swap(a, i, m);
        i = m;
      }
    }
    return top;
  }
}

/** A swap through a local: the destructuring swap ([x, y] = [y, x]) allocated an array per
 *  step in the coordinator (sampled: ~0.7 KB a task popped from a 10,000-task ready queue). */
function swap<E>(a: E[], i: number, j: number): void {
  const x = a[i]!;
  a[i] = a[j]!;
  a[j] = x;
}

function less(a: { k: number; s: number }, b: { k: number; s: number }) {
  return a.k < b.k || (a.k === b.k && a.s < b.s);
}
