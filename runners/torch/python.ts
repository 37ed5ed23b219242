// Finds the Python that runs runners/torch: $LIMOLAB_PYTHON, else ./.venv/bin/python at the
// repository root, else python3 on PATH; and checks which of the modules a caller needs it can
// import. Used by `limolab hf-tiny`, the HF tests, `npm run bench:hf` and scripts/gpu-check.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const TORCH_RUNNER = join(ROOT, 'runners', 'torch', 'limolab_torch_runner.py');
export const HF_TINY = join(ROOT, 'runners', 'torch', 'hf_tiny.py');

/** How to build the environment the HF path needs, for error and skip messages. */
export const VENV_HINT = 'build it with: python3 -m venv .venv && .venv/bin/pip install --no-index --find-links /opt/wheels --find-links /opt/pypi-more/files '
  + '--find-links /opt/pypi/files torch transformers peft trl accelerate safetensors tokenizers openai (as .ci/run does), or set LIMOLAB_PYTHON to a python that has them';

export function pythonPath(env: Record<string, string | undefined> = process.env): string {
  if (env.LIMOLAB_PYTHON) return env.LIMOLAB_PYTHON;
  const venv = join(ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export interface PythonProbe { python: string; ok: boolean; missing: string }

const cache = new Map<string, PythonProbe>();

/** Whether the python has every module in `modules` installed; `missing` says which one it lacks. */
export function probePython(modules: string[], env: Record<string, string | undefined> = process.env): PythonProbe {
  const python = pythonPath(env);
  const key = `${python}:${modules.join(',')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  // find_spec locates a module without importing it: importing torch + transformers takes
  // seconds idle and minutes on a loaded machine, and the real runs report a broken install.
  const code = `import importlib.util, sys\nfor m in ${JSON.stringify(modules)}:\n    if importlib.util.find_spec(m) is None:\n        print(m); sys.exit(1)`;
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  const out: PythonProbe = r.status === 0
    ? { python, ok: true, missing: '' }
    : { python, ok: false, missing: r.error ? `${python}: ${r.error.message}` : `${python} has no module ${(r.stdout || r.stderr).trim().split('\n').pop()}` };
  cache.set(key, out);
  return out;
}
