"""Sampling k completions of each prompt: HF `generate` (KV cache) for transformers models, vLLM
when asked, and a plain full-recompute loop for the built-in forward (tiny models only).
Every path returns the texts (cut at the first stop string) and per-sample token counts:
generated tokens include the EOS that ended a sample; the ledger charges prompt + generated - 1
positions per sample (model_flops.py), the prompt once per sample row actually run.

Transformers models sample many prompts in one `generate` call: the task's sample rows (each
prompt repeated k times, in prompt order) are cut into chunks of consecutive rows, at most
`batch_rows` rows and `batch_tokens` >= rows x (longest prompt of the chunk + max_tokens)
(options.batch_rows / options.batch_tokens, else $LIMOLAB_SAMPLE_BATCH_ROWS /
$LIMOLAB_SAMPLE_BATCH_TOKENS, else 256 and 131072; a row over the token budget runs alone), left-
padded with an attention mask (positions come from the mask). Padding is never counted: prompt
tokens are each prompt's own length, generated tokens end at the step that ended the row (EOS
included, a stop string's last token included), FLOPs are those of the real positions.
Each chunk is seeded once (chunk_seed): a chunk of exactly one prompt's k rows with that
prompt's seed, as the per-prompt sampler did; any other chunk with a hash of its rows' seeds and
sample indices. So a sample depends on the rows it shares its chunk with, not only on its
prompt's seed; the same task (prompts, seeds, k, limits) gives the same samples on rerun (same
device and library versions). Greedy decoding (temperature 0) does not depend on the chunking.
"""
import hashlib
import json
import os
import sys

import torch

from models import TaskError

DEFAULT_BATCH_ROWS = 256
DEFAULT_BATCH_TOKENS = 131072


def batch_limits(options):
    """(rows, tokens) per generate call: options.batch_rows / batch_tokens, else the environment
    ($LIMOLAB_SAMPLE_BATCH_ROWS / $LIMOLAB_SAMPLE_BATCH_TOKENS), else the defaults."""
    out = []
    for key, env, default in (("batch_rows", "LIMOLAB_SAMPLE_BATCH_ROWS", DEFAULT_BATCH_ROWS), ("batch_tokens", "LIMOLAB_SAMPLE_BATCH_TOKENS", DEFAULT_BATCH_TOKENS)):
        v = options.get(key)
        where = f"options.{key}"
        if v is None and os.environ.get(env):
            v, where = os.environ[env], f"${env}"
            try:
                v = int(v)
            except ValueError:
                raise TaskError(f"{where} must be an integer >= 1, got {os.environ[env]!r}")
        if v is None:
            v = default
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise TaskError(f"{where} must be an integer >= 1, got {v!r}")
        out.append(v)
    return tuple(out)


def plan_chunks(prompt_lens, k, max_tokens, max_rows, max_tokens_budget):
    """The sample rows (prompt i, sample j) in order, cut into chunks of consecutive rows within
    the budgets. A chunk is a list of segments (i, first j, end j)."""
    chunks, cur, rows, longest = [], [], 0, 0
    for i, n in enumerate(prompt_lens):
        j = 0
        while j < k:
            lg = max(longest, n)
            room = min(max_rows, max_tokens_budget // (lg + max_tokens)) - rows
            if room <= 0 and cur:
                chunks.append(cur)
                cur, rows, longest = [], 0, 0
                continue
            take = min(max(room, 1), k - j)  # one row always runs, even over the token budget
            cur.append((i, j, j + take))
            rows, longest, j = rows + take, lg, j + take
    if cur:
        chunks.append(cur)
    return chunks


def chunk_seed(segments, seeds, k):
    """The seed of one generate call: the prompt's seed when the chunk is exactly its k rows (what
    the per-prompt sampler used), else 63 bits of sha256 over [seed, first j, end j] per segment."""
    if len(segments) == 1 and segments[0][1] == 0 and segments[0][2] == k:
        return seeds[segments[0][0]]
    key = json.dumps([[seeds[i], a, b] for i, a, b in segments], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


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


def _row_ends(start, eos, stop, tok):
    """A stopping criterion for generate that ends a row at EOS or a stop string (as generate's own
    EosTokenCriteria / StopStringCriteria do) and records, per row, the step that ended it: a row's
    generated length, whatever token the padding after it is."""
    from transformers import EosTokenCriteria, StoppingCriteria, StopStringCriteria

    inner = ([EosTokenCriteria(eos)] if eos is not None else []) + ([StopStringCriteria(tok, list(stop))] if stop else [])

    class RowEnds(StoppingCriteria):
        ends = None  # (B,) long: 0 while the row runs, else the number of tokens it generated

        def __call__(self, input_ids, scores, **kw):
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            for c in inner:
                done |= c(input_ids, scores, **kw).to(done.device)
            if self.ends is None:
                self.ends = torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
            self.ends = torch.where((self.ends == 0) & done, input_ids.shape[1] - start, self.ends)
            return done

    return RowEnds()


@torch.no_grad()
def sample_hf_rows(m, rows, temperature, top_p, max_tokens, stop, seed):
    """One transformers `generate` over sample rows (token lists, any lengths): left-padded with an
    attention mask, KV cache; stop strings end a row inside generate, finished rows are padded.
    Returns each row's generated tokens (ending with the EOS or the stop string's last token
    that ended it); neither the left padding nor the padding after a row's end is included."""
    m.model.eval()
    if seed is not None:
        torch.manual_seed(seed)
    T = max(len(r) for r in rows)
    fill = m.pad if m.pad is not None else 0  # masked out: any id does
    ids = torch.full((len(rows), T), fill, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for j, r in enumerate(rows):
        ids[j, T - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[j, T - len(r):] = 1
    from transformers import StoppingCriteriaList

    ends = _row_ends(T, m.eos, stop, m.tok)
    kw = dict(attention_mask=mask.to(m.device), do_sample=temperature > 0, max_new_tokens=max_tokens, pad_token_id=m.pad, eos_token_id=m.eos,
              stopping_criteria=StoppingCriteriaList([ends]))
    if temperature > 0:
        kw.update(temperature=temperature, top_p=top_p, top_k=0)
    outs = m.model.generate(ids.to(m.device), **kw)[:, T:]
    lens = ends.ends.tolist() if ends.ends is not None else [0] * len(rows)
    return [row[: n or len(row)] for row, n in zip(outs.tolist(), lens)]


def open_vllm(m, options):
    if not (m.kind == "hf" and options.get("engine") == "vllm"):
        return None
    try:
        from vllm import LLM
    except ImportError:
        raise TaskError("options.engine 'vllm' needs vllm installed; drop it to sample with HF generate")
    # The model_ref's dtype (options.dtype), as the transformers model was loaded; else vLLM's own choice.
    return LLM(model=m.path, **({"dtype": options["dtype"]} if options.get("dtype") else {}))


def _cut(texts, stop):
    for st in stop:
        texts = [t.split(st)[0] for t in texts]
    return texts


def generate_many(m, llm, prompts, k, temperature, top_p, max_tokens, stop, seeds, gen, limits=(DEFAULT_BATCH_ROWS, DEFAULT_BATCH_TOKENS), done=None):
    """k completions of each prompt: [(texts cut at the first stop string, prompt tokens per sample,
    [generated tokens per sample])] in prompt order.
    seeds: one per prompt (None: nothing is reseeded). vLLM: one llm.generate over all prompts,
    each with its own seed. transformers: chunks of sample rows, one generate each (module
    docstring), seeded by chunk_seed. Built-in model: one prompt at a time, `gen` reseeded with
    the prompt's seed, or, with seeds None, running on from its state.
    done(n): called with the number of prompts whose samples are all done."""
    if not prompts:
        return []
    p_ids = [m.encode(p, bos=True) for p in prompts]
    if llm is not None:
        from vllm import SamplingParams

        params = [SamplingParams(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop or None, seed=s) for s in (seeds or [None] * len(prompts))]
        print(f"sampling {len(prompts)} prompt(s) x {k} with vLLM", file=sys.stderr, flush=True)
        res = llm.generate(list(prompts), params)
        out = [(_cut([o.text for o in r.outputs], stop), len(ids), [len(o.token_ids) for o in r.outputs]) for r, ids in zip(res, p_ids)]
        if done:
            done(len(prompts))
        return out
    if m.kind != "hf":
        out = []
        for i, ids in enumerate(p_ids):
            if seeds is not None:
                gen.manual_seed(seeds[i])
            seqs = sample_builtin(m, ids, k, temperature, top_p, max_tokens, gen, stop)
            out.append((_cut([m.decode([t for t in x if t != m.eos]) for x in seqs], stop), len(ids), [len(x) for x in seqs]))
            if done:
                done(i + 1)
        return out
    seqs = [[None] * k for _ in prompts]
    chunks = plan_chunks([len(x) for x in p_ids], k, max_tokens, *limits)
    # On stderr, so in the task's log (`limolab logs`): how the rows were batched, and in what dtype.
    print(f"sampling {len(prompts)} prompt(s) x {k}: {len(chunks)} generate call(s) (batch_rows {limits[0]}, batch_tokens {limits[1]}), "
          f"{str(m.model.dtype).replace('torch.', '')}", file=sys.stderr, flush=True)
    for chunk in chunks:
        rows = [(i, j) for i, a, b in chunk for j in range(a, b)]
        got = sample_hf_rows(m, [p_ids[i] for i, _ in rows], temperature, top_p, max_tokens, stop, chunk_seed(chunk, seeds, k) if seeds is not None else None)
        for (i, j), s in zip(rows, got):
            seqs[i][j] = s
        if done:
            last, _, end = chunk[-1]
            done(last + 1 if end == k else last)
    return [(_cut([m.decode([t for t in x if t != m.eos]) for x in ss], stop), len(ids), [len(x) for x in ss]) for ss, ids in zip(seqs, p_ids)]
