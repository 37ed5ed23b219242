// Finds the `limolab` command lines in README.md and docs/*.md (code blocks and inline code),
// with the command path (e.g. ['sweep', 'submit']) and the --options each line uses.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const SUBCOMMANDS: Record<string, string[]> = { sweep: ['submit', 'status', 'watch', 'cancel', 'list', 'retry', 'compare', 'archive', 'delete'], workers: ['drain'] };

interface DocLine { file: string; line: number; text: string; path: string[]; options: string[] }

/** `limolab ...` / `npx limolab ...` command lines: in code blocks, and in inline code spans. */
export function docCommandLines(): DocLine[] {
  const out: DocLine[] = [];
  for (const file of FILES) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    let inBlock = false;
    lines.forEach((raw, i) => {
      if (/^\s*```/.test(raw)) { inBlock = !inBlock; return; }
      const candidates = inBlock ? [raw] : [...raw.matchAll(/`([^`]*\blimolab [^`]*)`/g)].map((m) => m[1]!);
      for (const c of candidates) {
        const m = /(?:^|\s|\$ )(?:npx )?limolab ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)(.*)$/.exec(c.replace(/#.*$/, '').trim());
        if (!m) continue;
        const words = m[1]!.split(' ');
        const path = SUBCOMMANDS[words[0]!]?.includes(words[1] ?? '') ? words : [words[0]!];
        const rest = (words.length > path.length ? `${words.slice(path.length).join(' ')} ` : '') + m[2]!;
        const options = [...rest.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)(?=[\s=]|$)/g)].map((x) => x[1]!);
        out.push({ file, line: i + 1, text: c.trim(), path, options });
      }
    });
  }
  return out;
}

