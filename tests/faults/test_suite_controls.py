"""Negative controls of the fault suite itself: its checks fail against a deliberately broken variant
(a sandbox with its guard, limits and namespace turned off; a store dump with a duplicate; a shard writer
that writes in place on a full disk), and its ledger adds up and prints."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sandbox_checks import Listener, assert_contained
from test_sandbox_abuse import run_abuse

from ctxbench.envs import sandbox as sb


def _ledger_module():
    """This folder's conftest, loaded by path: `import conftest` finds whichever conftest pytest loaded
    last when the suite runs beside other test folders (tests/trainers has one)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("faults_ledger", Path(__file__).with_name("conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_ledger = _ledger_module()
Faults, external_kill_points, summary_line = _ledger.Faults, _ledger.external_kill_points, _ledger.summary_line


@pytest.fixture
def broken_sandbox(monkeypatch):
    """run_python with no audit hook, no rlimits and no network namespace."""
    import inspect

    src = inspect.getsource(sb._child_main).replace("limit(resource.", "0 and limit(resource.")
    src += "\n\ndef _install_guard(*a, **k):\n    pass\n"
    monkeypatch.setattr(sb, "_boot_source", lambda: src + "\nimport json, sys\n_child_main(json.loads(sys.argv[1]))\n")
    monkeypatch.setattr(sb, "_netns_available", lambda: False)


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim.txt").write_text("keep\n")
    return d


@pytest.mark.parametrize("name", ["write_outside", "socket_loopback", "delete_file"])
def test_the_abuse_check_fails_on_a_broken_sandbox(name, broken_sandbox, outside):
    with Listener() as lst:
        r = run_abuse(name, outside, lst.port)
    with pytest.raises(AssertionError):
        assert_contained(ok=r.ok, outside=outside, listener=lst, victim=outside / "victim.txt")


def test_the_abuse_check_passes_on_the_real_sandbox(outside):
    with Listener() as lst:
        r = run_abuse("write_outside", outside, lst.port)
    assert_contained(ok=r.ok, outside=outside, listener=lst, victim=outside / "victim.txt")


def test_the_dump_check_catches_a_duplicate(tmp_path):
    import duckdb
    from store_helpers import dump, make_shards

    from ctxbench.store.ingest import ingest

    root = tmp_path / "runs"
    make_shards(root, n_items=2)
    ingest(root, progress=False)
    con = duckdb.connect(str(root / "ctxbench.duckdb"))
    con.execute("INSERT INTO samples SELECT * FROM samples LIMIT 1")
    con.close()
    with pytest.raises(AssertionError, match="duplicate"):
        dump(root)


def test_the_disk_full_check_fails_on_an_in_place_writer(tmp_path):
    """A shard writer that writes in place (no temporary file, no rename) on a full disk: the old shard is
    destroyed and the error is a raw one, so the disk-full test's checks fail."""
    from test_disk_full import run_child

    out = run_child(tmp_path, "shard-replace", "fsize", broken=True)
    assert not out["intact"] and out["error"] != "DiskFullError", out


def test_ledger_counts_and_summary():
    led = Counter()
    f = Faults(led)
    f.kill_point("ingest", 3)
    f.inject("sandbox", 2)
    f.inputs(4)
    f.rows_lost(0)
    ext, seen = external_kill_points(["tests/eval/test_harness.py::test_sigkill_midrun_then_resume_is_exact",
                                      "tests/store/test_shards.py::test_roundtrip_fills_missing_and_serialises_json"])
    assert ext == 1 and len(seen) == 1
    line = summary_line(led, ext)
    assert "faults injected 6" in line and "kill points 4" in line and "inputs tried 4" in line
    assert "rows lost 0" in line
