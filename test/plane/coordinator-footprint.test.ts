// What the coordinator process loads. Its planners validate external model_refs and dataset
// paths with schemas the worker's runners share; those once came from the runner modules, so
// the coordinator loaded the worker's whole ML stack (mathjs, onnxruntime-node, the engine),
// and vega at start for figures it may never draw: 66 MB of heap instead of 21 MB, walked by
// every major GC (a pause in the results path), and 2.4 s to start instead of 0.7 s (measured).
// The real `limolab coordinator` runs here with a resolve hook that records every module URL.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, Cluster, ROOT } from '../helpers/cluster.js';

describe('the coordinator process', () => {
  let cluster: Cluster;
  afterEach(async () => { await cluster?.stop(); });

  it('does not load the worker ML stack nor the figure renderer', async () => {
    cluster = new Cluster();
    await cluster.startNats();
    const record = join(cluster.dir, 'imports.txt');
    const child = spawn(process.execPath, ['--import', join(ROOT, 'test', 'fixtures', 'record-imports.mjs'), BIN, 'coordinator',
      '--nats', cluster.nats.url, '--db', cluster.db, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RECORD_IMPORTS: record } });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    try {
      // The first stdout line says it listens: by then its planners (ML, external) are registered.
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (c) => reject(new Error(`coordinator exited with ${c}: ${stderr.join('')}`)));
      });
      expect(JSON.parse(line)).toHaveProperty('listening');
      expect(existsSync(record)).toBe(true);
      const urls = readFileSync(record, 'utf8').trim().split('\n');
      // The recorder sees the coordinator's own modules (so an absence below means something).
      for (const part of ['/coordinator/scheduler.ts', '/experiments/planners.ts', '/experiments/external.ts', '/experiments/external-train.ts', '/worker/runners/model-ref.ts', '/node_modules/better-sqlite3/', '/node_modules/zod/']) {
        expect(urls.some((u) => u.includes(part)), `${part} among the ${urls.length} modules loaded`).toBe(true);
      }
      for (const part of ['/node_modules/mathjs/', '/node_modules/onnxruntime-node/', '/worker/engine/index.ts', '/worker/engine/runner.ts', '/worker/runners/openai-runner.ts', '/worker/runners/math-tasks.ts', '/node_modules/vega/', '/node_modules/vega-lite/', '/node_modules/@resvg/']) {
        expect(urls.filter((u) => u.includes(part)), `the coordinator loaded ${part}`).toEqual([]);
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});
