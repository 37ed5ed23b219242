// Math verifier against public graders' own test suites (bench/verifier-cases/*.json, each
// naming its source repository, paths and commit): agreement per suite, false "equal"
// verdicts (target: zero), disagreements listed, and time per case (target: mean < 1 ms, max < 50 ms).
// Run: npm run bench:verifier   (exits 1 when a false "equal" is found or agreement < 97%)
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { loadSuites, runSuite, type CaseOutcome } from '../experiments/math/suites.js';

const dir = resolve(process.argv[2] ?? 'bench/verifier-cases');
const suites = loadSuites(dir);
// Warm-up pass: the first call compiles regexes and fills mathjs caches.
for (const s of suites) runSuite(s);
const all: CaseOutcome[] = [];
let agree = 0;
let falseEqual = 0;
const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
console.log(`suite                 cases  agree   false-equal  false-unequal  source`);
for (const s of suites) {
  const { report, outcomes } = runSuite(s);
  all.push(...outcomes);
  agree += report.agree;
  falseEqual += report.falseEqual.length;
  console.log(
    `${s.name.padEnd(20)} ${String(report.cases).padStart(6)}  ${pct(report.agree, report.cases).padStart(6)}  ${String(report.falseEqual.length).padStart(11)}  ${String(report.falseUnequal.length).padStart(13)}  ${s.source.repo}@${s.source.commit.slice(0, 10)} (${s.excluded.length} excluded)`,
  );
}
console.log(`${'all'.padEnd(20)} ${String(all.length).padStart(6)}  ${pct(agree, all.length).padStart(6)}  ${String(falseEqual).padStart(11)}  ${String(all.length - agree - falseEqual).padStart(13)}`);
const times = all.map((o) => o.ms).sort((a, b) => a - b);
const mean = times.reduce((a, b) => a + b, 0) / Math.max(1, times.length);
const slowest = all.reduce((a, b) => (b.ms > a.ms ? b : a), all[0]!);
console.log(`time per case: mean ${mean.toFixed(3)} ms, p50 ${times[Math.floor(times.length / 2)]!.toFixed(3)} ms, max ${times[times.length - 1]!.toFixed(2)} ms (${slowest.suite} ${slowest.case.id})  targets: mean < 1 ms, max < 50 ms  loadavg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const show = (o: CaseOutcome) => `  ${o.suite} ${o.case.id}: gold ${JSON.stringify(o.case.gold.slice(-120))} pred ${JSON.stringify(o.case.pred.slice(-120))} -> extracted ${JSON.stringify(o.extracted)} [${o.method}] ${o.reason ?? ''}`;
const fe = all.filter((o) => o.got && !o.case.expected);
const fu = all.filter((o) => !o.got && o.case.expected);
if (fe.length) console.log(`FALSE EQUAL (${fe.length}):\n${fe.map(show).join('\n')}`);
if (fu.length) console.log(`false unequal (${fu.length}):\n${fu.map(show).join('\n')}`);
const ok = fe.length === 0 && agree / all.length >= 0.97 && mean < 1 && times[times.length - 1]! < 50;
console.log(ok ? 'targets met' : 'targets NOT met');
process.exitCode = ok ? 0 : 1;
