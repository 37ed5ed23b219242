// `limolab hf-tiny -o DIR`: a tiny, randomly initialised Hugging Face LlamaForCausalLM and a
// tokenizer trained locally with `tokenizers`, saved with save_pretrained (offline; no hub).
// Runs runners/torch/hf_tiny.py with the Python that runs the torch runner (runners/torch/python.ts).
import { spawn } from 'node:child_process';
import { SpecError } from '../common/errors.js';
import { HF_TINY, probePython, VENV_HINT } from '../runners/torch/python.js';
import { int, parse } from './args.js';

const USAGE = `Usage: limolab hf-tiny -o DIR [options]

Writes a randomly initialised LlamaForCausalLM and its tokenizer (trained here with the
tokenizers library) to DIR with save_pretrained, so that from_pretrained(DIR) works offline.
  -o, --out DIR        model directory to write
  --data DIR           also write LIMO-format train.jsonl / test.jsonl (single-digit sums)
  --tokenizer KIND     bpe (default; byte-level BPE on arithmetic text) or char (one id per
                       character: PAD 0, BOS 1, EOS 2, then the alphabet; \`limolab import\` can
                       bring such a model into the embedded engine)
  --hidden N --layers N --heads N --intermediate N --ctx N   shape (default 64, 2, 4, 176, 256)
  --vocab N            BPE vocabulary size (default 384)
  --untied             separate lm_head (default: tied to the input embeddings)
  --seed N             weights and tokenizer corpus (default 0)
  --init-std X         std of the random weights (initializer_range, default 0.02)
Python: $LIMOLAB_PYTHON, else ./.venv/bin/python, else python3; it needs torch, transformers
and tokenizers. Prints {"dir", "params", "vocab_size", "tokenizer", "data"?} as JSON.`;

export async function main(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    out: { type: 'string', short: 'o' }, data: { type: 'string' }, tokenizer: { type: 'string' }, hidden: { type: 'string' }, layers: { type: 'string' },
    heads: { type: 'string' }, intermediate: { type: 'string' }, ctx: { type: 'string' }, vocab: { type: 'string' }, untied: { type: 'boolean' },
    seed: { type: 'string' }, 'init-std': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (!v.out) throw new SpecError(`limolab hf-tiny needs -o DIR, the directory to write\n\n${USAGE}`);
  if (v.tokenizer !== undefined && v.tokenizer !== 'bpe' && v.tokenizer !== 'char') throw new SpecError(`--tokenizer must be bpe or char, got ${JSON.stringify(v.tokenizer)}`);
  const args = ['-o', v.out];
  for (const k of ['hidden', 'layers', 'heads', 'intermediate', 'ctx', 'vocab', 'seed'] as const) {
    if (v[k] === undefined) continue;
    const n = int(v[k], k, 0);
    if (!Number.isInteger(n) || n < (k === 'seed' ? 0 : 1)) throw new SpecError(`--${k} must be a ${k === 'seed' ? 'non-negative' : 'positive'} integer, got ${v[k]}`);
    args.push(`--${k}`, String(n));
  }
  if (v['init-std'] !== undefined) {
    const x = Number(v['init-std']);
    if (!(x > 0)) throw new SpecError(`--init-std must be a positive number, got ${v['init-std']}`);
    args.push('--init-std', String(x));
  }
  if (v.tokenizer) args.push('--tokenizer', v.tokenizer);
  if (v.data) args.push('--data', v.data);
  if (v.untied) args.push('--untied');
  const py = probePython(['torch', 'transformers', 'tokenizers']);
  if (!py.ok) throw new SpecError(`${py.missing}; ${VENV_HINT}`);
  return new Promise((resolve, reject) => {
    const child = spawn(py.python, [HF_TINY, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
