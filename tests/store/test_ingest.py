"""Ingest: idempotent, incremental == rebuild, readers never blocked, crashes leave the live db."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from ctxbench.core.errors import CtxbenchError
from ctxbench.store import ingest, rebuild
from ctxbench.store.ingest import ingest_lock
from ctxbench.store.queries import runs
from ctxbench.store.read import connect_readonly, snapshot_id
from ctxbench.store.schema import TABLES, Table
from ctxbench.store.shards import write_shard

ingest_mod = importlib.import_module("ctxbench.store.ingest")  # `ctxbench.store.ingest` is the function


def run_row(run, arm, seed, status="done"):
    return {"run_id": run, "kind": "eval", "config_hash": "c", "arm": arm, "seed": seed,
            "status": status, "lib_versions": "{}"}


def samples(run, items, score=1.0, bench="b", version="1", **kw):
    return [dict(key=f"{run}:{bench}:{i}", run_id=run, ckpt_id="ck", benchmark=bench,
                 benchmark_version=version, item_id=str(i), config_hash="c", sample_idx=0,
                 lib_versions="{}", score=score, correct=score > 0.5, parse_ok=True, **kw) for i in items]


def scores(root, run_id) -> list:
    """The stored scores of one run's samples, in item order."""
    con = connect_readonly(root)
    try:
        return [r[0] for r in con.execute("SELECT score FROM samples WHERE run_id = ? ORDER BY benchmark, item_id, "
                                          "sample_idx", [run_id]).fetchall()]
    finally:
        con.close()


def dump(root) -> dict[str, list]:
    con = connect_readonly(root)
    try:
        return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in TABLES}
    finally:
        con.close()


def test_ingest_is_idempotent_and_incremental(root):
    assert connect_readonly(root, missing_ok=True) is None
    with pytest.raises(CtxbenchError, match="run `ctxbench ingest"):
        connect_readonly(root)
    write_shard(root, "runs", [run_row("r1", "grpo", 0)])
    write_shard(root, "samples", samples("r1", range(10)))
    added = ingest(root, progress=False)
    assert added["samples"] == 10 and added["runs"] == 1 and added["items"] == 0
    snap = snapshot_id(root)
    assert ingest(root, progress=False) == {t: 0 for t in TABLES}
    assert snapshot_id(root) == snap  # nothing new: the database is not even rewritten
    write_shard(root, "samples", samples("r1", range(5, 15)))  # 5 repeated keys, 5 new
    assert ingest(root, progress=False)["samples"] == 5
    con = connect_readonly(root)
    n, n_keys = con.execute("SELECT count(*), count(DISTINCT key) FROM samples").fetchall()[0]
    assert n == n_keys == 15


def test_later_shard_replaces_same_key(root):
    write_shard(root, "runs", [run_row("r1", "grpo", 0, status="partial")])
    ingest(root, progress=False)
    time.sleep(0.01)
    write_shard(root, "runs", [run_row("r1", "grpo", 0, status="done")])
    assert ingest(root, progress=False)["runs"] == 0
    assert runs(connect_readonly(root))["status"].tolist() == ["done"]
    # duplicates inside one batch: the later shard (and later row) wins
    write_shard(root, "samples", samples("r1", [0], score=0.0) + samples("r1", [0], score=0.5), name="a")
    time.sleep(0.01)
    write_shard(root, "samples", samples("r1", [0], score=1.0), name="b")
    ingest(root, progress=False)
    assert scores(root, "r1") == [1.0]


def test_rebuild_equals_incremental(root):
    for k in range(4):
        write_shard(root, "runs", [run_row(f"r{k}", "grpo" if k % 2 else "contextrl", k // 2)])
        write_shard(root, "samples", samples(f"r{k}", range(k, k + 6), score=k / 4))
        write_shard(root, "train_metrics", [{"run_id": f"r{k}", "step": s, "name": "loss",
                                             "value": 1 / (s + 1)} for s in range(3)])
        ingest(root, progress=False)
    write_shard(root, "samples", samples("r0", range(3), score=0.25), name="rewrite")
    ingest(root, progress=False)
    incremental = dump(root)
    assert rebuild(root, progress=False)["samples"] == sum(len(set(range(k, k + 6))) for k in range(4))
    assert dump(root) == incremental


def test_rewritten_shard_is_reread(root):
    write_shard(root, "samples", samples("r1", range(3), score=0.0), name="p")
    ingest(root, progress=False)
    time.sleep(0.01)
    write_shard(root, "samples", samples("r1", range(3), score=1.0), name="p")  # same file name
    ingest(root, progress=False)
    assert scores(root, "r1") == [1.0] * 3


@pytest.mark.parametrize("garble", ["not parquet", "truncated", "bytes flipped"])
def test_a_corrupt_shard_is_quarantined_and_the_rest_ingested(root, capsys, garble):
    write_shard(root, "samples", samples("r1", range(3)))
    ingest(root, progress=False)
    good = write_shard(root, "samples", samples("r3", range(2)), name="later")
    bad = write_shard(root, "samples", samples("r2", range(4)), name="broken")
    data = bad.read_bytes()
    bad.write_bytes({"not parquet": b"PAR1 not really parquet", "truncated": data[: len(data) // 2],
                     "bytes flipped": data[:4] + bytes(b ^ 0x5A for b in data[4:-8]) + data[-8:]}[garble])
    added = ingest(root, progress=False)
    err = capsys.readouterr().err
    assert "quarantined an unreadable shard" in err and "r2--broken.parquet" in err
    assert added["samples"] == 2 and scores(root, "r3") and not scores(root, "r2")
    assert not bad.exists() and good.exists()
    assert len(list((root / "quarantine" / "samples").iterdir())) == 1
    assert not list(root.glob("ctxbench.duckdb.ingest-*"))
    assert ingest(root, progress=False)["samples"] == 0  # nothing left to trip on


def test_crash_mid_ingest_keeps_previous_snapshot(root, monkeypatch):
    write_shard(root, "samples", samples("r1", range(3)))
    ingest(root, progress=False)
    before = dump(root)
    write_shard(root, "samples", samples("r2", range(3)))

    def crash(*a, **k):
        raise RuntimeError("power cut")

    monkeypatch.setattr(ingest_mod, "_ingest_batch", crash)
    with pytest.raises(RuntimeError):
        ingest(root, progress=False)
    assert dump(root) == before
    monkeypatch.undo()
    assert ingest(root, progress=False)["samples"] == 3


def test_lock_serialises_ingests(root):
    with ingest_lock(root), pytest.raises(CtxbenchError, match="another ingest holds"):
        ingest(root, progress=False, lock_timeout=0.2)


def test_new_table_and_column_are_one_place_changes(root, monkeypatch):
    write_shard(root, "train_metrics", [{"run_id": "r", "step": 1, "name": "loss", "value": 2.0}])
    ingest(root, progress=False)
    old = TABLES["train_metrics"]
    monkeypatch.setitem(TABLES, "train_metrics",
                        Table(columns={**old.columns, "unit": "VARCHAR"}, key=old.key))
    monkeypatch.setitem(TABLES, "notes", Table(columns={"note_id": "VARCHAR", "text": "VARCHAR"},
                                               key=("note_id",)))
    write_shard(root, "train_metrics", [{"run_id": "r", "step": 2, "name": "loss", "value": 1.0, "unit": "nat"}])
    write_shard(root, "notes", [{"note_id": "n1", "text": "hello"}])
    assert ingest(root, progress=False)["notes"] == 1
    con = connect_readonly(root)
    assert con.execute("SELECT step, unit FROM train_metrics ORDER BY step").fetchall() == [(1, None), (2, "nat")]


READER_LOOP = textwrap.dedent("""
    import sys
    from ctxbench.store.shards import write_shard
    from ctxbench.store.ingest import ingest
    root, n = sys.argv[1], int(sys.argv[2])
    for k in range(n):
        write_shard(root, "samples", [dict(key=f"{k}:{i}", run_id=f"w{k}", ckpt_id="c", benchmark="b",
            benchmark_version="1", item_id=str(i), config_hash="h", sample_idx=0, lib_versions="{}",
            score=1.0) for i in range(200)])
        ingest(root, progress=False)
    print("done", flush=True)
""")


def test_readers_are_never_blocked_by_ingest(root):
    """A reader opened before a stream of ingests keeps its snapshot; readers opened during it never
    see a lock error and see monotonically more rows."""
    write_shard(root, "samples", samples("r0", range(200)))
    ingest(root, progress=False)
    early = connect_readonly(root)
    n_rounds = 12
    proc = subprocess.Popen([sys.executable, "-c", READER_LOOP, str(root), str(n_rounds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, opened = [], 0
    try:
        while proc.poll() is None:
            assert early.execute("SELECT count(*) FROM samples").fetchall() == [(200,)]
            con = connect_readonly(root, retries=0)  # any lock error would raise here
            cur = con.cursor()
            seen.append(cur.execute("SELECT count(*) FROM samples").fetchall()[0][0])
            con.close()
            opened += 1
            time.sleep(0.01)
    finally:
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert opened >= 3 and len(set(seen)) >= 2  # reads really interleaved with ingests
    assert seen == sorted(seen) and all(s % 200 == 0 for s in seen)
    assert early.execute("SELECT count(*) FROM samples").fetchall() == [(200,)]
    assert connect_readonly(root).execute("SELECT count(*) FROM samples").fetchall() == [(200 * (n_rounds + 1),)]


def test_foreign_writer_wal_triggers_rebuild(root, capsys):
    write_shard(root, "samples", samples("r1", range(3)))
    ingest(root, progress=False)
    con = duckdb.connect(str(root / "ctxbench.duckdb"))  # someone opens the live file read-write
    con.execute("CREATE TABLE junk AS SELECT 1 AS x")
    wal = root / "ctxbench.duckdb.wal"
    con.close()
    if not wal.exists():  # DuckDB checkpointed on close; simulate the crash case directly
        wal.write_bytes(b"")
    ingest(root, progress=False)
    assert "rebuilding from shards" in capsys.readouterr().err
    assert not wal.exists() and list(root.glob("ctxbench.duckdb.wal.stale-*"))
    assert connect_readonly(root).execute("SELECT count(*) FROM samples").fetchall() == [(3,)]


def _mixed_history(root):
    """Ingests that replace keys of every kind: one-column keys and train_metrics' three-column key,
    across ingests and within one batch, in several shards per batch."""
    for k in range(3):
        write_shard(root, "runs", [run_row(f"r{k}", "grpo", k)])
        write_shard(root, "samples", samples(f"r{k}", range(6), score=k / 3))
        write_shard(root, "train_metrics", [{"run_id": "r0", "step": s, "name": "loss", "value": k + s}
                                            for s in range(3)])  # the same three keys every round
        ingest(root, progress=False)
    write_shard(root, "samples", samples("r0", range(4, 9), score=0.9) + samples("r0", [8], score=0.1), name="dup")
    write_shard(root, "samples", samples("r1", range(2), score=0.7))
    ingest(root, progress=False)


def test_the_direct_insert_and_the_staged_path_store_the_same_rows(root, tmp_path, monkeypatch):
    """Most batches are one INSERT straight from read_parquet; a batch with a key twice is staged first.
    Forcing every batch down the staged path gives the same database."""
    _mixed_history(root)
    direct = dump(root)
    other = tmp_path / "staged"
    other.mkdir()
    monkeypatch.setattr(ingest_mod, "_has_duplicate_keys", lambda *a: True)
    _mixed_history(other)
    assert dump(other) == direct
    con = connect_readonly(root)
    assert con.execute("SELECT step, value FROM train_metrics ORDER BY step").fetchall() == [(0, 2.0), (1, 3.0),
                                                                                              (2, 4.0)]
    assert con.execute("SELECT score FROM samples WHERE run_id = 'r0' AND item_id = '8'").fetchall() == [(0.1,)]
    assert con.execute("SELECT count(*), count(DISTINCT key) FROM samples").fetchall() == [(3 * 6 + 3, 3 * 6 + 3)]


def test_duplicate_keys_are_seen_within_and_across_shards(root):
    con = duckdb.connect()
    a = write_shard(root, "samples", samples("r1", range(3)), name="a")
    b = write_shard(root, "samples", samples("r1", range(3, 5)), name="b")
    c = write_shard(root, "samples", samples("r1", [4]), name="c")
    d = write_shard(root, "samples", samples("r2", [0, 0]), name="d")
    key = '"key"'
    assert not ingest_mod._has_duplicate_keys(con, key, [str(a), str(b)])
    assert ingest_mod._has_duplicate_keys(con, key, [str(b), str(c)])  # across shards
    assert ingest_mod._has_duplicate_keys(con, key, [str(d)])  # within one
    m = write_shard(root, "train_metrics", [{"run_id": "r", "step": 1, "name": n, "value": 0.0} for n in "xy"])
    assert not ingest_mod._has_duplicate_keys(con, '"run_id", "step", "name"', [str(m)])


def test_a_waiting_ingest_says_why(root, capsys):
    import threading

    write_shard(root, "samples", samples("r1", range(3)))
    held = threading.Event()

    def hold():
        with ingest_lock(root):
            held.set()
            time.sleep(ingest_mod.WAIT_NOTICE_S + 0.5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    assert ingest(root, progress=False)["samples"] == 3  # waited, then ran
    t.join()
    err = capsys.readouterr().err
    assert "another ingest (pid " in err and "waiting for it to finish" in err and err.count("\n") == 1
