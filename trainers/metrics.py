"""Training rows for the store: per-step metrics, the run row and checkpoint rows, as shards.

Writers never open DuckDB (only `ctxbench ingest` writes the database): rows go to atomic Parquet
shards under <root>/shards/<table>/ and `ctxbench ingest` loads them. Metric shards are named by their
step range, so a resumed run that re-logs steps after its last checkpoint replaces the same shard rather
than adding a second copy (and the values are identical, since the replay is deterministic).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path


def metric_rows(run_id: str, step: int, metrics: dict[str, float]) -> list[dict]:
    return [{"run_id": run_id, "step": int(step), "name": k, "value": float(v)}
            for k, v in sorted(metrics.items()) if isinstance(v, (int, float)) and math.isfinite(float(v))]


def write_metric_shard(root: Path, run_id: str, rows: list[dict]) -> Path | None:
    from ctxbench.store.shards import write_shard

    if not rows:
        return None
    steps = [r["step"] for r in rows]
    return write_shard(root, "train_metrics", rows, name=f"steps-{min(steps):07d}-{max(steps):07d}")


def write_checkpoint_row(root: Path, *, ckpt_id: str, path: Path, model: str, arm: str, seed: int, step: int,
                         run_id: str, parent_ckpt_id: str) -> None:
    from ctxbench.store.shards import write_shard

    write_shard(root, "checkpoints", [{
        "ckpt_id": ckpt_id, "path": str(path), "model": model, "arm": arm, "seed": seed, "step": step,
        "run_id": run_id, "parent_ckpt_id": parent_ckpt_id, "created_at": dt.datetime.now(dt.timezone.utc),
    }], name=f"ckpt-{step:07d}")


def write_run_row(root: Path, *, run_id: str, model: str, ckpt_id: str, arm: str, seed: int, config_hash: str,
                  config: dict, status: str) -> None:
    from ctxbench.core.versions import lib_versions
    from ctxbench.store.shards import write_shard

    write_shard(root, "runs", [{
        "run_id": run_id, "kind": "train", "created_at": dt.datetime.now(dt.timezone.utc), "name": run_id,
        "model": model, "ckpt_id": ckpt_id, "arm": arm, "seed": seed, "ablation": None,
        "config_hash": config_hash, "config_json": config, "lib_versions": lib_versions(), "status": status,
    }], name="run")
