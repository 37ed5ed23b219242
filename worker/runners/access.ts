// What a worker may touch on behalf of a task, whoever submitted the sweep: dataset and
// model files only under its data roots (checked after resolving symlinks), and external
// endpoints only under the URL prefixes its operator allowed. Deny by default: a worker
// reads under its working directory and calls no endpoint unless started with
// --data-root / --allow-endpoint (or LIMOLAB_DATA_ROOT / LIMOLAB_ALLOW_ENDPOINT).
import { realpath } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { delimiter, resolve, sep } from 'node:path';
import { BadTaskInputError } from '../runner.js';

export interface WorkerAccess {
  /** Directories (absolute, symlinks resolved) under which task-named files may be read. */
  dataRoots: string[];
  /** URL prefixes (origin + path prefix) a task's base_url may point under. */
  allowEndpoints: string[];
}

/** A task named a file or endpoint this worker's operator did not allow. Not retryable. */
export class AccessDeniedError extends BadTaskInputError {
  override name = 'AccessDeniedError';
}

/** Validates and normalizes an operator's settings; throws on a root that does not exist or a bad prefix. */
export function makeAccess(opts: { dataRoots?: string[]; allowEndpoints?: string[] } = {}, cwd = process.cwd()): WorkerAccess {
  const roots = (opts.dataRoots && opts.dataRoots.length > 0 ? opts.dataRoots : [cwd]).map((r) => {
    try {
      return realpathSync(resolve(cwd, r));
    } catch (err) {
      throw new Error(`--data-root ${JSON.stringify(r)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}; name an existing directory`);
    }
  });
  const endpoints = (opts.allowEndpoints ?? []).map((p) => {
    let u: URL;
    try { u = new URL(p); } catch { throw new Error(`--allow-endpoint ${JSON.stringify(p)} is not a URL; give a prefix such as http://10.0.0.5:8000/v1`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--allow-endpoint ${JSON.stringify(p)} must be an http(s) URL`);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  });
  return { dataRoots: [...new Set(roots)], allowEndpoints: [...new Set(endpoints)] };
}

/** Settings from LIMOLAB_DATA_ROOT (path-list, like PATH) and LIMOLAB_ALLOW_ENDPOINT (comma-separated). */
export function accessFromEnv(env = process.env, cwd = process.cwd()): WorkerAccess {
  const list = (v: string | undefined, by: string) => (v ?? '').split(by).map((s) => s.trim()).filter(Boolean);
  return makeAccess({ dataRoots: list(env.LIMOLAB_DATA_ROOT, delimiter), allowEndpoints: list(env.LIMOLAB_ALLOW_ENDPOINT, ',') }, cwd);
}

const under = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * The real path of a task-named file or directory, proven to lie under a data root. Errors
 * name the path as the task gave it, never what it resolves to or what it contains.
 */
export async function resolveDataPath(path: string, access: WorkerAccess, what = 'dataset'): Promise<string> {
  const hint = `put it under a data root of this worker (${access.dataRoots.join(', ')}) or start the worker with --data-root DIR`;
  const abs = resolve(path);
  const lexicallyInside = access.dataRoots.some((r) => under(abs, r));
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    // Outside the roots, a missing file and an existing one get the same answer.
    if (!lexicallyInside) throw new AccessDeniedError(`${what} path ${JSON.stringify(path)} is outside this worker's data roots; ${hint}`);
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadTaskInputError(`cannot read ${what} ${path} on this worker: ${code === 'ENOENT' ? 'no such file' : code ?? 'unreadable'}; ${what} paths are read from the worker's filesystem`);
  }
  if (!access.dataRoots.some((r) => under(real, r))) {
    throw new AccessDeniedError(`${what} path ${JSON.stringify(path)} ${lexicallyInside ? 'resolves (through a symlink) to a file outside' : 'is outside'} this worker's data roots; ${hint}`);
  }
  return real;
}

/** Refuses a base_url that is not under one of the worker's allowed endpoint prefixes. */
export function checkEndpoint(baseUrl: string, access: WorkerAccess): void {
  let u: URL;
  try { u = new URL(baseUrl); } catch { throw new BadTaskInputError(`model_ref.base_url ${JSON.stringify(baseUrl)} is not a URL`); }
  const target = `${u.origin}${u.pathname}`;
  const ok = !u.username && !u.password && access.allowEndpoints.some((p) => {
    const origin = new URL(p).origin;
    // Same origin (scheme, host, port: no http://host.evil.example), then a path prefix at a '/'.
    return u.origin === origin && (target === p || target.startsWith(`${p}/`));
  });
  if (!ok) {
    throw new AccessDeniedError(`model_ref.base_url ${u.origin}${u.pathname} is not an endpoint this worker may call (${access.allowEndpoints.length ? `allowed: ${access.allowEndpoints.join(', ')}` : 'none allowed'}); ` +
      `start the worker with --allow-endpoint ${u.origin}${u.pathname.replace(/\/+$/, '')} (or LIMOLAB_ALLOW_ENDPOINT) if it should`);
  }
}
