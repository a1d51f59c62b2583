"""`pairs import`: a released contrastive-data file -> a pairs JSONL and store rows, like `pairs build`.

Why one entry point: `ctxbench pairs import` and the ablation runner (a spec's `[pairs] file = ...`)
must write the same files, keyed the same way, so a spec that names the released file trains on
exactly what the command showed. The build id hashes the config, the data files' bytes and the reader
version, so a changed file is re-imported and an unchanged one is reused (yield.json is the marker).

    <root>/pairs/released-<format>-<id>/pairs.jsonl   the pairs (ctxbench.pairs.base format, verbatim prompts)
    <root>/pairs/released-<format>-<id>/yield.json    rows read, pairs kept, QA rows seen (the done marker)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ctxbench.core.config import to_dict
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import file_sha256, stable_hash
from ctxbench.pairs.base import save_pairs
from ctxbench.pairs.common import PairsResult, cached_result, finish_build, write_pairs_store
from ctxbench.pairs.filters import Ledger
from ctxbench.pairs.released import agentic, easyr1

FORMATS = (agentic.FORMAT, easyr1.FORMAT)
READER_VERSION = 1   # bump when a reader's output changes for the same file


@dataclass(frozen=True)
class ReleasedPairsConfig:
    """A spec's `[pairs]` table when it names a released file (instead of a builder's `domain`).

    file:         the released file (agentic: a .jsonl; easyr1: a .parquet/.jsonl file or the dataset folder)
    format:       "auto" detects it from the file (see detect_format)
    heldout_frac: share of the pairs held out (split "test", for the probe); 0 = every pair trains, as
                  the paper trains on every released row (the paper's probe pairs are not released)
    prefill:      assistant text put before the letter, stored with each pair ("" = none; the released
                  Klear recipe uses "The correct option is")
    """

    file: str
    format: Literal["auto", "contextrl-agentic", "easyr1"] = "auto"
    heldout_frac: float = 0.0
    prefill: str = ""

    def __post_init__(self):
        if not self.file:
            raise ValueError("pairs.file must name the released data file")
        if not 0.0 <= self.heldout_frac < 1.0:
            raise ValueError("pairs.heldout_frac must be in [0, 1)")

    @property
    def domain(self) -> str:
        """What the store calls this source (the runs row's name: pairs/released-<format>)."""
        return f"released-{self.format}"


@dataclass(frozen=True)
class ImportResult:
    pairs: PairsResult
    format: str
    n_grpo_rows: int | None      # EasyR1: the QA rows of the same file (the GRPO stream); None for agentic

    def summary(self) -> str:
        p = self.pairs
        line = f"{self.format}: {p.n_train + p.n_test} pairs ({p.n_train} train, {p.n_test} held-out) -> {p.path}"
        if self.n_grpo_rows is not None:
            line += f"\n{self.n_grpo_rows} QA rows for GRPO in the same data (the easyr1-qa task reads them)"
        return line


def detect_format(path: str | Path) -> str:
    """easyr1 for a folder or a .parquet file; for a .jsonl file, the format whose columns its first row has."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found (a released contrastive-data file: {' or '.join(FORMATS)})")
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return easyr1.FORMAT
    from ctxbench.sources.datafiles import iter_jsonl

    lineno, row = next(iter(iter_jsonl(path)))
    if agentic.looks_like(row):
        return agentic.FORMAT
    if easyr1.looks_like(row):
        return easyr1.FORMAT
    raise DataError(f"{path}:{lineno}: neither format: a {agentic.FORMAT} row has prompt and correct_answer, an "
                    f"{easyr1.FORMAT} row has problem, answer and images (got {', '.join(sorted(row)) or 'no keys'})")


def _files(path: Path, fmt: str) -> list[Path]:
    return easyr1.e1.data_files(path) if fmt == easyr1.FORMAT else [path]


def import_pairs(cfg: ReleasedPairsConfig, root, out: str | Path | None = None, write_store: bool = True,
                 force: bool = False) -> ImportResult:
    """Read `cfg.file`, write its pairs under `out` (default <root>/pairs/released-<format>-<id>) and,
    with `write_store`, the store rows; a finished import of the same bytes and config is reused."""
    path = Path(cfg.file)
    fmt = detect_format(path) if cfg.format == "auto" else cfg.format
    cfg = replace(cfg, format=fmt)
    data = [file_sha256(f) for f in _files(path, fmt)]
    bid = stable_hash({"cfg": {**to_dict(cfg), "file": path.name}, "data": data, "reader": READER_VERSION}, 12)
    folder = Path(out) if out else Path(root) / "pairs" / f"released-{fmt}-{bid}"
    if not force and (done := cached_result(folder, bid)) is not None:
        marker = json.loads((folder / "yield.json").read_text(encoding="utf-8"))
        if marker.get("build_id") == bid:
            return ImportResult(done, fmt, marker.get("n_grpo_rows"))
    if fmt == agentic.FORMAT:
        pairs, n_qa = agentic.read_agentic(path, cfg.heldout_frac, cfg.prefill), None
    else:
        pairs, n_qa = easyr1.read_easyr1(path, cfg.heldout_frac, cfg.prefill)
        if not pairs:
            raise DataError(f"{path}: no choose-image rows (more than one image, answer A or B) among its "
                            f"{n_qa} rows")
    ledger = Ledger(stages=("read",), titles={"read": f"released {fmt} rows read"})
    ledger.enter("read", len(pairs))
    ledger.keep("read", len(pairs))
    save_pairs(folder / "pairs.jsonl", pairs)
    if write_store:
        write_pairs_store(root, cfg, bid, pairs, {}, ledger)
    res = finish_build(folder, bid, pairs, ledger, {"config": to_dict(cfg), "format": fmt, "n_grpo_rows": n_qa})
    return ImportResult(res, fmt, n_qa)


__all__ = ["FORMATS", "ImportResult", "ReleasedPairsConfig", "detect_format", "import_pairs"]
