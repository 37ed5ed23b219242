// Dispatch benchmark: no-op tasks through the whole path (submit, JetStream, worker
// processes, result, SQLite row) with 1 and 4 workers, against the raw JetStream
// publish + fetch + ack rate on the same nats-server in the same run.
// Run: npm run bench:dispatch   (env TASKS=20000 LAT_TASKS=3000 WORKERS=1,4 to change sizes)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { startNatsServer } from '../common/nats-server.js';
import { startCoordinator } from '../coordinator/main.js';

const TASKS = Number(process.env.TASKS ?? 20_000);
const LAT_TASKS = Number(process.env.LAT_TASKS ?? 3_000);
const WORKERS = (process.env.WORKERS ?? '1,4').split(',').map(Number);
const BIN = join(import.meta.dirname, '..', 'bin', 'limolab.js');
const dir = mkdtempSync(join(tmpdir(), 'limolab-bench-'));
const nats = await startNatsServer({ storeDir: join(dir, 'nats') });

function pct(xs: number[], p: number) { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; }

async function rawJetStream(n: number): Promise<number> {
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'RAW', subjects: ['raw.>'], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add('RAW', { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  const payload = new Uint8Array(120);
  const t0 = performance.now();
  const acks = [];
  for (let i = 0; i < n; i++) {
    acks.push(js.publish('raw.x', payload));
    if (acks.length >= 2000) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  const c = await js.consumers.get('RAW', 'raw');
  let got = 0;
  while (got < n) {
    const msgs = await c.fetch({ max_messages: 500, expires: 2000 });
    for await (const m of msgs) { m.ack(); got++; }
  }
  await nc.flush();
  const rate = n / ((performance.now() - t0) / 1000);
  await jsm.streams.delete('RAW');
  await nc.close();
  return rate;
}

async function endToEnd(workers: number, n: number, maxInFlight: number) {
  const db = join(dir, `e2e-${workers}-${n}-${maxInFlight}.db`);
  const c = await startCoordinator({ db, nats: { url: nats.url }, listen: '127.0.0.1:0', maxInFlight, log: () => {} });
  const procs: ChildProcess[] = [];
  for (let i = 0; i < workers; i++) {
    procs.push(spawn(process.execPath, [...(process.env.BENCH_WORKER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_WORKER_PROF] : []), BIN, 'worker', '--nats', nats.url, '--slots', process.env.BENCH_SLOTS ?? '256', '--id', `bench-${i}`], { stdio: 'ignore' }));
  }
  while (c.coord.listWorkers().length < workers) await new Promise((r) => setTimeout(r, 100));
  const dispatched = new Map<string, number>();
  c.coord.scheduler.on('dispatched', (ids: string[], ts: number) => { for (const id of ids) dispatched.set(id, ts); });
  const t0 = performance.now();
  const { sweep } = c.coord.submit(`name: bench\narms: [{name: noop, method: diag, params: {tasks: ${n}}}]`);
  await new Promise<void>((resolve) => {
    c.coord.scheduler.on('closed', (row: { id: string }) => { if (row.id === sweep!.id) resolve(); });
  });
  const secs = (performance.now() - t0) / 1000;
  const d = new Database(db, { readonly: true });
  const rows = d.prepare('select a.task_id id, a.started_ms s, r.created_ms r from attempts a join results r on r.task_id = a.task_id where a.sweep_id = ?').all(sweep!.id) as { id: string; s: number; r: number }[];
  const resultRows = (d.prepare('select count(*) n from results where sweep_id = ?').get(sweep!.id) as { n: number }).n;
  d.close();
  const pickup = rows.map((x) => x.s - dispatched.get(x.id)!).filter(Number.isFinite);
  const total = rows.map((x) => x.r - dispatched.get(x.id)!).filter(Number.isFinite);
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((r) => p.once('exit', r))));
  await c.stop();
  return { rate: n / secs, secs, resultRows, pickupP50: pct(pickup, 50), pickupP99: pct(pickup, 99), totalP50: pct(total, 50), totalP99: pct(total, 99) };
}

try {
  const raw = await rawJetStream(TASKS);
  console.log(`raw JetStream publish+fetch+ack: ${raw.toFixed(0)} msg/s (${TASKS} msgs)`);
  console.log('\nthroughput: all tasks submitted at once (max in flight 20000)');
  console.log('workers  tasks  seconds  tasks/s  ratio-to-raw  result rows');
  for (const w of WORKERS) {
    const r = await endToEnd(w, TASKS, 20_000);
    console.log(`${String(w).padStart(7)}  ${TASKS}  ${r.secs.toFixed(2).padStart(7)}  ${r.rate.toFixed(0).padStart(7)}  ${(r.rate / raw).toFixed(3).padStart(12)}  ${r.resultRows}`);
  }
  console.log('\nlatency: at most 64 tasks in flight (ms from publish to worker start / to SQLite row)');
  console.log('workers  tasks  pickup p50  pickup p99  result p50  result p99');
  for (const w of WORKERS) {
    const r = await endToEnd(w, LAT_TASKS, 64);
    console.log(`${String(w).padStart(7)}  ${LAT_TASKS}  ${r.pickupP50.toFixed(1).padStart(10)}  ${r.pickupP99.toFixed(1).padStart(10)}  ${r.totalP50.toFixed(1).padStart(10)}  ${r.totalP99.toFixed(1).padStart(10)}`);
  }
} finally {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
