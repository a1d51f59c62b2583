"""Two `eval`s on one run root at once, two `ingest`s at once, and `ingest` while readers (raw queries, the
app's cached data layer, `ctxbench report`) read in a loop: no lock error reaches anyone, no duplicate row,
and a reader sees the old snapshot or the new one, never a mix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import REPO, cli_proc, dump, make_shards, n_rows

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


# `ctxbench eval` itself (the CLI: config, run id, shards, its closing ingest, the printed table), with the
# scripted backend in place of a model load so that two runs overlap for seconds, not minutes.
EVAL_CLI = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from fakes import ScriptedBackend
    import ctxbench.models.loader as loader
    loader.load_backend = lambda *a, **k: ScriptedBackend(sleep_s={sleep})
    from ctxbench.cli import main
    sys.exit(main(["--root", {root!r}, "eval", "--model", "tiny", "--benchmarks", "toy-recall",
                   "--batch-size", "4", "--quiet"]))
""")


def eval_proc(root: Path, sleep: float) -> subprocess.Popen:
    code = EVAL_CLI.format(tests=str(REPO / "tests"), root=str(root), sleep=sleep)
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def test_two_evals_on_one_run_root_at_once(tmp_path, faults):
    """The same run twice at once (a re-launch while the first still runs): both finish, both ingest at the
    end (one waits for the other), and the store holds each sample once, as one uninterrupted run."""
    root, ref_root = tmp_path / "runs", tmp_path / "ref"
    ref = eval_proc(ref_root, 0.0)
    ref_out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err.decode()[-2000:]
    procs = [eval_proc(root, 0.3) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    faults.inject("concurrent-eval")
    for p, (out, err) in zip(procs, outs):
        text = err.decode()
        assert p.returncode == 0 and "Traceback" not in text and "lock" not in text.lower(), text[-2000:]
    assert outs[0][0] == outs[1][0] == ref_out and b"toy-recall" in ref_out  # each printed the same table
    got, want = dump(root), dump(ref_root)
    assert len(got["samples"]) == len(want["samples"]) == 24
    assert got == want  # same rows (the run id is the same: same checkpoint identity and config)


def test_ingest_while_the_app_and_report_read(tmp_path, faults):
    """The app's data layer (its cached connection per snapshot, table counts, item scores) polls from
    threads and `ctxbench report` runs over and over while ingests publish new snapshots: neither sees an
    error, and every count the app shows is the count of one published snapshot."""
    from ablation_fixture import add_eval_run

    from ctxbench.app import data as app_data
    from ctxbench.store.ingest import ingest

    root = tmp_path / "runs"
    make_shards(root)
    ingest(root, progress=False)
    counts = [len(dump(root)["samples"])]
    errors, app_seen, reports, stop = [], [], [], threading.Event()

    def app_reader():
        while not stop.is_set():
            try:
                snap = app_data.state(str(root))
                n = app_data.table_counts(str(root), snap)["samples"]
                wide = app_data.item_scores(str(root), snap, "abl-test", "niah")
                assert len(wide) == 4 and "grpo" in wide.columns
                app_seen.append(n)
            except Exception as e:  # noqa: BLE001 - any error reaching the app is the failure
                errors.append(repr(e))

    def report_loop():
        k = 0
        while not stop.is_set():
            p = cli_proc(root, "report", "abl-test", "--out", str(tmp_path / f"report-{k}"), "--n-boot", "50")
            _, err = p.communicate(timeout=300)
            text = err.decode()
            if p.returncode != 0 or "Traceback" in text or "lock" in text.lower():
                errors.append(f"report rc {p.returncode}: {text[-800:]}")
            reports.append(k)
            k += 1

    threads = [threading.Thread(target=app_reader), threading.Thread(target=report_loop)]
    for t in threads:
        t.start()
    try:
        k = 0
        while k < 3 or (not reports and k < 12):  # publish until a report ran beside the ingests
            add_eval_run(root, seed=30 + k, n_items=4, benchmarks=("niah", "long-mcq", "trace-qa"))
            p = cli_proc(root, "ingest")
            _, err = p.communicate(timeout=120)
            faults.inject("ingest-under-app-and-report")
            assert p.returncode == 0 and b"lock" not in err.lower(), err.decode()
            counts.append(len(dump(root)["samples"]))
            k += 1
    finally:
        stop.set()
        for t in threads:
            t.join(300)
    assert not errors, errors[:3]
    assert reports and len(set(app_seen)) >= 2 and set(app_seen) <= set(counts), (sorted(set(app_seen)), counts)
    assert (tmp_path / "report-0" / "summary.md").exists()
