"""A direct inference forward for dense Llama-family decoders (llama, qwen2, qwen3, mistral) over a
preallocated KV slab: the generate-until prefill and decode steps, using the model's own modules.

Why not `model(...)`: on CPU the HF forward spends a large share of a small model's time around the
matmuls: mask construction, a cache that grows by concatenation every step, rotary embedding via
`rotate_half` (a copy), and the last layer's queries and attention at every prompt position. Here:

- Prefill takes right-padded row chunks with no padding mask: a real token never attends to a pad
  (pads come after it), so attention is plain causal, which the CPU SDPA kernel computes over the
  lower triangle only (a padding mask forces every key block). Pad columns are masked in decode.
- Keys/values go straight into one [rows, kv_heads, capacity, head_dim] slab per layer, sized for
  the prompts plus the new tokens; a decode step writes one column. No concatenation anywhere.
- The last layer computes queries, attention, o_proj and MLP at each row's final position only
  (keys/values are still needed everywhere, for later tokens).
- Decode attention (one query per row) is two batched matmuls per layer, grouped by KV head.

What it does not change: the weights, the norms and MLPs (the model's modules are called), the
rotary tables (the model's rotary module), position ids (0 at each prompt's first token) and the
order of the residual adds. Outputs match the HF forward to float rounding (tests compare logits
and greedy tokens on tiny random-init llama, qwen2, qwen3 and mistral, and greedy tokens in bf16);
bench/eval_throughput.py checks identical generated text against lm-eval.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

SUPPORTED = {"llama", "qwen2", "qwen3", "mistral"}


def supports(model, capacity: int) -> bool:
    """True when this forward reproduces the model's own for sequences up to `capacity` tokens."""
    cfg = model.config
    body = getattr(model, "model", None)
    if cfg.model_type not in SUPPORTED or not hasattr(body, "layers") or not hasattr(body, "rotary_emb"):
        return False
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "pretraining_tp", 1) != 1:
        return False
    types = getattr(cfg, "layer_types", None)
    if types is not None:
        return all(t == "full_attention" for t in types)
    window = getattr(cfg, "sliding_window", None)
    return window is None or window >= capacity


class DenseSlab:
    """Per layer, keys and values of `rows` sequences in [rows, kv_heads, capacity, head_dim]
    buffers; `n` columns are filled. Allocated empty: decode writes a column before any row reads
    it, and prefill zeroes the columns a short chunk leaves unwritten below the prompt width (they
    are masked, but a NaN there would still poison the softmax: 0 * NaN)."""

    def __init__(self, model, rows: int, capacity: int):
        attn = model.model.layers[0].self_attn
        kv = model.config.num_key_value_heads
        p = next(model.parameters())
        shape = (rows, kv, capacity, attn.head_dim)
        self.k = [p.new_empty(shape) for _ in model.model.layers]
        self.v = [p.new_empty(shape) for _ in model.model.layers]
        self.n = 0

    def select(self, index: torch.Tensor) -> None:
        """Keep (or repeat) rows: fan a prompt's cache out to its samples."""
        self.k = [t[index] for t in self.k]
        self.v = [t[index] for t in self.v]


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x * cos + rotate_half(x) * sin without materialising rotate_half; cos/sin are the first half
    of HF's tables (HF builds them as cat(freqs, freqs), so both halves are equal)."""
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    out = torch.empty_like(x)
    torch.sub(x1 * cos, x2 * sin, out=out[..., :d])
    torch.add(x2 * cos, x1 * sin, out=out[..., d:])
    return out


def _qkv(attn, h: torch.Tensor, heads: int, kv_heads: int):
    """Queries [B, H, T, D], keys and values [B, KV, T, D] (qwen3's per-head norms applied)."""
    b, t, _ = h.shape
    d = attn.head_dim
    q = attn.q_proj(h).view(b, t, heads, d)
    k = attn.k_proj(h).view(b, t, kv_heads, d)
    v = attn.v_proj(h).view(b, t, kv_heads, d)
    if hasattr(attn, "q_norm"):
        q, k = attn.q_norm(q), attn.k_norm(k)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def _mlp(mlp, h: torch.Tensor) -> torch.Tensor:
    """down(silu(gate(h)) * up(h)) as the module computes it, with the activation and product done
    in place on the gate's output (two fewer activation-sized buffers per layer; same bits)."""
    return mlp.down_proj(F.silu(mlp.gate_proj(h), inplace=True).mul_(mlp.up_proj(h)))


def _norm(mod, x: torch.Tensor) -> torch.Tensor:
    """RMSNorm. In fp32 the fused kernel computes what the module does; in bf16/fp16 the module
    normalises in fp32 and rounds before the weight, so it is called as is."""
    if x.dtype != torch.float32:
        return mod(x)
    return F.rms_norm(x, (x.shape[-1],), mod.weight, mod.variance_epsilon)


def _tables(model, x: torch.Tensor, pos: torch.Tensor):
    cos, sin = model.model.rotary_emb(x, pos)
    d = cos.shape[-1] // 2
    return cos[:, None, :, :d], sin[:, None, :, :d]  # [B, 1, T, D/2], broadcast over heads


def _attend_one(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor, scale: float):
    """One query per row over its keys: q [B, H, 1, D], k/v [B, KV, N, D], keep [B, N] bool.
    Grouped by KV head so keys are read once (no repeat), as two batched matmuls."""
    b, h, _, d = q.shape
    if q.dtype != torch.float32:  # half precision: SDPA accumulates in fp32, two bf16 matmuls would not
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :], scale=scale, enable_gqa=True)
        return o.transpose(1, 2).reshape(b, 1, h * d)
    kv = k.shape[1]
    qg = q.reshape(b, kv, h // kv, d)
    scores = torch.matmul(qg, k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~keep[:, None, None, :], float("-inf")).softmax(-1)
    return torch.matmul(scores, v).reshape(b, 1, h * d)  # [B, 1, H*D], heads in HF's order


@torch.inference_mode()
def prefill_chunk(model, slab: DenseSlab, start: int, seqs: Sequence[Sequence[int]], pad_id: int,
                  slab_width: int) -> torch.Tensor:
    """Prefill rows start..start+len(seqs) of the slab (columns up to `slab_width`, the widest
    prompt of all chunks); returns the hidden state (after the final norm) at each prompt's last
    token, [B, hidden]."""
    body, cfg = model.model, model.config
    device = slab.k[0].device
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.as_tensor(s, dtype=torch.long)
    ids = ids.to(device)
    b = ids.shape[0]
    rows = torch.arange(b, device=device)
    last = torch.tensor([len(s) - 1 for s in seqs], device=device)
    x = body.embed_tokens(ids)
    cos, sin = _tables(model, x, torch.arange(width, device=device)[None, :].expand(b, -1))
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    layers = body.layers
    for li, layer in enumerate(layers):
        attn = layer.self_attn
        q, k, v = _qkv(attn, _norm(layer.input_layernorm, x), heads, kv_heads)
        k = _rope(k, cos, sin)
        slab.k[li][start:start + b, :, :width] = k
        slab.v[li][start:start + b, :, :width] = v
        slab.k[li][start:start + b, :, width:slab_width] = 0
        slab.v[li][start:start + b, :, width:slab_width] = 0
        if li < len(layers) - 1:
            o = F.scaled_dot_product_attention(_rope(q, cos, sin), k, v, is_causal=True, scale=attn.scaling,
                                               enable_gqa=True)
            x = x + attn.o_proj(o.transpose(1, 2).reshape(b, width, -1))
        else:  # the last layer: only each row's final position feeds the output
            ql = _rope(q[rows, :, last][:, :, None], cos[rows, :, last][:, :, None], sin[rows, :, last][:, :, None])
            keep = torch.arange(width, device=device)[None, :] <= last[:, None]
            x = x[rows, last][:, None] + attn.o_proj(_attend_one(ql, k, v, keep, attn.scaling))
        x = x + _mlp(layer.mlp, _norm(layer.post_attention_layernorm, x))
    return body.norm(x)[:, 0]


@torch.inference_mode()
def decode_step(model, slab: DenseSlab, tokens: torch.Tensor, pos: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Append one token per row at column slab.n and return the final hidden states [B, hidden].
    `pos` [B, 1] are the tokens' position ids; `keep` [B, n + 1] marks the columns each row attends."""
    body, cfg = model.model, model.config
    n = slab.n
    x = body.embed_tokens(tokens[:, None])
    cos, sin = _tables(model, x, pos)
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    for li, layer in enumerate(body.layers):
        attn = layer.self_attn
        q, k, v = _qkv(attn, _norm(layer.input_layernorm, x), heads, kv_heads)
        slab.k[li][:, :, n:n + 1] = _rope(k, cos, sin)
        slab.v[li][:, :, n:n + 1] = v
        o = _attend_one(_rope(q, cos, sin), slab.k[li][:, :, :n + 1], slab.v[li][:, :, :n + 1], keep, attn.scaling)
        x = x + attn.o_proj(o)
        x = x + _mlp(layer.mlp, _norm(layer.post_attention_layernorm, x))
    slab.n = n + 1
    return body.norm(x)[:, 0]
