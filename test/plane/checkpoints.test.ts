// The coordinator's background checkpoints (coordinator/store/checkpointer.ts): a second
// connection on a worker thread checkpoints the WAL every 25 ms, so once the writes pause the
// writer starts the WAL again from its beginning, instead of the WAL growing to SQLite's own
// threshold (16 MB here) where the writer checkpoints inside a commit, on the event loop.
// A restart is read from the WAL header: its checkpoint sequence number (bytes 12-15, SQLite's
// file format) goes up by one each time.
import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../coordinator/store/sqlite-store.js';
import type { TaskRow } from '../../coordinator/store/store.js';

/** The WAL header's checkpoint sequence number. */
function walSequence(path: string): number {
  const fd = openSync(`${path}-wal`, 'r');
  try { const b = Buffer.alloc(16); readSync(fd, b, 0, 16, 0); return b.readUInt32BE(12); } finally { closeSync(fd); }
}

/** Commits `waves` batches of 35 results (each with its task's update) in bursts of 10 back to
 *  back, 100 ms apart, and returns how many times the WAL started again from its beginning. */
async function walRestarts(backgroundCheckpoints: boolean, waves: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'limolab-ckpt-'));
  const path = join(dir, 'r.db');
  const st = new SqliteStore(path, { backgroundCheckpoints });
  try {
    const now = Date.now(), sw = 'sw-ckpt', n = waves * 35;
    const tasks: TaskRow[] = Array.from({ length: n }, (_, i) => ({
      id: `${sw}.${i.toString(36).padStart(6, '0')}`, sweepId: sw, arm: 'a', seed: 0, name: `t/${i}`, kind: 'diag', phase: 'diag', pool: 'default',
      status: 'queued', priority: 0, taskProto: 'A'.repeat(200), deps: [], cacheKey: `k${i}`, maxRetries: 0, dispatches: 1, nextDispatchMs: null,
      workerId: null, createdMs: now, startedMs: null, finishedMs: null, error: null, reusedFrom: null, arms: ['a|0'],
    }));
    st.createSweep({ id: sw, name: 'ckpt', status: 'running', priority: 0, specText: '', specJson: '{}', createdMs: now, finishedMs: null, error: null }, [], tasks, new Map());
    const ledger = { flops: 1, tokensPrompt: 0, tokensGenerated: 0, tokensTrained: 0, wallS: 0.001, deviceKind: 'cpu', deviceS: 0, params: 0, curatedExamples: 0 };
    const first = walSequence(path);
    for (let w = 0; w < waves; w++) {
      const wave = tasks.slice(w * 35, (w + 1) * 35);
      st.apply({
        attempts: wave.map((t) => ({ id: `${t.id}#1.1`, taskId: t.id, sweepId: sw, dispatch: 1, delivery: 1, workerId: 'w', status: 'succeeded' as const, startedMs: now, finishedMs: now, error: null, errorCode: null })),
        results: wave.map((t) => ({ taskId: t.id, sweepId: sw, attemptId: `${t.id}#1.1`, phase: 'diag', outputs: [], details: { pad: 'x'.repeat(2000) }, metrics: [{ name: 'm', value: w, step: 0 }], ledger, reused: false, createdMs: now })),
        tasks: wave.map((t) => ({ id: t.id, status: 'succeeded' as const, dispatches: 1, nextDispatchMs: null, workerId: 'w', startedMs: now, finishedMs: now, error: null, reusedFrom: null })),
      });
      if (w % 10 === 9) await new Promise((r) => setTimeout(r, 100));
    }
    expect(st.resultCount(sw)).toBe(n);
    return walSequence(path) - first;
  } finally {
    st.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('background WAL checkpoints', () => {
  it('start the WAL again after a burst of commits, where the writer alone waits for its 16 MB threshold', async () => {
    // ~270 KB of WAL per commit (16 KiB pages): 100 commits in 10 bursts write ~27 MB.
    const alone = await walRestarts(false, 100);
    const withThread = await walRestarts(true, 100);
    expect(alone).toBeLessThanOrEqual(2);
    expect(withThread).toBeGreaterThanOrEqual(6);
  });
});
