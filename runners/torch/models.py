"""The models the torch runner trains and samples, behind one small interface (encode, decode,
logits, save, params, flops geometry):
  BuiltinModel: the engine's Llama-style checkpoint, run with the plain forward in llama.py;
  HFModel:      a Hugging Face causal LM loaded with transformers (LoRA through peft).
load_model(spec, device) picks one from the task's model_ref and inputs.
"""
import json
import os
import sys
import tarfile
import tempfile

import torch

import llama
import model_flops
import safetensors_io


class TaskError(Exception):
    """A task the runner cannot do; retryable=False means retrying will not help."""

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable


def find_input(spec, role, required=True):
    for i in spec["inputs"]:
        if i["role"] == role:
            return i["path"]
    if required:
        roles = ", ".join(i["role"] for i in spec["inputs"]) or "none"
        raise TaskError(f"task has no input artifact with role '{role}' (inputs: {roles})")
    return None


def spec_options(task):
    for case in ("train", "rollout", "eval"):
        if case in task:
            return task[case].get("options") or {}
    return {}


def device_of(requested=None):
    """The torch device and the ledger's device_kind. LIMOLAB_TORCH_DEVICE (cpu, cuda) overrides."""
    want = requested or os.environ.get("LIMOLAB_TORCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if want.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TaskError(f"device {want} requested but torch {torch.__version__} sees no CUDA device")
        return torch.device(want), "cuda:" + torch.cuda.get_device_name(torch.device(want))
    return torch.device("cpu"), "cpu"


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

    def geometry(self):
        """(N, layers, d_attn) for model_flops: N counts lm_head even when tied (the engine's matmulParams)."""
        c = self.config
        tied = c.vocab_size * c.hidden_size if c.tie_word_embeddings else 0
        return model_flops.matmul_params(self.model, tied), c.num_hidden_layers, c.hidden_size

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
    """A Hugging Face causal LM from a local directory (transformers; LoRA adapters through peft)."""

    kind = "hf"

    def __init__(self, path, device, options):
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise TaskError("model_ref.kind 'hf' needs transformers: pip install transformers (and peft for LoRA)")
        self.path = path
        self.tok = AutoTokenizer.from_pretrained(path)
        dtype = options.get("dtype", "float32")
        if dtype not in ("float32", "bfloat16", "float16"):
            raise TaskError(f"options.dtype must be float32, bfloat16 or float16, got {dtype!r}")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device)
        print(f"loaded {os.path.basename(path.rstrip('/')) or path} with transformers on {device}, {dtype}", file=sys.stderr, flush=True)
        self.device = device
        self.eos = self.tok.eos_token_id
        self.bos = self.tok.bos_token_id
        # generate pads finished rows; a pad id distinct from EOS lets us count each row's tokens
        self.pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos
        self.config = self.model.config
        self.lora = False
        lora = options.get("lora")
        if lora:
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise TaskError("options.lora needs peft: pip install peft, or drop lora for a full fine-tune")
            lc = lora if isinstance(lora, dict) else {}
            unknown = set(lc) - {"r", "alpha", "dropout", "target_modules"}
            if unknown:
                raise TaskError(f"options.lora has unknown keys {sorted(unknown)}; known: r, alpha, dropout, target_modules")
            self.model = get_peft_model(self.model, LoraConfig(r=int(lc.get("r", 16)), lora_alpha=lc.get("alpha", 32), lora_dropout=lc.get("dropout", 0.0),
                                                               target_modules=lc.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]), task_type="CAUSAL_LM"))
            self.lora = True

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def geometry(self):
        c = self.config
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        return model_flops.matmul_params(self.model), c.num_hidden_layers, c.num_attention_heads * head_dim

    def encode(self, text, bos=False):
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        return ([self.bos] if bos and self.bos is not None else []) + ids

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=True)

    def logits(self, ids):
        return self.model(input_ids=ids, use_cache=False).logits

    def save(self, path_dir):
        """A plain model directory: LoRA adapters are merged into the weights first, so the next
        task loads it like any other checkpoint."""
        model = self.model.merge_and_unload() if self.lora else self.model
        model.save_pretrained(path_dir)
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
        ckpt = find_input(spec, "checkpoint", required=False)
        if ckpt is not None:
            # a model trained by an earlier task: the tar of its save_pretrained directory
            return HFModel(unpack_checkpoint(ckpt), device, options)
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


def unpack_checkpoint(path):
    """Extracts a checkpoint tar (a save_pretrained directory) into a fresh directory beside the
    tar: in the task's work directory, which the worker removes after the task (a system temp
    directory was never removed: one model copy left behind per task that read a checkpoint)."""
    if not tarfile.is_tarfile(path):
        raise TaskError(f"checkpoint input {path} is not a tar of a model directory; an hf model_ref's checkpoint comes from a TRAIN task of this runner")
    out = tempfile.mkdtemp(prefix="limolab-ckpt-", dir=os.path.dirname(os.path.abspath(path)))
    with tarfile.open(path) as t:
        t.extractall(out, filter="data")  # "data": no absolute paths, links out, or devices
    if not os.path.isfile(os.path.join(out, "config.json")):
        raise TaskError(f"checkpoint tar {path} has no config.json at its top level")
    return out
