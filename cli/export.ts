// `limolab export <checkpoint> -o DIR`: an embedded-engine checkpoint as a directory that
// transformers' from_pretrained loads (config.json, model.safetensors, tokenizer files for the
// char tokenizer). `limolab import <hf-dir> -o DIR`: the reverse, for a Hugging Face Llama the
// engine can run exactly (no biases, no GQA, default RoPE, a char-level tokenizer).
// The numerics match because the engine is HF's Llama: rotate-half RoPE with inv_freq =
// theta^(-2j/head_dim), RMSNorm x * rsqrt(mean(x^2) + eps) * gain, scores scaled by
// 1/sqrt(head_dim), SwiGLU, lm_head tied to the embeddings when tie_word_embeddings
// (test/runners/hf-interchange.test.ts checks logits within 1e-4 and greedy decoding).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError } from '../common/errors.js';
import { CharTokenizer, decodeSafetensors, Engine, validateConfig, type ModelConfig } from '../worker/engine/index.js';
import { parse } from './args.js';
import { charTokenizerFiles, charTokenizerFromHF } from './hf-tokenizer.js';

const EXPORT_USAGE = `Usage: limolab export <checkpoint-dir | checkpoint.safetensors> -o DIR [--force]

Writes an embedded-engine checkpoint (a directory from Engine.save, or one .safetensors blob
from a TRAIN/PRETRAIN artifact) as a Hugging Face model directory: config.json (LlamaConfig),
model.safetensors (weights only; optimizer state is left out), tokenizer.json,
tokenizer_config.json and generation_config.json for the char tokenizer. Then
AutoModelForCausalLM.from_pretrained(DIR) and AutoTokenizer.from_pretrained(DIR) load it.
  -o, --out DIR   directory to write (must be empty or absent unless --force)
  --force         write into a non-empty DIR, replacing files of the same names`;

const IMPORT_USAGE = `Usage: limolab import <hf-model-dir> -o DIR [--force]

Converts a Hugging Face LlamaForCausalLM directory into an embedded-engine checkpoint
(Engine.load(DIR), limolab serve DIR). The engine runs plain Llama: float32 weights,
num_key_value_heads = num_attention_heads, no attention/MLP biases, hidden_act silu, default
RoPE (no scaling), and a char-level tokenizer (PAD 0, BOS 1, EOS 2, then one id per
character, as \`limolab hf-tiny --tokenizer char\` and \`limolab export\` write). Anything else
is refused with the reason.
  -o, --out DIR   directory to write (must be empty or absent unless --force)
  --force         write into a non-empty DIR`;

function outDir(out: string | undefined, force: boolean | undefined, usage: string): string {
  if (!out) throw new SpecError(`-o DIR is required\n\n${usage}`);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new SpecError(`${out} exists and is not a directory`);
    if (readdirSync(out).length > 0 && !force) throw new SpecError(`${out} is not empty; pass --force to write into it, or choose another -o`);
  }
  mkdirSync(out, { recursive: true });
  return out;
}

async function loadEngine(path: string): Promise<Engine> {
  if (!existsSync(path)) throw new SpecError(`checkpoint ${path} does not exist; pass a directory written by Engine.save or a .safetensors checkpoint`);
  return statSync(path).isDirectory() ? Engine.load(path, { threads: 1 }) : Engine.fromBytes(new Uint8Array(readFileSync(path)), { threads: 1 });
}

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { out: { type: 'string', short: 'o' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, EXPORT_USAGE);
  if (v.help) { console.log(EXPORT_USAGE); return 0; }
  if (!p[0]) throw new SpecError(`limolab export needs a checkpoint\n\n${EXPORT_USAGE}`);
  const engine = await loadEngine(p[0]);
  try {
    const out = outDir(v.out, v.force, EXPORT_USAGE);
    await exportEngine(engine, out);
    console.log(JSON.stringify({ dir: out, params: engine.numParams(), vocab_size: engine.config.vocab_size }));
  } finally {
    await engine.dispose();
  }
  return 0;
}

/** Engine.save's layout (already LlamaConfig + HF tensor names) plus the tokenizer files. */
export async function exportEngine(engine: Engine, dir: string): Promise<void> {
  await engine.save(dir);
  const tok = engine.tokenizer;
  if (!(tok instanceof CharTokenizer)) throw new SpecError('only the char tokenizer can be exported; this checkpoint has another kind');
  for (const [name, body] of Object.entries(charTokenizerFiles(tok))) writeFileSync(join(dir, name), JSON.stringify(body, null, 2) + '\n');
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: tok.bos, eos_token_id: tok.eos, pad_token_id: tok.pad }, null, 2) + '\n');
}

export async function importMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { out: { type: 'string', short: 'o' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, IMPORT_USAGE);
  if (v.help) { console.log(IMPORT_USAGE); return 0; }
  if (!p[0]) throw new SpecError(`limolab import needs a Hugging Face model directory\n\n${IMPORT_USAGE}`);
  const engine = await importHF(p[0]);
  try {
    const out = outDir(v.out, v.force, IMPORT_USAGE);
    await engine.save(out);
    console.log(JSON.stringify({ dir: out, params: engine.numParams(), vocab_size: engine.config.vocab_size }));
  } finally {
    await engine.dispose();
  }
  return 0;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new SpecError(`cannot read ${path}: ${(err as Error).message}; is this a Hugging Face model directory?`);
  }
}

/** LlamaConfig (as transformers 4.x or 5.x writes it) -> the engine's config, or why not. */
export function engineConfigFromHF(j: Record<string, unknown>, where: string): ModelConfig {
  const no = (why: string): never => { throw new SpecError(`${where}: ${why}; the engine runs plain Llama only`); };
  if (j.model_type !== 'llama') no(`model_type is ${JSON.stringify(j.model_type)}, not "llama"`);
  const heads = j.num_attention_heads as number, hidden = j.hidden_size as number;
  if (j.num_key_value_heads !== undefined && j.num_key_value_heads !== null && j.num_key_value_heads !== heads) no(`num_key_value_heads ${String(j.num_key_value_heads)} != num_attention_heads ${heads} (grouped-query attention)`);
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== hidden / heads) no(`head_dim ${String(j.head_dim)} != hidden_size / num_attention_heads`);
  if ((j.hidden_act ?? 'silu') !== 'silu') no(`hidden_act is ${JSON.stringify(j.hidden_act)}, not silu`);
  if (j.attention_bias === true) no('attention_bias is true');
  if (j.mlp_bias === true) no('mlp_bias is true');
  if ((j.pretraining_tp ?? 1) !== 1) no(`pretraining_tp is ${String(j.pretraining_tp)}`);
  // transformers 5 writes rope_parameters {rope_theta, rope_type}; 4.x rope_theta + rope_scaling
  const rp = (j.rope_parameters ?? null) as { rope_theta?: number; rope_type?: string } | null;
  if (rp && (rp.rope_type ?? 'default') !== 'default') no(`rope_type is ${JSON.stringify(rp.rope_type)} (scaled RoPE)`);
  if (j.rope_scaling !== undefined && j.rope_scaling !== null) no('rope_scaling is set');
  const raw = {
    vocab_size: j.vocab_size, hidden_size: hidden, num_hidden_layers: j.num_hidden_layers, num_attention_heads: heads,
    intermediate_size: j.intermediate_size, max_position_embeddings: j.max_position_embeddings, rms_norm_eps: j.rms_norm_eps ?? 1e-6,
    rope_theta: rp?.rope_theta ?? j.rope_theta ?? 10000,
    tie_word_embeddings: j.tie_word_embeddings ?? false, // LlamaConfig's default
  };
  try {
    return validateConfig(raw);
  } catch (err) {
    return no((err as Error).message);
  }
}

/** Reads an HF Llama directory into an engine (weights float32, single file or sharded). */
export async function importHF(dir: string): Promise<Engine> {
  const config = engineConfigFromHF(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const tokenizer = charTokenizerFromHF(dir);
  if (tokenizer.vocabSize > config.vocab_size) throw new SpecError(`${dir}: the tokenizer has ${tokenizer.vocabSize} ids but vocab_size is ${config.vocab_size}`);
  const files = existsSync(join(dir, 'model.safetensors.index.json'))
    ? [...new Set(Object.values((readJson(join(dir, 'model.safetensors.index.json')).weight_map ?? {}) as Record<string, string>))]
    : ['model.safetensors'];
  const values: Record<string, Float32Array> = {};
  for (const f of files) {
    const path = join(dir, f);
    if (!existsSync(path)) throw new SpecError(`${path} is missing; import reads safetensors weights (save with safe_serialization=True)`);
    for (const [name, t] of decodeSafetensors(new Uint8Array(readFileSync(path)), path).tensors) values[name] = t.data;
  }
  if (config.tie_word_embeddings) delete values['lm_head.weight']; // tied: the embedding is the output projection
  const engine = await Engine.create({ config, tokenizer, seed: 0, threads: 1 });
  try {
    engine.setParameters(values);
  } catch (err) {
    await engine.dispose();
    throw new SpecError(`${dir}: ${(err as Error).message}; the weights do not match a plain Llama of this config`);
  }
  const expected = new Set(Object.keys(engine.getParameters()));
  const extra = Object.keys(values).filter((k) => !expected.has(k));
  if (extra.length > 0) {
    await engine.dispose();
    throw new SpecError(`${dir}: tensors the engine has no place for: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  }
  return engine;
}
