"""Rollouts: G sampled completions per prompt from the current policy, with a KV cache.

A small decode loop rather than `model.generate`: each distinct prompt is prefilled once and its cache
repeated to its G rows (HF generate prefills all P*G copies), sampling uses an explicit seeded
generator (a rollout is a pure function of weights, prompts and seed), and the per-step overhead is one
model call plus a sampling op. Token ids and masks are kept for the loss; rows stop at EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainers.losses import token_entropy
from trainers.modeling import Encoded, encode_prompts, model_device


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, top_k: int,
                generator: torch.Generator) -> torch.Tensor:
    """One token per row from temperature / top-k / top-p filtered logits [B, V] -> [B]; greedy when
    temperature is 0."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest prefix whose mass reaches top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    # inverse-CDF sampling: one uniform per row (torch.multinomial is ~10x slower at vocab 8k on CPU)
    cdf = torch.softmax(logits, dim=-1).cumsum(-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(-1).clamp(max=cdf.shape[-1] - 1)


@torch.no_grad()
def sample(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, group_size: int, max_new_tokens: int,
           *, eos_id: int, pad_id: int, generator: torch.Generator, temperature: float = 1.0,
           top_p: float = 1.0, top_k: int = 0, vision: list | None = None, with_entropy: bool = False):
    """Sample `group_size` completions for each left-padded prompt.

    Returns completion ids [P*G, T] (rows of one prompt contiguous, right-padded with pad_id) and a
    float mask [P*G, T] that is 1 up to and including each row's EOS; with `with_entropy`, also the
    policy's entropy (temperature 1, unfiltered) at every sampled position [P*G, T], computed from
    the logits the sampler already has, so the entropy metric costs no extra forward. `vision`: per prompt, its
    vision inputs or None (VLMs; trainers.vision); the images enter the prompt forward only.
    """
    dev = model_device(model)
    if vision is not None:
        from trainers.modeling import encode_prompts_mm
        from trainers.vision import collate

        cache, logits, pmask, nxt = encode_prompts_mm(model, prompt_ids, prompt_mask, collate(vision))
    else:
        cache, logits, pmask = encode_prompts(model, prompt_ids, prompt_mask)
    cache.batch_repeat_interleave(group_size)
    logits = logits.repeat_interleave(group_size, dim=0)
    am = pmask.repeat_interleave(group_size, dim=0).to(dev)
    pos = am.sum(1, keepdim=True) if vision is None else nxt.repeat_interleave(group_size, dim=0).to(dev)
    B = am.shape[0]
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    lengths = torch.full((B,), max_new_tokens, dtype=torch.long, device=dev)
    tokens, ents = [], []
    ones = torch.ones(B, 1, dtype=am.dtype, device=dev)
    for t in range(max_new_tokens):
        if with_entropy:
            ents.append(token_entropy(logits))
        nxt = sample_next(logits, temperature, top_p, top_k, generator).to(dev)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        tokens.append(nxt)
        hit = (nxt == eos_id) & ~done
        lengths = torch.where(hit, torch.full_like(lengths, t + 1), lengths)
        done |= hit
        if t == max_new_tokens - 1 or bool(done.all()):
            break
        am = torch.cat([am, ones], 1)
        out = model(input_ids=nxt[:, None], attention_mask=am, position_ids=pos, past_key_values=cache,
                    use_cache=True)
        pos = pos + 1
        logits = out.logits[:, -1]
    ids = torch.stack(tokens, 1).cpu()
    lengths = lengths.cpu()
    mask = (torch.arange(ids.shape[1])[None] < lengths[:, None]).float()
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, pad_id))
    if with_entropy:
        return ids, mask, torch.stack(ents, 1).cpu() * mask
    return ids, mask


@dataclass
class Rollouts:
    """A rollout batch: tensors for the loss plus the decoded texts and rewards."""

    enc: Encoded
    texts: list[str]
    rewards: torch.Tensor      # [B]
    prompt_of_row: list[int]   # row -> index into the step's prompt list
    entropy: torch.Tensor | None = None  # [B, T] policy entropy at each sampled position
    sample_logprobs: torch.Tensor | None = None  # [B, T] the sampler's log-prob of each token (engine "vllm")


def truncate_at_stop(tok, ids: list[int], stops: tuple[str, ...]) -> tuple[int, str]:
    """(tokens kept, text) after cutting at the first stop string; the stop string's tokens are kept
    so the policy learns to emit it, the text handed to the scorer ends before it."""
    text = tok.decode(ids, skip_special_tokens=True)
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    if cut < 0:
        return len(ids), text
    for k in range(1, len(ids) + 1):
        if len(tok.decode(ids[:k], skip_special_tokens=True)) > cut:
            return k, text[:cut]
    return len(ids), text[:cut]


def decode_rows(tok, ids: torch.Tensor, mask: torch.Tensor, stops_per_row: list[tuple[str, ...]],
                eos_id: int) -> tuple[list[str], torch.Tensor]:
    """Completion texts (EOS dropped, cut at stop strings) and the mask updated for stop strings."""
    texts, new_mask = [], mask.clone()
    for r in range(ids.shape[0]):
        n = int(mask[r].sum())
        row = ids[r, :n].tolist()
        body = row[:-1] if row and row[-1] == eos_id else row
        if stops_per_row[r]:
            k, text = truncate_at_stop(tok, body, stops_per_row[r])
            if k < len(body):
                new_mask[r, k:] = 0.0
        else:
            text = tok.decode(body, skip_special_tokens=True)
        texts.append(text)
    return texts, new_mask


def make_rollouts(model, tok, prompts: list, prompt_token_ids: list[list[int]], group_size: int,
                  max_new_tokens: int, *, generator: torch.Generator, temperature: float, top_p: float,
                  top_k: int, pad: int, vision: list | None = None, engine=None) -> Rollouts:
    """Sample, decode, score. `prompts` are RLPrompt-like (stop, scorer); ids are their rendered tokens;
    `vision` their vision inputs (VLMs), kept with the batch for the loss forwards. `engine`: None samples
    from `model` here; else a rollout engine (trainers.vllm_rollout) samples, seeded by the generator's
    seed, and its log-probs are kept (its entropy metric is the estimate -log p of the sampled tokens)."""
    from trainers.modeling import left_pad

    pids, pmask = left_pad(prompt_token_ids, pad)
    logp = None
    if engine is not None:
        ids, mask, logp = engine.sample(prompt_token_ids, group_size, max_new_tokens, temperature=temperature,
                                        top_p=top_p, top_k=top_k, seed=generator.initial_seed())
        ent = -logp
    else:
        ids, mask, ent = sample(model, pids, pmask, group_size, max_new_tokens, eos_id=tok.eos_token_id,
                                pad_id=pad, generator=generator, temperature=temperature, top_p=top_p, top_k=top_k,
                                vision=vision, with_entropy=True)
    prompt_of_row = [i for i in range(len(prompts)) for _ in range(group_size)]
    texts, mask = decode_rows(tok, ids, mask, [prompts[i].stop for i in prompt_of_row], tok.eos_token_id)
    rewards = torch.tensor([float(prompts[i].scorer(t).score) for i, t in zip(prompt_of_row, texts)])
    group = torch.tensor(prompt_of_row, dtype=torch.long)
    return Rollouts(Encoded(pids, pmask, group, ids, mask, vision), texts, rewards, prompt_of_row, ent * mask,
                    None if logp is None else logp * mask)

