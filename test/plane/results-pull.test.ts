// The results consumer does not wait out two missed heartbeats when the server has dropped its
// pull request: a real nats-server, the coordinator's connection through a TCP proxy that
// swallows the consumer's next pull requests (what a server that ends a request without a
// word looks like from the client), and a worker transport publishing a result directly.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NatsTransport } from '../../common/nats-transport.js';
import { startNatsServer } from '../../common/nats-server.js';
import { TaskResult } from '../../gen/limolab/v1/task.js';
import { requireNats, waitFor } from '../helpers/cluster.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

/** Forwards a NATS client's bytes to the server; while `drop` is above 0, a pull request for
 *  the results consumer (a PUB line to its MSG.NEXT subject, and its payload line) is swallowed.
 *  Counts the client's requests for the consumer's info (the watchdog's looks). */
function pullDroppingProxy(serverPort: number) {
  const state = { drop: 0, dropped: 0, infos: 0, pulls: 0 };
  const socks: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = createConnection(serverPort, '127.0.0.1');
    socks.push(client, upstream);
    upstream.on('data', (d) => client.write(d));
    let buf = '';
    let skipPayload = false;
    client.on('data', (d) => {
      buf += d.toString('latin1');
      let out = '';
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i + 2);
        buf = buf.slice(i + 2);
        if (skipPayload) { skipPayload = false; continue; }
        if (/^H?PUB \$JS\.API\.CONSUMER\.INFO\.LIMOLAB_RESULTS\.coordinator /.test(line)) state.infos++;
        if (/^H?PUB \$JS\.API\.CONSUMER\.MSG\.NEXT\.LIMOLAB_RESULTS\.coordinator /.test(line)) {
          state.pulls++;
          if (state.drop > 0) { state.drop--; state.dropped++; skipPayload = true; continue; }
        }
        out += line;
      }
      if (out) upstream.write(Buffer.from(out, 'latin1'));
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end); upstream.on('error', end); client.on('close', end); upstream.on('close', end);
  });
  return {
    state,
    listen: () => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port))),
    close: () => { for (const s of socks) s.destroy(); server.close(); },
  };
}

function result(i: number): TaskResult {
  return TaskResult.fromPartial({ taskId: `s1.t${i}`, sweepId: 's1', attemptId: `s1.t${i}#1.1`, workerId: 'w1', attempt: 1, delivery: 1, startedMs: 1, finishedMs: 2 });
}

/** A nats-server, the coordinator's transport consuming results through the proxy (which
 *  swallows its first `dropPulls` pull requests) and a worker's transport connected directly. */
async function resultsPlane(dropPulls: number, expecting?: () => boolean) {
  requireNats();
  const dir = mkdtempSync(join(tmpdir(), 'limolab-pull-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const nats = await startNatsServer({ storeDir: join(dir, 'js') });
  cleanups.push(() => nats.stop());
  const proxy = pullDroppingProxy(Number(new URL(nats.url).port));
  const port = await proxy.listen();
  cleanups.push(() => proxy.close());
  const ncs: NatsConnection[] = [await connect({ servers: `127.0.0.1:${port}` }), await connect({ servers: nats.url })];
  cleanups.push(() => Promise.all(ncs.map((n) => n.close().catch(() => {}))));
  const logs: string[] = [];
  const coord = await NatsTransport.open(ncs[0]!, { log: (l) => logs.push(l) });
  const worker = await NatsTransport.open(ncs[1]!);
  const got: { id: string; at: number }[] = [];
  proxy.state.drop = dropPulls;
  const closer = coord.consumeResults(async (batch) => { for (const d of batch) { got.push({ id: d.result.taskId, at: Date.now() }); d.ack(); } }, (e) => { throw e; }, { expecting });
  cleanups.push(() => closer.close());
  return { proxy, worker, got, logs };
}

describe('results pull watchdog', () => {
  it('pulls again within ~1 s when the server holds no pull request of the coordinator and results wait', async () => {
    // The consumer's first pull request never reaches the server.
    const { proxy, worker, got, logs } = await resultsPlane(1);
    await waitFor(() => proxy.state.dropped === 1, 'the first pull request to be swallowed', 5000, 20);
    const t0 = Date.now();
    await worker.publishResult(result(1));
    await waitFor(() => got.length === 1, 'the result to reach the handler', 10_000, 20);
    const waited = got[0]!.at - t0;
    // Two missed 2.5 s heartbeats would be 5-7.5 s; the watchdog asks after 0.5 s idle, every
    // 0.25 s, and acts on the second look.
    expect(waited).toBeLessThan(2200);   // measured ~1.05 s; the watchdog before looked after 1 s idle, every 1 s (~2.4 s)
    expect(got[0]!.id).toBe('s1.t1');
    expect(logs.join('\n')).toMatch(/result message\(s\) wait in the stream and the server holds no pull request of this coordinator; pulling again/);
    // Results keep flowing on the new pull, exactly once each.
    for (let i = 2; i <= 50; i++) await worker.publishResult(result(i));
    await waitFor(() => got.length === 50, 'the next 49 results', 10_000, 20);
    expect(new Set(got.map((g) => g.id)).size).toBe(50);
  }, 30_000);

  it('leaves a healthy pull alone: an idle consumer with nothing waiting is not pulled again, and is asked less often after 5 s', async () => {
    const { proxy, worker, got, logs } = await resultsPlane(0);
    await waitFor(() => proxy.state.pulls >= 1, 'the first pull request', 5000, 20);
    const atStart = proxy.state.infos;   // the consumer's set-up asks for its info itself
    await new Promise((r) => setTimeout(r, 5000));   // idle: it looks every 0.25 s after 0.5 s ...
    const early = proxy.state.infos - atStart;
    await new Promise((r) => setTimeout(r, 2500));   // ... and every 2 s once idle past 5 s
    expect(early).toBeGreaterThan(8);
    expect(proxy.state.infos - atStart - early).toBeLessThanOrEqual(2);
    const t0 = Date.now();
    await worker.publishResult(result(1));
    await waitFor(() => got.length === 1, 'the result to reach the handler', 5000, 10);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(proxy.state.dropped).toBe(0);
    expect(logs.filter((l) => /pulling again/.test(l))).toEqual([]);
  }, 30_000);

  it('asks the server nothing while no results are expected, and looks again once they are', async () => {
    let expecting = false;
    const { proxy, worker, got } = await resultsPlane(1, () => expecting);
    await waitFor(() => proxy.state.dropped === 1, 'the first pull request to be swallowed', 5000, 20);
    const atStart = proxy.state.infos;   // the consumer's set-up asks for its info itself
    await new Promise((r) => setTimeout(r, 2000));
    expect(proxy.state.infos).toBe(atStart);
    // Tasks go out: now a silent pull is looked for, and found.
    expecting = true;
    await worker.publishResult(result(1));
    await waitFor(() => got.length === 1, 'the result to reach the handler', 5000, 20);
    expect(proxy.state.infos - atStart).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
