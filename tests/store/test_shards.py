"""Shard writer/reader: schema validation, atomic writes, corrupt files named, resume keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.store import shards
from ctxbench.store.schema import TABLES, item_uid, sample_key
from ctxbench.store.shards import iter_shards, read_keys, read_table, write_shard


def sample(i, run="r1", **kw):
    row = {"key": f"{run}:{i}", "run_id": run, "ckpt_id": "ck", "benchmark": "b", "benchmark_version": "1",
           "item_id": f"it{i}", "config_hash": "cfg", "sample_idx": 0, "lib_versions": {"duckdb": "2.0.1"},
           "score": float(i % 2), "correct": bool(i % 2), "output": f"out {i}"}
    row.update(kw)
    return row


def test_roundtrip_fills_missing_and_serialises_json(root):
    p = write_shard(root, "samples", [sample(i) for i in range(5)])
    assert p.parent == root / "shards" / "samples" and p.name.startswith("r1--") and p.suffix == ".parquet"
    df = read_table(root, "samples")
    assert list(df.columns) == list(TABLES["samples"].columns)
    assert df["key"].tolist() == [f"r1:{i}" for i in range(5)]
    assert df["lib_versions"].iloc[0] == '{"duckdb":"2.0.1"}'
    assert df["latency_s"].isna().all() and df["error"].isna().all()
    assert pq.read_metadata(p).row_group(0).column(0).compression == "ZSTD"


def test_text_survives_byte_exact(root):
    texts = ["x" * 100_000, "https://example.com/a?b=c", "nul\x00inside", "emoji 🙂 and ünïcode", ""]
    write_shard(root, "samples", [sample(i, output=t) for i, t in enumerate(texts)])
    assert read_table(root, "samples")["output"].tolist() == texts


def test_arrow_and_pandas_inputs_and_timestamps(root):
    df = pd.DataFrame({"run_id": ["r1", "r1"], "step": [1, 2], "name": ["loss", "loss"], "value": [0.5, 0.4]})
    write_shard(root, "train_metrics", df)
    write_shard(root, "train_metrics", pa.Table.from_pandas(df.assign(step=[3, 4]), preserve_index=False))
    got = read_table(root, "train_metrics")
    assert got["step"].tolist() == [1, 2, 3, 4] and str(got["step"].dtype) == "int32"
    write_shard(root, "runs", [{"run_id": "r1", "kind": "eval", "config_hash": "c",
                                "created_at": "2026-01-01T12:00:00+02:00"}])
    assert str(read_table(root, "runs")["created_at"].iloc[0]) == "2026-01-01 10:00:00"  # UTC


def test_unknown_column_is_named_with_suggestion(root):
    with pytest.raises(DataError, match=r"unknown column 'scor'.*did you mean 'score'"):
        write_shard(root, "samples", [sample(0, scor=1.0)])
    with pytest.raises(DataError, match="unknown column 'bogus'"):
        write_shard(root, "samples", pd.DataFrame([{**sample(0), "bogus": 1}]).drop(columns="lib_versions"))
    with pytest.raises(CtxbenchError, match="unknown store table 'sample'.*did you mean 'samples'"):
        write_shard(root, "sample", [sample(0)])
    assert list(iter_shards(root, "samples")) == []


def test_key_required_choices_and_json_are_checked(root):
    with pytest.raises(DataError, match="key column 'key' is null"):
        write_shard(root, "samples", [sample(0, key=None)])
    with pytest.raises(DataError, match="required column 'config_hash'"):
        write_shard(root, "samples", [sample(0, config_hash=None)])
    with pytest.raises(DataError, match="'kind' value 'evaluation' not allowed.*'eval'"):
        write_shard(root, "runs", [{"run_id": "r", "kind": "evaluation", "config_hash": "c"}])
    with pytest.raises(DataError, match="'lib_versions' must hold JSON"):
        write_shard(root, "samples", [sample(0, lib_versions="{not json")])
    with pytest.raises(DataError, match="'sample_idx' does not fit type INTEGER"):
        write_shard(root, "samples", [sample(0, sample_idx="first")])


def test_failed_write_leaves_nothing(root, monkeypatch):
    """A writer dying between the temp write and the rename leaves no visible shard."""

    def boom(src, dst):
        raise KeyboardInterrupt("killed before rename")

    monkeypatch.setattr(shards.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_shard(root, "samples", [sample(i) for i in range(100)])
    assert list((root / "shards" / "samples").iterdir()) == []


def test_sigkill_mid_write_never_exposes_partial_shard(root):
    """Kill a writer (kill -9) while it streams big shards: every visible shard reads completely,
    leftover temporary files are ignored by readers."""
    script = textwrap.dedent(f"""
        import sys
        from ctxbench.store.shards import write_shard
        rows = [dict(key=f"k{{i}}", run_id="r1", ckpt_id="c", benchmark="b", benchmark_version="1",
                     item_id=str(i), config_hash="h", sample_idx=0, lib_versions="{{}}",
                     output=str(i) * 400) for i in range(20000)]
        print("ready", flush=True)
        for n in range(1000):
            for r in rows:
                r["key"] = f"k{{n}}-" + r["item_id"]
            write_shard({str(root)!r}, "samples", rows, name=f"part{{n:04d}}")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    folder = root / "shards" / "samples"
    deadline = time.time() + 20
    while time.time() < deadline:  # kill while a temp file is being written
        if any(shards.is_temp(p) for p in folder.glob("*")) and len(list(iter_shards(root, "samples"))) >= 1:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    visible = list(iter_shards(root, "samples"))
    assert visible, "writer produced no shard before the kill"
    assert all(not shards.is_temp(p) for p in visible)
    df = read_table(root, "samples", columns=["key"])
    assert len(df) == 20000 * len(visible)


def test_corrupt_shard_is_named(root):
    write_shard(root, "samples", [sample(0)], name="good")
    bad = root / "shards" / "samples" / "r1--bad.parquet"
    bad.write_bytes(b"PAR1 truncated garbage")
    with pytest.raises(DataError, match=r"corrupt shard .*r1--bad\.parquet"):
        read_table(root, "samples")


def test_read_keys_reads_only_that_run(root):
    write_shard(root, "samples", [sample(i, run="run/a b") for i in range(3)])
    write_shard(root, "samples", [sample(i, run="r2") for i in range(4)])
    # a corrupt shard of another run must not break resuming this one
    (root / "shards" / "samples" / "r2--zz.parquet").write_bytes(b"junk")
    assert read_keys(root, "samples", "run/a b") == {"run/a b:0", "run/a b:1", "run/a b:2"}
    write_shard(root, "train_metrics", [{"run_id": "t", "step": s, "name": "loss", "value": 1.0}
                                        for s in range(3)])
    assert read_keys(root, "train_metrics", "t") == {("t", s, "loss") for s in range(3)}
    assert read_keys(root, "samples", "nope") == set()


def test_rows_of_several_runs_are_found_per_run(root):
    write_shard(root, "samples", [sample(0, run="a"), sample(1, run="b")])
    assert next(iter_shards(root, "samples")).name.startswith("_--")
    assert read_keys(root, "samples", "b") == {"b:1"}


def test_latest_shard_wins_per_key(root):
    write_shard(root, "runs", [{"run_id": "r", "kind": "eval", "config_hash": "c", "status": "running"}])
    time.sleep(0.01)
    write_shard(root, "runs", [{"run_id": "r", "kind": "eval", "config_hash": "c", "status": "done"}])
    assert read_table(root, "runs")["status"].tolist() == ["done"]
    assert sorted(read_table(root, "runs", dedupe=False)["status"]) == ["done", "running"]
    assert read_table(root, "runs", where={"status": ["done", "x"]})["run_id"].tolist() == ["r"]


def test_key_helpers_are_stable_and_sensitive():
    u = item_uid("niah", "1", "i0", "ph")
    assert u == item_uid("niah", "1", "i0", "ph") and u != item_uid("niah", "2", "i0", "ph")
    assert sample_key("r", u, 0) != sample_key("r", u, 1)
