#!/usr/bin/env python3
"""limolab PyTorch runner: speaks the external-runner protocol (docs/runner-protocol.md).

Reads one task JSON on stdin, writes protocol JSON lines on stdout, logs on stderr.
TRAIN (SFT, full fine-tune; LoRA via peft when importable) and ROLLOUT/EVAL sampling for
  - the built-in Llama-style model (safetensors with HF Llama tensor names + LlamaConfig),
    run with the plain-PyTorch forward in llama.py (no transformers needed), and
  - Hugging Face causal LMs from a local path (transformers; vLLM for sampling when importable).
Run: python3 limolab_torch_runner.py < task.json   (see README.md)
"""
import json
import math
import os
import random
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import llama  # noqa: E402
import safetensors_io  # noqa: E402


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class TaskError(Exception):
    """A task the runner cannot do; retryable=False means retrying will not help."""

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable


# ---------------------------------------------------------------- inputs


def find_input(spec, role, required=True):
    for i in spec["inputs"]:
        if i["role"] == role:
            return i["path"]
    if required:
        roles = ", ".join(i["role"] for i in spec["inputs"]) or "none"
        raise TaskError(f"task has no input artifact with role '{role}' (inputs: {roles})")
    return None


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


# ---------------------------------------------------------------- models


class BuiltinModel:
    """The engine's Llama-style checkpoint. Tokenizer: the engine's char tokenizer when the config
    (or the safetensors metadata) describes one ({"type": "char", "alphabet": ...}: PAD 0, BOS 1,
    EOS 2, then one id per alphabet character), else UTF-8 bytes (ids 0..255, BOS 256, EOS 257)."""

    kind = "builtin"

    def __init__(self, weights_path, config, device, tokenizer=None):
        self.config = llama.LlamaConfig.from_dict(config)
        tensors, meta = safetensors_io.load(weights_path)
        self.model = llama.Llama(self.config).to(device)
        self.model.load_named(tensors)
        self.device = device
        tok = tokenizer if tokenizer is not None else config.get("tokenizer")
        if tok is None and meta.get("tokenizer"):
            tok = json.loads(meta["tokenizer"])
        self.chars = None
        if tok is not None:
            if not (isinstance(tok, dict) and tok.get("type") == "char" and isinstance(tok.get("alphabet"), str) and tok["alphabet"]):
                raise TaskError(f"unrecognised tokenizer description {json.dumps(tok)[:200]}; expected {{\"type\": \"char\", \"alphabet\": \"...\"}}")
            self.chars = list(tok["alphabet"])
            self.ids = {c: i + 3 for i, c in enumerate(self.chars)}
            if self.config.vocab_size < len(self.chars) + 3:
                raise TaskError(f"builtin model vocab_size {self.config.vocab_size} < {len(self.chars) + 3} ids of its char tokenizer")
            self.bos, self.eos = 1, 2
            return
        if self.config.vocab_size < 256:
            raise TaskError(f"builtin model vocab_size {self.config.vocab_size} < 256: the byte tokenizer needs 256 ids (or describe a char tokenizer in config.tokenizer)")
        self.eos = config.get("eos_token_id", 257 if self.config.vocab_size > 257 else None)
        self.bos = config.get("bos_token_id", 256 if self.config.vocab_size > 256 else None)

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def encode(self, text, bos=False):
        if self.chars is not None:
            ids = []
            for ch in text:
                if ch not in self.ids:
                    raise TaskError(f"character {json.dumps(ch, ensure_ascii=False)} (U+{ord(ch):04x}) is not in the model's tokenizer alphabet; clean the text or use a model whose alphabet has it")
                ids.append(self.ids[ch])
        else:
            ids = list(text.encode("utf-8"))
        return ([self.bos] if bos and self.bos is not None else []) + ids

    def decode(self, ids):
        if self.chars is not None:
            return "".join(self.chars[i - 3] for i in ids if 3 <= i < len(self.chars) + 3)
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def logits(self, ids):
        return self.model(ids)

    def save(self, path):
        meta = {"config": json.dumps(self.config.to_dict()), "format": "limolab-llama/1"}
        if self.chars is not None:
            meta["tokenizer"] = json.dumps({"type": "char", "alphabet": "".join(self.chars)})
        safetensors_io.save(path, self.model.named_tensors(), meta)


class HFModel:
    kind = "hf"

    def __init__(self, path, device, options):
        try:
            import transformers  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise TaskError("model_ref.kind 'hf' needs transformers: pip install transformers (and peft for LoRA)")
        self.path = path
        self.tok = AutoTokenizer.from_pretrained(path)
        dtype = getattr(torch, options.get("dtype", "float32"))
        self.model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype).to(device)
        self.device = device
        self.eos = self.tok.eos_token_id
        self.bos = self.tok.bos_token_id
        self.config = self.model.config
        self.lora = False
        if options.get("lora"):
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise TaskError("options.lora needs peft: pip install peft, or drop lora for a full fine-tune")
            lc = options["lora"] if isinstance(options["lora"], dict) else {}
            self.model = get_peft_model(self.model, LoraConfig(r=lc.get("r", 16), lora_alpha=lc.get("alpha", 32), lora_dropout=lc.get("dropout", 0.0), target_modules=lc.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]), task_type="CAUSAL_LM"))
            self.lora = True

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def encode(self, text, bos=False):
        return self.tok(text, add_special_tokens=bos)["input_ids"]

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=True)

    def logits(self, ids):
        return self.model(input_ids=ids).logits

    def save(self, path_dir):
        self.model.save_pretrained(path_dir)
        self.tok.save_pretrained(path_dir)


def load_model(spec, device):
    task = spec["task"]
    ref = task.get("modelRef") or {}
    options = spec_options(task)
    if ref.get("kind", "builtin") == "hf":
        if not ref.get("path"):
            raise TaskError("model_ref.kind 'hf' needs model_ref.path: a local Hugging Face model directory")
        if not os.path.isdir(ref["path"]):
            raise TaskError(f"model_ref.path {ref['path']} is not a directory on this worker; hf paths are read from the worker's filesystem")
        engine = engine_dir_config(ref["path"])
        if engine is not None:
            # A directory written by the engine (Engine.save): same tensor names and LlamaConfig
            # keys as HF, but the engine's own tokenizer; run it with the plain forward.
            return BuiltinModel(os.path.join(ref["path"], "model.safetensors"), engine, device)
        return HFModel(ref["path"], device, options)
    if ref.get("path"):
        weights = os.path.join(ref["path"], "model.safetensors")
        with open(os.path.join(ref["path"], "config.json")) as f:
            config = json.load(f)
        return BuiltinModel(weights, config, device)
    weights = find_input(spec, "checkpoint")
    cfg_path = find_input(spec, "config", required=False)
    if cfg_path:
        with open(cfg_path) as f:
            config = json.load(f)
    else:
        meta = safetensors_io.read_metadata(weights)
        if "config" not in meta:
            raise TaskError("checkpoint has no config: pass a 'config' input artifact (config.json) or a safetensors file with __metadata__.config")
        config = json.loads(meta["config"])
    return BuiltinModel(weights, config, device)


def engine_dir_config(path):
    """The config of a directory written by the engine (config.json with limolab_format), else None."""
    cfg = os.path.join(path, "config.json")
    if not os.path.isfile(cfg) or not os.path.isfile(os.path.join(path, "model.safetensors")):
        return None
    try:
        with open(cfg, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) and config.get("limolab_format") == "limolab-llama" else None


def spec_options(task):
    for case in ("train", "rollout", "eval"):
        if case in task:
            return task[case].get("options") or {}
    return {}


def device_of():
    if torch.cuda.is_available():
        return torch.device("cuda"), "cuda:" + torch.cuda.get_device_name(0)
    return torch.device("cpu"), "cpu"


# ---------------------------------------------------------------- train


def run_train(spec, m, device_kind, t0):
    task = spec["task"]
    ts = task.get("train", {})
    options = ts.get("options") or {}
    data_path = find_input(spec, "dataset")
    rows = read_jsonl(data_path)
    if not rows:
        raise TaskError(f"dataset {data_path} is empty")
    max_len = int(options.get("max_len", 1024))
    examples = []
    for r in rows:
        prompt, completion = example_text(r, data_path)
        if not isinstance(completion, str):
            raise TaskError(f"training row in {data_path} has no completion/solution string")
        p = m.encode(prompt, bos=True)
        c = m.encode(completion) + ([m.eos] if m.eos is not None else [])
        ids = (p + c)[:max_len]
        # weight 1 on completion targets only: position t predicts ids[t+1]
        w = [0.0] * (len(p) - 1) + [1.0] * (len(ids) - len(p))
        w = w[: len(ids) - 1]
        examples.append((ids, w, float(r.get("weight", 1.0))))
    epochs = int(ts.get("epochs") or 1)
    bs = int(ts.get("batchSize") or 8)
    lr = float(ts.get("lr") or 1e-4)
    seed = int(task.get("seed", 0))
    random.seed(seed)
    torch.manual_seed(seed)
    params = [p for p in m.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=float(options.get("weight_decay", 0.0)), betas=(0.9, 0.95))
    n_params = m.params()
    steps_total = epochs * math.ceil(len(examples) / bs)
    step = 0
    tokens = 0
    first_loss = None
    last_loss = None
    m.model.train()
    for _epoch in range(epochs):
        order = list(range(len(examples)))
        random.shuffle(order)
        for b in range(0, len(order), bs):
            batch = [examples[i] for i in order[b: b + bs]]
            T = max(len(e[0]) for e in batch)
            ids = torch.zeros((len(batch), T), dtype=torch.long)  # (B, T)
            wts = torch.zeros((len(batch), T - 1))  # (B, T-1)
            for j, (x, w, ew) in enumerate(batch):
                ids[j, : len(x)] = torch.tensor(x)
                wts[j, : len(w)] = torch.tensor(w) * ew
            ids = ids.to(m.device)
            wts = wts.to(m.device)
            logits = m.logits(ids)[:, :-1].float()  # (B, T-1, V)
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none").view_as(wts)
            loss = (nll * wts).sum() / wts.sum().clamp(min=1e-8)
            opt.zero_grad()
            loss.backward()
            if options.get("grad_clip", 1.0):
                torch.nn.utils.clip_grad_norm_(params, float(options.get("grad_clip", 1.0)))
            opt.step()
            step += 1
            tokens += sum(len(e[0]) for e in batch)
            lv = float(loss.item())
            first_loss = lv if first_loss is None else first_loss
            last_loss = lv
            emit(type="metric", name="train_loss", value=lv, step=step)
            emit(type="progress", fraction=min(1.0, step / steps_total), message=f"step {step}/{steps_total}")
    # loss of the final weights on the whole set (no update), so the result compares like with like
    final_loss = eval_loss(m, examples)
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
    emit(type="ledger", flops=6.0 * n_params * tokens, tokens_prompt=0, tokens_generated=0, tokens_trained=tokens, device_kind=device_kind, device_s=time.time() - t0, params=n_params)
    emit(type="result", metrics={"loss_first_step": first_loss, "loss_last_step": last_loss, "loss_final": final_loss, "steps": step, "tokens_trained": tokens})


def shutil_archive(src, base):
    import shutil

    return shutil.make_archive(base, "tar", src)


@torch.no_grad()
def eval_loss(m, examples):
    m.model.eval()
    tot = 0.0
    wsum = 0.0
    for x, w, ew in examples:
        if len(x) < 2 or sum(w) == 0:
            continue
        ids = torch.tensor([x], device=m.device)
        logits = m.logits(ids)[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
        ww = torch.tensor(w, device=m.device) * ew
        tot += float((nll * ww).sum())
        wsum += float(ww.sum())
    m.model.train()
    return tot / max(wsum, 1e-8)


# ---------------------------------------------------------------- sample


@torch.no_grad()
def sample_builtin(m, prompt_ids, k, temperature, top_p, max_tokens, gen, stop=()):
    """k samples for one prompt with the plain forward (full recompute per token: tiny models).
    A sample ends at EOS, or once its text contains one of `stop` (the caller cuts the text there)."""
    m.model.eval()
    ids = torch.tensor([prompt_ids] * k, device=m.device)  # (k, T)
    done = torch.zeros(k, dtype=torch.bool, device=m.device)
    out = [[] for _ in range(k)]
    max_pos = m.config.max_position_embeddings
    tail = 4 * max((len(st) for st in stop), default=0) + 4
    for _ in range(max_tokens):
        logits = m.logits(ids[:, -max_pos:])[:, -1].float()  # (k, V)
        if temperature <= 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, -1)
            if top_p < 1.0:
                sp, si = probs.sort(-1, descending=True)
                keep = sp.cumsum(-1) - sp < top_p
                sp = sp * keep
                probs = torch.zeros_like(probs).scatter(-1, si, sp)
            nxt = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
        for j in range(k):
            if not done[j]:
                if m.eos is not None and int(nxt[j]) == m.eos:
                    done[j] = True
                else:
                    out[j].append(int(nxt[j]))
                    if stop and any(st in m.decode(out[j][-tail:]) for st in stop):
                        done[j] = True
        if bool(done.all()):
            break
        ids = torch.cat([ids, nxt[:, None]], 1)
    return out


def open_vllm(m, options):
    if not (m.kind == "hf" and options.get("engine") == "vllm"):
        return None
    try:
        from vllm import LLM
    except ImportError:
        raise TaskError("options.engine 'vllm' needs vllm installed; drop it to sample with HF generate")
    return LLM(model=m.path)


def generate(m, llm, prompt, k, temperature, top_p, max_tokens, stop, seed, gen):
    """k completions of one prompt: (texts cut at the first stop string, prompt tokens, generated tokens).
    Prompt tokens count once per sample (each sample's forward covers the prompt)."""
    p_ids = m.encode(prompt, bos=True)
    if llm is not None:
        from vllm import SamplingParams

        res = llm.generate([prompt], SamplingParams(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop or None, seed=seed))[0]
        texts = [o.text for o in res.outputs]
        n_gen = sum(len(o.token_ids) for o in res.outputs)
    elif m.kind == "hf":
        if seed is not None:
            torch.manual_seed(seed)
        ids = torch.tensor([p_ids], device=m.device)
        kw = dict(do_sample=temperature > 0, max_new_tokens=max_tokens, num_return_sequences=k, pad_token_id=m.eos)
        if temperature > 0:
            kw.update(temperature=temperature, top_p=top_p)
        outs = m.model.generate(ids, **kw)[:, len(p_ids):]
        seqs = [[t for t in o.tolist() if t != m.eos] for o in outs]
        texts = [m.decode(x) for x in seqs]
        n_gen = sum(len(x) for x in seqs)
    else:
        if seed is not None:
            gen.manual_seed(seed)
        seqs = sample_builtin(m, p_ids, k, temperature, top_p, max_tokens, gen, stop)
        texts = [m.decode(x) for x in seqs]
        n_gen = sum(len(x) for x in seqs)
    for st in stop:
        texts = [t.split(st)[0] for t in texts]
    return texts, len(p_ids) * k, n_gen


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
    gen = torch.Generator(device=m.device).manual_seed(int(task.get("seed", 0)))
    n_params = m.params()
    prompt_tokens = 0
    gen_tokens = 0
    out_rows = []
    llm = open_vllm(m, options)
    for n, r in enumerate(rows):
        prompt, _ = example_text(r, data_path)
        texts, n_prompt, n_gen = generate(m, llm, prompt, k, temperature, top_p, max_tokens, stop, int(task.get("seed", 0)) if llm is not None else None, gen)
        prompt_tokens += n_prompt
        gen_tokens += n_gen
        out_rows.append({"prompt": prompt, "answer": r.get("answer"), "samples": texts})
        emit(type="progress", fraction=(n + 1) / len(rows), message=f"prompt {n + 1}/{len(rows)}")
    name = "rollouts.jsonl" if kind == "rollout" else "samples.jsonl"
    with open(os.path.join(spec["output_dir"], name), "w", encoding="utf-8") as f:
        for row in out_rows:
            f.write(json.dumps(row) + "\n")
    emit(type="artifact", role="rollouts" if kind == "rollout" else "samples", path=name, media_type="application/jsonl")
    emit(type="ledger", flops=2.0 * n_params * (prompt_tokens + gen_tokens), tokens_prompt=prompt_tokens, tokens_generated=gen_tokens, tokens_trained=0, device_kind=device_kind, device_s=time.time() - t0, params=n_params)
    emit(type="result", metrics={"prompts": len(rows), "samples": len(rows) * k, "mean_generated_tokens": gen_tokens / max(1, len(rows) * k)}, details={"first": out_rows[0]["samples"][:2] if out_rows else []})


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
    gen = torch.Generator(device=m.device)
    llm = open_vllm(m, options)
    n_params = m.params()
    prompt_tokens = 0
    gen_tokens = 0
    rows = []
    for i, prompt in enumerate(prompts):
        texts, n_prompt, n_gen = generate(m, llm, prompt, n, temperature, top_p, max_tokens, stop, seeds[i], gen)
        prompt_tokens += n_prompt
        gen_tokens += n_gen
        rows.append({"completions": texts, "prompt_tokens": n_prompt, "generated_tokens": n_gen})
        emit(type="progress", fraction=(i + 1) / len(prompts), message=f"prompt {i + 1}/{len(prompts)}")
    with open(os.path.join(spec["output_dir"], "samples.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "limolab-samples/1", "samples": rows}, f)
    emit(type="artifact", role="samples", path="samples.json", media_type="application/json")
    emit(type="ledger", flops=2.0 * n_params * (prompt_tokens + gen_tokens), tokens_prompt=prompt_tokens, tokens_generated=gen_tokens, tokens_trained=0, device_kind=device_kind, device_s=time.time() - t0, params=n_params)
    emit(type="result", metrics={"prompts": len(prompts), "samples": len(prompts) * n, "tokens_prompt": prompt_tokens, "tokens_generated": gen_tokens})


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
