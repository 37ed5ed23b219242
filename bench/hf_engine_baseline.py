"""Hugging Face transformers baseline for bench/engine.ts: LlamaForCausalLM (sdpa attention,
tied embeddings) trained with AdamW and sampled with generate(use_cache=True, do_sample=True)
at the engine benchmark's shapes, plus this torch's fp32 matmul peak at the same thread count.
Prints one JSON line per size. Run by bench/engine.ts with the project venv's python; by hand:
  .venv/bin/python bench/hf_engine_baseline.py --sizes 64x2,128x4 --threads 2
"""
import argparse, json, sys, time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def matmul_peak(n=1024, reps=10):
    """Best-of-reps fp32 n^3 matmul rate: other load only lowers it, so the best is the peak."""
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def bench_size(a, d, layers):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=a.vocab, hidden_size=d, num_hidden_layers=layers, num_attention_heads=d // 32,
                         num_key_value_heads=d // 32, intermediate_size=round(8 * d / 3 / 4) * 4,
                         max_position_embeddings=a.ctx, rms_norm_eps=1e-5, rope_theta=10000.0,
                         tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa")
    params = sum(p.numel() for p in model.parameters())
    # Token ids from 3 up, like the engine bench (0-2 are pad/bos/eos there).
    data = torch.randint(3, a.vocab, (a.batch, a.ctx))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step():
        loss = model(input_ids=data, labels=data).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    train_s = time.perf_counter() - t

    model.eval()
    prompts = torch.randint(3, a.vocab, (a.batch, a.prompt))
    gen = dict(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=True, temperature=1.0,
               top_k=0, top_p=1.0, use_cache=True, pad_token_id=0)
    with torch.inference_mode():
        if a.warmup:
            model.generate(prompts, attention_mask=torch.ones_like(prompts), **gen)  # warm-up
        sample_s = float('inf')
        for _ in range(a.sample_repeats):  # best of N, as the engine side does
            t = time.perf_counter()
            out = model.generate(prompts, attention_mask=torch.ones_like(prompts), **gen)
            sample_s = min(sample_s, time.perf_counter() - t)
    generated = (out.shape[1] - a.prompt) * a.batch
    return dict(d=d, layers=layers, params=params, train_tokens_per_s=a.batch * a.ctx * a.steps / train_s,
                sample_tokens_per_s=generated / sample_s, generated_tokens=generated)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="64x2,128x4,256x4", help="comma-separated d x layers")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=64)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=112)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="training warm-up steps; 0 also skips the generate warm-up")
    p.add_argument("--sample-repeats", type=int, default=1, help="timed generate calls; the fastest counts")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    peak = matmul_peak()
    for s in a.sizes.split(","):
        d, layers = (int(x) for x in s.lower().split("x"))
        r = bench_size(a, d, layers)
        # Re-measured after each size; the best seen is the peak the caller should use.
        peak = max(peak, matmul_peak())
        r.update(torch=torch.__version__, transformers=transformers.__version__, threads=a.threads,
                 matmul_peak_flops_per_s=peak)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
