// An in-memory ArtifactIO: bytes stored under their sha256, the digest verified on every
// read. For tests and single-process probes (worker/ml/probe.ts); workers use the NATS store.
import { createHash } from 'node:crypto';
import type { ArtifactRef } from '../../gen/limolab/v1/task.js';
import type { ArtifactIO } from '../runner.js';

export class MemoryArtifacts implements ArtifactIO {
  readonly blobs = new Map<string, Uint8Array>();

  async put(role: string, bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<ArtifactRef> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(digest, bytes.slice());
    return { role, digest, size: bytes.length, uri: `mem://${digest}`, mediaType };
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    const bytes = this.blobs.get(ref.digest);
    if (!bytes) throw new Error(`artifact ${ref.digest} is not in the memory store; put it first`);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== ref.digest) throw new Error(`artifact ${ref.digest} is corrupt (sha256 is ${actual})`);
    return bytes.slice();
  }
}
