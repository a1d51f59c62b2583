"""Fakes for trainer tests: a toy copy-the-number benchmark and toy contrastive pairs.

ToyCopy: "... x = 7 ... What is x?" -> "7". Reward = benchmark score (1 if the first number in the
completion equals x). Pairs: two contexts that differ only in x's value; the answer names one.
"""

from __future__ import annotations

import random
import re

from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    spread_subset,
    text,
)
from ctxbench.pairs.base import Pair

NAMES = ["x", "y", "z", "k", "n", "m", "p", "q"]


class ToyCopy(Benchmark):
    name = "toy-copy"
    version = "1"
    family = "train"
    source = "generated"
    gen = GenSpec(max_new_tokens=4)
    n_items = 400

    def data_status(self):
        return DataStatus(True, "generated")

    def load(self, ctx: LoadContext, limit=None):
        rng = random.Random(1234)
        items = []
        for i in range(self.n_items):
            var, val = rng.choice(NAMES), rng.randrange(10)
            prompt = f"Note: {var} = {val}.\nWhat is {var}?\nAnswer:"
            items.append(Item(item_id=f"c{i:04d}", prompt=(text(prompt),), answer=str(val)))
        return spread_subset(items, limit)

    def score(self, item, completion):
        m = re.search(r"\d", completion)
        got = m.group(0) if m else None
        ok = got == item.answer
        return Score(got, ok, float(ok), got is not None)


def toy_pairs(n: int, seed: int = 0, split: str = "train") -> list[Pair]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        var = rng.choice(NAMES)
        a, b = rng.sample(range(10), 2)
        out.append(Pair(pair_id=f"{split}-{seed}-{i}", domain="toy", split=split, source="toy",
                        query=f"what is {var}?", answer=str(a), ctx_pos=f"{var} = {a}.", ctx_neg=f"{var} = {b}.",
                        meta={"neg_answer": str(b)}))
    return out


BENCHES = {"toy-copy": ToyCopy()}


def base_cfg(pairs_path, **over):
    """A tiny, fast trainer config on ToyCopy: 8 train items, 4 prompts x 4 rollouts per step (2 steps
    per epoch), 4 new tokens, no warm-up (random-init tiny policy), one thread."""
    from ctxbench.core.config import deep_merge
    from trainers.config import make_config

    data = {
        "data": {"tasks": ["toy-copy"], "pairs": str(pairs_path), "max_items_per_task": 8},
        "rollout": {"group_size": 4, "max_new_tokens": 4},
        "optim": {"lr": 1e-3},
        "objective": {"ca_coef": 0.5, "sft_epochs": 1, "sft_batch_size": 4, "sft_lr": 1e-3},
        "warmup": {"enabled": False},
        "prompts_per_step": 4, "pair_batch_size": 4, "micro_batch_size": 16, "epochs": 2,
        "threads": 1, "progress": False,
    }
    return make_config(deep_merge(data, over))


def weights(ckpt_dir):
    from safetensors.torch import load_file

    return load_file(str(ckpt_dir) + "/model.safetensors")


def max_weight_diff(a, b) -> float:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def heldout_reward(model, tok, bench, max_new_tokens: int = 3, limit: int = 128) -> float:
    """Mean greedy reward on the benchmark's held-out (test-split) items."""
    import torch

    from ctxbench.benchmarks.base import LoadContext, split_of
    from trainers.modeling import encode, left_pad, pad_id, render
    from trainers.rollout import decode_rows, sample

    items = [it for it in bench.load(LoadContext()) if split_of(it) == "test"][:limit]
    ids, mask = left_pad([encode(tok, render(tok, it.prompt_text(), it.prefill)) for it in items], pad_id(tok))
    out, omask = sample(model, ids, mask, 1, max_new_tokens, eos_id=tok.eos_token_id, pad_id=pad_id(tok),
                        generator=torch.Generator().manual_seed(0), temperature=0.0)
    texts, _ = decode_rows(tok, out, omask, [()] * len(items), tok.eos_token_id)
    return sum(bench.score(it, t).score for it, t in zip(items, texts)) / len(items)


def heldout_selection_accuracy(model, tok, pairs) -> float:
    """Share of held-out pairs (both A/B orders) whose correct letter has the larger logit."""
    import torch

    from trainers.objectives import ChoiceScorer

    draws = [(p, pf) for p in pairs for pf in (True, False)]
    with torch.no_grad():
        m = ChoiceScorer(tok).margins(model, draws)
    return float((m > 0).float().mean())
