// Loaders for LIMO-format JSON lines (the LIMO release's eval/data/<name>/test.jsonl and its
// training set): one object per line with the problem under "problem" or "question", an
// optional worked "solution", and the final "answer" (string or number). Any malformed line
// fails the whole load with file:line and what is wrong, but never with the file's text: a
// path that points somewhere it should not must not echo what it read into a task error.
import { LimolabError } from '../../common/errors.js';
import { readFileSync } from 'node:fs';

export interface LimoRecord {
  /** `id` or `unique_id` from the file, else the 1-based line number. */
  id: string;
  problem: string;
  solution?: string;
  /** Always a string: numbers such as AMC's 27.0 become "27". */
  answer: string;
  /** "file:line" of the record, for error messages and provenance. */
  source: string;
  /** Other fields (subject, level, url, ...). */
  meta: Record<string, unknown>;
}

export class LimoDatasetError extends LimolabError {
  override name = 'LimoDatasetError';
}

export interface LoadOptions {
  /** Fail on records without a solution (training pools need one). Default false. */
  requireSolution?: boolean;
  /** Fail on records without an answer. Default true. */
  requireAnswer?: boolean;
  /** Stop after this many records. */
  limit?: number;
}

const KNOWN = new Set(['id', 'unique_id', 'problem', 'question', 'solution', 'answer']);

function answerString(v: unknown): string | null {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v); // 27.0 -> "27", 0.5 -> "0.5"
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(', ');
  return null;
}

export function parseLimoLine(line: string, where: string, opts: LoadOptions = {}): LimoRecord {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    // V8's message quotes the text it choked on: not repeated here.
    throw new LimoDatasetError(`${where}: not valid JSON; each line must be one JSON object`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new LimoDatasetError(`${where}: expected a JSON object, got ${Array.isArray(obj) ? 'an array' : typeof obj}`);
  const o = obj as Record<string, unknown>;
  const problem = o.problem ?? o.question;
  if (typeof problem !== 'string' || problem.trim() === '') {
    throw new LimoDatasetError(`${where}: no problem text: expected a non-empty string field "problem" or "question" (the object has ${Object.keys(o).length} field(s), none of them a non-empty "problem" or "question")`);
  }
  if (o.solution !== undefined && typeof o.solution !== 'string') throw new LimoDatasetError(`${where}: "solution" must be a string, got ${typeof o.solution}`);
  if (opts.requireSolution && (typeof o.solution !== 'string' || o.solution.trim() === '')) {
    throw new LimoDatasetError(`${where}: no "solution": a training pool needs a worked solution on every line`);
  }
  const answer = o.answer === undefined ? null : answerString(o.answer);
  if (o.answer !== undefined && answer === null) throw new LimoDatasetError(`${where}: "answer" must be a string or a number, got ${o.answer === null ? 'null' : Array.isArray(o.answer) ? 'an array of other things' : typeof o.answer}`);
  if ((opts.requireAnswer ?? true) && (answer === null || answer === '')) throw new LimoDatasetError(`${where}: no "answer": an evaluation set needs the final answer on every line`);
  const rawId = o.id ?? o.unique_id;
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!KNOWN.has(k)) meta[k] = v;
  if (typeof o.question === 'string' && typeof o.problem === 'string' && o.question !== o.problem) meta.question = o.question;
  return {
    id: rawId === undefined || rawId === null ? where.slice(where.lastIndexOf(':') + 1) : String(rawId),
    problem,
    ...(typeof o.solution === 'string' ? { solution: o.solution } : {}),
    answer: answer ?? '',
    source: where,
    meta,
  };
}

export function parseLimoJsonl(text: string, file: string, opts: LoadOptions = {}): LimoRecord[] {
  const out: LimoRecord[] = [];
  const lines = text.split('\n');
  const ids = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const rec = parseLimoLine(line, `${file}:${i + 1}`, opts);
    const dup = ids.get(rec.id);
    if (dup !== undefined) throw new LimoDatasetError(`${rec.source}: duplicate id (the same as ${dup}); ids must be unique within a file`);
    ids.set(rec.id, rec.source);
    out.push(rec);
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  if (out.length === 0) throw new LimoDatasetError(`${file}: no records; expected JSON lines with "problem"/"question" and "answer"`);
  return out;
}

export function loadLimoJsonl(path: string, opts: LoadOptions = {}): LimoRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LimoDatasetError(`cannot read dataset ${path}: ${(err as Error).message}`);
  }
  return parseLimoJsonl(text, path, opts);
}

/** A training pool: every record needs a solution (the answer may be absent). */
export function loadTrainingPool(path: string, opts: Omit<LoadOptions, 'requireSolution'> = {}): LimoRecord[] {
  return loadLimoJsonl(path, { requireAnswer: false, ...opts, requireSolution: true });
}

/** An evaluation set: every record needs a problem and an answer. */
export function loadEvalSet(path: string, opts: Omit<LoadOptions, 'requireAnswer'> = {}): LimoRecord[] {
  return loadLimoJsonl(path, { ...opts, requireAnswer: true });
}
