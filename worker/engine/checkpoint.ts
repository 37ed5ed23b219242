// Checkpoints: safetensors (8-byte little-endian header length, JSON header, raw little-endian
// F32 data) with Hugging Face Llama tensor names, so transformers can load the weights.
// Our __metadata__ carries the format tag and version, config, tokenizer, and a sha256 of the
// data section: a wrong, truncated or corrupt file is an error, never garbage weights.
import { createHash } from 'node:crypto';
import { CheckpointError } from './errors.js';

export const FORMAT = 'limolab-llama';
export const FORMAT_VERSION = 1;

export interface NamedTensor { name: string; shape: number[]; data: Float32Array }

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string>): Uint8Array {
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const data = new Uint8Array(offset);
  let o = 0;
  for (const t of tensors) { data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o); o += t.data.byteLength; }
  header['__metadata__'] = { ...metadata, limolab_data_sha256: sha256(data) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8); // data starts 8-byte aligned
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  out.set(data, 8 + hbytes.length);
  return out;
}

export interface DecodedSafetensors { tensors: Map<string, NamedTensor>; metadata: Record<string, string> }

/** Parses and verifies a safetensors blob; `what` names it in error messages. */
export function decodeSafetensors(bytes: Uint8Array, what: string): DecodedSafetensors {
  const fail = (msg: string, cause?: unknown): never => { throw new CheckpointError(`${what}: ${msg}`, { cause }); };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes; not a safetensors file (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  if (hlen <= 0 || 8 + hlen > bytes.length) fail(`header length ${hlen} does not fit in ${bytes.length} bytes; not a safetensors file, or truncated`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen))) as Record<string, unknown>;
  } catch (err) {
    return fail('header is not valid JSON; the file is corrupt or not safetensors', err);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const data = bytes.subarray(8 + hlen);
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const tensors = new Map<string, NamedTensor>();
  const spans: [number, number][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info.dtype !== 'F32') fail(`tensor ${name} has dtype ${JSON.stringify(info.dtype)}; this engine reads F32 only (convert with torch: .float())`);
    const shape = info.shape as number[], offs = info.data_offsets as number[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name} has an invalid shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name} has invalid data_offsets`);
    const [b, e] = offs as [number, number];
    const n = shape.reduce((a, d) => a * d, 1);
    if (e - b !== 4 * n) fail(`tensor ${name}: data_offsets span ${e - b} bytes but shape ${JSON.stringify(shape)} needs ${4 * n}`);
    if (e > data.length) fail(`tensor ${name} ends at byte ${e} of a ${data.length}-byte data section; the file is truncated`);
    spans.push([b, e]);
    const copy = new Float32Array(n);
    new Uint8Array(copy.buffer).set(data.subarray(b, e)); // copy: aligned, and independent of the input buffer
    tensors.set(name, { name, shape, data: copy });
  }
  spans.sort((x, y) => x[0] - y[0]);
  let end = 0;
  for (const [b, e] of spans) { if (b !== end) fail('tensor data overlaps or leaves gaps; the header is corrupt'); end = e; }
  if (end !== data.length) fail(`data section has ${data.length} bytes but the tensors cover ${end}; the file is truncated or has trailing bytes`);
  const expected = metadata['limolab_data_sha256'];
  if (expected !== undefined && expected !== sha256(data)) fail('sha256 of the tensor data does not match the header; the file is corrupt');
  return { tensors, metadata };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
