// WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the
// commit that crosses the threshold, on the coordinator's event loop: with thousands of
// results a second that is a pause every few hundred milliseconds, and the same hot pages
// (indexes, the tasks table) copied back again and again. Here a second connection on a
// worker thread runs a PASSIVE checkpoint (it never waits for, nor blocks, the writer)
// every `everyMs` (25 ms by default); the writer's own automatic checkpoint stays on, at
// a higher threshold, as a backstop in case this thread falls behind.
// Why so often: after each complete checkpoint the writer starts the WAL again from its
// beginning, and its first commit there fsyncs the WAL (SQLite's header sync, on the event
// loop). That fsync waits for whatever the WAL gathered since the last one, so the longer
// between checkpoints, the longer the pause. Measured (commits of 35 results + 35 dispatches
// paced at 5,000 tasks/s, 16 KiB pages, 2 cores): every 100 ms, commit p99 7.6-8.7 ms and max
// 11-12 ms; every 25 ms, p99 1.5-1.8 ms and max 3-4 ms, for ~4 us more CPU per task on this
// thread (an unchanged WAL costs a checkpoint almost nothing).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

const CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: the next round tries again */ }
}, workerData.everyMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); try { db.close(); } catch {} parentPort.close(); } });
`;

export class Checkpointer {
  private worker: Worker;
  constructor(path: string, everyMs = 25) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CODE, { eval: true, workerData: { module, path, everyMs } });
    this.worker.on('error', () => { /* checkpoints fall back to SQLite's automatic ones */ });
    this.worker.unref();
  }

  stop(): void { this.worker.postMessage('stop'); }
}
