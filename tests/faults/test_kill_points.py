"""SIGKILL of `ctxbench ingest` and `ctxbench pairs build` at seeded random points: the database is
never half-written (absent, the old snapshot, or the complete new one), and a re-run gives exactly the
rows of an uninterrupted run, with no duplicates."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import cli_proc, dump, make_shards, n_rows

pytestmark = pytest.mark.slow
SEED = 15
PAIRS = ("pairs", "build", "--humaneval-limit", "3", "--tau2-domains", "airline", "--max-pairs", "6", "--quiet")


def timed_run(root: Path, *argv: str) -> float:
    t0 = time.monotonic()
    p = cli_proc(root, *argv)
    _out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()[-2000:]
    return time.monotonic() - t0


def kill_at(root: Path, delay: float, *argv: str) -> int:
    p = cli_proc(root, *argv)
    try:
        p.wait(timeout=delay)
    except Exception:  # noqa: BLE001 - still running: the kill point
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    p.stdout.close()
    p.stderr.close()
    return p.returncode


def test_sigkill_ingest_at_seeded_points(tmp_path, faults):
    template = tmp_path / "template"
    make_shards(template)
    ref_root = tmp_path / "ref"
    shutil.copytree(template, ref_root)
    t_full = timed_run(ref_root, "ingest")
    ref = dump(ref_root)
    assert n_rows(ref) > 0
    rng = random.Random(SEED)
    for i, delay in enumerate(sorted(rng.uniform(0.2, t_full) for _ in range(5))):
        root = tmp_path / f"k{i}"
        shutil.copytree(template, root)
        rc = kill_at(root, delay, "ingest")
        faults.kill_point("ingest")
        seen = dump(root)  # readable: absent or complete, never half
        assert seen is None or seen == ref, f"kill at {delay:.2f}s left a partial database"
        timed_run(root, "ingest")
        got = dump(root)
        faults.rows_lost(max(0, n_rows(ref) - n_rows(got)))
        assert got == ref, f"re-run after a kill at {delay:.2f}s (rc {rc}) differs from an uninterrupted run"


def test_sigkill_pairs_build_at_seeded_points(tmp_path, faults):
    ref_root = tmp_path / "ref"
    t_full = timed_run(ref_root, *PAIRS)
    ref = dump(ref_root)
    ref_files = {p.relative_to(ref_root).as_posix(): p.read_bytes() for p in (ref_root / "pairs").rglob("*")
                 if p.is_file()}
    assert n_rows(ref) > 0 and ref_files
    rng = random.Random(SEED)
    delays = sorted(rng.uniform(0.3, t_full) for _ in range(4))
    for i, delay in enumerate([*delays, None]):
        root = tmp_path / f"k{i}"
        if delay is None:  # the kill point just before the ingest: the build finished, its shards unread
            timed_run(root, *PAIRS, "--no-ingest")
        else:
            kill_at(root, delay, *PAIRS)
        faults.kill_point("pairs-build")
        seen = dump(root)
        assert seen is None or seen == ref, f"kill at {delay}s left a partial database"
        timed_run(root, *PAIRS)
        got = dump(root)
        faults.rows_lost(max(0, n_rows(ref) - n_rows(got)))
        assert got == ref, f"re-run after a kill at {delay}s differs from an uninterrupted run"
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "pairs").rglob("*") if p.is_file()}
        assert files == ref_files
