"""The store's tables, declared once.

Why one declaration: the shard writer validates rows against it, ingest creates (and widens) the
DuckDB tables from it, and readers know the key of every table from it. Adding a table or a column
is a one-place change here; old shards without a new column read back as NULL in that column.

Keys are enforced by ingest (deduplicate, then replace rows with the same key), not by a DuckDB
PRIMARY KEY constraint: on DuckDB 2.0.1 replacing 500k keyed rows took 11-19 s with the constraint
and 0.6 s as delete+insert without it, and the file was 4x larger (measured in /tmp, 1M rows).

JSON-valued columns (`*_json`, `lib_versions`, `diff_json`) are stored as VARCHAR holding JSON text;
the writer serialises dicts/lists canonically and checks that strings parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ctxbench.core.errors import CtxbenchError, did_you_mean
from ctxbench.core.hashing import stable_hash


class Table(NamedTuple):
    """columns: ordered {name: DuckDB type}; key: primary-key columns (never null);
    required: further columns that must be non-null; choices: allowed values of some columns."""

    columns: dict[str, str]
    key: tuple[str, ...]
    required: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = MappingProxyType({})


RUN_KINDS = ("eval", "train", "probe", "import", "pairs")

TABLES: dict[str, Table] = {
    "runs": Table(
        columns={
            "run_id": "VARCHAR", "kind": "VARCHAR", "created_at": "TIMESTAMP", "name": "VARCHAR",
            "model": "VARCHAR", "ckpt_id": "VARCHAR", "arm": "VARCHAR", "seed": "INTEGER",
            "ablation": "VARCHAR", "config_hash": "VARCHAR", "config_json": "VARCHAR",
            "lib_versions": "VARCHAR", "status": "VARCHAR",
        },
        key=("run_id",),
        required=("kind", "config_hash"),
        choices={"kind": RUN_KINDS},
    ),
    "checkpoints": Table(
        columns={
            "ckpt_id": "VARCHAR", "path": "VARCHAR", "model": "VARCHAR", "arm": "VARCHAR",
            "seed": "INTEGER", "step": "INTEGER", "run_id": "VARCHAR", "parent_ckpt_id": "VARCHAR",
            "created_at": "TIMESTAMP",
        },
        key=("ckpt_id",),
    ),
    "items": Table(
        columns={
            "item_uid": "VARCHAR", "benchmark": "VARCHAR", "benchmark_version": "VARCHAR",
            "item_id": "VARCHAR", "prompt_hash": "VARCHAR", "prompt_json": "VARCHAR",
            "answer": "VARCHAR", "meta_json": "VARCHAR",
        },
        key=("item_uid",),
        required=("benchmark", "benchmark_version", "item_id"),
    ),
    "samples": Table(
        columns={
            "key": "VARCHAR", "run_id": "VARCHAR", "ckpt_id": "VARCHAR", "benchmark": "VARCHAR",
            "benchmark_version": "VARCHAR", "item_id": "VARCHAR", "item_uid": "VARCHAR",
            "prompt_hash": "VARCHAR", "gen_hash": "VARCHAR", "config_hash": "VARCHAR",
            "sample_idx": "INTEGER", "output": "VARCHAR", "extracted": "VARCHAR",
            "correct": "BOOLEAN", "score": "DOUBLE", "parse_ok": "BOOLEAN", "latency_s": "DOUBLE",
            "n_new_tokens": "INTEGER", "error": "VARCHAR", "lib_versions": "VARCHAR",
            "created_at": "TIMESTAMP",
            # extracted/correct/score/parse_ok above are the score of record; `verdict` says which
            # (official | official-rule | semantic) and the semantic_* columns keep ctxbench's own reading
            # beside it (NULL in rows written before both were stored)
            "verdict": "VARCHAR", "semantic_extracted": "VARCHAR", "semantic_correct": "BOOLEAN",
            "semantic_score": "DOUBLE", "semantic_parse_ok": "BOOLEAN",
        },
        key=("key",),
        choices={"verdict": ("official", "official-rule", "semantic")},
        # "Every row carries the run's resolved-config hash, benchmark name@version, checkpoint
        # identity, and library versions" (docs/architecture.md).
        required=("run_id", "ckpt_id", "benchmark", "benchmark_version", "item_id", "config_hash",
                  "sample_idx", "lib_versions"),
    ),
    "train_metrics": Table(
        columns={"run_id": "VARCHAR", "step": "INTEGER", "name": "VARCHAR", "value": "DOUBLE"},
        key=("run_id", "step", "name"),
    ),
    "pairs": Table(
        columns={
            "pair_id": "VARCHAR", "domain": "VARCHAR", "split": "VARCHAR", "source": "VARCHAR",
            "stage": "VARCHAR", "query": "VARCHAR", "answer": "VARCHAR", "ctx_pos": "VARCHAR",
            "ctx_neg": "VARCHAR", "diff_json": "VARCHAR", "meta_json": "VARCHAR",
            "build_id": "VARCHAR",  # the pair build (ctxbench.pairs.trajectory.build) that wrote the row
        },
        key=("pair_id",),
    ),
    "pair_rejections": Table(
        columns={
            "rej_id": "VARCHAR", "domain": "VARCHAR", "source": "VARCHAR", "stage": "VARCHAR",
            "reason": "VARCHAR", "detail": "VARCHAR",
            "build_id": "VARCHAR",
        },
        key=("rej_id",),
    ),
    # Published tables imported without item rows (headline numbers only).
    "aggregates": Table(
        columns={
            "run_id": "VARCHAR", "model": "VARCHAR", "arm": "VARCHAR", "benchmark": "VARCHAR",
            "score": "DOUBLE", "n_items": "INTEGER",
        },
        key=("run_id", "benchmark"),
    ),
}

JSON_COLUMNS = frozenset({"config_json", "lib_versions", "prompt_json", "meta_json", "diff_json"})


def table(name: str) -> Table:
    """The declaration of one table; an unknown name is an error listing the valid ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise CtxbenchError(f"unknown store table {name!r}{did_you_mean(name, TABLES)}") from None


def create_sql(name: str) -> str:
    """CREATE TABLE IF NOT EXISTS for one table (no constraint: ingest enforces the key)."""
    cols = ", ".join(f'"{c}" {t}' for c, t in table(name).columns.items())
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({cols})'


# The store's schema version, written into every shard's Parquet metadata and into the database.
# Changelog:
#   1  (no marker) the first layout.
#   2  one key recipe for every writer: samples.key = sample_key(run_id, item_uid, sample_idx) and
#      item_uid = item_uid(benchmark, version, item_id, prompt_hash) for the harness, lm-eval, VLMEvalKit
#      and SWE-bench rows alike (the bridges had their own recipes); eval run ids hash the canonical
#      checkpoint spec (resolved absolute path), not its spelling. Shards written before carry no marker:
#      their derived columns are recomputed when read (`derive`), and a database built at version 1 is
#      rebuilt from the shards by the next ingest, so old and new rows never sit side by side.
SCHEMA_VERSION = 2
SCHEMA_META_KEY = "ctxbench.schema"

# Columns that are functions of other columns of the same row, by table: recomputed from old shards.
DERIVED: dict[str, tuple[str, ...]] = {"items": ("item_uid",), "samples": ("item_uid", "key")}
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "items": ("benchmark", "benchmark_version", "item_id", "prompt_hash"),
    "samples": ("run_id", "benchmark", "benchmark_version", "item_id", "prompt_hash", "sample_idx"),
}


def derive(table_name: str, row: Mapping) -> dict:
    """The derived columns of one row of `table_name` (DERIVED), computed with the current recipes."""
    if table_name not in DERIVED:
        return {}
    uid = item_uid(row["benchmark"], row["benchmark_version"], row["item_id"], row["prompt_hash"] or "")
    if table_name == "items":
        return {"item_uid": uid}
    return {"item_uid": uid, "key": sample_key(row["run_id"], uid, row["sample_idx"])}


def item_uid(benchmark: str, benchmark_version: str, item_id: str, prompt_hash: str) -> str:
    """Identity of one rendered item: a changed version or prompt gives a different uid."""
    return stable_hash([benchmark, benchmark_version, item_id, prompt_hash], n=24)


def sample_key(run_id: str, item_uid_: str, sample_idx: int) -> str:
    """Key of one sample row: (run, rendered item, sample index). The run id already encodes the
    checkpoint, benchmark version and generation config (see the harness's run fingerprint)."""
    return stable_hash([run_id, item_uid_, int(sample_idx)], n=32)
