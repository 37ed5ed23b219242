// The gRPC surface: an independent client (buf curl, through server reflection), the
// standard health service, bearer-token refusal, TLS. Real servers on loopback.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../cli/client.js';
import { Cluster, ROOT, waitFor } from '../helpers/cluster.js';
import type { ListTasksRequest, ListTasksResponse, SweepEvent } from '../../gen/limolab/v1/coordinator.js';

let cluster: Cluster;
afterEach(async () => { await cluster?.stop(); });

const BUF = join(ROOT, 'node_modules', '.bin', 'buf');
function bufCurl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => execFile(BUF, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { encoding: 'utf8' },
    (e, out, err) => resolve({ code: e ? Number(e.code) || 1 : 0, out, err })));
}

describe('gRPC service', () => {
  it('answers an independent client (buf curl), lists its services through reflection, and serves the standard health check', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const c = await cluster.startCoordinatorInProcess();
    c.coord.submit('name: listed\narms: [{name: a, method: diag}]');
    // Reflection lists the services. (Full symbol lookups through @grpc/reflection fail
    // for packages split over several .proto files, so calls use the descriptor set.)
    const listed = await bufCurl(['--list-services', `http://${cluster.address}`]);
    expect(listed.out.split('\n')).toContain('limolab.v1.Coordinator');
    const schema = ['--schema', join(ROOT, 'gen', 'limolab.binpb')];
    const r = await bufCurl([...schema, '-d', '{"limit": 5}', `http://${cluster.address}/limolab.v1.Coordinator/ListSweeps`]);
    expect(r.err).toBe('');
    const body = JSON.parse(r.out) as { sweeps: { name: string }[] };
    expect(body.sweeps.map((s) => s.name)).toEqual(['listed']);
    const bad = await bufCurl([...schema, '-d', '{"spec": "name: x"}', `http://${cluster.address}/limolab.v1.Coordinator/SubmitSweep`]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/invalid_argument/i);
    expect(bad.err).toMatch(/arms/);

    const pkg = grpc.loadPackageDefinition(loadSync(healthProto, { enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    const health = new pkg.grpc.health.v1.Health(cluster.address, grpc.credentials.createInsecure());
    const status = await new Promise<{ status: string }>((res, rej) => (health as unknown as { check: Function }).check({ service: 'limolab.v1.Coordinator' }, (e: Error, v: { status: string }) => (e ? rej(e) : res(v))));
    expect(status.status).toBe('SERVING');
    health.close();
  });

  it('refuses calls without the bearer token when one is set', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    await cluster.startCoordinatorInProcess({ token: 's3cret' });
    const anon = cluster.client();
    await expect(anon.call('listSweeps', {})).rejects.toThrow(/requires a bearer token/);
    await expect(cluster.client('wrong').call('listSweeps', {})).rejects.toThrow(/bearer token is wrong/);
    const ok = await cluster.client('s3cret').call<object, { sweeps: unknown[] }>('listSweeps', {});
    expect(ok.sweeps).toEqual([]);
  });

  const haveOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
  it.skipIf(!haveOpenssl)('serves over TLS when given a certificate (needs openssl to make one)', async () => {
    cluster = new Cluster();
    const key = join(cluster.dir, 'key.pem'), cert = join(cluster.dir, 'cert.pem');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    expect(gen.status).toBe(0);
    await cluster.startNats();
    const { startCoordinator } = await import('../../coordinator/main.js');
    cluster.coordinator = await startCoordinator({ db: cluster.db, nats: { url: cluster.nats.url }, listen: '127.0.0.1:0', tls: { cert, key }, log: () => {} });
    const address = cluster.coordinator.grpc.address;
    const secure = new Client({ address, tlsCa: cert });
    expect((await secure.call<object, { sweeps: unknown[] }>('listSweeps', {})).sweeps).toEqual([]);
    secure.close();
    const plain = new Client({ address });
    await expect(plain.call('listSweeps', {}, 3000)).rejects.toThrow();
    plain.close();
  });

  it('pages a sweep\'s tasks through ListTasks in one order, running or finished, and refuses a foreign page token', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const c = await cluster.startCoordinatorInProcess();
    const client = cluster.client();
    const id = c.coord.submit('name: paged\narms: [{name: a, method: diag, params: {tasks: 25}}]').sweep.id;
    const other = c.coord.submit('name: other\narms: [{name: a, method: diag}]').sweep.id;
    const walk = async () => {
      const pages: ListTasksResponse[] = [];
      let pageToken = '';
      do {
        const r = await client.call<ListTasksRequest, ListTasksResponse>('listTasks', { sweepId: id, pageSize: 10, pageToken });
        pages.push(r);
        pageToken = r.nextPageToken;
      } while (pageToken);
      return pages;
    };
    const live = await walk();
    expect(live.map((p) => p.tasks.length)).toEqual([10, 10, 5]);
    expect(live.every((p) => p.total === 25)).toBe(true);
    const ids = live.flatMap((p) => p.tasks.map((t) => t.id));
    expect(new Set(ids).size).toBe(25);
    expect(ids).toEqual(c.coord.getSweep(id, true).tasks.map((t) => t.id));
    // Two watchers share one feed; both see the sweep end and their streams close.
    const seen: SweepEvent[][] = [[], []];
    const watches = seen.map((evs) => client.watch(id, (ev) => evs.push(ev)));
    await waitFor(() => seen.every((evs) => evs.length > 0), 'both watchers\' first state');
    await client.call('cancelSweep', { id });
    await Promise.all(watches);
    for (const evs of seen) expect(evs.at(-1)!.sweep!.status).toBe('cancelled');
    // Finished: the same order, now read from SQLite a page at a time.
    const done = await walk();
    expect(done.flatMap((p) => p.tasks.map((t) => t.id))).toEqual(ids);
    expect(done.flatMap((p) => p.tasks.map((t) => t.status)).every((st) => st === 'cancelled')).toBe(true);
    const foreign = (await client.call<ListTasksRequest, ListTasksResponse>('listTasks', { sweepId: other, pageSize: 1, pageToken: '' })).nextPageToken;
    expect(foreign).toBe('');
    await expect(client.call('listTasks', { sweepId: id, pageSize: 10, pageToken: live[0]!.nextPageToken.slice(0, -2) + 'zz' })).rejects.toThrow(/page_token is not a token this coordinator gave for sweep/);
    await expect(client.call('listTasks', { sweepId: 'nope', pageSize: 10, pageToken: '' })).rejects.toThrow(/no sweep with id nope/);
  });
});
