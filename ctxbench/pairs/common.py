"""What every pair builder shares: the build result, the train/held-out split rule, token counting,
the finished-build marker and the store rows of a build.

Why one home: the trajectory and the image builders write the same files (pairs.jsonl, then
yield.json as the done marker) and the same store rows, and must split sources by the benchmarks'
own rule, so the probe's held-out sources are exactly the benchmarks' test sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ctxbench.core.atomic import remove_orphans, write_json
from ctxbench.core.config import to_dict
from ctxbench.core.errors import ConfigError
from ctxbench.pairs.base import Pair, load_pairs
from ctxbench.pairs.filters import Ledger, format_yield


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


def cached_result(out: Path, bid: str) -> PairsResult | None:
    """The finished build in `out` (pairs.jsonl plus its yield.json marker), or None."""
    path, ypath = out / "pairs.jsonl", out / "yield.json"
    if not (ypath.exists() and path.exists()):
        return None
    done = json.loads(ypath.read_text(encoding="utf-8"))
    pairs = load_pairs(path)
    return PairsResult(path, sum(p.split == "train" for p in pairs), sum(p.split == "test" for p in pairs),
                       done["yield"], bid, done.get("notes", []), done.get("n_rejections", 0), cached=True)


def finish_build(out: Path, bid: str, pairs: list[Pair], ledger: Ledger, marker: dict) -> PairsResult:
    """Write yield.json (the done marker, written last and atomically), remove what a killed earlier
    build left half-written in `out`, and return the result."""
    table = ledger.yield_table()
    write_json(out / "yield.json", {"build_id": bid, **marker, "yield": table, "notes": ledger.notes,
                                    "n_rejections": len(ledger.rejections)}, indent=1)
    remove_orphans(out)
    return PairsResult(out / "pairs.jsonl", sum(p.split == "train" for p in pairs),
                       sum(p.split == "test" for p in pairs), table, bid, list(ledger.notes), len(ledger.rejections))


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


__all__ = ["PairsResult", "cached_result", "finish_build", "split_for", "token_counter", "write_pairs_store"]
