// Provenance of a sweep: which limolab code and runtime planned it (git commit of this
// checkout, package version, Node version, the coordinator's host). Read once per process:
// `git rev-parse` costs a child process, and the code does not change under a running one.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Provenance { gitCommit: string; limolabVersion: string; nodeVersion: string; coordinatorHost: string }

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
let cached: Provenance | undefined;

/** The limolab version from package.json ("unknown" when it cannot be read). */
export function limolabVersion(): string {
  try { return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown'; } catch { return 'unknown'; }
}

export function provenance(): Provenance {
  if (cached) return cached;
  let gitCommit = '';
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // Uncommitted changes make the commit an approximation: say so rather than mislead.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty) gitCommit += '-dirty';
  } catch { /* not a git checkout (an npm install): the version names the code */ }
  cached = { gitCommit, limolabVersion: limolabVersion(), nodeVersion: process.version, coordinatorHost: hostname() };
  return cached;
}
