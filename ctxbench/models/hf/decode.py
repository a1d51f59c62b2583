"""The two inner loops of the transformers backend, written directly over `model(...)` + KV cache.

Why not `model.generate`: on small models the per-step overhead of generate (logits processors,
stopping criteria that re-decode every row, kwargs plumbing) is a large share of the time
(bench/eval_throughput.py measures this loop against lm-eval's, which calls generate). This loop does the same arithmetic per real token: position
ids counted from each prompt's first token, LM head on the last position only, finished rows fed the
pad token. Dense Llama-family models (llama, qwen2, qwen3, mistral) run through dense_forward (a
preallocated KV slab, right-padded chunked prefill, no padding masks in prefill); every other model
through its own forward with a DynamicCache. Greedy outputs are identical to `generate` (tested).

Why a shared-prefix scorer: multiple-choice scoring through full (context + choice) sequences runs
the context once per choice and the LM head over every position. Here each context runs once, its
cache is fanned out to its choices, the choices run in one batched forward, and the LM head is
applied only at the positions that predict a scored token (peer-baselines §6: 3.4x lm-eval).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Sequence

import torch

from ctxbench.models.hf import dense_forward

# Architectures whose decoder layers are `x + self_attn(...)` (ending in o_proj) then `x + mlp(...)`
# on [batch, seq, dim] tensors, so the last layer can be cut to the last position (see below).
PRUNABLE = {"llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2", "smollm3"}


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s):] = torch.as_tensor(s, dtype=torch.long)
            mask[i, width - len(s):] = 1
    return ids.to(device), mask.to(device)


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids as transformers' generate builds them: cumsum of the mask, 0 on padding."""
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def decoder_and_head(model):
    """(body returning hidden states, LM head) of a causal LM, to apply the head selectively."""
    body = getattr(model, "model", None)
    if body is None or not callable(body):
        body = model.get_decoder()
    return body, model.get_output_embeddings()


@contextmanager
def last_position_only(model):
    """While active, the LAST decoder layer computes its o_proj and MLP only at the last position.

    A prefill needs every position's keys/values in every layer (for later tokens) but the final
    hidden state only at the last position; the last layer's o_proj + MLP outputs elsewhere feed
    nothing. Skipping them saves ~1/L of the prefill FLOPs. Positions other than the last then hold
    garbage in the returned hidden states, so callers read only [:, -1]. No-op for architectures not
    in PRUNABLE (MoE layers and others whose blocks do not fit the pattern).
    """
    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if getattr(model.config, "model_type", None) not in PRUNABLE or not layers:
        yield
        return
    last = layers[-1]
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


def head_logits(model, head, hidden: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, top_k: int,
                generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Temperature / top-k / top-p sampling (HF warper semantics), one seeded generator per row so a
    row's draw does not depend on which other rows share its batch."""
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove = cum <= (1 - top_p)
        remove[:, -1] = False  # always keep the most likely token
        logits = logits.masked_fill(remove.scatter(1, order, remove), float("-inf"))
    probs = logits.softmax(-1).cpu()
    return torch.tensor(
        [int(torch.multinomial(probs[i], 1, generator=g)) for i, g in enumerate(generators)],
        dtype=torch.long, device=logits.device,
    )


class HFDecoder:
    """Any causal LM through its own forward: one left-padded prefill into a DynamicCache (the last
    layer pruned to the last position where the architecture allows), then one forward per token."""

    def __init__(self, model, seqs: Sequence[Sequence[int]], pad_id: int):
        device = next(model.parameters()).device
        self.model = model
        ids, self.mask = left_pad(seqs, pad_id, device)
        pos = positions(self.mask)
        self.cache = new_cache(model)
        with last_position_only(model):
            out = model(input_ids=ids, attention_mask=self.mask, position_ids=pos, past_key_values=self.cache,
                        use_cache=True, logits_to_keep=1)
        self.logits = out.logits[:, -1, :].float()
        self.pos = pos[:, -1:] + 1

    def select(self, index: torch.Tensor) -> None:
        self.cache.batch_select_indices(index)
        self.logits, self.mask, self.pos = self.logits[index], self.mask[index], self.pos[index]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=-1)
        out = self.model(input_ids=tokens[:, None], attention_mask=self.mask, position_ids=self.pos,
                         past_key_values=self.cache, use_cache=True)
        self.pos = self.pos + 1
        return out.logits[:, -1, :].float()


class DenseDecoder:
    """Dense Llama-family decoders through dense_forward: right-padded prefill in row chunks of
    `chunk` into one KV slab, then all rows decode together. Prefill is compute-bound and fastest in
    small row chunks (activations stay in CPU cache), while a decode step costs about the same at 8
    or 64 rows (per-step overhead)."""

    def __init__(self, model, seqs: Sequence[Sequence[int]], pad_id: int, chunk: int | None, max_new_tokens: int):
        device = next(model.parameters()).device
        self.model = model
        _, self.head = decoder_and_head(model)
        lens = torch.tensor([len(s) for s in seqs], device=device)
        width, rows = int(lens.max()), len(seqs)
        chunk = min(chunk or rows, rows)
        self.slab = dense_forward.DenseSlab(model, rows, width + max_new_tokens)
        finals = [dense_forward.prefill_chunk(model, self.slab, s, seqs[s:s + chunk], pad_id, width)
                  for s in range(0, rows, chunk)]
        self.slab.n = width
        self.logits = head_logits(model, self.head, torch.cat(finals))
        cols = torch.arange(width + max_new_tokens, device=device)[None, :]
        self.keep = (cols < lens[:, None]) | (cols >= width)  # pad columns of short prompts are never read
        self.pos = lens[:, None]

    def select(self, index: torch.Tensor) -> None:
        self.slab.select(index)
        self.logits, self.keep, self.pos = self.logits[index], self.keep[index], self.pos[index]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        h = dense_forward.decode_step(self.model, self.slab, tokens, self.pos, self.keep[:, :self.slab.n + 1])
        self.pos = self.pos + 1
        return head_logits(self.model, self.head, h)


def start_decoder(model, seqs: Sequence[Sequence[int]], pad_id: int, chunk: int | None, max_new_tokens: int):
    """The prefilled decoder for these prompts: the dense path where dense_forward supports the
    model (and no prompt is empty), else the model's own forward."""
    width = max(len(s) for s in seqs)
    if min(len(s) for s in seqs) > 0 and dense_forward.supports(model, width + max_new_tokens):
        return DenseDecoder(model, seqs, pad_id, chunk, max_new_tokens)
    return HFDecoder(model, seqs, pad_id)


@torch.inference_mode()
def decode(
    model,
    seqs: Sequence[Sequence[int]],
    *,
    pad_id: int,
    eos_ids: set[int],
    max_new_tokens: int,
    repeats: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    generators: Sequence[torch.Generator] | None = None,
    stop_fn: Callable[[int, list[int]], bool] | None = None,
    prefill_batch: int | None = None,
) -> list[tuple[list[int], int, str]]:
    """Decode `repeats` continuations of every sequence (rows ordered seq0 x repeats, seq1 x repeats...).

    Returns per row (tokens before eos/stop, tokens generated incl. eos, finish reason). The prompt is
    prefilled once per unique sequence (in chunks of `prefill_batch`) and its cache fanned out to its
    repeats. `stop_fn(row, tokens)` says whether a stop string has appeared; a row stops at eos or
    stop, the batch when all rows did.
    """
    device = next(model.parameters()).device
    state = start_decoder(model, seqs, pad_id, prefill_batch, max_new_tokens)
    if repeats > 1:
        state.select(torch.arange(len(seqs), device=device).repeat_interleave(repeats))
    logits = state.logits
    rows = logits.shape[0]
    if temperature > 0 and (generators is None or len(generators) != rows):
        raise ValueError("sampling needs one torch.Generator per row")
    tokens: list[list[int]] = [[] for _ in range(rows)]
    steps = [0] * rows
    finish: list[str | None] = [None] * rows
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        if temperature > 0:
            nxt = sample_next(logits, temperature, top_p, top_k, generators)
        else:
            nxt = logits.max(-1).indices  # first maximum, like argmax (3x faster on CPU)
        nxt = nxt.masked_fill(done, pad_id)
        for r, tok in enumerate(nxt.tolist()):
            if finish[r] is not None:
                continue
            steps[r] += 1
            if tok in eos_ids:
                finish[r] = "stop"
                continue
            tokens[r].append(tok)
            if stop_fn is not None and stop_fn(r, tokens[r]):
                finish[r] = "stop"
        if all(f is not None for f in finish) or step == max_new_tokens - 1:
            break
        done = torch.tensor([f is not None for f in finish], device=device)
        logits = state.step(nxt)
    return [(tokens[r], steps[r], finish[r] or "length") for r in range(rows)]


@torch.inference_mode()
def score_shared_prefix(
    model,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    *,
    pad_id: int,
) -> list[list[float]]:
    """Sum of log p(continuation tokens | context) for every continuation of every context.

    One forward over the (left-padded) contexts with a cache; the cache is fanned out to one row per
    continuation; all continuations run in one forward (right-padded, minus their last token, whose
    hidden state predicts nothing scored). The LM head sees only the scored positions.
    """
    device = next(model.parameters()).device
    body, head = decoder_and_head(model)
    ids, mask = left_pad(contexts, pad_id, device)
    pos = positions(mask)
    cache = new_cache(model)
    with last_position_only(model):
        h_ctx = body(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                     use_cache=True).last_hidden_state[:, -1, :]
    slots = [(b, k) for b, conts in enumerate(continuations) for k in range(len(conts))]
    owner = [b for b, _ in slots]
    flat = [list(c) for conts in continuations for c in conts]
    out = [[0.0] * len(conts) for conts in continuations]
    keep = [r for r, c in enumerate(flat) if c]  # empty continuations score 0
    if not keep:
        return out
    flat = [flat[r] for r in keep]
    owner_t = torch.tensor([owner[r] for r in keep], device=device)
    width = max(len(c) for c in flat) - 1  # inputs: every continuation token but the last
    hidden = h_ctx[owner_t][:, None, :]
    if width > 0:
        cont_ids = torch.full((len(flat), width), pad_id, dtype=torch.long)
        cont_mask = torch.zeros((len(flat), width), dtype=torch.long)
        for r, c in enumerate(flat):
            if len(c) > 1:
                cont_ids[r, : len(c) - 1] = torch.as_tensor(c[:-1])
                cont_mask[r, : len(c) - 1] = 1
        cache.batch_select_indices(owner_t)
        full_mask = torch.cat([mask[owner_t], cont_mask.to(device)], dim=-1)
        cpos = pos[owner_t][:, -1:] + 1 + torch.arange(width, device=device)[None, :]
        h_cont = body(input_ids=cont_ids.to(device), attention_mask=full_mask, position_ids=cpos,
                      past_key_values=cache, use_cache=True).last_hidden_state
        hidden = torch.cat([hidden, h_cont], dim=1)  # [R, width + 1, D]: position j predicts token j
    lengths = torch.tensor([len(c) for c in flat], device=device)
    valid = torch.arange(hidden.shape[1], device=device)[None, :] < lengths[:, None]
    targets = torch.zeros(valid.shape, dtype=torch.long)
    for r, c in enumerate(flat):
        targets[r, : len(c)] = torch.as_tensor(c)
    targets = targets.to(device)
    logp = head_logits(model, head, hidden[valid]).log_softmax(-1)
    picked = logp.gather(-1, targets[valid][:, None])[:, 0].double()
    row_of = torch.arange(len(flat), device=device)[:, None].expand_as(valid)[valid]
    sums = torch.zeros(len(flat), dtype=torch.float64, device=device).index_add_(0, row_of, picked)
    for r_kept, total in zip(keep, sums.tolist()):
        b, k = slots[r_kept]
        out[b][k] = total
    return out


@torch.inference_mode()
def score_naive(model, context: Sequence[int], continuation: Sequence[int]) -> float:
    """Reference: one full forward over context + continuation, full logits (what lm-eval does)."""
    device = next(model.parameters()).device
    seq = torch.tensor([list(context) + list(continuation)], device=device)
    logits = model(input_ids=seq).logits[0].float()
    n = len(continuation)
    logp = logits[-n - 1:-1].log_softmax(-1)
    return float(logp.gather(-1, torch.tensor(list(continuation), device=device)[:, None]).sum())
