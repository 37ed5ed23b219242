#!/usr/bin/env python3
"""Runs a model directory through transformers for the interchange checks (export/import):
reads {"ids": [[...]], "greedy": {"prompt": [...], "max_new_tokens": N}, "texts": [...]} on
stdin, prints {"logits": [[[...]]], "greedy": [...], "encoded": [[...]], "decoded": [...]}: the
logits of each id sequence, greedy generate's new tokens (KV cache, stops at EOS), and the
tokenizer's ids (with BOS) and round trip for each text.
Run: python3 hf_compare.py MODEL_DIR < request.json
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402


def main():
    path = sys.argv[1]
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    out = {"logits": [], "greedy": [], "encoded": [], "decoded": []}
    with torch.no_grad():
        for ids in req.get("ids", []):
            out["logits"].append(model(torch.tensor([ids])).logits[0].tolist())
        g = req.get("greedy")
        if g:
            ids = torch.tensor([g["prompt"]])
            res = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=g["max_new_tokens"],
                                 eos_token_id=model.config.eos_token_id, pad_token_id=model.config.pad_token_id)
            out["greedy"] = res[0, len(g["prompt"]):].tolist()
    if req.get("texts"):
        tok = AutoTokenizer.from_pretrained(path)
        for t in req["texts"]:
            ids = tok(t)["input_ids"]
            out["encoded"].append(ids)
            out["decoded"].append(tok.decode(ids, skip_special_tokens=True))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
