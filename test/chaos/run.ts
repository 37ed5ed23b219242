// `npm run chaos`: every scenario of issue 10 (every test/chaos/*.test.ts, the slow ones
// included: LIMOLAB_CHAOS=1), one file at a time, then a PASS/FAIL table with the figures
// each scenario printed ("[chaos <name>] ..."), the time it took and the load average.
// Exit status 1 when any scenario failed. Extra arguments go to vitest (e.g. a file name).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'limolab-chaos-'));
const report = join(out, 'report.json');
const files = process.argv.slice(2).length ? process.argv.slice(2) : readdirSync(join(ROOT, 'test', 'chaos')).filter((f) => f.endsWith('.test.ts')).map((f) => `test/chaos/${f}`);
const load0 = loadavg();
const t0 = Date.now();

let stdout = '';
const code = await new Promise<number>((resolve) => {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files, '--fileParallelism=false',
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { cwd: ROOT, env: { ...process.env, LIMOLAB_CHAOS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (d: Buffer) => { stdout += d; process.stdout.write(d); });
  child.on('exit', (c) => resolve(c ?? 1));
});

interface Assertion { title: string; fullName: string; status: string; duration?: number; failureMessages: string[] }
let results: { name: string; assertionResults: Assertion[] }[] = [];
try { results = (JSON.parse(readFileSync(report, 'utf8')) as { testResults: typeof results }).testResults; } catch { /* vitest did not get as far as a report */ }
rmSync(out, { recursive: true, force: true });

const figures = [...stdout.matchAll(/^\[chaos ([^\]]+)\] (.*)$/gm)].map((m) => ({ name: m[1]!, text: m[2]! }));
const rows: string[][] = [];
for (const f of results) {
  for (const a of f.assertionResults) {
    const status = a.status === 'passed' ? 'PASS' : a.status === 'failed' ? 'FAIL' : a.status.toUpperCase();
    rows.push([status, `${f.name.replace(`${ROOT}/`, '')}: ${a.title}`, a.duration ? `${(a.duration / 1000).toFixed(1)} s` : '-', status === 'FAIL' ? (a.failureMessages[0] ?? '').split('\n')[0]!.slice(0, 160) : '']);
  }
}
const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
console.log('\nlimolab chaos suite (issue 10)');
console.log(`${pad('result', 6)}  ${pad('scenario', 110)}  ${pad('time', 8)}  why`);
for (const r of rows) console.log(`${pad(r[0]!, 6)}  ${pad(r[1]!, 110)}  ${pad(r[2]!, 8)}  ${r[3]}`);
console.log('\nfigures:');
for (const f of figures) console.log(`  ${pad(f.name, 20)} ${f.text}`);
const passed = rows.filter((r) => r[0] === 'PASS').length;
const failed = rows.filter((r) => r[0] === 'FAIL').length;
console.log(`\n${passed} passed, ${failed} failed, ${rows.length - passed - failed} other, in ${((Date.now() - t0) / 1000).toFixed(0)} s; load average before ${load0.map((x) => x.toFixed(1)).join(' ')}, after ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
process.exitCode = failed || code !== 0 || !rows.length ? 1 : 0;
