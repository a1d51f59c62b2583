"""`ctxbench pairs build --domain notes`: generated one-note contrastive pairs, the default ablation's pairs.

Why a generated domain: the default ablation runs on a random-init ~1.4M-parameter model (`micro`) on a
2-core CPU, and its held-out probe must be able to move within minutes, or the probe column says nothing
about ContextRL. The trajectory pairs (execution traces, tool logs, ~600 tokens) are the realistic
domain, but a model that small does not learn to select between them in that budget. A notes pair is
the paper's construction in miniature: C+ states the fact the answer depends on, C- is the same line
with the value changed (a minimal perturbation that supports a different answer):

    Q: what is k?   A: 3   C+: "k = 3."   C-: "k = 8."

Selecting C+ needs the same skill the CA loss trains at scale: compare the answer with what each context
says. On a dev set of pairs from another seed, ContextRL on `micro` went from 0.50 to ~0.99 selection
accuracy in 400 steps, while the two-note form (a shared distractor line in both contexts) did not move
in that budget, so the builder makes one-note contexts by default (`n_notes` > 1 adds shared lines).

Splits: each pair is its own source group, split by the benchmarks' rule (pairs.common.split_for), so the
probe reads pairs none of the arms trained on. Output: the layout of the other builders
(<root>/pairs/notes-<hash>/pairs.jsonl + yield.json, store rows).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ctxbench.core.config import to_dict
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import Pair, save_pairs
from ctxbench.pairs.common import PairsResult, cached_result, finish_build, split_for, write_pairs_store
from ctxbench.pairs.filters import Ledger

NOTES_BUILD_VERSION = "1"
NOTES_STAGES = ("source", "select")
NOTES_TITLES = {"source": "1 generated note + question", "select": "2 dedupe and caps"}
NAMES = tuple("xyzknmpq")   # the dev-tested set (a wider one was not tried within the budget)
DIGITS = "0123456789"


@dataclass(frozen=True)
class NotesPairsConfig:
    """How many notes pairs to generate, and how they are split (see the module docstring)."""

    domain: Literal["notes"] = "notes"
    max_pairs: int = 600
    n_notes: int = 1                # lines per context; lines other than the asked one are shared
    heldout_frac: float = 0.3
    seed: int = 0

    def __post_init__(self):
        if self.max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, not {self.max_pairs}")
        if not 1 <= self.n_notes <= len(NAMES):
            raise ValueError(f"n_notes must be in 1..{len(NAMES)}, not {self.n_notes}")
        if not 0.0 <= self.heldout_frac < 1.0:
            raise ValueError(f"heldout_frac must be in [0, 1), not {self.heldout_frac}")


def notes_build_id(cfg: NotesPairsConfig) -> str:
    return stable_hash({"v": NOTES_BUILD_VERSION, "cfg": to_dict(cfg)}, 12)


def generate(cfg: NotesPairsConfig, ledger: Ledger) -> list[Pair]:
    """The pairs of `cfg`: seeded, values distinct within a pair (the answer appears in C+ only)."""
    rng = random.Random(f"notes-{cfg.seed}")
    pairs: list[Pair] = []
    seen: set[tuple] = set()
    attempts = 0
    while len(pairs) < cfg.max_pairs and attempts < 20 * cfg.max_pairs:
        attempts += 1
        names = rng.sample(NAMES, cfg.n_notes)
        digits = rng.sample(DIGITS, cfg.n_notes + 1)
        values, other = digits[:cfg.n_notes], digits[-1]
        ask = rng.randrange(cfg.n_notes)
        neg = list(values)
        neg[ask] = other
        source = f"notes-{cfg.seed}-{attempts:06d}"
        ledger.enter("source")
        ledger.keep("source")
        ledger.enter("select")
        key = (tuple(names), tuple(values), ask, other)
        if key in seen:
            ledger.reject("select", "duplicate", source)
            continue
        seen.add(key)
        ledger.keep("select")

        def ctx(vals: list[str]) -> str:
            return "\n".join(f"{k} = {v}." for k, v in zip(names, vals))

        pairs.append(Pair(pair_id=source, domain="notes", split=split_for(source, cfg.heldout_frac),
                          source=source, query=f"what is {names[ask]}?", answer=values[ask],
                          ctx_pos=ctx(values), ctx_neg=ctx(neg), meta={"neg_answer": other, "asked": names[ask]}))
    if len(pairs) < cfg.max_pairs:
        ledger.notes.append(f"only {len(pairs)} distinct pairs exist for n_notes={cfg.n_notes}")
    return pairs


def build_notes_pairs(cfg: NotesPairsConfig, root, *, progress: bool = True, write_store: bool = True,
                      force: bool = False) -> PairsResult:
    """Build (or reuse) the notes pairs for `cfg` under `root` (same files as the other builders)."""
    bid = notes_build_id(cfg)
    out = Path(root) / "pairs" / f"{cfg.domain}-{bid}"
    done = None if force else cached_result(out, bid)
    if done is not None:
        return done
    ledger = Ledger(stages=NOTES_STAGES, titles=dict(NOTES_TITLES))
    pairs = generate(cfg, ledger)
    save_pairs(out / "pairs.jsonl", pairs)
    if write_store:
        write_pairs_store(root, cfg, bid, pairs, {p.pair_id: {"asked": p.meta["asked"], "pos": p.answer, "neg": p.meta["neg_answer"]}
                                                     for p in pairs}, ledger)
    return finish_build(out, bid, pairs, ledger, {"config": to_dict(cfg)})


__all__ = ["NotesPairsConfig", "build_notes_pairs", "generate", "notes_build_id"]
