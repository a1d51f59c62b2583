"""Two `ingest`s on one run root at once, and `ingest` while readers query in a loop: no lock error
reaches anyone, no duplicate row, and a reader sees the old snapshot or the new one, never a mix."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import cli_proc, dump, make_shards, n_rows

pytestmark = pytest.mark.slow


def test_two_ingests_at_once(tmp_path, faults):
    root = tmp_path / "runs"
    make_shards(root)
    ref_root = tmp_path / "ref"
    shutil.copytree(root, ref_root)
    from ctxbench.store.ingest import ingest

    ingest(ref_root, progress=False)
    procs = [cli_proc(root, "ingest") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    faults.inject("concurrent-ingest")
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0 and b"lock" not in err.lower() and b"Traceback" not in err, err.decode()
    assert dump(root) == dump(ref_root)


def test_ingest_while_readers_read(tmp_path, faults):
    from ablation_fixture import add_eval_run

    from ctxbench.store.ingest import ingest
    from ctxbench.store.read import connect_readonly

    root = tmp_path / "runs"
    make_shards(root)
    ingest(root, progress=False)
    snapshots = [n_rows(dump(root))]
    errors, seen, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                con = connect_readonly(root)
                try:  # two reads on one connection: one snapshot, so they agree
                    a = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
                    runs = con.execute("SELECT count(DISTINCT run_id) FROM samples").fetchall()[0][0]
                    b = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
                finally:
                    con.close()
                assert a == b
                seen.append((a, runs))
            except Exception as e:  # noqa: BLE001 - any error reaching a reader is the failure
                errors.append(repr(e))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    counts = [len(dump(root)["samples"])]
    try:
        for k in range(3):  # three publishes while the readers loop
            add_eval_run(root, seed=20 + k, n_items=4, benchmarks=("niah", "long-mcq", "trace-qa"))
            p = cli_proc(root, "ingest")
            _, err = p.communicate(timeout=120)
            faults.inject("ingest-under-readers")
            assert p.returncode == 0 and b"lock" not in err.lower(), err.decode()
            counts.append(len(dump(root)["samples"]))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    assert seen and {a for a, _ in seen} <= set(counts), (sorted({a for a, _ in seen}), counts)
    assert snapshots[0] > 0 and counts == sorted(set(counts))
