#!/usr/bin/env python3
"""TRL's SFTTrainer on the same SFT as `npm run bench:hf` gives the torch runner: same model
directory, same prompt/completion rows (rendered by limolab) tokenized as the runner tokenizes
them and handed to TRL pre-tokenized, same steps, batch size, lr, AdamW betas, no weight decay,
constant lr, grad clip 1, completion-only loss, EOS appended.
Prints one JSON line: loss_first_step, loss_last_step, loss_final (weighted mean completion NLL
of the final weights over the whole set, as the torch runner defines it), train_s, tokens
(positions run: each example's tokens minus one), tokens_per_s.
Run: python3 hf_trl.py MODEL_DIR DATA.jsonl STEPS BATCH LR SEED
"""
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402


class Losses(TrainerCallback):
    def __init__(self):
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


def main():
    model_dir, data, steps, batch, lr, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    # Tokenized exactly as runners/torch does it (BOS + prompt, then completion + EOS, each
    # tokenized on its own), handed to TRL pre-tokenized: TRL's own joint tokenization merges the
    # prompt's trailing space into the completion's first token, a different token sequence.
    def encode(text):
        return tok(text, add_special_tokens=False)["input_ids"]
    pre = []
    for r in rows:
        p = ([tok.bos_token_id] if tok.bos_token_id is not None else []) + encode(r["prompt"])
        c = encode(r["completion"]) + ([tok.eos_token_id] if tok.eos_token_id is not None else [])
        pre.append({"input_ids": p + c, "completion_mask": [0] * len(p) + [1] * len(c)})
    ds = Dataset.from_list(pre)
    out = tempfile.mkdtemp(prefix="limolab-trl-")
    cfg = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=batch, learning_rate=lr, lr_scheduler_type="constant", warmup_steps=0,
                    weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to=[], seed=seed,
                    completion_only_loss=True, max_length=1024, packing=False, use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
    cb = Losses()
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[cb])
    # positions run per step, from the tokenized examples the trainer will draw
    lens = [len(x) - 1 for x in trainer.train_dataset["input_ids"]]
    t0 = time.time()
    trainer.train()
    train_s = time.time() - t0
    n_epochs_tokens = sum(lens) * (steps * batch) / len(lens)  # examples drawn uniformly: expected positions
    # final loss over the whole set, completion tokens only (what the torch runner's loss_final is)
    model.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for ex in trainer.train_dataset:
            ids = torch.tensor([ex["input_ids"]])
            # TRL 1.13 stores the loss mask as labels (-100 on prompt tokens); older versions as completion_mask
            mask = torch.tensor(ex["completion_mask"][1:], dtype=torch.float32) if "completion_mask" in ex \
                else (torch.tensor(ex["labels"][1:]) != -100).float()
            logits = model(ids).logits[0, :-1]
            nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
            tot += float((nll * mask).sum())
            cnt += float(mask.sum())
    print(json.dumps({"loss_first_step": cb.losses[0], "loss_last_step": cb.losses[-1], "loss_final": tot / cnt, "steps": len(cb.losses),
                      "train_s": train_s, "tokens": n_epochs_tokens, "tokens_per_s": n_epochs_tokens / train_s}))


if __name__ == "__main__":
    main()
