"""The shell sandbox the SWE agent runs model commands in: writable directories only, no network,
scrubbed environment, limits, and a timeout that kills the whole process group."""

from __future__ import annotations

import os
import time

import pytest

from ctxbench.envs import shell as shs

ok, why = shs.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"shell sandbox unavailable: {why}")


@pytest.fixture
def dirs(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "data.txt").write_text("readable\n")
    return work, outside


def run(cmd, work, timeout=20, **kw):
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "LANG": "C.UTF-8"}
    return shs.run_shell(cmd, work, [work], timeout, env, **kw)


def test_writes_only_inside_reads_anywhere(dirs):
    work, outside = dirs
    rc, out, _ = run(f"echo hi > a.txt && mkdir -p sub && cat {outside}/data.txt && "
                     f"echo evil > {outside}/x.txt; echo rc=$?; rm -f {outside}/data.txt; echo rm=$?", work)
    assert rc == 0 and "readable" in out and "Read-only file system" in out
    assert "rc=1" in out and "rm=0" not in out
    assert (work / "a.txt").read_text() == "hi\n" and (work / "sub").is_dir()
    assert not (outside / "x.txt").exists() and (outside / "data.txt").exists()


def test_no_network_and_scrubbed_environment(dirs, monkeypatch):
    work, _ = dirs
    monkeypatch.setenv("CTXBENCH_SECRET_TOKEN", "s3cret")
    _, out, _ = run("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"; "
                     "(exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null || echo loopback-refused; env", work)
    assert "unreachable" in out.lower() and "loopback-refused" in out
    assert "s3cret" not in out and f"HOME={work}" in out


def test_timeout_kills_the_process_group(dirs):
    work, _ = dirs
    t0 = time.monotonic()
    rc, out, timed_out = run("(sleep 30; echo late > late.txt) & echo started; sleep 30", work, timeout=1)
    assert timed_out and rc == -9 and "started" in out and time.monotonic() - t0 < 10
    time.sleep(0.3)
    assert not (work / "late.txt").exists()


def test_exit_status_and_memory_limit(dirs):
    work, _ = dirs
    assert run("exit 3", work)[0] == 3
    rc, out, _ = run("python3 -c \"x = bytearray(600 << 20)\"", work, limits=shs.ShellLimits(memory_mb=256))
    assert rc != 0 and "MemoryError" in out
