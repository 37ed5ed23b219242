// Model configuration: a Llama-style decoder described with Hugging Face LlamaConfig field
// names, its validation (unknown keys are an error), and the parameter list it implies, in
// Hugging Face tensor names and [out, in] layouts so transformers can load the same weights.
import { ModelConfigError } from './errors.js';

export interface ModelConfig {
  vocab_size: number;              // >= tokenizer.vocabSize; char-level models are ~40-100
  hidden_size: number;             // d_model; must be a multiple of num_attention_heads
  num_hidden_layers: number;
  num_attention_heads: number;     // head_dim = hidden_size / heads, must be even (rotate-half RoPE)
  intermediate_size: number;       // SwiGLU width; Llama uses ~8/3 * hidden_size
  max_position_embeddings: number; // context length: longest sequence train/score/generate accept
  rms_norm_eps: number;            // 1e-5 (Llama-2 style)
  rope_theta: number;              // 10000
  tie_word_embeddings: boolean;    // true: lm_head shares model.embed_tokens.weight
}

const KEYS: Record<keyof ModelConfig, 'int' | 'number' | 'boolean'> = {
  vocab_size: 'int', hidden_size: 'int', num_hidden_layers: 'int', num_attention_heads: 'int',
  intermediate_size: 'int', max_position_embeddings: 'int', rms_norm_eps: 'number', rope_theta: 'number',
  tie_word_embeddings: 'boolean',
};

/** Checks types, ranges and consistency; returns a clean copy. Unknown keys are an error. */
export function validateConfig(raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null) throw new ModelConfigError('model config must be an object');
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!(k in KEYS)) throw new ModelConfigError(`unknown model config key "${k}"; allowed keys: ${Object.keys(KEYS).join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(KEYS)) {
    const v = obj[k];
    if (v === undefined) throw new ModelConfigError(`model config is missing "${k}"`);
    if (kind === 'boolean' ? typeof v !== 'boolean' : typeof v !== 'number' || !Number.isFinite(v) || v <= 0 ||
      (kind === 'int' && !Number.isInteger(v))) {
      throw new ModelConfigError(`model config "${k}" must be a ${kind === 'int' ? 'positive integer' : kind === 'number' ? 'positive number' : 'boolean'}, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  const c = out as unknown as ModelConfig;
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new ModelConfigError(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  }
  if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) {
    throw new ModelConfigError(`head_dim ${c.hidden_size / c.num_attention_heads} must be even for rotary embeddings; change hidden_size or num_attention_heads`);
  }
  return c;
}

export function headDim(c: ModelConfig): number {
  return c.hidden_size / c.num_attention_heads;
}

export interface ParamSpec {
  name: string;               // Hugging Face Llama tensor name
  shape: number[];            // [out, in] for projections, like torch.nn.Linear.weight
  decay: boolean;             // AdamW weight decay applies to matrices, not to norm gains
  init: 'normal' | 'ones';
}

/** Every trainable tensor, in a fixed order (the order of graph inputs and gradient outputs). */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const C = c.hidden_size, I = c.intermediate_size;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, C], decay: true, init: 'normal' }];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    specs.push({ name: p + 'input_layernorm.weight', shape: [C], decay: false, init: 'ones' });
    for (const w of ['q', 'k', 'v', 'o']) specs.push({ name: `${p}self_attn.${w}_proj.weight`, shape: [C, C], decay: true, init: 'normal' });
    specs.push({ name: p + 'post_attention_layernorm.weight', shape: [C], decay: false, init: 'ones' });
    specs.push({ name: p + 'mlp.gate_proj.weight', shape: [I, C], decay: true, init: 'normal' });
    specs.push({ name: p + 'mlp.up_proj.weight', shape: [I, C], decay: true, init: 'normal' });
    specs.push({ name: p + 'mlp.down_proj.weight', shape: [C, I], decay: true, init: 'normal' });
  }
  specs.push({ name: 'model.norm.weight', shape: [C], decay: false, init: 'ones' });
  if (!c.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocab_size, C], decay: true, init: 'normal' });
  return specs;
}

export function numParams(c: ModelConfig): number {
  return paramSpecs(c).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}
