"""Probes the abuse tests share: a loopback listener that counts connections, sentinel files outside the
sandbox, and a search for processes that outlived a run. Kept apart so the negative controls
(test_suite_controls.py) run the very same checks against a deliberately broken sandbox."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path


class Listener:
    """A TCP listener on 127.0.0.1 (loopback only), counting accepted connections; closed on exit."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            c.close()

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.2)  # a late connection still counts
        self._stop.set()
        self._t.join(5)
        self.sock.close()


def processes_with(tag: str) -> list[int]:
    """Pids whose command line contains `tag` (the abuse programs sleep for a tagged, unusual time)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            st = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if tag in cmd and ") Z" not in st:  # zombies are dead already
            out.append(int(pid))
    return out


def pid_alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return ") Z" not in st


def assert_contained(*, ok: bool, outside: Path, listener: Listener | None = None, tag: str | None = None,
                     pids: list[int] = (), victim: Path | None = None, settle_s: float = 0.0) -> None:
    """The abuse was stopped: the run failed, nothing was written outside, the listener got no connection,
    no process survived, the victim file is intact."""
    if settle_s:
        time.sleep(settle_s)  # give a survivor time to act
    assert not ok, "the abusive program was recorded as passing"
    written = sorted(p.name for p in outside.iterdir() if p.name != "victim.txt")
    assert not written, f"written outside the sandbox: {written}"
    if victim is not None:
        assert victim.exists() and victim.read_text() == "keep\n", "a file outside was deleted or changed"
    if listener is not None:
        assert listener.accepted == 0, f"the loopback listener got {listener.accepted} connection(s)"
    alive = [p for p in pids if pid_alive(p)] + (processes_with(tag) if tag else [])
    assert not alive, f"processes outlived the run: {alive}"
