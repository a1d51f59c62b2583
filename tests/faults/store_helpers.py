"""Tiny run roots and exact dumps of a store, for the kill-point and concurrency tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ctxbench.store.schema import TABLES

VOLATILE = {"ingested_at", "created_at", "latency_s"}  # wall-clock columns: differ between any two runs
CLI = "import sys; from ctxbench.cli import main; sys.exit(main(sys.argv[1:]))"
REPO = Path(__file__).parents[2]


def cli_proc(root: Path, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", CLI, "--root", str(root), *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def make_shards(root: Path, n_items: int = 4) -> None:
    from ablation_fixture import make_store

    make_store(root, n_items=n_items, seeds=(0, 1), do_ingest=False)


def dump(root: Path) -> dict[str, list[tuple]] | None:
    """Every keyed table's rows (sorted, as text), None when there is no database. Raises if the database
    cannot be read (a half-written database would)."""
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root, missing_ok=True)
    if con is None:
        return None
    try:
        out = {}
        for name, decl in TABLES.items():
            cols = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in decl.columns if c not in VOLATILE)
            out[name] = sorted(con.execute(f'SELECT {cols} FROM "{name}"').fetchall(), key=repr)
            key = ", ".join(f'"{k}"' for k in decl.key)
            n, distinct = con.execute(f'SELECT count(*), count(DISTINCT ({key})) FROM "{name}"').fetchall()[0]
            assert n == distinct, f"{name}: {n - distinct} duplicate keys"
        return out
    finally:
        con.close()


def n_rows(d: dict | None) -> int:
    return sum(len(v) for v in (d or {}).values())
