// The limolab command line: dispatches subcommands. `limolab --help` lists them.
import { describeError } from '../common/errors.js';

const HELP = `limolab — what reasoning costs: curated data (LIMO-style SFT) versus compute (sample-and-select RL)

Usage: limolab <command> [options]

Run everything on this machine:
  run <spec.yaml>            nats-server on loopback (or in-process), coordinator, local workers,
                             a SQLite file; progress bar, then the results table

Cluster programs:
  coordinator                gRPC coordinator + scheduler + SQLite store, on a NATS URL
  worker                     a worker that joins a pool on a NATS URL
  serve <checkpoint>         an OpenAI-compatible HTTP server for an embedded-engine checkpoint

Models and the Hugging Face ecosystem:
  hf-tiny -o DIR             a tiny random-init LlamaForCausalLM + locally trained tokenizer
  export <checkpoint> -o DIR an engine checkpoint as a directory transformers loads
  import <hf-dir> -o DIR     a Hugging Face Llama (char tokenizer) as an engine checkpoint

Talk to a running coordinator (--coordinator host:port, default 127.0.0.1:50551):
  sweep submit <spec.yaml>   submit a sweep (--dry-run: validate and plan only)
  sweep status <id>          a sweep's counts (--tasks for each task)
  sweep watch <id>           follow a sweep until it ends
  sweep cancel <id>          stop its running tasks, queue nothing more
  sweep list                 recent sweeps (--tag T; --all includes archived ones)
  sweep retry <id>           run its failed, cancelled and stuck tasks again, keeping what succeeded
  sweep compare <a> <b>      two sweeps' arm tables side by side
  sweep archive|delete <id>  hide a sweep from the list / delete a finished one
  workers                    workers with state and current task
  workers drain <id>         let its current task finish, then take no more
  results                    result tables (--sweep, --group-by, --wide, --format table|csv|json);
                             reads ./limolab.db when it exists and no --coordinator is given
  compare                    the study's verdicts: controls, exchange rates, gain vs latent ability (--db)
  report <sweep> -o FILE     a self-contained HTML report with plots (from ./limolab.db or --db)
  plot <name> --sweep ID     one figure as SVG or PNG (from ./limolab.db or --db)
  timing                     where a sweep's wall time went: per phase and its critical path (--db)
  logs <task|sweep>          the log lines of a task's attempts, or of a sweep's tasks
  artifacts <task|sweep>     the artifacts a task read and wrote (digest, role, size, type)

Every command takes --help. --json prints machine-readable output where it applies.
--version prints limolab's version.`;

const commands: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  run: () => import('./run.js'),
  coordinator: () => import('./servers.js').then((m) => ({ main: m.coordinatorMain })),
  worker: () => import('./servers.js').then((m) => ({ main: m.workerMain })),
  sweep: () => import('./sweep.js'),
  workers: () => import('./sweep.js').then((m) => ({ main: m.workersMain })),
  results: () => import('./analysis.js').then((m) => ({ main: m.resultsMain })),
  report: () => import('./analysis.js').then((m) => ({ main: m.reportMain })),
  plot: () => import('./analysis.js').then((m) => ({ main: m.plotMain })),
  logs: () => import('./logs.js'),
  artifacts: () => import('./artifacts.js'),
  compare: () => import('./study-compare.js'),
  timing: () => import('./timing.js'),
  serve: () => import('./serve.js'),
  'hf-tiny': () => import('./hf-tiny.js'),
  export: () => import('./export.js'),
  import: () => import('./export.js').then((m) => ({ main: m.importMain })),
};

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  console.log(`limolab ${pkg.version} (node ${process.version})`);
  process.exit(0);
}
if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log(HELP);
  process.exit(cmd ? 0 : 2);
}
const load = commands[cmd];
if (!load) {
  console.error(`limolab: unknown command "${cmd}"; \`limolab --help\` lists the commands`);
  process.exit(2);
}
try {
  const mod = await load();
  process.exitCode = await mod.main(rest);
} catch (err) {
  console.error(`limolab ${cmd}: ${describeError(err)}`);
  if (process.env.LIMOLAB_DEBUG) console.error(err);
  process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
}
