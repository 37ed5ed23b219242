import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureMath500 } from '../../experiments/math/index.js';

const file = resolve(process.env.LIMO_EVAL_DIR ?? resolve(import.meta.dirname, '../../../shared/data/limo-eval'), 'math500.jsonl');
const present = existsSync(file);
if (!present) console.warn(`math500 test skipped: ${file} not found; set LIMO_EVAL_DIR to a folder holding math500.jsonl`);

describe.skipIf(!present)('MATH500 reference answers', () => {
  it('verifies >= 99% of boxed reference answers equal to `answer` and >= 99% of shuffled pairs unequal', () => {
    const r = measureMath500(file);
    expect(r.records).toBe(500);
    expect(r.shuffledPairs).toBeGreaterThan(450);
    const show = (fs: typeof r.selfFailures) => fs.map((f) => `#${f.index} ${f.extracted} vs ${f.answer} (${f.method})`).join('\n');
    expect(r.selfRate, show(r.selfFailures)).toBeGreaterThanOrEqual(0.99);
    expect(r.shuffledRate, show(r.shuffledFailures)).toBeGreaterThanOrEqual(0.99);
  });
});
