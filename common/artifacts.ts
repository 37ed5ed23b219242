// Content-addressed artifact stores. Small artifacts live in the NATS object store under
// their sha256 digest; large ones in a directory (a shared filesystem in a cluster) under
// the same digest. A reference's uri is informative only: reads go by digest, into the
// configured places, so a message can never point a worker at an arbitrary path.
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import type { ArtifactRef } from '../gen/limolab/v1/task.js';
import { IntegrityError, NotFoundError } from './errors.js';
import { DIGEST_RE, sha256Hex } from './hash.js';
import { notReady, withJetStream } from './js-retry.js';
import type { ArtifactStore } from './transport.js';

function checkDigest(ref: ArtifactRef): string {
  if (!DIGEST_RE.test(ref.digest)) throw new IntegrityError(`artifact digest ${JSON.stringify(ref.digest).slice(0, 80)} is not a sha256 hex digest; refusing to read it`);
  return ref.digest;
}

function verified(ref: ArtifactRef, bytes: Uint8Array): Uint8Array {
  const got = sha256Hex(bytes);
  if (got !== ref.digest) throw new IntegrityError(`artifact ${ref.digest.slice(0, 12)} (${ref.role}) is corrupt: its bytes hash to ${got.slice(0, 12)}`);
  return bytes;
}

/** Artifacts as files named by digest in one directory. */
export class DirArtifacts implements ArtifactStore {
  constructor(readonly dir: string) { mkdirSync(dir, { recursive: true }); }

  async put(bytes: Uint8Array, meta: { role: string; mediaType?: string }): Promise<ArtifactRef> {
    const digest = sha256Hex(bytes);
    const path = join(this.dir, digest);
    if (!existsSync(path)) {
      const tmp = `${path}.tmp-${process.pid}`;
      writeFileSync(tmp, bytes);
      renameSync(tmp, path);
    }
    return { role: meta.role, digest, size: bytes.length, uri: `file://${path}`, mediaType: meta.mediaType ?? 'application/octet-stream' };
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const path = join(this.dir, checkDigest(ref));
    if (!existsSync(path)) throw new NotFoundError(`artifact ${ref.digest.slice(0, 12)} (${ref.role}) is not in ${this.dir}; in a cluster, --artifact-dir must be a filesystem every worker shares`);
    return verified(ref, readFileSync(path));
  }

  async has(digest: string): Promise<boolean> { return DIGEST_RE.test(digest) && existsSync(join(this.dir, digest)); }
}

/** Artifacts in a NATS object store; ones above maxObjectBytes go to a directory. Reads and
 * writes wait (bounded) while the bucket's stream has no leader, e.g. for the seconds after
 * a server of a cluster went away, instead of failing the task. */
export class ObjectStoreArtifacts implements ArtifactStore {
  private dir?: DirArtifacts;
  constructor(private os: ObjectStore, private bucket: string, artifactDir?: string, private maxObjectBytes = 256 * 1024 * 1024) {
    if (artifactDir) this.dir = new DirArtifacts(artifactDir);
  }

  async put(bytes: Uint8Array, meta: { role: string; mediaType?: string }): Promise<ArtifactRef> {
    if (bytes.length > this.maxObjectBytes && this.dir) return this.dir.put(bytes, meta);
    const digest = sha256Hex(bytes);
    await withJetStream(`storing artifact ${digest.slice(0, 12)}`, async () => {
      const info = await this.os.info(digest).catch((err: unknown) => { if (notReady(err)) throw err; return null; });
      if (!info) await this.os.putBlob({ name: digest }, bytes);
    });
    return { role: meta.role, digest, size: bytes.length, uri: `nats-obj://${this.bucket}/${digest}`, mediaType: meta.mediaType ?? 'application/octet-stream' };
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const digest = checkDigest(ref);
    if (ref.uri.startsWith('file://')) {
      if (!this.dir) throw new NotFoundError(`artifact ${digest.slice(0, 12)} is stored as a file but this process has no --artifact-dir`);
      return this.dir.get(ref);
    }
    const bytes = await withJetStream(`reading artifact ${digest.slice(0, 12)}`, () => this.os.getBlob(digest));
    if (!bytes) throw new NotFoundError(`artifact ${digest.slice(0, 12)} (${ref.role}) is not in object store ${this.bucket}`);
    return verified(ref, bytes);
  }

  async has(digest: string): Promise<boolean> {
    return DIGEST_RE.test(digest) && !!(await this.os.info(digest).catch(() => null));
  }
}

/** Artifacts in this process's memory, by sha256 digest; copies in, copies out. */
export class MemoryArtifacts implements ArtifactStore {
  private blobs = new Map<string, Uint8Array>();

  async put(bytes: Uint8Array, meta: { role: string; mediaType?: string }): Promise<ArtifactRef> {
    const digest = sha256Hex(bytes);
    if (!this.blobs.has(digest)) this.blobs.set(digest, Uint8Array.prototype.slice.call(bytes));
    return { role: meta.role, digest, size: bytes.length, uri: `mem://${digest}`, mediaType: meta.mediaType ?? 'application/octet-stream' };
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const digest = checkDigest(ref);
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new NotFoundError(`artifact ${digest.slice(0, 12)} (${ref.role}) is not in this process's memory; in-process artifacts do not outlive the run that made them`);
    return verified(ref, bytes).slice();
  }

  async has(digest: string): Promise<boolean> { return DIGEST_RE.test(digest) && this.blobs.has(digest); }

  /** How many distinct artifacts it holds. */
  get size(): number { return this.blobs.size; }
}
