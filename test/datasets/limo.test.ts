import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getTemplate, LimoDatasetError, loadEvalSet, loadLimoJsonl, loadTrainingPool, renderExample, renderPrompt } from '../../experiments/datasets/index.js';

const dir = process.env.LIMO_EVAL_DIR ?? resolve(import.meta.dirname, '../../../shared/data/limo-eval');
const present = existsSync(join(dir, 'math500.jsonl'));
if (!present) console.warn(`LIMO dataset tests skipped: ${dir} not found; set LIMO_EVAL_DIR`);

describe.skipIf(!present)('LIMO-format files from ../shared/data/limo-eval', () => {
  it.each([
    ['aime24.jsonl', 30, true],
    ['amc23.jsonl', 40, false],
    ['math500.jsonl', 500, true],
    ['minerva.jsonl', 272, false],
    ['olympiadbench.jsonl', 675, false],
  ] as const)('loads %s as an evaluation set of %i records', (file, n, solutions) => {
    const recs = loadEvalSet(join(dir, file));
    expect(recs).toHaveLength(n);
    for (const r of recs) {
      expect(r.problem.length).toBeGreaterThan(10);
      expect(r.answer).not.toBe('');
      expect(r.source).toMatch(new RegExp(`${file}:\\d+$`));
    }
    expect(recs.every((r) => r.solution !== undefined)).toBe(solutions);
    expect(new Set(recs.map((r) => r.id)).size).toBe(n);
  });

  it('maps each file\'s field names', () => {
    const amc = loadEvalSet(join(dir, 'amc23.jsonl'));
    expect(amc[0]).toMatchObject({ id: '0', answer: '27' });
    expect(amc[0]!.meta.url).toMatch(/artofproblemsolving/);
    const minerva = loadEvalSet(join(dir, 'minerva.jsonl'));
    expect(minerva[0]!.problem).toMatch(/Magellan/);
    expect(minerva[0]!.id).toBe('1'); // no id field: the line number
    const math = loadEvalSet(join(dir, 'math500.jsonl'));
    expect(math[0]!.meta).toMatchObject({ subject: expect.any(String), level: expect.any(Number) });
    expect(math[0]!.id).toMatch(/^test\//);
  });

  it('loads a file with solutions as a training pool and refuses one without', () => {
    expect(loadTrainingPool(join(dir, 'math500.jsonl'))).toHaveLength(500);
    expect(() => loadTrainingPool(join(dir, 'olympiadbench.jsonl'))).toThrow(/olympiadbench\.jsonl:1: no "solution"/);
  });
});

describe('malformed LIMO lines', () => {
  async function file(text: string): Promise<string> {
    const p = join(await mkdtemp(join(tmpdir(), 'limo-')), 'bad.jsonl');
    await writeFile(p, text);
    return p;
  }
  it.each([
    ['{"problem":"p","answer":"1"}\n{"problem": "q", "answer": \n', /bad\.jsonl:2: not valid JSON/],
    ['{"problem":"p","answer":"1"}\n\n[1,2]\n', /bad\.jsonl:3: expected a JSON object, got an array/],
    ['{"answer":"1","text":"x"}\n', /bad\.jsonl:1: no problem text.*the object has 2 field\(s\)/],
    ['{"question":"q"}\n', /bad\.jsonl:1: no "answer"/],
    ['{"question":"q","answer":{"x":1}}\n', /bad\.jsonl:1: "answer" must be a string or a number/],
    ['{"id":1,"question":"q","answer":"1"}\n{"id":1,"question":"r","answer":"2"}\n', /bad\.jsonl:2: duplicate id \(the same as .*bad\.jsonl:1\)/],
    ['\n\n', /no records/],
  ])('reports file:line and the problem for %j', async (text, re) => {
    const p = await file(text);
    const err = (() => {
      try {
        loadLimoJsonl(p);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LimoDatasetError);
    expect((err as Error).message).toMatch(re);
  });
});

describe('prompt templates', () => {
  it('renders plain, ChatML/Qwen and Llama-3 prompts and training examples', () => {
    expect(renderPrompt(getTemplate('plain'), 'What is $1+1$?')).toBe('Problem: What is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}.\nSolution: ');
    const chatml = renderPrompt(getTemplate('qwen'), 'Q $&');
    expect(chatml).toBe('<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nQ $&\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n');
    const ex = renderExample(getTemplate('llama3'), 'Q', 'so \\boxed{2}');
    expect(ex.prompt.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n')).toBe(true);
    expect(ex.prompt.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    expect(ex.completion).toBe('so \\boxed{2}<|eot_id|>');
    expect(() => getTemplate('vicuna')).toThrow(/unknown prompt template "vicuna"; known: plain, chatml, llama3, qwen/);
  });
});
