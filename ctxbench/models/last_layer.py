"""Prefill pruning: the last decoder layer computes its o_proj and MLP at one position per row only.

A prefill needs every position's keys/values in every layer (for later tokens) but the final hidden
state only where the prompt ends; the last layer's o_proj + MLP outputs elsewhere feed nothing.
Skipping them saves ~1/L of the prefill FLOPs. Other positions then hold garbage in the returned
hidden states, so callers read only the kept one.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

# Architectures whose decoder layers are `x + self_attn(...)` (ending in o_proj) then `x + mlp(...)`
# on [batch, seq, dim] tensors, so the last layer can be cut to the last position.
PRUNABLE = {"llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2", "smollm3"}


def prunable(model) -> bool:
    layers = getattr(getattr(model, "model", None), "layers", None)
    return getattr(model.config, "model_type", None) in PRUNABLE and bool(layers)


@contextmanager
def last_position_only(model):
    """While active, the last layer computes o_proj and MLP at the last position of each row only.
    No-op for architectures not in PRUNABLE (MoE layers and others whose blocks do not fit the
    pattern)."""
    if not prunable(model):
        yield
        return
    last = model.model.layers[-1]
    targets = [getattr(last, "mlp", None), getattr(getattr(last, "self_attn", None), "o_proj", None)]
    handles = []
    for mod in targets:
        if not isinstance(mod, torch.nn.Module):
            continue
        shape: dict = {}

        def pre(_m, args, shape=shape):
            x = args[0]
            if x.dim() != 3 or x.shape[1] == 1:
                return None
            shape["s"] = x.shape
            return (x[:, -1:],) + tuple(args[1:])

        def post(_m, _args, out, shape=shape):
            s = shape.pop("s", None)
            return out.expand(s[0], s[1], out.shape[-1]) if s is not None else None

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
