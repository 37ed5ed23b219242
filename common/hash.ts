// Content addressing and stable identifiers: sha256 digests, canonical JSON (sorted
// keys) for config hashes, and short random ids.
import { createHash, randomBytes } from 'node:crypto';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function configHash(...parts: unknown[]): string {
  return sha256Hex(canonicalJson(parts));
}

/** A sortable, URL- and NATS-subject-safe id: time prefix plus randomness. */
export function newId(prefix: string): string {
  const t = Date.now().toString(36).padStart(9, '0');
  return `${prefix}-${t}${randomBytes(5).toString('hex')}`;
}

export const DIGEST_RE = /^[0-9a-f]{64}$/;
