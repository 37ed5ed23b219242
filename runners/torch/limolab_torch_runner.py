#!/usr/bin/env python3
"""limolab PyTorch runner: speaks the external-runner protocol (docs/runner-protocol.md).

Reads one task JSON on stdin, writes protocol JSON lines on stdout, logs on stderr.
TRAIN (SFT, full fine-tune; LoRA via peft) and ROLLOUT/EVAL sampling for
  - the built-in Llama-style model (safetensors with HF Llama tensor names + LlamaConfig),
    run with the plain-PyTorch forward in llama.py (no transformers needed), and
  - Hugging Face causal LMs from a local path or a checkpoint tar (transformers; vLLM optional).
FLOPs follow model_flops.py. Run: python3 limolab_torch_runner.py < task.json   (see README.md)
"""
import json
import math
import os
import random
import sys
import time
import traceback

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a worker never downloads models behind the user's back
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import model_flops  # noqa: E402
from models import TaskError, device_of, find_input, load_model  # noqa: E402
from sampling import batch_limits, generate_many, open_vllm  # noqa: E402


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- inputs


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TaskError(f"{path}:{n}: not valid JSON ({e})")
    return rows


def example_text(row, path_hint):
    """(prompt, completion) from a dataset row: prompt/completion, or problem|question + solution."""
    prompt = row.get("prompt", row.get("problem", row.get("question")))
    completion = row.get("completion", row.get("solution"))
    if not isinstance(prompt, str):
        raise TaskError(f"dataset row in {path_hint} has no prompt/problem/question string")
    return prompt, completion


# ---------------------------------------------------------------- train


def encode_examples(m, rows, data_path, max_len):
    """(ids, loss weights, example weight) per row; weight 1 on completion targets (and EOS) only."""
    examples = []
    for r in rows:
        prompt, completion = example_text(r, data_path)
        if not isinstance(completion, str):
            raise TaskError(f"training row in {data_path} has no completion/solution string")
        p = m.encode(prompt, bos=True)
        c = m.encode(completion) + ([m.eos] if m.eos is not None else [])
        ids = (p + c)[:max_len]
        if len(ids) < 2:
            continue
        # position t predicts ids[t+1]
        w = ([0.0] * (len(p) - 1) + [1.0] * (len(ids) - len(p)))[: len(ids) - 1]
        examples.append((ids, w, float(r.get("weight", 1.0))))
    if not examples:
        raise TaskError(f"dataset {data_path} has no example with at least one completion token (options.max_len too small?)")
    return examples


def pad_batch(batch, device):
    """Right-padded ids (B, T) and loss weights (B, T-1). No attention mask is needed: with causal
    attention, padding at the end cannot change earlier positions, and it carries weight 0."""
    T = max(len(e[0]) for e in batch)
    ids = torch.zeros((len(batch), T), dtype=torch.long)
    wts = torch.zeros((len(batch), T - 1))
    for j, (x, w, ew) in enumerate(batch):
        ids[j, : len(x)] = torch.tensor(x)
        wts[j, : len(w)] = torch.tensor(w) * ew
    return ids.to(device), wts.to(device)


def batch_nll(m, ids):
    logits = m.logits(ids)[:, :-1].float()  # (B, T-1, V)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none").view(ids.size(0), -1)


def run_train(spec, m, device_kind, t0):
    task = spec["task"]
    ts = task.get("train", {})
    options = ts.get("options") or {}
    data_path = find_input(spec, "dataset")
    rows = read_jsonl(data_path)
    if not rows and not options.get("allow_empty"):
        raise TaskError(f"dataset {data_path} is empty")
    # allow_empty (an RL round whose samples all failed verification): the policy stays as it is
    examples = encode_examples(m, rows, data_path, int(options.get("max_len", 1024))) if rows else []
    epochs = int(ts.get("epochs") or 1)
    bs = int(ts.get("batchSize") or 8)
    lr = float(ts.get("lr") or 1e-4)
    max_steps = int(options.get("max_steps", 0))
    seed = int(task.get("seed", 0))
    random.seed(seed)
    torch.manual_seed(seed)
    params = [p for p in m.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=float(options.get("weight_decay", 0.0)), betas=(0.9, float(options.get("beta2", 0.95))))
    n_mm, layers, d_attn = m.geometry()
    steps_total = epochs * math.ceil(len(examples) / bs)
    if max_steps > 0:
        steps_total = min(steps_total, max_steps)
    grad_clip = float(options.get("grad_clip", 1.0))
    step = 0
    tokens = 0
    flops = 0.0
    first_loss = None
    last_loss = None
    m.model.train()
    t_loop = time.time()
    for _epoch in range(epochs):
        order = list(range(len(examples)))
        random.shuffle(order)
        for b in range(0, len(order), bs):
            if step >= steps_total:
                break
            batch = [examples[i] for i in order[b: b + bs]]
            ids, wts = pad_batch(batch, m.device)
            loss = (batch_nll(m, ids) * wts).sum() / wts.sum().clamp(min=1e-8)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            step += 1
            lengths = [len(e[0]) - 1 for e in batch]  # positions run: the last token is only a target
            tokens += sum(lengths)
            flops += model_flops.train_flops(n_mm, layers, d_attn, lengths)
            lv = float(loss.item())
            first_loss = lv if first_loss is None else first_loss
            last_loss = lv
            emit(type="metric", name="train_loss", value=lv, step=step)
            emit(type="progress", fraction=min(1.0, step / steps_total), message=f"step {step}/{steps_total}")
    if m.device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.time() - t_loop
    # loss of the final weights on the whole set (no update), so the result compares like with like
    final_loss, eval_lengths = eval_loss(m, examples, bs) if examples else (0.0, [])
    eval_flops = model_flops.forward_flops(n_mm, layers, d_attn, eval_lengths)
    out_dir = spec["output_dir"]
    if m.kind == "builtin":
        m.save(os.path.join(out_dir, "model.safetensors"))
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(m.config.to_dict(), f)
        emit(type="artifact", role="checkpoint", path="model.safetensors", media_type="application/vnd.limolab.safetensors")
        emit(type="artifact", role="config", path="config.json", media_type="application/json")
    else:
        m.save(os.path.join(out_dir, "hf"))
        archive = shutil_archive(os.path.join(out_dir, "hf"), os.path.join(out_dir, "checkpoint"))
        emit(type="artifact", role="checkpoint", path=os.path.basename(archive), media_type="application/x-tar")
    # The final-loss pass is a forward over the set: charged as forward tokens, not trained ones.
    emit(type="ledger", flops=flops + eval_flops, tokens_prompt=sum(eval_lengths), tokens_generated=0, tokens_trained=tokens, device_kind=device_kind,
         device_s=time.time() - t0, params=n_mm)
    if not examples:
        first_loss = last_loss = 0.0
    emit(type="result", metrics={"loss_first_step": first_loss, "loss_last_step": last_loss, "loss_final": final_loss, "steps": step, "tokens_trained": tokens,
                                 "train_s": train_s, "train_tokens_per_s": tokens / max(train_s, 1e-9), "train_flops": flops, "lora": 1 if getattr(m, "lora", False) else 0})


def shutil_archive(src, base):
    import shutil

    return shutil.make_archive(base, "tar", src)


@torch.no_grad()
def eval_loss(m, examples, bs):
    """Weighted mean NLL of the examples under the current weights, and the positions run."""
    m.model.eval()
    tot = 0.0
    wsum = 0.0
    lengths = []
    for b in range(0, len(examples), bs):
        batch = examples[b: b + bs]
        ids, wts = pad_batch(batch, m.device)
        tot += float((batch_nll(m, ids) * wts).sum())
        wsum += float(wts.sum())
        lengths += [len(e[0]) - 1 for e in batch]
    m.model.train()
    return tot / max(wsum, 1e-8), lengths


# ---------------------------------------------------------------- sample


def progress_of(total):
    """A done(n) callback for generate_many: a progress line when n of `total` prompts are sampled."""
    last = [0]

    def done(n):
        if n > last[0]:
            last[0] = n
            emit(type="progress", fraction=n / total, message=f"prompt {n}/{total}")

    return done


def sample_ledger(m, device_kind, t0, prompt_lens, gen_lens):
    """Ledger line for sampling: per sample row, prompt + generated - 1 positions run."""
    n_mm, layers, d_attn = m.geometry()
    lengths = [p + max(0, g - 1) for p, g in zip(prompt_lens, gen_lens)]
    emit(type="ledger", flops=model_flops.forward_flops(n_mm, layers, d_attn, lengths), tokens_prompt=sum(prompt_lens), tokens_generated=sum(gen_lens),
         tokens_trained=0, device_kind=device_kind, device_s=time.time() - t0, params=n_mm)


def run_sample(spec, m, device_kind, t0, kind):
    task = spec["task"]
    s = task.get("rollout") if kind == "rollout" else task.get("eval")
    s = s or {}
    options = s.get("options") or {}
    k = int(s.get("k") or 1) if kind == "rollout" else int(s.get("nSamples") or 1)
    temperature = float(s.get("temperature", 1.0 if kind == "rollout" else 0.0))
    max_tokens = int(s.get("maxTokens") or options.get("max_tokens", 256))
    top_p = float(options.get("top_p", 1.0))
    stop = options.get("stop") or []
    data_path = find_input(spec, "dataset")
    rows = read_jsonl(data_path)
    if kind == "rollout" and s.get("numShards"):
        rows = rows[int(s.get("shard", 0)):: int(s["numShards"])]
    seed = int(task.get("seed", 0))
    gen = torch.Generator(device=m.device).manual_seed(seed)
    limits = batch_limits(options)
    prompts = [example_text(r, data_path)[0] for r in rows]
    llm = open_vllm(m, options)
    # transformers / vLLM: prompt i's seed is task seed + i (a transformers chunk is seeded from
    # its rows' seeds, sampling.chunk_seed); the built-in sampler runs one generator, seeded with
    # the task seed, through the prompts, as before.
    seeds = [seed + i for i in range(len(prompts))] if m.kind == "hf" else None
    results = generate_many(m, llm, prompts, k, temperature, top_p, max_tokens, stop, seeds, gen, limits, done=progress_of(len(prompts)))
    prompt_lens, gen_lens = [], []
    out_rows = []
    for r, prompt, (texts, n_prompt, n_gen) in zip(rows, prompts, results):
        prompt_lens += [n_prompt] * k
        gen_lens += n_gen
        out_rows.append({"prompt": prompt, "answer": r.get("answer"), "samples": texts})
    name = "rollouts.jsonl" if kind == "rollout" else "samples.jsonl"
    with open(os.path.join(spec["output_dir"], name), "w", encoding="utf-8") as f:
        for row in out_rows:
            f.write(json.dumps(row) + "\n")
    emit(type="artifact", role="rollouts" if kind == "rollout" else "samples", path=name, media_type="application/jsonl")
    sample_ledger(m, device_kind, t0, prompt_lens, gen_lens)
    emit(type="result", metrics={"prompts": len(rows), "samples": len(rows) * k, "mean_generated_tokens": sum(gen_lens) / max(1, len(rows) * k)}, details={"first": out_rows[0]["samples"][:2] if out_rows else []})


def sample_options(task):
    """options of an EVAL/ROLLOUT task in sample mode (options.prompts present), else None."""
    for case in ("rollout", "eval"):
        opts = (task.get(case) or {}).get("options") or {}
        if "prompts" in opts:
            return opts
    return None


def run_prompts(spec, m, device_kind, t0, options):
    """Sample mode (protocol extension, see README.md): sample the rendered prompts in
    options.prompts, n each, and return the completions as artifact `samples`; no dataset input,
    no grading (the worker grades)."""
    task = spec["task"]
    prompts = options.get("prompts")
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise TaskError("options.prompts must be a non-empty list of strings (the rendered prompts)")
    seeds = options.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or len(seeds) != len(prompts) or not all(isinstance(x, int) and x >= 0 for x in seeds)):
        raise TaskError(f"options.seeds must be a list of {len(prompts)} non-negative integers, one per prompt")
    if seeds is None:
        seeds = [int(task.get("seed", 0)) + i for i in range(len(prompts))]
    n = options.get("n", 1)
    max_tokens = options.get("max_tokens", 256)
    if not isinstance(n, int) or n < 1:
        raise TaskError(f"options.n must be an integer >= 1, got {n!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise TaskError(f"options.max_tokens must be an integer >= 1, got {max_tokens!r}")
    temperature = float(options.get("temperature", 0.0))
    top_p = float(options.get("top_p", 1.0))
    stop = options.get("stop") or []
    if temperature < 0 or not (0 < top_p <= 1):
        raise TaskError(f"options.temperature must be >= 0 and options.top_p in (0, 1], got {temperature}, {top_p}")
    if not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop):
        raise TaskError("options.stop must be a list of non-empty strings")
    limits = batch_limits(options)
    gen = torch.Generator(device=m.device)
    llm = open_vllm(m, options)
    results = generate_many(m, llm, prompts, n, temperature, top_p, max_tokens, stop, seeds, gen, limits, done=progress_of(len(prompts)))
    prompt_lens, gen_lens = [], []
    rows = []
    for texts, n_prompt, n_gen in results:
        prompt_lens += [n_prompt] * n
        gen_lens += n_gen
        rows.append({"completions": texts, "prompt_tokens": n_prompt * n, "generated_tokens": sum(n_gen), "generated_each": n_gen})
    with open(os.path.join(spec["output_dir"], "samples.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "limolab-samples/1", "samples": rows}, f)
    emit(type="artifact", role="samples", path="samples.json", media_type="application/json")
    sample_ledger(m, device_kind, t0, prompt_lens, gen_lens)
    emit(type="result", metrics={"prompts": len(prompts), "samples": len(prompts) * n, "tokens_prompt": sum(prompt_lens), "tokens_generated": sum(gen_lens)})


# ---------------------------------------------------------------- main


def main():
    t0 = time.time()
    try:
        spec = json.loads(sys.stdin.read())
    except json.JSONDecodeError as e:
        emit(type="error", message=f"stdin is not the task JSON: {e}", retryable=False)
        return 1
    task = spec.get("task", {})
    kind = task.get("kind", "")
    threads = int(spec.get("threads") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        device, device_kind = device_of()
        log(f"limolab torch runner: task {task.get('id')} {kind} on {device_kind}, torch {torch.__version__}")
        m = load_model(spec, device)
        if kind == "TASK_KIND_TRAIN":
            run_train(spec, m, device_kind, t0)
        elif kind in ("TASK_KIND_ROLLOUT", "TASK_KIND_EVAL") and sample_options(task) is not None:
            run_prompts(spec, m, device_kind, t0, sample_options(task))
        elif kind == "TASK_KIND_ROLLOUT":
            run_sample(spec, m, device_kind, t0, "rollout")
        elif kind == "TASK_KIND_EVAL":
            run_sample(spec, m, device_kind, t0, "eval")
        else:
            raise TaskError(f"this runner does TASK_KIND_TRAIN, TASK_KIND_ROLLOUT and TASK_KIND_EVAL, not {kind or 'an unset kind'}")
    except TaskError as e:
        emit(type="error", message=str(e), retryable=e.retryable)
        return 1
    except Exception as e:  # noqa: BLE001 - any other failure is reported with its traceback on stderr
        traceback.print_exc()
        emit(type="error", message=f"{type(e).__name__}: {e}", retryable=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
