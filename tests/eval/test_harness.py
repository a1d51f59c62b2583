"""The harness: per-item rows, resumable after SIGKILL with nothing recomputed or duplicated, and no
reuse across checkpoints, benchmark versions, prompt templates or generation configs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from fakes import ScriptedBackend, ToyRecall  # noqa: E402

from ctxbench.benchmarks import BENCHMARKS  # noqa: E402
from ctxbench.eval.config import EvalConfig  # noqa: E402
from ctxbench.eval.harness import run_eval  # noqa: E402


def _samples(root):
    from ctxbench.store.shards import read_table

    return read_table(root, "samples")


def test_eval_scores_every_item_and_lands_in_duckdb(root):
    rep = run_eval(EvalConfig(benchmarks=("toy-recall",), batch_size=5), root, backend=ScriptedBackend(),
                   progress=False)
    (r,) = rep.results
    assert (r.n, r.n_correct, r.computed) == (24, 12, 24)
    assert r.n_parse_fail == 12  # odd numbers answer "no idea": nothing to extract
    lo, hi = r.interval()
    assert lo < 0.5 < hi
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root)
    n, n_correct, n_items = con.cursor().execute(
        "SELECT count(*), sum(CAST(correct AS INT)), (SELECT count(*) FROM items) FROM samples").fetchall()[0]
    assert (n, n_correct, n_items) == (24, 12, 24)
    assert "toy-recall" in rep.table()


def test_rerun_computes_nothing(root):
    cfg = EvalConfig(benchmarks=("toy-recall",), batch_size=4)
    run_eval(cfg, root, backend=ScriptedBackend(), progress=False, ingest=False)
    rep = run_eval(cfg, root, backend=ScriptedBackend(), progress=False, ingest=False)
    assert rep.results[0].computed == 0 and rep.results[0].n == 24
    # a larger limit after a smaller one reuses the finished items
    root2 = root.parent / "r2"
    run_eval(EvalConfig(benchmarks=("toy-recall",), batch_size=4, limit=8), root2, backend=ScriptedBackend(),
             progress=False, ingest=False)
    rep = run_eval(cfg, root2, backend=ScriptedBackend(), progress=False, ingest=False)
    assert rep.results[0].computed == 16


class ToyRecallV2(ToyRecall):
    version = "2"


class ToyRecallNewTemplate(ToyRecall):
    template = "Notes: x = {n}.\nQ: what is x?\nA:"


@pytest.mark.parametrize("change", ["checkpoint", "version", "template", "genconfig"])
def test_changes_reuse_nothing(root, change, monkeypatch):
    base = EvalConfig(benchmarks=("toy-recall",), batch_size=8)
    run_eval(base, root, backend=ScriptedBackend(), progress=False, ingest=False)
    before = set(_samples(root)["key"])
    backend, cfg = ScriptedBackend(), base
    if change == "checkpoint":
        backend = ScriptedBackend(identity="scripted-v2")
    elif change == "version":
        monkeypatch.setitem(BENCHMARKS._items, "toy-recall", ToyRecallV2)
    elif change == "template":
        monkeypatch.setitem(BENCHMARKS._items, "toy-recall", ToyRecallNewTemplate)
    else:
        cfg = EvalConfig(benchmarks=("toy-recall",), batch_size=8, max_new_tokens=9)
    rep = run_eval(cfg, root, backend=backend, progress=False, ingest=False)
    assert rep.results[0].computed == 24
    after = set(_samples(root)["key"])
    assert len(after) == 48 and not (after - before) & before


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from fakes import ScriptedBackend
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval
    run_eval(EvalConfig(benchmarks=("toy-recall",), batch_size=4), __import__("pathlib").Path({root!r}),
             backend=ScriptedBackend(sleep_s={sleep}, log_path={log!r}), progress=False, ingest=False)
""")


def _spawn(root, log, sleep):
    code = SCRIPT.format(tests=str(Path(__file__).parents[1]), root=str(root), log=str(log), sleep=sleep)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_sigkill_midrun_then_resume_is_exact(root, tmp_path):
    log1, log2 = tmp_path / "log1", tmp_path / "log2"
    p = _spawn(root, log1, sleep=0.4)
    deadline = time.time() + 60
    while time.time() < deadline:
        if log1.exists() and len(log1.read_text().split()) >= 10:
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    first = log1.read_text().split()
    stored_after_kill = set(_samples(root)["item_id"])
    assert 8 <= len(stored_after_kill) < 24, "the kill should land mid-run"
    p = _spawn(root, log2, sleep=0.0)
    assert p.wait(timeout=60) == 0
    second = log2.read_text().split()
    # only the missing items were computed on the re-run
    assert sorted(f"toy-{int(n) - 100:03d}" for n in second) == sorted(
        {f"toy-{i:03d}" for i in range(24)} - stored_after_kill)
    assert len(first) >= len(stored_after_kill)
    df = _samples(root)
    assert len(df) == 24 and df["key"].is_unique and set(df["item_id"]) == {f"toy-{i:03d}" for i in range(24)}
    # identical to an uninterrupted run
    clean = tmp_path / "clean"
    clean.mkdir()
    run_eval(EvalConfig(benchmarks=("toy-recall",), batch_size=4), clean, backend=ScriptedBackend(),
             progress=False, ingest=False)
    a = df.set_index("key")[["output", "extracted", "correct", "score"]].sort_index()
    b = _samples(clean).set_index("key")[["output", "extracted", "correct", "score"]].sort_index()
    assert a.equals(b)
    # ingest afterwards yields one row per key
    from ctxbench.store.ingest import ingest
    from ctxbench.store.read import connect_readonly

    ingest(root, progress=False)
    assert connect_readonly(root).cursor().execute("SELECT count(DISTINCT key), count(*) FROM samples").fetchall()[0] == (24, 24)
