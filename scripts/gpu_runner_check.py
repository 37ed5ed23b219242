#!/usr/bin/env python3
"""GPU check of the PyTorch runner without Node.js: python3 with torch + transformers only.

Does what scripts/gpu-check.sh does through `limolab run`, minus the coordinator, worker, NATS
and SQLite: builds a ~100M-parameter random-init Llama offline (runners/torch/hf_tiny.py), then
runs runners/torch/limolab_torch_runner.py as a child process, one process per task, the way
the worker's HfRunner + ProcessRunner start it (worker/runners/hf-runner.ts, process.ts):

  train sft     TRAIN    the SFT set rendered in the plain template -> checkpoint tar
  eval trained  EVAL     sample mode, greedy, with TRAIN's checkpoint as input `checkpoint`
  rollout       ROLLOUT  sample mode, k samples of prompts drawn from the pool
  eval base     EVAL     sample mode, greedy, the base model (the sweep's rollout arm)

Each task gets what the worker would write on its stdin (protocol 1, docs/runner-protocol.md:
the Task in canonical protobuf JSON, the input files, output_dir, threads), its environment
(LIMOLAB_OUTPUT_DIR, OMP_NUM_THREADS, LIMOLAB_TORCH_DEVICE, LIMOLAB_DATA_ROOT) and working
directory, in its own process group. Every stdout line is checked against the protocol's line
schemas (worker/runners/protocol.ts); artifacts against the output dir rules; the samples file
against what HfRunner accepts. Prints per task wall and device seconds, FLOPs, tokens, tok/s,
TFLOP/s and MFU against a peak (a table by GPU name, --peak-tflops overrides).

  python3 scripts/gpu_runner_check.py [--out FILE]        # CUDA; exits 2 at once without it
  python3 scripts/gpu_runner_check.py --device cpu --tiny # the same path on CPU, tiny model

Exit: 0 all four tasks passed (TRAIN trained tokens, ROLLOUT generated tokens); 1 a task or a
check failed; 2 setup (no CUDA, torch missing, model build failed, bad options).
Standard library only in this process; the children need torch, transformers, tokenizers.
"""
import argparse
import hashlib
import json
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "runners", "torch", "limolab_torch_runner.py")
HF_TINY = os.path.join(ROOT, "runners", "torch", "hf_tiny.py")
PROTOCOL_VERSION = 1
MAX_LINE_CHARS = 4 * 1024 * 1024
MAX_SAFE_INT = 2**53 - 1
GRACE_S = 5.0

# Dense peak TFLOP/s by GPU name (first match wins). fp32: float32 matmuls without TF32 (what the
# runner's default float32 runs; the same table as scripts/gpu-check.ts); bf16: tensor cores, no sparsity.
PEAK_FP32_TFLOPS = [(r"H200 NVL", 60.0), (r"H200|H100.*SXM|GH200", 67.0), (r"H100", 51.0), (r"A100", 19.5), (r"L40S", 91.6), (r"L4\b", 30.3),
                    (r"A10\b", 31.2), (r"4090", 82.6), (r"V100", 15.7)]
PEAK_BF16_TFLOPS = [(r"H200 NVL", 836.0), (r"H200|H100.*SXM|GH200", 989.0), (r"H100 NVL", 835.0), (r"H100", 756.0), (r"A100", 312.0), (r"L40S", 362.0),
                    (r"L4\b", 121.0), (r"A10\b", 125.0), (r"4090", 165.0), (r"V100", 125.0)]

SHAPES = {  # hf_tiny.py arguments, as scripts/gpu-check.ts
    "default": ["--hidden", "768", "--layers", "14", "--heads", "12", "--intermediate", "2048", "--ctx", "512"],  # ~100M
    "tiny": ["--hidden", "64", "--layers", "2", "--heads", "4", "--intermediate", "176", "--ctx", "256"],
}

# The plain prompt template (experiments/datasets/templates.ts), the only one the hf_tiny model knows.
LIMO_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PLAIN_STOP = ["\n\nProblem:"]
PLAIN_ASSISTANT_END = "\n\n"


def render_prompt(problem):
    return f"Problem: {problem}\n{LIMO_INSTRUCTION}\nSolution: "


def say(msg):
    print(f"gpu-runner-check: {msg}", flush=True)


class SetupError(Exception):
    """Exit 2: the environment or the options, not the runner."""


# ---------------------------------------------------------------- seeds (experiments/domain/rng.ts)

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def mix32(x):
    """splitmix32 finaliser, on unsigned 32-bit values (same bits as the TypeScript)."""
    x = (x + 0x9E3779B9) & M32
    x = _imul(x ^ (x >> 16), 0x85EBCA6B)
    x = _imul(x ^ (x >> 13), 0xC2B2AE35)
    return x ^ (x >> 16)


def derive_seed(seed, label):
    h = mix32((seed & M32) ^ ((seed // 2**32) & M32))
    units = str(label).encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = mix32(h ^ _imul(int.from_bytes(units[i:i + 2], "little"), 0x27D4EB2D))
    return h


class Rng:
    """mulberry32, as Rng in experiments/domain/rng.ts (next and shuffle only)."""

    def __init__(self, seed):
        self.state = mix32(seed & M32)

    def next(self):
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & M32)) & M32
        return (t ^ (t >> 14)) / 4294967296

    def shuffle(self, items):
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = math.floor(self.next() * (i + 1))
            out[i], out[j] = out[j], out[i]
        return out


# ---------------------------------------------------------------- protocol lines (worker/runners/protocol.ts)


def _num(v):
    # zod 4 z.number(): a finite JS number (booleans are not numbers)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _count(v):
    return _num(v) and v >= 0 and v == int(v) and v <= MAX_SAFE_INT


def _str(v, min_len=0):
    return isinstance(v, str) and len(v) >= min_len


# type -> {field: (required, check, what it must be)}
LINE_SCHEMAS = {
    "progress": {"fraction": (True, lambda v: _num(v) and 0 <= v <= 1, "a number in [0, 1]"), "message": (False, _str, "a string")},
    "metric": {"name": (True, lambda v: _str(v, 1), "a non-empty string"), "value": (True, _num, "a finite number"),
               "step": (False, _count, "a non-negative integer")},
    "ledger": {"flops": (True, lambda v: _num(v) and v >= 0, "a number >= 0"), "tokens_prompt": (True, _count, "a non-negative integer"),
               "tokens_generated": (True, _count, "a non-negative integer"), "tokens_trained": (True, _count, "a non-negative integer"),
               "device_kind": (True, lambda v: _str(v, 1), "a non-empty string"), "device_s": (True, lambda v: _num(v) and v >= 0, "a number >= 0"),
               "params": (True, _count, "a non-negative integer")},
    "artifact": {"role": (True, lambda v: _str(v, 1), "a non-empty string"), "path": (True, lambda v: _str(v, 1), "a non-empty string"),
                 "media_type": (False, _str, "a string")},
    "result": {"metrics": (True, lambda v: isinstance(v, dict) and all(_num(x) for x in v.values()), "an object of finite numbers"),
               "details": (False, lambda v: isinstance(v, dict), "an object")},
    "error": {"message": (True, lambda v: _str(v, 1), "a non-empty string"), "retryable": (False, lambda v: isinstance(v, bool), "a boolean")},
    "log": {"message": (True, _str, "a string")},
}


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_line(raw):
    """(line dict, None) or (None, what is wrong), as RunnerLine.safeParse after JSON.parse."""
    try:
        obj = json.loads(raw, parse_constant=_no_constant)  # JSON.parse has no NaN/Infinity
    except ValueError as e:
        return None, f"not JSON ({e})"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    schema = LINE_SCHEMAS.get(obj.get("type"))
    if schema is None:
        return None, f"type: unknown line type {obj.get('type')!r}; known: {', '.join(LINE_SCHEMAS)}"
    issues = []
    for key, (required, check, what) in schema.items():
        if key not in obj:
            if required:
                issues.append(f"{key}: required")
        elif not check(obj[key]):
            issues.append(f"{key}: must be {what}, got {json.dumps(obj[key])[:80]}")
    extra = sorted(set(obj) - set(schema) - {"type"})
    if extra:
        issues.append(f"unknown key(s) {', '.join(extra)}")
    return (None, "; ".join(issues)) if issues else (obj, None)


def resolve_artifact_path(output_dir, path):
    """resolveArtifactPath (worker/runners/process.ts): a regular file inside output_dir, no symlinks."""
    root = os.path.realpath(output_dir)
    abs_path = os.path.normpath(path if os.path.isabs(path) else os.path.join(output_dir, path))
    rel = os.path.relpath(abs_path, os.path.normpath(output_dir))
    if rel in ("", ".") or rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise ValueError(f"artifact path {json.dumps(path)} is outside the output dir {output_dir}")
    cur = os.path.normpath(output_dir)
    for part in rel.split(os.sep):
        cur = os.path.join(cur, part)
        try:
            st = os.lstat(cur)
        except OSError:
            raise ValueError(f"artifact path {json.dumps(path)} does not exist when its line is read")
        if stat.S_ISLNK(st.st_mode):
            raise ValueError(f"artifact path {json.dumps(path)} goes through a symlink ({cur})")
    real = os.path.realpath(abs_path)
    if not (real + os.sep).startswith(root + os.sep):
        raise ValueError(f"artifact path {json.dumps(path)} resolves outside the output dir")
    if not stat.S_ISREG(os.lstat(real).st_mode):
        raise ValueError(f"artifact path {json.dumps(path)} is not a regular file")
    return real


def safe_role(role):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", role)[:64] or "input"


# ---------------------------------------------------------------- one task, one process (ProcessRunner)


class Store:
    """Content-addressed artifacts (sha256), what the worker's artifact store does for us."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def put_file(self, role, src, media_type, uri=None):
        h = hashlib.sha256()
        with open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        dst = os.path.join(self.root, digest)
        if not os.path.exists(dst):
            shutil.copyfile(src, dst)
        ref = {"role": role, "digest": digest, "size": os.path.getsize(dst), "uri": uri or f"nats-obj://limolab_artifacts/{digest}", "mediaType": media_type}
        return ref, dst


class TaskRun:
    def __init__(self, name):
        self.name = name
        self.ok = False
        self.error = None
        self.rc = None
        self.wall_s = 0.0
        self.first_line_s = None
        self.ledger = {}
        self.result = None
        self.artifacts = []  # (role, abs path, media_type)
        self.lines = {}
        self.train_loss = []
        self.stderr_tail = []


def add_ledger(acc, line):
    """Several ledger lines add up; device kind: the last one; params: the largest (addLedger)."""
    for k in ("flops", "tokens_prompt", "tokens_generated", "tokens_trained", "device_s"):
        acc[k] = acc.get(k, 0) + line[k]
    acc["device_kind"] = line["device_kind"]
    acc["params"] = max(acc.get("params", 0), line["params"])


def run_runner(name, task, inputs, env_extra, threads, work_root, timeout_s):
    """Runs the torch runner on one task as ProcessRunner.run does; returns a TaskRun.
    inputs: [(ArtifactRef dict, file with its bytes)], in task.inputs order."""
    tr = TaskRun(name)
    work = tempfile.mkdtemp(prefix=f"limolab-{safe_role(task['id'])}-", dir=work_root)
    in_dir, out_dir = os.path.join(work, "inputs"), os.path.join(work, "output")
    os.mkdir(in_dir)
    os.mkdir(out_dir)
    spec_inputs = []
    for k, (ref, src) in enumerate(inputs):
        path = os.path.join(in_dir, f"{k}-{safe_role(ref['role'])}")
        shutil.copyfile(src, path)
        spec_inputs.append({"role": ref["role"], "digest": ref["digest"], "path": path, "media_type": ref["mediaType"]})
    payload = {"protocol": PROTOCOL_VERSION, "task": task, "inputs": spec_inputs, "output_dir": out_dir, "threads": threads}
    stdin_bytes = (json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    with open(os.path.join(work, "stdin.json"), "wb") as f:  # kept with --keep, for replay: runner < stdin.json
        f.write(stdin_bytes)
    env = dict(os.environ)
    env.update(env_extra)
    env.update({"LIMOLAB_OUTPUT_DIR": out_dir, "OMP_NUM_THREADS": str(max(1, threads))})
    err_path = os.path.join(work, "stderr.log")
    limit = min(timeout_s, task.get("timeoutS") or timeout_s)
    t0 = time.monotonic()
    failure = []
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, RUNNER], cwd=out_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)  # own process group (detached: true)
        exited = threading.Event()

        def signal_group(sig):
            if exited.is_set():
                return
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

        def stop(why):
            if not failure:
                failure.append(why)
            signal_group(signal.SIGTERM)
            kill = threading.Timer(GRACE_S, signal_group, (signal.SIGKILL,))
            kill.daemon = True
            kill.start()

        timer = threading.Timer(limit, lambda: stop(f"RunnerTimeoutError: exceeded its time limit of {limit} s"))
        timer.daemon = True
        timer.start()
        try:
            proc.stdin.write(stdin_bytes)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # it exited without reading stdin; the exit status tells the story
        line_no = 0
        for raw_b in proc.stdout:
            if line_no == 0:
                tr.first_line_s = time.monotonic() - t0
            line_no += 1
            if failure:
                continue
            raw = raw_b.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
            if raw.strip() == "":
                continue
            show = raw[:200] + ("..." if len(raw) > 200 else "")
            if len(raw) > MAX_LINE_CHARS:
                stop(f"RunnerProtocolError: stdout line {line_no} is longer than {MAX_LINE_CHARS} characters")
                continue
            line, why = parse_line(raw)
            if line is None:
                stop(f"RunnerProtocolError: stdout line {line_no} does not match the protocol ({why}): {show}")
                continue
            typ = line["type"]
            tr.lines[typ] = tr.lines.get(typ, 0) + 1
            if tr.result is not None and typ != "log":
                stop(f"RunnerProtocolError: stdout line {line_no} ({typ}) comes after the result line; the result must be the last line")
                continue
            if typ == "ledger":
                add_ledger(tr.ledger, line)
            elif typ == "metric" and line["name"] == "train_loss":
                tr.train_loss.append(line["value"])
            elif typ == "artifact":
                try:
                    tr.artifacts.append((line["role"], resolve_artifact_path(out_dir, line["path"]), line.get("media_type", "application/octet-stream")))
                except ValueError as e:
                    stop(f"RunnerArtifactError: stdout line {line_no}: {e}")
            elif typ == "result":
                tr.result = line
            elif typ == "error":
                stop(f"RunnerReportedError: runner reported: {line['message']} (retryable: {line.get('retryable', False)})")
        tr.rc = proc.wait()
        exited.set()
        timer.cancel()
    tr.wall_s = time.monotonic() - t0
    with open(err_path, encoding="utf-8", errors="replace") as f:
        tr.stderr_tail = f.read().splitlines()[-50:]
    if failure:
        tr.error = failure[0]
    elif tr.result is None:
        tr.error = f"RunnerExitedError: runner ended (exit code {tr.rc}) without a result line"
    elif tr.rc != 0:
        tr.error = f"RunnerExitedError: runner wrote a result but ended with exit code {tr.rc}"
    else:
        tr.ok = True
    tr.work = work
    return tr


# ---------------------------------------------------------------- the check


def peak_for(name, table):
    for pat, v in table:
        if re.search(pat, name or "", re.I):
            return v
    return None


def probe_torch():
    code = ("import json, torch; ok = torch.cuda.is_available(); p = torch.cuda.get_device_properties(0) if ok else None; "
            "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, 'ok': ok, 'count': torch.cuda.device_count() if ok else 0, "
            "'name': torch.cuda.get_device_name(0) if ok else None, 'capability': list(torch.cuda.get_device_capability(0)) if ok else None, "
            "'memory_gib': round(p.total_memory / 2**30, 1) if ok else None, 'bf16': torch.cuda.is_bf16_supported() if ok else None}))")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise SetupError(f"{sys.executable} took over 300 s to import torch")
    if r.returncode != 0:
        raise SetupError(f"{sys.executable} could not import torch: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    for mod in ("transformers", "tokenizers"):
        v = subprocess.run([sys.executable, "-c", f"import {mod}; print({mod}.__version__)"], capture_output=True, text=True, timeout=300)
        if v.returncode != 0:
            raise SetupError(f"{sys.executable} has no module {mod} (the runner needs it for model_ref kind hf): {(v.stderr.strip().splitlines() or ['?'])[-1]}")
        info[mod] = v.stdout.strip()
    return info


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def check_samples(tr, n_prompts, n):
    """What HfRunner accepts of the `samples` artifact (limolab-samples/1, one entry per prompt, n each)."""
    files = [p for role, p, _ in tr.artifacts if role == "samples"]
    if not files:
        return "the runner wrote no 'samples' artifact"
    with open(files[-1], encoding="utf-8") as f:
        data = json.load(f)
    if data.get("format") != "limolab-samples/1" or not isinstance(data.get("samples"), list):
        return "samples file is not limolab-samples/1"
    for i, s in enumerate(data["samples"]):
        if not (isinstance(s, dict) and isinstance(s.get("completions"), list) and all(isinstance(c, str) for c in s["completions"])
                and _count(s.get("prompt_tokens")) and _count(s.get("generated_tokens"))):
            return f"samples[{i}] is not {{completions: [str], prompt_tokens, generated_tokens}}"
    if len(data["samples"]) != n_prompts or any(len(s["completions"]) != n for s in data["samples"]):
        return f"{len(data['samples'])} prompt(s) with {sorted({len(s['completions']) for s in data['samples']})} completion(s) each; expected {n_prompts} with {n} each"
    gen = sum(s["generated_tokens"] for s in data["samples"])
    if gen != tr.ledger.get("tokens_generated"):
        return f"samples file counts {gen} generated tokens, the ledger {tr.ledger.get('tokens_generated')}"
    tr.first_sample = data["samples"][0]["completions"][0] if data["samples"] and data["samples"][0]["completions"] else ""
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description="GPU check of runners/torch/limolab_torch_runner.py with python only (see the file's header)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny model and few steps (the CPU dry run)")
    ap.add_argument("--peak-tflops", type=float, help="MFU against this peak for every task (default: table by GPU name and dtype)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="TRAIN's train.options.dtype (sampling tasks always run float32, as the worker sends them)")
    ap.add_argument("--steps", type=int, help="TRAIN max_steps (default 32; --tiny 4)")
    ap.add_argument("--epochs", type=int, default=1, help="TRAIN epochs (256 examples / batch 16 = 16 steps an epoch)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--prompts", type=int, help="ROLLOUT prompts (default 32; --tiny 4)")
    ap.add_argument("-k", type=int, help="ROLLOUT samples per prompt (default 8; --tiny 2)")
    ap.add_argument("--max-tokens", type=int, help="ROLLOUT max tokens (default 128; --tiny 16)")
    ap.add_argument("--threads", type=int, default=1, help="task resources.cpus -> stdin threads, OMP_NUM_THREADS (worker default 1)")
    ap.add_argument("--seed", type=int, default=0, help="task seed (0 is omitted from the task JSON, as the sweep sends it)")
    ap.add_argument("--timeout-s", type=int, default=420, help="per-task limit (the task's timeoutS)")
    ap.add_argument("--out", help="write a JSON summary here (also on failure)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (model, data, each task's stdin.json, stderr.log, outputs)")
    a = ap.parse_args(argv)
    summary = {"ok": False, "device": a.device, "tiny": a.tiny, "python": sys.executable, "root": ROOT, "tasks": []}
    t_start = time.monotonic()
    try:
        code = check(a, summary)
    except SetupError as e:
        print(f"gpu-runner-check: {e}", file=sys.stderr, flush=True)
        summary["error"] = str(e)
        code = 2
    finally:
        summary["total_wall_s"] = round(time.monotonic() - t_start, 2)
        work = summary.get("work_dir")
        if a.out:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            with open(a.out, "w", encoding="utf-8") as f:
                json.dump(summary, f, indent=1)
        if work and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return code


def check(a, summary):
    for path in (RUNNER, HF_TINY):
        if not os.path.isfile(path):
            raise SetupError(f"{path} is missing; run this from a limolab checkout")
    if a.threads < 1:
        raise SetupError("--threads must be >= 1")
    probe = probe_torch()
    summary["probe"] = probe
    say(f"torch {probe['torch']} ({'CUDA ' + probe['cuda'] if probe['cuda'] else 'CPU-only build'}), transformers {probe['transformers']}, "
        f"tokenizers {probe['tokenizers']}, python {sys.version.split()[0]}")
    if probe["ok"]:
        say(f"GPU: {probe['name']} x{probe['count']}, compute capability {'.'.join(map(str, probe['capability']))}, {probe['memory_gib']} GiB, bf16 {probe['bf16']}")
    if a.device == "cuda" and not probe["ok"]:
        raise SetupError(f"no CUDA device: torch {probe['torch']} ({'built for CUDA ' + probe['cuda'] if probe['cuda'] else 'a CPU-only build'}) sees no GPU. "
                         "Run this on a machine with an NVIDIA GPU and a CUDA build of torch, or use --device cpu --tiny for the CPU dry run.")
    gpu = probe["name"] if a.device == "cuda" else None
    peaks = {}
    for dt, table in (("float32", PEAK_FP32_TFLOPS), ("bfloat16", PEAK_BF16_TFLOPS)):
        peaks[dt] = a.peak_tflops if a.peak_tflops is not None else (peak_for(gpu, table) if gpu else None)
    summary["peak_tflops"] = peaks

    work = tempfile.mkdtemp(prefix="limolab-gpu-runner-check-")
    summary["work_dir"] = work
    shape = SHAPES["tiny" if a.tiny else "default"]
    say(f"{a.device}{' (' + gpu + ')' if gpu else ''}, work dir {work}")
    t0 = time.monotonic()
    try:
        mk = subprocess.run([sys.executable, HF_TINY, "-o", os.path.join(work, "model"), "--data", os.path.join(work, "data"), *shape],
                            capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise SetupError("building the model took over 300 s")
    if mk.returncode != 0:
        raise SetupError(f"building the model failed: {mk.stderr[-1500:]}")
    info = json.loads(mk.stdout.strip().splitlines()[-1])
    summary["model"] = {**info, "shape": shape, "build_s": round(time.monotonic() - t0, 2)}
    say(f"model {info['params'] / 1e6:.1f}M parameters (vocab {info['vocab_size']}) built in {time.monotonic() - t0:.1f} s")

    steps = a.steps if a.steps is not None else (4 if a.tiny else 32)
    prompts_n = a.prompts if a.prompts is not None else (4 if a.tiny else 32)
    k = a.k if a.k is not None else (2 if a.tiny else 8)
    max_tokens = a.max_tokens if a.max_tokens is not None else (16 if a.tiny else 128)
    eval_limit, eval_max_tokens, train_limit = 2, 16, 256  # as gpu-check.ts: datasets limit 2, eval max_tokens 16, params n 256
    summary["settings"] = {"steps": steps, "epochs": a.epochs, "batch_size": a.batch_size, "dtype": a.dtype, "prompts": prompts_n, "k": k,
                           "max_tokens": max_tokens, "eval_limit": eval_limit, "eval_max_tokens": eval_max_tokens, "threads": a.threads, "seed": a.seed}

    model_dir = os.path.realpath(info["dir"])  # HfRunner passes the resolved path
    data_dir = os.path.join(work, "data")
    store = Store(os.path.join(work, "store"))
    env_extra = {"LIMOLAB_TORCH_DEVICE": a.device, "LIMOLAB_DATA_ROOT": work}
    sweep = f"gpu-runner-check-{os.urandom(5).hex()}"
    counter = [0]

    def task(arm, kind, phase, case, spec, inputs):
        counter[0] += 1
        t = {"id": f"{sweep}.{counter[0]:08x}", "sweepId": sweep, "arm": arm, "kind": kind, "phase": phase}
        if a.seed:
            t["seed"] = a.seed
        t["resources"] = {"cpus": a.threads, "pool": "default"}
        if inputs:
            t["inputs"] = [ref for ref, _ in inputs]
        t.update({"attempt": 1, "timeoutS": a.timeout_s, "cacheKey": hashlib.sha256(f"{sweep}:{counter[0]}".encode()).hexdigest()})
        t[case] = spec
        t["modelRef"] = {"kind": "hf", "path": model_dir, "params": info["params"]}
        return t

    # TRAIN: HfRunner builds {prompt, completion} rows in the plain template (hf-train.ts buildTrainingSet)
    # and hands them over as input `dataset` (a captured blob: digest captured-0, uri mem://captured-0).
    rows = read_jsonl(os.path.join(data_dir, "train.jsonl"))[:train_limit]
    ds_path = os.path.join(work, "train-set.jsonl")
    with open(ds_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"prompt": render_prompt(r["problem"]), "completion": r["solution"] + PLAIN_ASSISTANT_END}, separators=(",", ":"), ensure_ascii=False) + "\n")
    ds_ref = {"role": "dataset", "digest": "captured-0", "size": os.path.getsize(ds_path), "uri": "mem://captured-0", "mediaType": "application/jsonl"}
    train_opts = {"max_len": 1024, "max_steps": steps, "weight_decay": 0, "grad_clip": 1, "beta2": 0.95, "dtype": a.dtype}
    train_spec = {"method": "sft", "epochs": a.epochs, "lr": 0.0003, "batchSize": a.batch_size, "options": train_opts}

    # EVAL (sample mode): the first eval_limit test problems, greedy, seeds deriveSeed(seed, eval:<set>:<i>).
    tests = read_jsonl(os.path.join(data_dir, "test.jsonl"))[:eval_limit]
    eval_opts = {"prompts": [render_prompt(r["problem"]) for r in tests], "seeds": [derive_seed(a.seed, f"eval:sums:{i}") for i in range(len(tests))],
                 "n": 1, "temperature": 0, "max_tokens": eval_max_tokens, "stop": PLAIN_STOP}
    eval_spec = {"splits": ["sums"], "nSamples": 1, "keepOutputs": 4, "mode": "model", "options": eval_opts}

    # ROLLOUT (sample mode): round 1, `prompts` problems of the pool shuffled by deriveSeed(seed, rollout-round:1).
    pool = read_jsonl(os.path.join(data_dir, "train.jsonl"))
    chosen = Rng(derive_seed(a.seed, "rollout-round:1")).shuffle(pool)[:prompts_n]
    ro_opts = {"prompts": [render_prompt(r["problem"]) for r in chosen], "seeds": [derive_seed(a.seed, f"rollout:1:0:{i}") for i in range(len(chosen))],
               "n": k, "temperature": 1, "max_tokens": max_tokens, "stop": PLAIN_STOP}
    ro_spec = {"numShards": 1, "prompts": prompts_n, "k": k, "temperature": 1, "maxTokens": max_tokens, "round": 1, "options": ro_opts}

    runs = []

    def go(name, t, inputs, dtype):
        say(f"{name}: {t['kind']} starting")
        tr = run_runner(name, t, inputs, env_extra, a.threads, work, a.timeout_s)
        tr.kind, tr.dtype = t["kind"], dtype
        runs.append(tr)
        why = None
        if tr.ok and not tr.ledger:
            why = "no ledger line"
        elif tr.ok and t["kind"] == "TASK_KIND_TRAIN":
            if not any(role == "checkpoint" for role, _, _ in tr.artifacts):
                why = "TRAIN wrote no 'checkpoint' artifact"
            elif tr.ledger["tokens_trained"] <= 0:
                why = "TRAIN trained no tokens (tokens_trained 0)"
        elif tr.ok:
            opts = t["eval" if "eval" in t else "rollout"]["options"]
            why = check_samples(tr, len(opts["prompts"]), opts["n"])
            if why is None and t["kind"] == "TASK_KIND_ROLLOUT" and tr.ledger["tokens_generated"] <= 0:
                why = "ROLLOUT generated no tokens (tokens_generated 0)"
        if why:
            tr.ok, tr.error = False, f"check: {why}"
        report(tr, peaks)
        return tr

    tr = go("train sft", task("train", "TASK_KIND_TRAIN", "training", "train", train_spec, [(ds_ref, ds_path)]), [(ds_ref, ds_path)], a.dtype)
    # The checkpoint tar goes to the store (content-addressed) and on to the EVAL as input `checkpoint`.
    ckpt = store.put_file("checkpoint", *[(p, mt) for role, p, mt in tr.artifacts if role == "checkpoint"][-1]) if tr.ok else None
    if not a.keep:
        shutil.rmtree(tr.work, ignore_errors=True)  # the worker drops each task's work dir
    if ckpt is not None:
        go("eval trained", task("train", "TASK_KIND_EVAL", "evaluation", "eval", eval_spec, [ckpt]), [ckpt], "float32")
    else:
        say("eval trained: skipped, TRAIN gave no checkpoint")
    go("rollout", task("rollout", "TASK_KIND_ROLLOUT", "rollout", "rollout", ro_spec, []), [], "float32")
    go("eval base", task("rollout", "TASK_KIND_EVAL", "evaluation", "eval", eval_spec, []), [], "float32")
    if not a.keep:
        for tr in runs:
            shutil.rmtree(tr.work, ignore_errors=True)

    summary["tasks"] = [task_summary(tr, peaks) for tr in runs]
    ok = len(runs) == 4 and all(tr.ok for tr in runs)
    summary["ok"] = ok
    print()
    print(f"{'task':<13} {'kind':<8} {'ok':<4} {'wall_s':>7} {'dev_s':>7} {'flops':>9} {'tokens':>8} {'tok/s':>9} {'TFLOP/s':>8} {'MFU':>8}")
    for s in summary["tasks"]:
        mfu = f"{100 * s['mfu']:.2f}%" if s.get("mfu") is not None else "n/a"
        print(f"{s['name']:<13} {s['kind'].replace('TASK_KIND_', ''):<8} {'yes' if s['ok'] else 'NO':<4} {s['wall_s']:>7.1f} {s.get('device_s', 0):>7.1f} "
              f"{s.get('flops', 0):>9.3g} {s.get('tokens', 0):>8} {s.get('tokens_per_s', 0):>9.0f} {s.get('tflops_per_s', 0):>8.3f} {mfu:>8}")
    for tr in runs:
        if not tr.ok:
            tail = "\n    ".join(tr.stderr_tail[-30:]) if any(x.strip() for x in tr.stderr_tail) else "(none)"
            print(f"\n{tr.name} FAILED: {tr.error}\n  runner stderr (last lines):\n    {tail}", file=sys.stderr)
    if not peaks["float32"]:
        say("MFU n/a: no peak known for this device; pass --peak-tflops N")
    say(f"{'ok' if ok else 'FAILED'} in {time.monotonic() - t0:.0f} s (model build included)")
    return 0 if ok else 1


def task_summary(tr, peaks):
    s = {"name": tr.name, "kind": tr.kind, "ok": tr.ok, "error": tr.error, "exit_code": tr.rc, "wall_s": round(tr.wall_s, 3),
         "first_line_s": None if tr.first_line_s is None else round(tr.first_line_s, 3), "lines": tr.lines, "ledger": tr.ledger,
         "metrics": (tr.result or {}).get("metrics"), "details": (tr.result or {}).get("details"), "dtype": tr.dtype,
         "artifacts": [{"role": r, "file": os.path.basename(p), "media_type": mt, "size": os.path.getsize(p) if os.path.exists(p) else None} for r, p, mt in tr.artifacts]}
    if getattr(tr, "first_sample", None) is not None:
        s["first_sample"] = tr.first_sample[:300]
    if tr.train_loss:
        s["train_loss"] = [round(x, 4) for x in tr.train_loss]
    if not tr.ok:
        s["stderr_tail"] = tr.stderr_tail
    if tr.ledger:
        led = tr.ledger
        dev = max(led["device_s"], 1e-9)
        tokens = led["tokens_trained"] if led["tokens_trained"] > 0 else led["tokens_prompt"] + led["tokens_generated"]
        peak = peaks.get(tr.dtype)
        s.update({"device_s": round(led["device_s"], 3), "flops": led["flops"], "tokens": tokens, "tokens_per_s": tokens / dev,
                  "tflops_per_s": led["flops"] / dev / 1e12, "peak_tflops": peak, "mfu": led["flops"] / dev / (peak * 1e12) if peak else None})
        if led["tokens_generated"]:
            s["generated_tokens_per_s"] = led["tokens_generated"] / dev
        m = (tr.result or {}).get("metrics") or {}
        if m.get("train_s"):
            loop = m.get("train_flops", 0) / max(m["train_s"], 1e-9)
            s["train_loop"] = {"tokens_per_s": m.get("train_tokens_per_s"), "tflops_per_s": loop / 1e12, "mfu": loop / (peak * 1e12) if peak else None}
    return s


def report(tr, peaks):
    s = task_summary(tr, peaks)
    if not tr.ok:
        say(f"{tr.name}: FAILED after {tr.wall_s:.1f} s: {tr.error}")
        return
    pct = lambda v: f"{100 * v:.2f}%" if v is not None else "n/a"  # noqa: E731
    peak = f" of {s['peak_tflops']:g} TFLOP/s {tr.dtype}" if s.get("peak_tflops") else ""
    say(f"{tr.name}: ok, wall {tr.wall_s:.1f} s (first line {tr.first_line_s or 0:.1f} s), device {s['device_s']:.1f} s on {tr.ledger['device_kind']}, "
        f"{s['flops']:.3g} FLOPs, {s['tokens']} tokens -> {s['tokens_per_s']:.0f} tok/s, {s['tflops_per_s']:.3f} TFLOP/s, MFU {pct(s['mfu'])}{peak}")
    m = s.get("metrics") or {}
    if "train_loop" in s:
        lp = s["train_loop"]
        say(f"  training loop: {int(m.get('steps', 0))} steps in {m['train_s']:.2f} s, {lp['tokens_per_s']:.0f} tok/s, {lp['tflops_per_s']:.3f} TFLOP/s, "
            f"MFU {pct(lp['mfu'])}; loss {m.get('loss_first_step', 0):.3f} -> {m.get('loss_last_step', 0):.3f} (final {m.get('loss_final', 0):.3f}); "
            f"tokens trained {tr.ledger['tokens_trained']}, forward tokens {tr.ledger['tokens_prompt']}")
    else:
        say(f"  {int(m.get('prompts', 0))} prompts, {int(m.get('samples', 0))} samples, prompt tokens {tr.ledger['tokens_prompt']}, "
            f"generated {tr.ledger['tokens_generated']} ({s.get('generated_tokens_per_s', 0):.0f} generated tok/s); first: {json.dumps(s.get('first_sample', ''))[:120]}")


if __name__ == "__main__":
    sys.exit(main())
