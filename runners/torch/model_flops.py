"""Model FLOPs, the one convention every limolab runner uses (docs/runner-protocol.md, "FLOPs"):
Kaplan-style analytic counts, the same as the embedded engine's worker/engine/flops.ts.
  N = weights that multiply activations: every nn.Linear weight, the output projection included
      even when tied to the embeddings; the input embedding (a gather) and norm gains excluded.
  forward, a sequence of n positions: n * (2N + 2 * layers * n * d_attn)   (d_attn = heads * head_dim)
  training step on it:                 3x the forward.
A sequence's positions are the tokens actually run through the model: n - 1 for a training
sequence of n tokens (the last token is only a target), prompt + generated - 1 for a sample.
"""
import torch.nn as nn


def matmul_params(model, tied_vocab_hidden=0):
    """N of a torch module: all nn.Linear weights (LoRA adapters included), plus vocab x hidden
    when the output projection is tied and not an nn.Linear (the plain llama.py forward)."""
    n = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    return n + tied_vocab_hidden


def forward_flops(n_mm, layers, d_attn, lengths):
    """FLOPs of one forward pass over sequences of the given lengths (positions run)."""
    return float(sum(n * (2 * n_mm + 2 * layers * n * d_attn) for n in lengths if n > 0))


def train_flops(n_mm, layers, d_attn, lengths):
    return 3.0 * forward_flops(n_mm, layers, d_attn, lengths)
