// Tokenizers behind one interface. CharTokenizer: one id per character of a configured
// alphabet, after three specials (PAD=0, BOS=1, EOS=2). A BPE tokenizer can implement the
// same interface later; tokenizerFromJSON is where its JSON form would be recognised.
import { TokenizerError } from './errors.js';

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  toJSON(): unknown;
}

const SPECIALS = 3; // PAD, BOS, EOS

export class CharTokenizer implements Tokenizer {
  readonly pad = 0;
  readonly bos = 1;
  readonly eos = 2;
  readonly vocabSize: number;
  private readonly chars: string[];
  private readonly ids = new Map<string, number>();

  constructor(readonly alphabet: string) {
    this.chars = Array.from(alphabet); // code points, so astral characters count once
    if (this.chars.length === 0) throw new TokenizerError('CharTokenizer alphabet is empty; pass the characters your data uses');
    this.chars.forEach((ch, i) => {
      if (this.ids.has(ch)) throw new TokenizerError(`CharTokenizer alphabet repeats ${JSON.stringify(ch)}; each character may appear once`);
      this.ids.set(ch, i + SPECIALS);
    });
    this.vocabSize = this.chars.length + SPECIALS;
  }

  /** Characters only; add bos/eos yourself where the format wants them. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const ch of text) {
      const id = this.ids.get(ch);
      if (id === undefined) {
        throw new TokenizerError(`character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).padStart(4, '0')}) is not in the tokenizer's alphabet; add it to the alphabet or clean the text`);
      }
      out.push(id);
    }
    return out;
  }

  /** Special tokens decode to nothing; ids outside the vocabulary are an error. */
  decode(ids: number[]): string {
    let s = '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      if (id >= SPECIALS) s += this.chars[id - SPECIALS];
    }
    return s;
  }

  toJSON(): { type: 'char'; alphabet: string } {
    return { type: 'char', alphabet: this.alphabet };
  }
}

export function tokenizerFromJSON(json: unknown): Tokenizer {
  const j = json as { type?: unknown; alphabet?: unknown } | null;
  if (j && j.type === 'char' && typeof j.alphabet === 'string') return new CharTokenizer(j.alphabet);
  throw new TokenizerError(`unrecognised tokenizer description ${JSON.stringify(json)?.slice(0, 200)}; expected {"type":"char","alphabet":"..."}`);
}
