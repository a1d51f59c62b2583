"""Rollouts that are a pure function of the prompt, for comparing the TRL engine with the compact trainer.

`fixed_text(answer, j)`: the j-th completion of a prompt is its reference answer for even j and a wrong
one for odd j (so every group has reward variance), with a varying tail and EOS on some rows (so the
rows have different lengths). The compact side gets them through `compact_rollouts` (patched in for
trainers.grpo.make_rollouts, the real decode and scoring code), TRL through `trl_rollout_func` (TRL's
custom-rollout hook); both see the same token ids for the same prompt.

`sampled_rollout_func`: real sampling from the current policy, one prompt at a time with a generator
seeded by (prompt, optimizer step): the same completions whether a batch is split over one process or
two, which is what the distributed test needs (TRL's own generation draws from one global RNG stream,
so a 2-process run samples different completions than a 1-process run).
"""

from __future__ import annotations

import torch

from ctxbench.core.hashing import stable_hash
from trainers.modeling import encode, left_pad, pad_id, right_pad

TAILS = ["", " ok", " and so on", "."]


def wrong(answer: str) -> str:
    if answer in ("A", "B"):
        return "B" if answer == "A" else "A"
    return str((int(answer) + 1) % 10) if answer.isdigit() else answer + "x"


def fixed_ids(tok, answer: str, j: int) -> list[int]:
    text = (answer if j % 2 == 0 else wrong(answer)) + TAILS[j % len(TAILS)]
    ids = tok(" " + text, add_special_tokens=False)["input_ids"]
    return ids + [tok.eos_token_id] if j % 3 != 2 else ids


def compact_rollouts():
    """A stand-in for trainers.grpo.make_rollouts returning the fixed completions."""
    from trainers.modeling import Encoded
    from trainers.rollout import Rollouts, decode_rows

    def make(model, tok, prompts, prompt_token_ids, group_size, max_new_tokens, **kw):
        pad = kw["pad"]
        pids, pmask = left_pad(prompt_token_ids, pad)
        rows = [fixed_ids(tok, p.answer, j) for p in prompts for j in range(group_size)]
        ids, mask = right_pad(rows, pad)
        prompt_of_row = [i for i in range(len(prompts)) for _ in range(group_size)]
        texts, mask = decode_rows(tok, ids, mask, [prompts[i].stop for i in prompt_of_row], tok.eos_token_id)
        rewards = torch.tensor([float(prompts[i].scorer(t).score) for i, t in zip(prompt_of_row, texts)])
        enc = Encoded(pids, pmask, torch.tensor(prompt_of_row), ids, mask)
        return Rollouts(enc, texts, rewards, prompt_of_row, torch.zeros_like(mask))

    return make


def trl_rollout_func(answer_of: dict[str, str]):
    """TRL's rollout_func(prompts, trainer) giving the same completions; prompts arrive G times each."""

    def rollout(prompts, trainer):
        tok, G = trainer.side.tok, trainer.num_generations
        return {"prompt_ids": [encode(tok, p) for p in prompts],
                "completion_ids": [fixed_ids(tok, answer_of[p], r % G) for r, p in enumerate(prompts)],
                "logprobs": None}

    return rollout


def answers_by_text(engine) -> dict[str, str]:
    """Rendered prompt text -> reference answer, from a set-up TRLEngine."""
    rows = engine.dataset_rows
    return {t: engine.side.prompts[k].answer for t, k in zip(rows["prompt"], rows["key"])}


def sampled_rollout_func(max_new_tokens: int):
    """Policy samples, one prompt at a time, seeded by (prompt text, optimizer step)."""
    from trainers.rollout import sample

    def rollout(prompts, trainer):
        tok, G = trainer.side.tok, trainer.num_generations
        model = trainer.accelerator.unwrap_model(trainer.model)
        prompt_ids, completion_ids = [], []
        for r in range(0, len(prompts), G):
            ids = encode(tok, prompts[r])
            seed = int(stable_hash(["rollout", prompts[r], trainer.state.global_step], 12), 16)
            pids, pmask = left_pad([ids], pad_id(tok))
            out, mask = sample(model, pids, pmask, G, max_new_tokens, eos_id=tok.eos_token_id, pad_id=pad_id(tok),
                               generator=torch.Generator().manual_seed(seed))
            for g in range(G):
                prompt_ids.append(ids)
                completion_ids.append(out[g, : int(mask[g].sum())].tolist())
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}

    return rollout
