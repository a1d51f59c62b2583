"""Abuse of the SWE agent's shell sandbox: each command is stopped or confined, leaks nothing (no file
outside the checkout, no loopback connection, no survivor, nothing deleted). Reads are not confined
(documented in ctxbench/envs/shell.py: the toolchain often lives under the home directory)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sandbox_checks import Listener, assert_contained

from ctxbench.envs import shell as shs

# the test's own interpreter first: `python3` in a command is the environment's (with numpy), as in the
# agent's checkout, not whatever python3 the machine's PATH finds first (CI does not activate the venv)
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])

ok, why = shs.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"shell sandbox unavailable: {why}")
TAG = "37.4343"

ABUSE = {
    "infinite_loop": "while :; do :; done",
    "fork_bomb_64": f"for i in $(seq 64); do sleep {TAG} & done; wait",
    "alloc_20gb": "python3 -c 'x = bytearray(20 << 30)'",
    "write_outside": "echo x > {outside}/evil.txt",
    "write_via_python": "python3 -c \"open('{outside}/evil2.txt', 'w').write('x')\"",
    "socket_loopback": "exec 3<>/dev/tcp/127.0.0.1/{port}",
    "socket_python": "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\"",
    "outlive_setsid": f"setsid bash -c 'sleep 1; echo x > late.txt; sleep {TAG}' & disown; echo started",
    "outlive_nohup": f"nohup sleep {TAG} >/dev/null 2>&1 & disown; echo started",
    "ctypes": "python3 -c \"import ctypes; assert ctypes.CDLL(None).system(b'touch {outside}/ct') == 0\"",
    "delete_file": "rm {victim}",
    "delete_tree": "rm -rf {outside}",
    "move_file": "mv {victim} .",
}
# commands that "succeed" as commands but are confined: judged by their effect, not their status
CONFINED_ONLY = {"outlive_setsid", "outlive_nohup"}


@pytest.fixture
def dirs(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_text("keep\n")
    return work, outside


@pytest.mark.parametrize("name", sorted(ABUSE))
def test_shell_abuse_is_confined(name, dirs, faults):
    work, outside = dirs
    # each case sleeps its own tagged time, so survivors are attributed to the case that left them
    # (a global tag let one case's survivors, or another run's, fail the cases after it)
    tag = f"37.{5000 + sorted(ABUSE).index(name)}"
    cmd = ABUSE[name].replace(TAG, tag).format(outside=outside, victim=outside / "victim.txt", port="{port}")
    env = {"PATH": PATH, "HOME": str(work), "LANG": "C.UTF-8"}
    with Listener() as lst:
        t0 = time.monotonic()
        rc, _out, timed_out = shs.run_shell(cmd.replace("{port}", str(lst.port)), work, [work], 3, env,
                                           shs.ShellLimits(memory_mb=2048))
        wall = time.monotonic() - t0
    faults.inject("shell-sandbox")
    assert wall < 8, f"run_shell overran its 3 s timeout: {wall:.1f}s"  # a survivor held the pipe
    failed = rc != 0 or timed_out
    assert_contained(ok=not failed if name not in CONFINED_ONLY else False, outside=outside, listener=lst,
                     tag=tag, victim=outside / "victim.txt", settle_s=1.5 if name in CONFINED_ONLY else 0)
    assert not (work / "late.txt").exists(), "a process that left the group wrote after the run"


def test_reads_are_not_confined_documented(dirs):
    """The limitation, pinned: a command can read /etc and the home directory (see shell.py)."""
    work, _ = dirs
    env = {"PATH": PATH, "HOME": str(work), "LANG": "C.UTF-8"}
    rc, out, _ = shs.run_shell("head -c 4 /etc/passwd", work, [work], 10, env)
    assert rc == 0 and out


def test_ordinary_commands_still_work(dirs, faults):
    work, _ = dirs
    env = {"PATH": PATH, "HOME": str(work), "LANG": "C.UTF-8"}
    rc, out, _ = shs.run_shell("echo 1 5 | python3 -c 'import sys, numpy; print(sum(map(int, sys.stdin.read()"
                               ".split())))' && (sleep 0.1 & wait) && echo done > f && cat f", work, [work], 20, env)
    faults.inputs()
    assert rc == 0 and out.split() == ["6", "done"], out
