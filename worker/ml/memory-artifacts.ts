// An in-memory ArtifactIO for tests and single-process probes (worker/ml/probe.ts): the
// common MemoryArtifacts store (sha256-addressed, verified on every read) seen through the
// runner's ArtifactIO interface. Workers use the transport's store.
import type { ArtifactRef } from '../../gen/limolab/v1/task.js';
import { MemoryArtifacts as Store } from '../../common/artifacts.js';
import type { ArtifactIO } from '../runner.js';

export class MemoryArtifacts implements ArtifactIO {
  private store = new Store();
  put(role: string, bytes: Uint8Array, mediaType?: string): Promise<ArtifactRef> { return this.store.put(bytes, { role, mediaType }); }
  get(ref: ArtifactRef): Promise<Uint8Array> { return this.store.get(ref); }
  has(digest: string): Promise<boolean> { return this.store.has(digest); }
  get size(): number { return this.store.size; }
}
