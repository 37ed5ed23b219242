// `limolab sweep submit|status|watch|cancel|retry|list|compare|archive|unarchive|delete` and
// `limolab workers [drain ID]`: clients of a running coordinator.
import { readFileSync } from 'node:fs';
import { SpecError } from '../common/errors.js';
import type { Sweep, WorkerStatus } from '../gen/limolab/v1/coordinator.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientFrom, int, parse } from './args.js';
import { Client } from './client.js';
import { listAllTasks } from './task-pages.js';
import { compareMain } from './sweep-compare.js';
import { ago, table } from './format.js';
import { duration, printSweep, progressLine, watch } from './watch.js';
import { formatPlanSummary, planSummary } from './plan-summary.js';

export { printSweep, progressLine };

/** Each subcommand's own usage (`limolab sweep submit --help` prints only submit's). */
const SUB_USAGE: Record<string, string> = {
  submit: `  submit <spec.yaml>        submit a sweep
      --tag T               label it (repeatable); \`sweep list --tag T\` finds it
      --note TEXT           a line saying why it was run
      --dry-run             validate and plan only: lists each arm's grid points, seeds
                            and tasks, and what the coordinator would run and reuse
      --watch               follow it until it ends (see watch)
      --wide                with --watch: every column of the final results table`,
  status: `  status <id> [--tasks]     counts, tags, note and provenance; --tasks: every task with
                            its id, name, arm, seed, status and worker`,
  watch: `  watch <id>                follow a sweep until it ends: progress per phase, running and
                            waiting tasks, an ETA, a warning when nothing moves for
                            --stall-s seconds (default 120); reconnects when the coordinator
                            restarts; then the sweep's state and the table \`limolab results\`
                            prints for it (--wide: every column)`,
  cancel: `  cancel <id>               stop its running tasks, queue nothing more`,
  retry: `  retry <id> [--watch]      run its failed, skipped, cancelled and stuck tasks again
                            (succeeded tasks are kept and their outputs reused)`,
  list: `  list                      recent sweeps (archived ones only with --all)
      --limit N  --status running|succeeded|failed|cancelled  --tag T  --all`,
  compare: `  compare <a> <b>           two sweeps' arm tables side by side (--db FILE reads a
                            SQLite file instead of asking a coordinator)`,
  archive: `  archive <id>              hide it from \`sweep list\` (its data stays); unarchive <id> undoes it`,
  delete: `  delete <id> --yes         delete a finished sweep's rows (refused while it runs;
                            artifact bytes stay in the object store)`,
};
SUB_USAGE.unarchive = SUB_USAGE.archive!;

const USAGE = `Usage: limolab sweep <command> [args] [options]
${[...new Set(Object.values(SUB_USAGE))].join('\n')}
${CLIENT_HELP}`;

/** `limolab sweep <sub> --help`: that subcommand's usage and the connection options. */
function subUsage(sub: string): string {
  const synopsis = SUB_USAGE[sub]!.split('\n')[0]!.trim().split(/\s{2,}/)[0]!.replace(/^archive\b/, sub);
  return `Usage: limolab sweep ${synopsis} [options]\n${SUB_USAGE[sub]}\n${CLIENT_HELP}\n(\`limolab sweep --help\` lists every sweep command)`;
}

const OPTIONS = {
  ...CLIENT_OPTIONS, 'dry-run': { type: 'boolean' }, watch: { type: 'boolean' }, tasks: { type: 'boolean' }, limit: { type: 'string' }, status: { type: 'string' },
  tag: { type: 'string', multiple: true }, note: { type: 'string' }, all: { type: 'boolean' }, yes: { type: 'boolean' }, 'stall-s': { type: 'string' }, db: { type: 'string' }, wide: { type: 'boolean' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, OPTIONS, USAGE);
  if (v.help && p[0] && SUB_USAGE[p[0]]) { console.log(subUsage(p[0])); return 0; }
  if (v.help || !p[0]) { console.log(USAGE); return v.help ? 0 : 2; }
  const [sub, arg] = p;
  if (sub === 'compare') return compareMain(p.slice(1), v);
  const client = new Client(clientFrom(v));
  const stallS = int(v['stall-s'], 'stall-s', 120);
  try {
    const need = () => { if (!arg) throw new SpecError(`sweep ${sub} needs a sweep id\n\n${USAGE}`); return arg; };
    switch (sub) {
      case 'submit': {
        const path = arg;
        if (!path) throw new SpecError(`sweep submit needs a spec file, e.g. experiments/quick.yaml\n\n${USAGE}`);
        let text: string;
        try { text = readFileSync(path, 'utf8'); } catch (e) { throw new SpecError(`cannot read ${path}: ${(e as Error).message}`); }
        const r = await client.call<object, { sweep: Sweep; tasksPlanned: number; tasksReused: number }>('submitSweep', {
          spec: text, specPath: path, dryRun: !!v['dry-run'], tags: v.tag ?? [], note: v.note ?? '',
        });
        // The coordinator validated and counted; the per-arm breakdown is planned here with
        // the same planners (the coordinator's answer is the one that counts).
        const plan = v['dry-run'] ? await planSummary(text, path).catch((e: Error) => ({ error: e.message })) : undefined;
        if (v.json) console.log(JSON.stringify(plan && !('error' in plan) ? { ...r, arms: plan.arms } : r));
        else if (v['dry-run']) {
          if (plan && !('error' in plan)) console.log(formatPlanSummary(plan) + '\n');
          else if (plan) console.log(`(no per-arm breakdown: ${plan.error})`);
          console.log(`valid: the coordinator would plan ${r.tasksPlanned} task(s), ${r.tasksReused} of them reused from earlier sweeps; nothing was submitted`);
        } else console.log(`submitted sweep ${r.sweep.id}: ${r.tasksPlanned} task(s), ${r.tasksReused} reused`);
        if (v.watch && !v['dry-run']) return await watch(client, r.sweep.id, { json: !!v.json, stallS, wide: !!v.wide });
        return 0;
      }
      case 'status': {
        const s = await client.call<object, Sweep>('getSweep', { id: need(), includeTasks: false });
        // Tasks a page at a time (ListTasks), however large the sweep.
        if (v.tasks) s.tasks = await listAllTasks(client, s.id);
        if (v.json) { console.log(JSON.stringify(s)); return 0; }
        printSweep(s);
        printMeta(s);
        if (v.tasks) {
          console.log('\n' + table(['id', 'task', 'arm', 'seed', 'phase', 'status', 'attempts', 'worker', 'error'],
            s.tasks.map((t) => [t.id, t.name, t.arm, t.seed, t.phase, t.status, t.attempts, t.workerId, t.error.split('\n')[0]!.slice(0, 60)])));
        }
        return s.status === 'failed' ? 1 : 0;
      }
      case 'watch': return await watch(client, need(), { json: !!v.json, stallS, wide: !!v.wide });
      case 'cancel': {
        const s = await client.call<object, Sweep>('cancelSweep', { id: need() });
        if (v.json) console.log(JSON.stringify(s)); else printSweep(s);
        return 0;
      }
      case 'retry': {
        const id = need();
        const r = await client.call<object, { sweep: Sweep; requeued: number }>('retrySweep', { id });
        if (v.json && !v.watch) { console.log(JSON.stringify(r)); return 0; }
        if (!r.requeued) {
          console.log(`sweep ${id}: nothing to retry (no failed, skipped, cancelled or stuck task); it is ${r.sweep.status}`);
          return 0;
        }
        console.log(`sweep ${id}: ${r.requeued} task(s) will run again; ${(r.sweep.counts?.succeeded ?? 0) + (r.sweep.counts?.cached ?? 0)} succeeded task(s) kept`);
        if (v.watch) return await watch(client, id, { json: !!v.json, stallS, wide: !!v.wide });
        return 0;
      }
      case 'list': {
        const r = await client.call<object, { sweeps: Sweep[] }>('listSweeps', { limit: int(v.limit, 'limit', 20), status: v.status ?? '', includeArchived: !!v.all, tag: v.tag?.[0] ?? '' });
        if (v.json) { console.log(JSON.stringify(r.sweeps)); return 0; }
        if (!r.sweeps.length) { console.log(v.all ? 'no sweeps' : 'no sweeps (archived ones are shown with --all)'); return 0; }
        console.log(table(['id', 'name', 'status', 'tasks', 'done', 'failed', 'cancelled', 'tags', 'created'], r.sweeps.map((s) => [
          s.id, s.name, s.status + (s.archived ? ' (archived)' : ''), s.counts?.total ?? 0, (s.counts?.succeeded ?? 0) + (s.counts?.cached ?? 0),
          s.counts?.failed ?? 0, s.counts?.cancelled ?? 0, s.tags.join(',') || '-', ago(s.createdMs),
        ])));
        return 0;
      }
      case 'archive':
      case 'unarchive': {
        const s = await client.call<object, Sweep>('archiveSweep', { id: need(), unarchive: sub === 'unarchive' });
        console.log(v.json ? JSON.stringify(s) : `sweep ${s.id} ${s.archived ? 'archived: `sweep list` leaves it out unless --all' : 'unarchived'}`);
        return 0;
      }
      case 'delete': {
        const id = need();
        if (!v.yes) {
          const s = await client.call<object, Sweep>('getSweep', { id, includeTasks: false });
          throw new SpecError(`sweep delete removes sweep ${id} (${s.name}, ${s.status}) and the rows of its ${s.counts?.total ?? 0} task(s): results, metrics, ledger, logs; add --yes to do it`);
        }
        const r = await client.call<object, { id: string; tasksDeleted: number }>('deleteSweep', { id });
        console.log(v.json ? JSON.stringify(r) : `deleted sweep ${id} (${r.tasksDeleted} task(s))`);
        return 0;
      }
      default: throw new SpecError(`unknown sweep command "${sub}"\n\n${USAGE}`);
    }
  } finally {
    client.close();
  }
}

/** Tags, note and provenance under the counts. */
function printMeta(s: Sweep) {
  if (s.tags.length) console.log(`  tags: ${s.tags.join(', ')}`);
  if (s.note) console.log(`  note: ${s.note}`);
  const p = s.provenance;
  if (p && (p.limolabVersion || p.workerHosts.length)) {
    const code = [p.limolabVersion && `limolab ${p.limolabVersion}`, p.gitCommit && `git ${p.gitCommit}`, p.nodeVersion && `node ${p.nodeVersion}`].filter(Boolean).join(', ');
    console.log(`  provenance: ${code || 'not recorded'}${p.coordinatorHost ? ` on ${p.coordinatorHost}` : ''}; workers on ${p.workerHosts.join(', ') || 'none yet'}`);
  }
  if (s.finishedMs) console.log(`  ran ${duration(Number(s.finishedMs) - Number(s.createdMs))}${s.error ? `: ${s.error}` : ''}`);
}

const WORKERS_USAGE = `Usage: limolab workers [drain <id>] [--all]
  (no args)      workers with state (idle, busy, draining, lost) and the tasks they run
  drain <id>     let its current task finish, then take no more
  --all          include lost and stopped workers
A worker's failed count leaves out cancelled tasks.
${CLIENT_HELP}`;

export async function workersMain(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...CLIENT_OPTIONS, all: { type: 'boolean' } }, WORKERS_USAGE);
  if (v.help) { console.log(WORKERS_USAGE); return 0; }
  const client = new Client(clientFrom(v));
  try {
    if (p[0] === 'drain') {
      if (!p[1]) throw new SpecError(`workers drain needs a worker id\n\n${WORKERS_USAGE}`);
      const w = await client.call<object, WorkerStatus>('drainWorker', { id: p[1] });
      console.log(v.json ? JSON.stringify(w) : `worker ${p[1]}: draining (${w.running.length} running task(s) will finish)`);
      return 0;
    }
    if (p[0]) throw new SpecError(`unknown workers subcommand "${p[0]}"\n\n${WORKERS_USAGE}`);
    const r = await client.call<object, { workers: WorkerStatus[] }>('listWorkers', { includeLost: !!v.all });
    if (v.json) { console.log(JSON.stringify(r.workers)); return 0; }
    if (!r.workers.length) { console.log('no workers; start one with `limolab worker --nats nats://HOST:4222`'); return 0; }
    console.log(table(['id', 'host', 'pool', 'state', 'cpus', 'gpus', 'mem_mb', 'running', 'done', 'failed', 'last seen'],
      r.workers.map((w) => [w.info!.id, w.info!.host, w.info!.pool, w.state, w.info!.cpus, w.info!.gpus.length, w.info!.memoryMb,
        (w.runningNames.length ? w.runningNames : w.running).join(', ') || '-', w.completed, w.failed, ago(w.lastSeenMs)])));
    return 0;
  } finally {
    client.close();
  }
}
