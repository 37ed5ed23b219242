// Test helper for the chaos scenarios that need nats-server started from a config file
// (permissions, a 3-node cluster with routes): writes the file, starts the server on
// loopback, waits for its client port, and kills or stops it on request.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { findNatsServer, NATS_INSTALL_HINT, type NatsServerHandle } from '../../common/nats-server.js';
import { ROOT } from '../helpers/cluster.js';

export interface ConfiguredNats extends NatsServerHandle {
  name: string;
  confFile: string;
  logFile: string;
  child: ChildProcess;
  /** The server's log so far. */
  log(): string;
}

/** Starts `nats-server -c <dir>/<name>.conf` with `conf` as the file's text. */
export async function startNatsFromConfig(dir: string, name: string, port: number, conf: string, env: Record<string, string> = {}): Promise<ConfiguredNats> {
  const bin = findNatsServer();
  if (!bin) throw new Error(NATS_INSTALL_HINT);
  const confFile = join(dir, `${name}.conf`);
  const logFile = join(dir, `${name}.log`);
  writeFileSync(confFile, `${conf}\nlog_file: "${logFile}"\n`);
  const child = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && child.exitCode === null && !(await canConnect(port))) await new Promise((r) => setTimeout(r, 50));
  if (child.exitCode !== null || !(await canConnect(port))) {
    child.kill('SIGKILL');
    let log = '';
    try { log = readFileSync(logFile, 'utf8'); } catch { /* none yet */ }
    throw new Error(`nats-server ${name} did not start on 127.0.0.1:${port}: ${stderr.trim() || log.slice(-2000) || 'no output'}`);
  }
  return {
    name, confFile, logFile, child, port, url: `nats://127.0.0.1:${port}`, storeDir: dir, pid: child.pid!,
    log: () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } },
    kill: () => { child.kill('SIGKILL'); },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** The permissions block shipped in docs/cluster.md, verbatim: the test runs what the docs say. */
export function docsPermissionsBlock(): string {
  const doc = readFileSync(join(ROOT, 'docs', 'cluster.md'), 'utf8');
  const m = /# --- limolab permissions: begin\n([\s\S]*?)# --- limolab permissions: end/.exec(doc);
  if (!m) throw new Error('docs/cluster.md has no "# --- limolab permissions: begin ... end" block');
  return m[1]!;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
