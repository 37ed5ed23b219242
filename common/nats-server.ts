// Starts a real nats-server with JetStream on loopback: used by `limolab run` (the
// embedded default) and by the integration tests. Binds 127.0.0.1 only, a free port,
// its own store dir; stop() kills it and (optionally) removes the dir.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError } from './errors.js';

export const NATS_INSTALL_HINT =
  'nats-server not found on PATH; install it with `apt-get install -y nats-server`, or pass --nats nats://host:4222';

export function findNatsServer(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  pid: number;
  stop(opts?: { removeStore?: boolean }): Promise<void>;
  /** SIGKILL, as if the machine went away. */
  kill(): void;
}

export async function startNatsServer(opts: { storeDir?: string; port?: number; logFile?: string } = {}): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  if (!bin) throw new ConnectionError(NATS_INSTALL_HINT);
  const port = opts.port ?? (await freePort());
  const ownDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'limolab-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
  if (opts.logFile) args.push('-l', opts.logFile);
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await canConnect(port)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (child.exitCode !== null || !(await canConnect(port))) {
    child.kill('SIGKILL');
    throw new ConnectionError(`nats-server did not start on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pid: child.pid!,
    kill: () => { child.kill('SIGKILL'); },
    async stop({ removeStore = ownDir } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      if (removeStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
