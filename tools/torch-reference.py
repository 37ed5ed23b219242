#!/usr/bin/env python3
"""PyTorch reference for limolab's embedded engine (worker/engine), same architecture.

  fixture: writes test/fixtures/engine/torch-reference.json -- weights, a padded batch, and
           float64 loss / per-token NLL / logits / gradients the engine must match (1e-4 rel).
           Regenerate: /usr/bin/python3 tools/torch-reference.py fixture
  bench:   trains and samples the same architecture on CPU and prints tokens/s as JSON, for
           bench/engine.ts. /usr/bin/python3 tools/torch-reference.py bench --hidden 128 ...
Needs only torch (1.13+). Llama conventions: RMSNorm, rotate-half RoPE, SwiGLU, no biases.
"""
import argparse, json, math, os, sys, time
import torch
import torch.nn.functional as F


def param_shapes(c):
    C, I = c["hidden_size"], c["intermediate_size"]
    shapes = [("model.embed_tokens.weight", (c["vocab_size"], C))]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes.append((p + "input_layernorm.weight", (C,)))
        for w in "qkvo":
            shapes.append((f"{p}self_attn.{w}_proj.weight", (C, C)))
        shapes.append((p + "post_attention_layernorm.weight", (C,)))
        shapes += [(p + "mlp.gate_proj.weight", (I, C)), (p + "mlp.up_proj.weight", (I, C)), (p + "mlp.down_proj.weight", (C, I))]
    shapes.append(("model.norm.weight", (C,)))
    if not c["tie_word_embeddings"]:
        shapes.append(("lm_head.weight", (c["vocab_size"], C)))
    return shapes


def init_params(c, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in param_shapes(c):
        if len(shape) == 1:  # norm gains: near 1, perturbed so their gradients matter
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.2 * torch.randn(shape, generator=g)
        P[name] = t.to(torch.float32).to(dtype).requires_grad_(True)
    return P


def rope(c, T, dtype):
    hd = c["hidden_size"] // c["num_attention_heads"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat([freqs, freqs], -1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def rms(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def layer(c, P, l, x, cos, sin, cache=None):
    """x: (B, S, C); cos/sin: (S, hd) for the new positions; cache: (k, v) of past or None."""
    B, S, C = x.shape
    H = c["num_attention_heads"]; hd = C // H; p = f"model.layers.{l}."
    h = rms(x, P[p + "input_layernorm.weight"], c["rms_norm_eps"])
    heads = lambda t: t.view(B, S, H, hd).transpose(1, 2)
    q = heads(h @ P[p + "self_attn.q_proj.weight"].T)
    k = heads(h @ P[p + "self_attn.k_proj.weight"].T)
    v = heads(h @ P[p + "self_attn.v_proj.weight"].T)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    if cache is not None:
        k = torch.cat([cache[0], k], 2); v = torch.cat([cache[1], v], 2)
    Tk = k.shape[2]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    causal = torch.ones(S, Tk, dtype=torch.bool).tril(Tk - S)
    att = att.masked_fill(~causal, float("-inf")).softmax(-1)
    y = (att @ v).transpose(1, 2).reshape(B, S, C)
    x = x + y @ P[p + "self_attn.o_proj.weight"].T
    h = rms(x, P[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
    m = F.silu(h @ P[p + "mlp.gate_proj.weight"].T) * (h @ P[p + "mlp.up_proj.weight"].T)
    return x + m @ P[p + "mlp.down_proj.weight"].T, (k, v)


def forward(c, P, ids, start=0, caches=None):
    """ids: (B, S) -> logits (B, S, V) and the new caches."""
    S = ids.shape[1]
    cos, sin = rope(c, start + S, P["model.norm.weight"].dtype)
    cos, sin = cos[start:], sin[start:]
    x = P["model.embed_tokens.weight"][ids]
    new = []
    for l in range(c["num_hidden_layers"]):
        x, kv = layer(c, P, l, x, cos, sin, None if caches is None else caches[l])
        new.append(kv)
    x = rms(x, P["model.norm.weight"], c["rms_norm_eps"])
    W = P["model.embed_tokens.weight"] if c["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ W.T, new


def r9(t):
    return [float(f"{x:.9g}") for x in t.flatten().tolist()]


def r10(t):
    return [float(f"{x:.10g}") for x in t.flatten().tolist()]


def fixture(out_path):
    torch.manual_seed(0)
    cases = []
    for tied in (False, True):
        c = dict(vocab_size=11, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                 max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=tied)
        P = init_params(c, seed=1 + int(tied), dtype=torch.float64)
        g = torch.Generator().manual_seed(7 + int(tied))
        lengths = [9, 6, 12]
        examples = []
        for n in lengths:
            toks = torch.randint(0, c["vocab_size"], (n,), generator=g).tolist()
            w = [0.0] * 3 + [1.0] * (n - 3)
            w[-1] = 0.5  # any per-token weight, not only 0/1
            examples.append(dict(tokens=toks, weights=w))
        # Each example on its own, unpadded: the engine's padding must not change anything.
        total, count, nlls, logits_all = 0.0, 0, [], []
        for ex in examples:
            ids = torch.tensor([ex["tokens"][:-1]])
            logits, _ = forward(c, P, ids)
            nll = F.cross_entropy(logits[0], torch.tensor(ex["tokens"][1:]), reduction="none")
            w = torch.tensor(ex["weights"][1:], dtype=torch.float64)
            total = total + (w * nll).sum()
            count += int((w != 0).sum())
            nlls.append(nll.tolist()); logits_all.append(logits[0].flatten().tolist())
        loss = total / count
        loss.backward()
        cases.append(dict(
            config=c, examples=examples, loss=loss.item(), nll=[r10(torch.tensor(n)) for n in nlls], logits=[r10(torch.tensor(l)) for l in logits_all],
            params={k: r9(v.detach()) for k, v in P.items()},  # float32 values: 9 digits round-trip
            grads={k: r10(v.grad) for k, v in P.items()},
        ))
    with open(out_path, "w") as f:
        json.dump(dict(generator="tools/torch-reference.py fixture", torch=torch.__version__,
                       loss_definition="sum(w*nll)/count(w!=0) over predicted positions", cases=cases), f)
    print(f"wrote {out_path}")


def bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = dict(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
             intermediate_size=a.intermediate, max_position_embeddings=a.ctx, rms_norm_eps=1e-5, rope_theta=10000.0,
             tie_word_embeddings=True)
    P = init_params(c, 0, torch.float32)
    with torch.no_grad():
        for k, v in P.items():
            if v.dim() == 2: v.mul_(0.1)
    opt = torch.optim.AdamW(list(P.values()), lr=1e-3, weight_decay=0.1)
    ids = torch.randint(3, a.vocab, (a.batch, a.ctx + 1))
    def step():
        logits, _ = forward(c, P, ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0); opt.step()
    for _ in range(a.warmup): step()
    t0 = time.perf_counter()
    for _ in range(a.steps): step()
    train_s = time.perf_counter() - t0
    # Sampling: prefill a short prompt, then one token per step with a KV cache (torch.cat).
    prompts = torch.randint(3, a.vocab, (a.batch, a.prompt))
    def sample():
        with torch.no_grad():
            logits, caches = forward(c, P, prompts)
            tok = torch.multinomial(logits[:, -1].softmax(-1), 1)
            for i in range(a.new_tokens - 1):
                logits, caches = forward(c, P, tok, a.prompt + i, caches)
                tok = torch.multinomial(logits[:, -1].softmax(-1), 1)
    sample()
    t0 = time.perf_counter(); sample(); sample_s = time.perf_counter() - t0
    a1 = torch.randn(1024, 1024); a1 @ a1
    t0 = time.perf_counter(); a1 @ a1; a1 @ a1; mm = 2 * 2 * 1024 ** 3 / (time.perf_counter() - t0)
    print(json.dumps(dict(matmul_flops_per_s=mm, blas=torch.__config__.show().split("BLAS_INFO=")[1].split(",")[0], train_tokens_per_s=a.batch * a.ctx * a.steps / train_s,
                          sample_tokens_per_s=a.batch * a.new_tokens / sample_s, threads=torch.get_num_threads())))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixture")
    fx.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "engine", "torch-reference.json"))
    b = sub.add_parser("bench")
    for k, d in dict(hidden=128, layers=4, heads=4, intermediate=344, vocab=64, ctx=128, batch=32, threads=2, steps=5,
                     warmup=2, prompt=16, new_tokens=112).items():
        b.add_argument("--" + k.replace("_", "-"), type=int, default=d)
    a = ap.parse_args()
    fixture(os.path.abspath(a.out)) if a.cmd == "fixture" else bench(a)
