// Chaos scenario (issue 10, item 11): a sweep may name files and endpoints, but a worker
// reads only under its --data-root directories (symlinks resolved) and calls only its
// --allow-endpoint prefixes; nothing it read ever comes back in an error. Real nats-server,
// coordinator, a worker child process started through the CLI, and real HTTP servers.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { createOpenAICompatServer } from '../../worker/runners/openai-server.js';
import { makeAccess, resolveDataPath, checkEndpoint, AccessDeniedError } from '../../worker/runners/access.js';

let cluster: Cluster;
let allowed: Server;
let evil: Server;
let allowedUrl = '';
let evilUrl = '';
let allowedRequests = 0;
let evilBytes = 0;
const SECRET = 'TOP-SECRET-do-not-leak-7f3a';
const figures: string[] = [];

beforeAll(async () => {
  cluster = new Cluster();
  allowed = createOpenAICompatServer({ async complete() { allowedRequests++; return { text: 'The answer is \\boxed{2}', promptTokens: 3, completionTokens: 5 }; } });
  // Anything that reaches this server is a leak.
  evil = createServer((req, res) => { req.on('data', (d: Buffer) => { evilBytes += d.length; }); req.on('end', () => res.end('{}')); });
  await new Promise<void>((r) => allowed.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  allowedUrl = `http://127.0.0.1:${(allowed.address() as AddressInfo).port}`;
  evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;

  const data = join(cluster.dir, 'data');
  const outside = join(cluster.dir, 'outside');
  mkdirSync(data);
  mkdirSync(outside);
  writeFileSync(join(data, 'good.jsonl'), `${JSON.stringify({ id: 'a', problem: '1+1?', answer: '2' })}\n`);
  writeFileSync(join(outside, 'secret.jsonl'), `${SECRET}\n`);
  writeFileSync(join(data, 'broken.jsonl'), `{"problem": "${SECRET}", "answer": \n`);
  writeFileSync(join(data, 'keys.jsonl'), `${JSON.stringify({ [SECRET]: 1, answer: '1' })}\n`);
  symlinkSync('/etc/passwd', join(data, 'passwd.jsonl'));
  symlinkSync(join(outside, 'secret.jsonl'), join(data, 'link.jsonl'));
  symlinkSync(outside, join(data, 'dirlink'));

  await cluster.startNats();
  await cluster.startCoordinatorInProcess();
  cluster.startWorker('w-files', ['--data-root', data, '--allow-endpoint', `${allowedUrl}/v1`]);
  await waitFor(() => cluster.coordinator!.coord.listWorkers().length === 1, 'the worker', 90_000);
}, 120_000);

afterAll(async () => {
  console.log(`[chaos files] ${figures.join('; ')}`);
  await cluster?.stop();
  await new Promise((r) => allowed?.close(r));
  await new Promise((r) => evil?.close(r));
});

function spec(name: string, path: string, baseUrl = `${allowedUrl}/v1`) {
  return `
name: ${name}
seeds: [1]
defaults: {retries: 2}
base:
  model_ref: {kind: openai, base_url: "${baseUrl}", model: m, params: 1e9, retries: 0}
  datasets: [{name: d, path: "${path}"}]
arms:
  - {name: a, method: external-eval}
`;
}

async function run(name: string, path: string, baseUrl?: string) {
  const { sweep } = cluster.coordinator!.coord.submit(spec(name, path, baseUrl), 'chaos-files');
  const s = await waitFor(() => { const x = cluster.coordinator!.coord.getSweep(sweep!.id, true); return x.status !== 'running' && x; }, name, 60_000, 100);
  const task = s.tasks!.find((t) => t.phase === 'evaluation')!;
  const d = new Database(cluster.db, { readonly: true });
  const attempts = d.prepare('select error_code, error from attempts where task_id = ?').all(task.id) as { error_code: string; error: string }[];
  d.close();
  return { s, task, attempts };
}

describe('chaos: a worker reads only under its data roots and calls only allowed endpoints', () => {
  it('runs an eval whose dataset is under the data root and whose endpoint is allowed', async () => {
    const { s } = await run('good', join(cluster.dir, 'data', 'good.jsonl'));
    expect(s.status, cluster.logs.join('\n')).toBe('succeeded');
    expect(allowedRequests).toBe(1);
  }, 120_000);

  it('refuses /etc/passwd at submit, and a .jsonl symlink to it on the worker, without reading it into the error', async () => {
    expect(() => cluster.coordinator!.coord.submit(spec('passwd', '/etc/passwd'), 'chaos-files')).toThrow(/does not end in \.jsonl or \.json/);
    const before = allowedRequests;
    const { s, task, attempts } = await run('passwd-link', join(cluster.dir, 'data', 'passwd.jsonl'));
    expect(s.status).toBe('failed');
    expect(task.error).toMatch(/resolves \(through a symlink\) to a file outside this worker's data roots; .*--data-root/);
    expect(task.error).not.toMatch(/root:|\/bin\/|nologin/);
    // Refused as bad input: no retries, nothing sent anywhere.
    expect(attempts.map((a) => a.error_code)).toEqual(['bad_input']);
    expect(allowedRequests).toBe(before);
    figures.push('symlink to /etc/passwd: refused, 1 attempt, 0 requests');
  }, 120_000);

  it('refuses files outside the roots, symlinked files and directories that lead out, and keeps their contents out of errors', async () => {
    const before = allowedRequests;
    const cases = [join(cluster.dir, 'outside', 'secret.jsonl'), join(cluster.dir, 'data', 'link.jsonl'), join(cluster.dir, 'data', 'dirlink', 'secret.jsonl')];
    for (const [i, path] of cases.entries()) {
      const { s, task } = await run(`outside-${i}`, path);
      expect(s.status).toBe('failed');
      expect(task.error).toMatch(/outside this worker's data roots/);
      expect(task.error).not.toContain(SECRET);
    }
    // Inside the root, but malformed: the error says where and what, not the text.
    for (const name of ['broken.jsonl', 'keys.jsonl']) {
      const { task } = await run(`malformed-${name}`, join(cluster.dir, 'data', name));
      expect(task.error).toMatch(new RegExp(`${name}:1: (not valid JSON|no problem text)`));
      expect(task.error).not.toContain(SECRET);
    }
    expect(allowedRequests).toBe(before);
    figures.push(`${cases.length} outside paths + 2 malformed files: refused, secret never in errors`);
  }, 180_000);

  it('refuses a base_url the worker was not allowed to call, before any request', async () => {
    const { s, task, attempts } = await run('evil-endpoint', join(cluster.dir, 'data', 'good.jsonl'), `${evilUrl}/v1`);
    expect(s.status).toBe('failed');
    expect(task.error).toMatch(/is not an endpoint this worker may call .*--allow-endpoint/);
    expect(attempts.map((a) => a.error_code)).toEqual(['bad_input']);
    // Same host, other port; a look-alike host; a path beside the allowed prefix.
    const near = [`${allowedUrl.replace(/:\d+$/, ':1')}/v1`, `http://127.0.0.1.nip.example:${allowedUrl.split(':')[2]}/v1`, `${allowedUrl}/v1x`, `${allowedUrl}/admin`];
    for (const [i, url] of near.entries()) {
      const r = await run(`near-${i}`, join(cluster.dir, 'data', 'good.jsonl'), url);
      expect(r.s.status).toBe('failed');
      expect(r.task.error).toMatch(/is not an endpoint this worker may call/);
    }
    expect(evilBytes).toBe(0);
    figures.push(`unallowed endpoints: 5 refused, ${evilBytes} bytes reached them`);
  }, 180_000);
});

describe('access checks (unit)', () => {
  it('defaults to the working directory and no endpoint; a missing root is an error', async () => {
    const a = makeAccess({}, cluster.dir);
    expect(a.allowEndpoints).toEqual([]);
    expect(() => checkEndpoint('http://127.0.0.1:8000/v1', a)).toThrow(AccessDeniedError);
    await expect(resolveDataPath('/etc/hostname', a)).rejects.toThrow(AccessDeniedError);
    // Outside the roots, a missing file gets the same refusal as an existing one.
    await expect(resolveDataPath('/nonexistent/x.jsonl', a)).rejects.toThrow(/outside this worker's data roots/);
    expect(() => makeAccess({ dataRoots: [join(cluster.dir, 'nope')] })).toThrow(/--data-root .*no such directory/);
    expect(() => makeAccess({ allowEndpoints: ['ftp://x'] })).toThrow(/http\(s\)/);
    const b = makeAccess({ allowEndpoints: ['http://h:8000/v1/'] });
    expect(() => checkEndpoint('http://h:8000/v1', b)).not.toThrow();
    expect(() => checkEndpoint('http://h:8000/v1/chat', b)).not.toThrow();
    expect(() => checkEndpoint('http://h:8000/v1/../admin', b)).toThrow(AccessDeniedError);
    expect(() => checkEndpoint('http://user:pw@h:8000/v1', b)).toThrow(AccessDeniedError);
  });
});
