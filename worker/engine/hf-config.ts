// config.json in Hugging Face LlamaConfig form (so transformers' LlamaForCausalLM can load
// the directory), plus our format tag, version and tokenizer. Reading accepts the LlamaConfig
// keys transformers writes, checks those that would change the architecture, and rejects
// anything else with the key's name.
import { type ModelConfig, validateConfig } from './config.js';
import { CheckpointError, ModelConfigError } from './errors.js';
import { FORMAT, FORMAT_VERSION } from './checkpoint.js';
import type { Tokenizer } from './tokenizer.js';

const MODEL_KEYS = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
  'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings'] as const;

/** Keys transformers may add that do not change the computation (checked ones are in REQUIRED). */
const IGNORED = new Set(['architectures', 'model_type', 'torch_dtype', 'dtype', 'transformers_version', 'use_cache',
  'initializer_range', 'pretraining_tp', 'attention_dropout', 'bos_token_id', 'eos_token_id', 'pad_token_id',
  'rope_scaling', 'tokenizer', 'limolab_format', 'limolab_format_version', '_name_or_path']);
const REQUIRED: Record<string, (c: ModelConfig, v: unknown) => boolean> = {
  num_key_value_heads: (c, v) => v === c.num_attention_heads,
  head_dim: (c, v) => v === c.hidden_size / c.num_attention_heads,
  hidden_act: (_c, v) => v === 'silu',
  attention_bias: (_c, v) => v === false,
  mlp_bias: (_c, v) => v === false,
};

export function toHFConfig(c: ModelConfig, tokenizer: Tokenizer): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    ...c,
    num_key_value_heads: c.num_attention_heads, head_dim: c.hidden_size / c.num_attention_heads,
    hidden_act: 'silu', attention_bias: false, mlp_bias: false, rope_scaling: null,
    bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad,
    torch_dtype: 'float32', initializer_range: 0.02, use_cache: true,
    limolab_format: FORMAT, limolab_format_version: FORMAT_VERSION,
    tokenizer: tokenizer.toJSON(),
  };
}

export function fromHFConfig(json: unknown, where: string): { config: ModelConfig; tokenizerJSON: unknown } {
  if (typeof json !== 'object' || json === null) throw new CheckpointError(`${where}: config is not a JSON object`);
  const j = json as Record<string, unknown>;
  checkFormat(j['limolab_format'], j['limolab_format_version'], where);
  const model: Record<string, unknown> = {};
  for (const k of MODEL_KEYS) model[k] = j[k];
  let config: ModelConfig;
  try {
    config = validateConfig(model);
  } catch (err) {
    throw new CheckpointError(`${where}: ${(err as Error).message}`, { cause: err });
  }
  for (const [k, v] of Object.entries(j)) {
    if ((MODEL_KEYS as readonly string[]).includes(k) || IGNORED.has(k)) continue;
    const check = REQUIRED[k];
    if (!check) throw new ModelConfigError(`${where}: unknown config key "${k}"; this engine implements plain Llama (no GQA, biases or rope scaling)`);
    if (!check(config, v)) throw new ModelConfigError(`${where}: ${k}=${JSON.stringify(v)} is not supported by this engine`);
  }
  if (j['rope_scaling'] !== undefined && j['rope_scaling'] !== null) throw new ModelConfigError(`${where}: rope_scaling is not supported`);
  return { config, tokenizerJSON: j['tokenizer'] };
}

export function checkFormat(format: unknown, version: unknown, where: string): void {
  if (format !== FORMAT) {
    throw new CheckpointError(`${where}: not a ${FORMAT} checkpoint (limolab_format=${JSON.stringify(format)}); save it with limolab's Engine.save or toBytes`);
  }
  if (Number(version) !== FORMAT_VERSION) {
    throw new CheckpointError(`${where}: checkpoint format version ${JSON.stringify(version)} is not supported (this engine reads version ${FORMAT_VERSION}); upgrade limolab or re-export`);
  }
}
