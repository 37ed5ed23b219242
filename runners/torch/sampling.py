"""Sampling k completions of one prompt: HF `generate` (KV cache) for transformers models, vLLM
when asked, and a plain full-recompute loop for the built-in forward (tiny models only).
Every path returns the texts (cut at the first stop string) and per-sample token counts:
generated tokens include the EOS that ended a sample; the ledger charges prompt + generated - 1
positions per sample (model_flops.py), the prompt once per sample row actually run.
"""
import torch

from models import TaskError


@torch.no_grad()
def sample_builtin(m, prompt_ids, k, temperature, top_p, max_tokens, gen, stop=()):
    """k samples with the plain forward (full recompute per token). Returns token lists; a list
    ends with EOS when EOS stopped it. A sample also ends once its text contains a stop string."""
    m.model.eval()
    ids = torch.tensor([prompt_ids] * k, device=m.device)  # (k, T)
    done = [False] * k
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
                probs = torch.zeros_like(probs).scatter(-1, si, sp * keep)
            nxt = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
        for j in range(k):
            if done[j]:
                continue
            out[j].append(int(nxt[j]))
            if m.eos is not None and int(nxt[j]) == m.eos:
                done[j] = True
            elif stop and any(st in m.decode(out[j][-tail:]) for st in stop):
                done[j] = True
        if all(done):
            break
        ids = torch.cat([ids, nxt[:, None]], 1)
    return out


@torch.no_grad()
def sample_hf(m, prompt_ids, k, temperature, top_p, max_tokens, stop, seed):
    """k samples with transformers' generate (KV cache); stop strings end a row inside generate."""
    m.model.eval()
    if seed is not None:
        torch.manual_seed(seed)
    ids = torch.tensor([prompt_ids], device=m.device)
    kw = dict(do_sample=temperature > 0, max_new_tokens=max_tokens, num_return_sequences=k, pad_token_id=m.pad, eos_token_id=m.eos,
              attention_mask=torch.ones_like(ids))
    if temperature > 0:
        kw.update(temperature=temperature, top_p=top_p, top_k=0)
    if stop:
        kw.update(stop_strings=list(stop), tokenizer=m.tok)
    outs = m.model.generate(ids, **kw)[:, len(prompt_ids):]
    seqs = []
    for row in outs.tolist():
        seq = []
        for t in row:
            seq.append(t)
            if t == m.eos:
                break
        # rows that stopped early (stop string) are padded after their last token
        while seq and seq[-1] == m.pad and m.pad != m.eos:
            seq.pop()
        seqs.append(seq)
    return seqs


def open_vllm(m, options):
    if not (m.kind == "hf" and options.get("engine") == "vllm"):
        return None
    try:
        from vllm import LLM
    except ImportError:
        raise TaskError("options.engine 'vllm' needs vllm installed; drop it to sample with HF generate")
    return LLM(model=m.path)


def generate(m, llm, prompt, k, temperature, top_p, max_tokens, stop, seed, gen):
    """k completions of one prompt: (texts cut at the first stop string, prompt tokens per
    sample, [generated tokens per sample])."""
    p_ids = m.encode(prompt, bos=True)
    if llm is not None:
        from vllm import SamplingParams

        res = llm.generate([prompt], SamplingParams(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop or None, seed=seed))[0]
        texts = [o.text for o in res.outputs]
        n_gen = [len(o.token_ids) for o in res.outputs]
    else:
        if m.kind == "hf":
            seqs = sample_hf(m, p_ids, k, temperature, top_p, max_tokens, stop, seed)
        else:
            if seed is not None:
                gen.manual_seed(seed)
            seqs = sample_builtin(m, p_ids, k, temperature, top_p, max_tokens, gen, stop)
        texts = [m.decode([t for t in x if t != m.eos]) for x in seqs]
        n_gen = [len(x) for x in seqs]
    for st in stop:
        texts = [t.split(st)[0] for t in texts]
    return texts, len(p_ids), n_gen
