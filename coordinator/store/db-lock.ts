// One writer per results database: a lock file beside it (<db>.lock) naming the process
// that holds it. Two coordinators (or two `limolab run`s) writing one SQLite file would
// each keep their own in-memory view of the same sweeps and overwrite each other's
// progress; the second one is refused with a message naming the first. A lock left by a
// process that died (SIGKILL) is taken over when that pid is gone on this host.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { LimolabError } from '../../common/errors.js';

export interface DbLock { path: string; release(): void }

interface Holder { pid: number; host: string; what: string; sinceMs: number }

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as { code?: string }).code === 'EPERM'; }
}

/** Takes <file>.lock for `what` (e.g. "limolab run"); throws LimolabError when another live process holds it. */
export function lockFile(file: string, what: string): DbLock {
  const path = `${file}.lock`;
  const me: Holder = { pid: process.pid, host: hostname(), what, sinceMs: Date.now() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try { if ((JSON.parse(readFileSync(path, 'utf8')) as Holder).pid === me.pid) rmSync(path, { force: true }); } catch { /* already gone */ }
      };
      process.once('exit', release);
      return { path, release };
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw new LimolabError(`cannot create the lock file ${path}: ${(err as Error).message}`, { cause: err });
    }
    let holder: Holder | null = null;
    try { holder = JSON.parse(readFileSync(path, 'utf8')) as Holder; } catch { /* half-written or just removed: look again */ }
    if (holder && holder.host === me.host && holder.pid !== me.pid && !alive(holder.pid)) { rmSync(path, { force: true }); continue; }
    if (holder) {
      throw new LimolabError(`${file} is in use by ${holder.what} (pid ${holder.pid} on ${holder.host}, since ${new Date(holder.sinceMs).toISOString()}); `
        + `one process writes a results database at a time: wait for it to finish, stop it, or pass --db to use another file`
        + (holder.host !== me.host ? ` (if that process is gone, delete ${path})` : ''));
    }
    // Unreadable: a writer is between open and write; give it a moment.
    const until = Date.now() + 50;
    while (Date.now() < until) { /* spin briefly: this is start-up only */ }
  }
  throw new LimolabError(`cannot take the lock ${path}: it keeps changing; is another coordinator starting on ${file}?`);
}
