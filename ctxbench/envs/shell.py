"""Run model-issued shell commands confined to a few writable directories (the SWE agent's sandbox).

Why this shape: ctxbench.envs.sandbox confines *Python* with an audit hook, but a SWE agent issues
arbitrary shell commands (grep, sed, python, pytest) in a repository checkout, and a Python hook
cannot see what `bash` does. The confinement has to come from the kernel, without root and without
Docker (the paper used Apptainer, which a user may not have):

- **namespaces** (`unshare -rmnpf`: user, mount, network and PID): inside, the writable directories (the
  checkout and a scratch HOME) are bind-mounted onto themselves first, then every other mount except
  /proc and /sys is remounted read-only, so a command can read the toolchain (python, the repo's
  environment) but can write only where it is allowed; the network namespace is empty (no interfaces
  but a down loopback). A mount that cannot be made read-only aborts the command (fail closed);
- **resource limits**, set by the bootstrap just before `exec bash`: address space, file size, no
  core dumps. The number of processes is not limited (a shell has to fork);
- **environment**: only what the caller passes (HOME and TMPDIR inside the scratch directory);
- **process group and PID namespace**: each command starts a new session and a timeout kills the whole
  group; the command runs as PID 1 of its own PID namespace, so when it ends (or is killed) the kernel kills
  every process it left behind, even one that left the group (`setsid`, double fork, `nohup ... & disown`).
  (Before the PID namespace, such a process kept the output pipe open and `run_shell` waited for it past its
  timeout, while it went on writing into the checkout.)
- **reads are not confined**: a command can read anything the user can, the home directory and /etc
  included (the toolchain, e.g. a pyenv interpreter, often lives under the home directory; hiding it
  would break the commands the agent exists to run). Put the job in a container to hide secrets.

When user namespaces are disabled (some distributions and containers), `available()` says why, and
the caller decides; the SWE agent then refuses unless running on the host was allowed explicitly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BOOT_FAILED = 125  # exit status of a bootstrap that could not set the sandbox up


@dataclass(frozen=True)
class ShellLimits:
    memory_mb: int = 8192     # address space of each process (test suites of large repos need GBs)
    max_file_mb: int = 1024   # largest file a command may write


def _boot(cfg: dict) -> None:  # runs inside the namespaces, in a fresh `python -I -S`
    import os
    import resource
    import subprocess
    import sys

    def fail(msg):
        sys.stderr.write(f"ctxbench shell sandbox: {msg}\n")
        sys.exit(125)

    rw = cfg["writable"]
    for d in rw:
        r = subprocess.run([cfg["mount"], "--bind", d, d], capture_output=True, text=True, check=False)
        if r.returncode:
            fail(f"cannot bind {d}: {r.stderr.strip()}")

    def unescape(s):
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")

    keep_flags = ("nosuid", "nodev", "noexec", "relatime", "noatime", "nodiratime", "strictatime")
    done = set()
    with open("/proc/self/mountinfo") as f:
        mounts = [ln.split() for ln in f]
    for fields in mounts:
        target, opts = unescape(fields[4]), fields[5].split(",")
        if target in done or any(target == p or target.startswith(p + "/") for p in ("/proc", "/sys", *rw)):
            continue
        done.add(target)
        flags = ",".join(["remount", "bind", "ro"] + [o for o in opts if o in keep_flags])
        r = subprocess.run([cfg["mount"], "-o", flags, target], capture_output=True, text=True, check=False)
        if r.returncode:
            fail(f"cannot make {target} read-only: {r.stderr.strip()}")
    for res, val in ((resource.RLIMIT_AS, cfg["memory_bytes"]), (resource.RLIMIT_FSIZE, cfg["fsize_bytes"]),
                     (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(res, (val, val))
        except (ValueError, OSError):
            pass
    os.chdir(cfg["cwd"])
    os.execve(cfg["bash"], [cfg["bash"], "-c", cfg["command"]], cfg["env"])


def _boot_source() -> str:
    import inspect

    return inspect.getsource(_boot) + "\nimport json, sys\n_boot(json.loads(sys.argv[1]))\n"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_shell(command: str, cwd: str | os.PathLike, writable: Sequence[str | os.PathLike], timeout_s: float,
              env: Mapping[str, str], limits: ShellLimits = ShellLimits()) -> tuple[int, str, bool]:
    """(returncode, stdout+stderr, timed_out) of `bash -c command` run in `cwd` inside the sandbox.
    Only `writable` (and their subdirectories) can be written; there is no network."""
    tools = {t: shutil.which(t) for t in ("unshare", "mount", "bash")}
    missing = [t for t, p in tools.items() if p is None]
    if missing:
        raise OSError(f"shell sandbox needs {', '.join(missing)} on PATH")
    cfg = {"writable": [os.path.realpath(w) for w in writable], "cwd": os.path.realpath(cwd),
           "command": command, "env": dict(env), "mount": tools["mount"], "bash": tools["bash"],
           "memory_bytes": int(limits.memory_mb) << 20, "fsize_bytes": int(limits.max_file_mb) << 20}
    argv = [tools["unshare"], "-rmnpf", "--kill-child", "--mount-proc", sys.executable, "-I", "-S", "-c",
            _boot_source(), json.dumps(cfg)]
    p = subprocess.Popen(argv, cwd=cfg["cwd"], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout_s)
        return p.returncode, out.decode("utf-8", errors="replace"), False
    except subprocess.TimeoutExpired:
        _kill_group(p.pid)
        out, _ = p.communicate()
        return -9, (out or b"").decode("utf-8", errors="replace"), True
    except BaseException:
        _kill_group(p.pid)
        p.wait()
        raise
    finally:
        _kill_group(p.pid)  # background children the command left in its group


@lru_cache(maxsize=1)
def available() -> tuple[bool, str]:
    """(usable, why): whether a command here can write its directory but nothing else and has no
    network. Probed once per process by running a real command in the sandbox."""
    if os.environ.get("CTXBENCH_SHELL_SANDBOX", "1") == "0":
        return False, "disabled by CTXBENCH_SHELL_SANDBOX=0"
    tmp = Path(tempfile.mkdtemp(prefix="ctxbench-shsbx-probe-"))
    try:
        inside = tmp / "w"
        inside.mkdir()
        probe = ("touch ok && ! touch ../outside 2>/dev/null && "
                 "! (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null && echo confined")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(inside)}
        try:
            rc, out, timed_out = run_shell(probe, inside, [inside], 30, env)
        except OSError as e:
            return False, str(e)
        if rc == 0 and out.strip() == "confined" and (inside / "ok").exists() and not (tmp / "outside").exists():
            return True, "user+mount+network+PID namespaces (unshare -rmnpf), read-only outside the checkout"
        why = "timed out" if timed_out else (out.strip().splitlines() or [f"exit {rc}"])[-1]
        return False, f"`unshare -rmnpf` confinement does not work here ({why[:300]})"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["BOOT_FAILED", "ShellLimits", "available", "run_shell"]
