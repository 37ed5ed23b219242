#!/usr/bin/env python3
"""Builds a tiny, randomly initialised Hugging Face LlamaForCausalLM and a tokenizer trained here
with `tokenizers`, saved with save_pretrained so that from_pretrained(DIR) works offline.

  python3 hf_tiny.py -o DIR [--hidden 64 --layers 2 --heads 4 --intermediate 176 --ctx 256]
                            [--tokenizer bpe|char] [--vocab 384] [--seed 0] [--data DATA_DIR]

bpe (default): byte-level BPE trained on a small built-in corpus of arithmetic problems in the
plain prompt template (experiments/datasets/templates.ts) plus the digits and LaTeX it uses.
char: one id per character (PAD 0, BOS 1, EOS 2, then the alphabet): the engine's tokenizer
shape, so `limolab import` can bring the model into the embedded engine.
--data also writes LIMO-format sets of the same arithmetic: DATA_DIR/train.jsonl (problem,
solution, answer; 256 rows), DATA_DIR/test.jsonl (32 other problems) for SFT, rollouts and EVAL.
Prints one JSON line: {"dir", "params", "vocab_size", "tokenizer", "data"?}.
"""
import argparse
import json
import os
import random
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SPECIALS = ["<|pad|>", "<|bos|>", "<|eos|>"]
# Every character the built-in corpus, the plain template and LIMO-style solutions use.
ALPHABET = "".join(sorted(set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n.,:;!?+-*/=()[]{}$\\^_<>'\"|&%#@~`")))


def write_data(out, seed):
    """Disjoint train/test problems (single-digit sums: a tiny model can learn them in seconds)."""
    rng = random.Random(seed + 1)
    pairs = [(a, b) for a in range(10) for b in range(10)]
    rng.shuffle(pairs)
    os.makedirs(out, exist_ok=True)
    test, train = pairs[:32], pairs[32:]
    with open(os.path.join(out, "train.jsonl"), "w") as f:
        for i in range(256):
            a, b = train[i % len(train)]
            f.write(json.dumps({"id": f"train-{i}", "problem": f"What is ${a} + {b}$?", "solution": f"{a} + {b} = {a + b}. The answer is $\\boxed{{{a + b}}}$.", "answer": str(a + b)}) + "\n")
    with open(os.path.join(out, "test.jsonl"), "w") as f:
        for i, (a, b) in enumerate(test):
            f.write(json.dumps({"id": f"test-{i}", "problem": f"What is ${a} + {b}$?", "answer": str(a + b)}) + "\n")
    return os.path.abspath(out)


def corpus(seed, n=2000):
    """Arithmetic problems and worked solutions in the plain template: what the tiny tests train on."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        op = rng.choice(["+", "-", "*"])
        v = a + b if op == "+" else a - b if op == "-" else a * b
        out.append(f"Problem: What is ${a} {op} {b}$?\nPlease reason step by step, and put your final answer within \\boxed{{}}.\nSolution: {a} {op} {b} = {v}. The answer is $\\boxed{{{v}}}$.\n\n")
    return out


def build_tokenizer(kind, vocab, seed):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    if kind == "char":
        # BPE with no merges is one token per character; training it on the alphabet alone
        # (vocab_size = specials + alphabet) learns exactly that, in a fixed id order.
        tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
        trainer = trainers.BpeTrainer(vocab_size=len(SPECIALS) + len(ALPHABET), special_tokens=SPECIALS,
                                      initial_alphabet=list(ALPHABET), limit_alphabet=len(ALPHABET), show_progress=False)
        tok.train_from_iterator([ALPHABET], trainer=trainer)
        tok.decoder = decoders.Fuse()
    else:
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(corpus(seed), trainer=trainer)
    bos, eos = tok.token_to_id(SPECIALS[1]), tok.token_to_id(SPECIALS[2])
    tok.post_processor = processors.TemplateProcessing(single=f"{SPECIALS[1]} $A", pair=f"{SPECIALS[1]} $A {SPECIALS[1]} $B", special_tokens=[(SPECIALS[1], bos)])
    return tok, bos, eos


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", required=True, help="directory to write (created)")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="0: same as --heads (engine import needs that)")
    ap.add_argument("--intermediate", type=int, default=176)
    ap.add_argument("--ctx", type=int, default=256, help="max_position_embeddings")
    ap.add_argument("--tokenizer", choices=["bpe", "char"], default="bpe")
    ap.add_argument("--vocab", type=int, default=384, help="BPE vocabulary size (bpe only)")
    ap.add_argument("--untied", action="store_true", help="separate lm_head (default: tied to the embeddings)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-std", type=float, default=0.02, help="initializer_range: std of the random weights")
    ap.add_argument("--data", help="also write LIMO-format train.jsonl / test.jsonl here")
    a = ap.parse_args(argv)
    if a.hidden % a.heads or (a.hidden // a.heads) % 2:
        sys.exit(f"hf_tiny: --hidden {a.hidden} must be a multiple of --heads {a.heads} with an even head size")

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(a.seed)
    tok, bos, eos = build_tokenizer(a.tokenizer, a.vocab, a.seed)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIALS[1], eos_token=SPECIALS[2], pad_token=SPECIALS[0])
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                      num_key_value_heads=a.kv_heads or a.heads, intermediate_size=a.intermediate, max_position_embeddings=a.ctx,
                      rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=not a.untied, bos_token_id=bos, eos_token_id=eos,
                      pad_token_id=fast.pad_token_id, attention_bias=False, mlp_bias=False, hidden_act="silu",
                      initializer_range=a.init_std)
    model = LlamaForCausalLM(cfg)
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    fast.save_pretrained(a.out)
    info = {"dir": os.path.abspath(a.out), "params": sum(p.numel() for p in model.parameters()), "vocab_size": cfg.vocab_size, "tokenizer": a.tokenizer}
    if a.data:
        info["data"] = write_data(a.data, a.seed)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
