// The engine's char tokenizer in Hugging Face form, both ways: tokenizer.json (a `tokenizers`
// BPE with no merges, so one token per character, Fuse decoder, BOS prepended by the
// post-processor) + tokenizer_config.json, and back from such files to a CharTokenizer.
// Special tokens are named <|pad|>, <|bos|>, <|eos|>: text containing those exact strings is
// read as the special token by HF tokenizers (and as characters by the engine).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError } from '../common/errors.js';
import { CharTokenizer } from '../worker/engine/index.js';

export const SPECIAL_NAMES = ['<|pad|>', '<|bos|>', '<|eos|>'] as const;

export function charTokenizerFiles(tok: CharTokenizer): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  SPECIAL_NAMES.forEach((n, i) => { vocab[n] = i; });
  Array.from(tok.alphabet).forEach((ch, i) => { vocab[ch] = i + 3; });
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = SPECIAL_NAMES[1];
  return {
    'tokenizer.json': {
      version: '1.0', truncation: null, padding: null,
      added_tokens: SPECIAL_NAMES.map((n, i) => special(n, i)),
      normalizer: null, pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
        special_tokens: { [bos]: { id: bos, ids: [tok.bos], tokens: [bos] } },
      },
      decoder: { type: 'Fuse' },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
    },
    'tokenizer_config.json': {
      tokenizer_class: 'PreTrainedTokenizerFast', pad_token: SPECIAL_NAMES[0], bos_token: SPECIAL_NAMES[1], eos_token: SPECIAL_NAMES[2],
      model_max_length: 1_000_000, clean_up_tokenization_spaces: false,
    },
  };
}

/** A CharTokenizer from an HF directory whose tokenizer is character-level with PAD/BOS/EOS at 0/1/2, or why not. */
export function charTokenizerFromHF(dir: string): CharTokenizer {
  const path = join(dir, 'tokenizer.json');
  const no = (why: string): never => {
    throw new SpecError(`${path}: ${why}. The engine's tokenizer is one id per character after PAD 0, BOS 1, EOS 2 (limolab hf-tiny --tokenizer char writes one); a subword tokenizer cannot be imported`);
  };
  if (!existsSync(path)) no('missing (only fast tokenizers, tokenizer.json, are read)');
  const j = JSON.parse(readFileSync(path, 'utf8')) as {
    model?: { type?: string; vocab?: Record<string, number> | [string, number][]; merges?: unknown[] };
    normalizer?: unknown; pre_tokenizer?: unknown; added_tokens?: { id: number; content: string }[];
  };
  const m = j.model ?? {};
  if (!(m.type === 'BPE' && (m.merges ?? []).length === 0) && m.type !== 'WordLevel') no(`model is ${m.type}${m.type === 'BPE' ? ` with ${(m.merges ?? []).length} merges` : ''}, not character-level`);
  if (j.normalizer) no('it has a normalizer (the engine maps characters as they are)');
  if (j.pre_tokenizer) no('it has a pre-tokenizer (the engine maps characters as they are)');
  const byId = new Map<number, string>();
  const vocab = Array.isArray(m.vocab) ? Object.fromEntries(m.vocab) : (m.vocab ?? {});
  for (const [t, id] of Object.entries(vocab)) byId.set(id, t);
  for (const a of j.added_tokens ?? []) byId.set(a.id, a.content);
  const cfg = existsSync(join(dir, 'tokenizer_config.json')) ? JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown> : {};
  const name = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | null)?.content);
  const roles = [['pad', name(cfg.pad_token)], ['bos', name(cfg.bos_token)], ['eos', name(cfg.eos_token)]] as const;
  roles.forEach(([role, tokName], i) => {
    if (tokName !== undefined && byId.get(i) !== tokName) no(`id ${i} is ${JSON.stringify(byId.get(i))}, but ${role}_token is ${JSON.stringify(tokName)}; the engine needs ${role} at id ${i}`);
  });
  const chars: string[] = [];
  for (let id = 3; id < byId.size; id++) {
    const t = byId.get(id);
    if (t === undefined) no(`ids are not contiguous (no token ${id})`);
    if (Array.from(t!).length !== 1) no(`token ${id} is ${JSON.stringify(t)}, more than one character`);
    chars.push(t!);
  }
  if (chars.length === 0) no('it has no character tokens');
  return new CharTokenizer(chars.join(''));
}
