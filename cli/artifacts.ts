// `limolab artifacts <task|sweep>`: the content-addressed artifacts a task wrote (and, for one
// task, the ones it read): digest, role, size and media type, as the coordinator recorded them.
import { SpecError } from '../common/errors.js';
import type { ListArtifactsResponse } from '../gen/limolab/v1/coordinator.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, parse } from './args.js';
import { Client } from './client.js';
import { table } from './format.js';

const USAGE = `Usage: limolab artifacts <task-id|sweep-id> [options]

One task: what it read (in) and wrote (out). A sweep: what each of its tasks wrote.
Columns: digest (sha256), role, size, media type, and the task. A task id may be
shortened to a prefix that names one task.
  --full         print whole digests (default: the first 16 hex digits)
${CLIENT_HELP}`;

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...CLIENT_OPTIONS, full: { type: 'boolean' } }, USAGE);
  if (v.help) { console.log(USAGE); return 0; }
  if (p.length !== 1) throw new SpecError(`limolab artifacts takes one task or sweep id\n\n${USAGE}`);
  const client = new Client(clientFrom(v));
  try {
    const r = await client.call<object, ListArtifactsResponse>('listArtifacts', { id: p[0] });
    if (v.json) { console.log(JSON.stringify(r.artifacts)); return 0; }
    if (!r.artifacts.length) { console.log(`no artifacts recorded for ${p[0]}: tasks record their outputs when they succeed`); return 0; }
    console.log(table(['dir', 'digest', 'role', 'size', 'media_type', 'task', 'arm', 'seed'], r.artifacts.map((a) => [
      a.direction, v.full ? a.ref!.digest : a.ref!.digest.slice(0, 16), a.ref!.role, bytes(Number(a.ref!.size)), a.ref!.mediaType || '-', a.taskName, a.arm, a.seed,
    ])));
    return 0;
  } finally {
    client.close();
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = n / 1024, i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}
