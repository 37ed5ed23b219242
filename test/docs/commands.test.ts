// Every `limolab` command line in README.md and docs/*.md is checked against the real CLI:
// the command (and subcommand) exists and answers --help, and every --option the line uses
// is one that command's --help lists. Catches docs that name a removed command or flag.
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { docCommandLines } from './doc-commands.js';

const lines = docCommandLines();
const paths = [...new Map(lines.map((l) => [l.path.join(' '), l.path])).values()];

describe('command lines in README.md and docs/', () => {
  it('finds the documented commands', () => {
    const names = paths.map((p) => p.join(' '));
    for (const c of ['run', 'results', 'report', 'plot', 'sweep submit', 'worker', 'coordinator']) expect(names).toContain(c);
  });

  it.each(paths.map((p) => [p.join(' '), p] as const))('limolab %s --help exists and lists every option the docs use with it', async (_name, path) => {
    const r = await runCli([...path, '--help'], { timeoutMs: 60_000 });
    const where = lines.filter((l) => l.path.join(' ') === path.join(' '));
    expect(r.code, `${path.join(' ')} --help failed (used at ${where.map((l) => `${l.file}:${l.line}`).join(', ')}): ${r.stderr}`).toBe(0);
    const help = r.stdout + r.stderr;
    for (const l of where) {
      for (const opt of l.options) expect(help, `${l.file}:${l.line}: \`${l.text}\` uses ${opt}, which \`limolab ${path.join(' ')} --help\` does not list`).toContain(opt);
    }
  });
});
