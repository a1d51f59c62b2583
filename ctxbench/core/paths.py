"""Where things live on disk. One run root holds runs, checkpoints, shards and the database.

Default `runs/` under the current directory; override with `--root` or `CTXBENCH_ROOT`.
Model assets that are built once (the tiny tokenizer/model, the converted SmolLM2) are cached under
`CTXBENCH_CACHE` (default `~/.cache/ctxbench`) so every run root shares them.
"""

from __future__ import annotations

import os
from pathlib import Path


def run_root(override: str | os.PathLike | None = None) -> Path:
    root = Path(override or os.environ.get("CTXBENCH_ROOT", "runs"))
    return root


def cache_dir() -> Path:
    return Path(os.environ.get("CTXBENCH_CACHE", Path.home() / ".cache" / "ctxbench"))


def shards_dir(root: Path, table: str) -> Path:
    """Shard folder for one table (samples, runs, checkpoints, train_metrics, pairs ...)."""
    return root / "shards" / table


def db_path(root: Path) -> Path:
    return root / "ctxbench.duckdb"
