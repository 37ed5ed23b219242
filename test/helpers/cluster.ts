// Integration-test harness: a real nats-server on 127.0.0.1 (free port, temp store dir),
// a coordinator (in this process or as a child process), and worker child processes
// started through the real CLI. Everything is torn down by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, findNatsServer, NATS_INSTALL_HINT, type NatsServerHandle } from '../../common/nats-server.js';
import { startCoordinator } from '../../coordinator/main.js';
import { Client } from '../../cli/client.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'limolab.js');

export function requireNats() {
  if (!findNatsServer()) throw new Error(NATS_INSTALL_HINT);
}

/** A fresh nats-server on loopback and one connection to it; both are closed by the cleanups
 *  the caller runs after the test (last in, first out). */
export async function natsWithConnection(cleanups: (() => Promise<unknown> | unknown)[]): Promise<{ nats: NatsServerHandle; nc: NatsConnection }> {
  requireNats();
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  const nc = await connect({ servers: nats.url });
  cleanups.push(() => nc.close());
  return { nats, nc };
}

export class Cluster {
  dir = mkdtempSync(join(tmpdir(), 'limolab-test-'));
  nats!: NatsServerHandle;
  db = join(this.dir, 'limolab.db');
  coordinator?: Awaited<ReturnType<typeof startCoordinator>>;
  coordinatorProc?: ChildProcess;
  address = '';
  workers = new Map<string, ChildProcess>();
  logs: string[] = [];
  private clients: Client[] = [];

  async startNats() {
    requireNats();
    this.nats = await startNatsServer({ storeDir: join(this.dir, 'nats') });
  }

  async startCoordinatorInProcess(opts: { ackWaitMs?: number; lostAfterMs?: number; token?: string; maxInFlight?: number; maxBundle?: number } = {}) {
    this.coordinator = await startCoordinator({
      db: this.db, nats: { url: this.nats.url }, listen: '127.0.0.1:0', ackWaitMs: opts.ackWaitMs ?? 30_000,
      lostAfterMs: opts.lostAfterMs ?? 10_000, token: opts.token, maxInFlight: opts.maxInFlight, maxBundle: opts.maxBundle, log: (l) => this.logs.push(l),
    });
    this.address = this.coordinator.grpc.address;
    return this.coordinator;
  }

  /** The coordinator as a child process (so a test can SIGKILL it). */
  async startCoordinatorProcess(opts: { ackWaitMs?: number; lostAfterMs?: number; args?: string[] } = {}) {
    const child = spawn(process.execPath, [BIN, 'coordinator', '--nats', this.nats.url, '--db', this.db, '--listen', '127.0.0.1:0',
      '--ack-wait-ms', String(opts.ackWaitMs ?? 30_000), '--lost-after-ms', String(opts.lostAfterMs ?? 10_000), ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().trim().split('\n')) this.logs.push(`[coordinator] ${l}`); });
    this.coordinatorProc = child;
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', resolve);
      child.once('exit', (c) => reject(new Error(`coordinator exited with ${c}: ${this.logs.join('\n')}`)));
    });
    this.address = (JSON.parse(line) as { listening: string }).listening;
    return child;
  }

  startWorker(id: string, args: string[] = []): ChildProcess {
    const child = spawn(process.execPath, [BIN, 'worker', '--nats', this.nats.url, '--id', id, '--heartbeat-ms', '300', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().trim().split('\n')) this.logs.push(`[${id}] ${l}`); });
    this.workers.set(id, child);
    return child;
  }

  /** nats-server, the coordinator in this process and one worker process `w1` with `slots`,
   *  registered: the set-up of the CLI tests that need a running sweep. */
  async startWithOneWorker(slots: number) {
    await this.startNats();
    await this.startCoordinatorInProcess();
    this.startWorker('w1', ['--slots', String(slots)]);
    await waitFor(() => this.coordinator!.coord.listWorkers().length === 1, 'worker w1', 280_000);
  }

  client(token?: string) {
    const c = new Client({ address: this.address, token });
    this.clients.push(c);
    return c;
  }

  async stop() {
    if (process.env.LIMOLAB_TEST_LOGS) console.error(this.logs.join('\n'));
    for (const c of this.clients) c.close();
    for (const w of this.workers.values()) if (w.exitCode === null) w.kill('SIGKILL');
    if (this.coordinatorProc && this.coordinatorProc.exitCode === null) this.coordinatorProc.kill('SIGKILL');
    await this.coordinator?.stop().catch(() => {});
    await this.nats?.stop({ removeStore: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<Exclude<NonNullable<T>, false | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as Exclude<NonNullable<T>, false | 0 | "">;
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
}
