// `limolab logs <task|sweep>`: the stored log lines of a task's attempts (an external runner's
// stderr tail, the runner's and the worker's lines), or of every task of a sweep that has
// something to read; a running attempt shows the lines streamed so far.
import { SpecError } from '../common/errors.js';
import type { GetTaskLogsResponse, TaskLog } from '../gen/limolab/v1/coordinator.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, int, parse } from './args.js';
import { Client } from './client.js';

const USAGE = `Usage: limolab logs <task-id|sweep-id> [options]

A task's attempts, each with the worker and host that ran it, its status and error, and its
last log lines (up to 50 per attempt: an external runner's stderr, runner and worker lines).
Given a sweep, every attempt of its tasks that logged something or failed.
A task id may be shortened to a prefix that names one task.
  --failed       with a sweep: only its failed tasks
  --tail N       the last N lines of each attempt
${CLIENT_HELP}`;

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...CLIENT_OPTIONS, failed: { type: 'boolean' }, tail: { type: 'string' } }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (p.length !== 1) throw new SpecError(`limolab logs takes one task or sweep id (\`limolab sweep status <sweep> --tasks\` lists task ids)\n\n${USAGE}`);
  const client = new Client(clientFrom(v));
  try {
    const r = await client.call<object, GetTaskLogsResponse>('getTaskLogs', { id: p[0], failedOnly: !!v.failed, tail: int(v.tail, 'tail', 0) });
    if (v.json) { console.log(JSON.stringify(r)); return 0; }
    if (!r.logs.length) {
      console.log(`no logged attempts for ${p[0]}${v.failed ? ' (--failed: no failed task)' : ''}; a task that has not started has none`);
      return 0;
    }
    for (const l of r.logs) console.log(render(l));
    if (r.omitted) console.log(`(${r.omitted} more attempt(s) left out to keep this answer small; ask for one task, or add --failed)`);
    return 0;
  } finally {
    client.close();
  }
}

const time = (ms: number) => (ms ? new Date(ms).toISOString().slice(11, 23) : '');

export function render(l: TaskLog): string {
  const t = l.task!;
  const took = l.startedMs && l.finishedMs ? ` in ${((Number(l.finishedMs) - Number(l.startedMs)) / 1000).toFixed(2)} s` : '';
  const where = l.workerId ? ` on ${l.workerId}${l.workerHost && l.workerHost !== l.workerId ? ` (${l.workerHost})` : ''}` : '';
  const head = `== ${t.name} [${t.arm}, seed ${t.seed}] ${t.id}: attempt ${l.attemptId.split('#')[1] ?? l.attemptId}${where}: ${l.status}${took}${l.live ? ' (running; lines so far)' : ''}`;
  const lines = l.lines.map((x) => `${time(Number(x.tsMs))} ${x.source.padEnd(6)} ${x.line}`);
  if (l.error && !l.lines.some((x) => x.line.includes(l.error))) lines.push(`error: ${l.error}`);
  if (!lines.length) lines.push('(no log lines)');
  return [head, ...lines].join('\n');
}
