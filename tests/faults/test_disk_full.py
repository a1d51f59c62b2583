"""Disk full during a shard write, a checkpoint write and an ingest: the write fails with one clear line and
the previous state is exactly as it was (the old shard's bytes, the previous checkpoint as the resume
point, the live database file), with no temporary file left behind.

Two mechanisms, both real kernel-level failures of every writer in the process (Python, pyarrow's C++,
safetensors' Rust, torch's C++ and DuckDB alike), not a patched Python function:
- `tmpfs`: a small tmpfs mounted in a user + mount namespace (`unshare --user --map-root-user --mount`),
  filled up to a margin: writes fail with ENOSPC, as on a full disk. Needs unprivileged user namespaces;
  skipped where the kernel refuses them.
- `fsize`: RLIMIT_FSIZE (`ulimit -f`) set in the child after the previous state is built: a file may not
  grow past the margin and writes fail with EFBIG. Needs nothing, so it runs everywhere.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import REPO

pytestmark = pytest.mark.slow
CHILD = Path(__file__).with_name("disk_full_child.py")
TMPFS_SIZE = "24m"


@functools.cache
def tmpfs_available() -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        try:
            r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                                f'mount -t tmpfs -o size=64k tmpfs "{d}"'], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return r.returncode == 0


def run_child(tmp_path: Path, scenario: str, mechanism: str, *, broken: bool = False) -> dict:
    if mechanism == "tmpfs" and not tmpfs_available():
        pytest.skip("unprivileged user namespaces are not available here: no tmpfs (the fsize variant runs)")
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, str(CHILD), scenario, str(work), mechanism, *(["broken"] if broken else [])]
    if mechanism == "tmpfs":
        cmd = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
               f'mount -t tmpfs -o size={TMPFS_SIZE} tmpfs "$0" && exec "$@"', str(work), *cmd]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO, env=env, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "crash" not in out, out["crash"]
    return out


@pytest.mark.parametrize("mechanism", ["tmpfs", "fsize"])
@pytest.mark.parametrize("scenario", ["shard-new", "shard-replace", "ingest"])
def test_a_store_write_on_a_full_disk_fails_cleanly(tmp_path, faults, scenario, mechanism):
    out = run_child(tmp_path, scenario, mechanism)
    faults.inject(f"disk-full:{scenario}")
    assert out["error"] == "DiskFullError" and out["one_line"], out
    assert "no space left to write" in out["message"] and "is unchanged" in out["message"], out["message"]
    assert out["intact"] and out["leftovers"] == [], out
    if scenario == "shard-new":
        assert "second" not in " ".join(out["files"]), out["files"]


@pytest.mark.parametrize("mechanism", ["tmpfs", "fsize"])
@pytest.mark.parametrize("where", ["weights", "state"])
def test_a_checkpoint_save_on_a_full_disk_keeps_the_previous_checkpoint(tmp_path, faults, where, mechanism):
    """The weights (safetensors) or the trainer state (torch.save) cannot be written: no step-2 folder
    appears, the half-written one is removed, and resume picks step 1, verified against its manifest. The
    error is save_checkpoint's one-line DiskFullError (its disk_full_guard), not the writer's own."""
    out = run_child(tmp_path, f"checkpoint-{where}", mechanism)
    faults.inject(f"disk-full:checkpoint-{where}")
    assert out["disk_full_error"] and out["one_line"] and "checkpoint" in out["message"], out
    assert out["intact"] and out["leftovers"] == [] and out["files"] == ["step-0000001"], out


def test_out_of_space_is_not_claimed_for_other_errors(tmp_path):
    """The negative control: a failed write that is not about space stays what it was."""
    from ctxbench.core.atomic import DiskFullError, atomic_file, disk_full_guard, out_of_space
    from ctxbench.core.errors import DataError

    assert not out_of_space(ValueError("bad value"), tmp_path)
    assert not out_of_space(DataError("bad row"), tmp_path)
    assert not out_of_space(PermissionError(13, "Permission denied"), tmp_path)
    assert out_of_space(OSError(28, "No space left on device"), tmp_path)
    assert out_of_space(RuntimeError("I/O error: File too large (os error 27)"), tmp_path)
    with pytest.raises(ValueError), atomic_file(tmp_path / "x.txt", "w") as f:
        f.write("partial")
        raise ValueError("the caller's own error")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DiskFullError, match=r"no space left to write .*y\.bin .*y\.bin is unchanged"), \
            disk_full_guard(tmp_path / "y.bin"):
        raise OSError(28, "No space left on device")
