"""Run untrusted Python (model-written code, traced programs) without letting it hurt the caller.

Why this shape: code benchmarks and code rewards execute whatever a policy wrote, thousands of times
per run, from harness threads. Each run is a fresh interpreter in its own temporary directory:

- **process**: `python -S -P -B` with a scrubbed environment (HOME and TMPDIR point into the
  directory, no proxies, a fixed hash seed so set/dict order and traces are reproducible), started in
  a new session so a timeout kills the whole process group (SIGKILL) and then the directory is removed;
- **an ordinary interpreter nonetheless**: `-S` keeps `site` from running (no .pth file executes, no
  user site under the scratch HOME), but code written for a normal `python` must still work, so the
  bootstrap does the two harmless parts of `site` itself: the caller's site-packages directories go on
  `sys.path` (numpy and friends import as they do for the caller) and the `exit`/`quit`/`help`
  builtins exist (without them `exit()` is a NameError, which once failed correct programs);
- **kernel limits** (set by the child's bootstrap before any user code runs; not in `preexec_fn`,
  which is unsafe when the caller has threads): CPU seconds (SIGXCPU, then SIGKILL one second later),
  address space (allocation beyond it raises MemoryError), file size (stdout/stderr are files, so
  this is also the output cap: a write beyond it fails with EFBIG), no core dumps, and no new processes (RLIMIT_NPROC = 0;
  the kernel does not apply it to root);
- **network**: when `unshare -rn` works for this user the child gets an empty network namespace
  (no interfaces but a down loopback), enforced by the kernel;
- **no survivors**: with `max_procs > 0`, a child that left the process group (setsid, double fork)
  is found after the run by the run's private HOME in its environment and killed (a child started
  with a scrubbed environment *and* a new session is not found: use a container for hostile code);
- **audit hook** (the baseline everywhere, PEP 578): installed before the user's code, it refuses
  sockets and name lookups, process creation (fork, exec, spawn, subprocess, os.system), writes,
  deletes, renames and permission changes outside the directory, reads and listings of private
  places (the caller's home directory and the ctxbench cache, except the interpreter and its
  site-packages that live there; /root; /etc except the few files the standard library reads:
  mime.types, os-release, localtime, TLS certificates ...), changing directory, killing other
  processes, raising resource limits, loading ctypes and heap walks that could reach the hook. A
  refusal raises PermissionError in the user's code (ModuleNotFoundError for a refused import, so a
  library that treats ctypes as optional, numpy among them, imports without it) and is recorded in
  `SandboxResult.refused`.

An audit hook is not a security boundary against a determined attacker (the Python docs say so);
together with the limits and the network namespace it is enough for benchmark code and RL
rollouts, where the threat is accidents and reward hacking, not exploits. For hostile code use a
container or VM around the whole job.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

STDERR_TAIL = 8000  # bytes of stderr kept (the end: where the traceback is)
MAIN = "main.py"


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed run did.

    ok:            exited with status 0 within the time limit.
    returncode:    exit status; negative = killed by that signal.
    stdout:        the first `max_output_bytes` of stdout; stderr: its last STDERR_TAIL bytes.
    timed_out:     the wall-clock limit was hit and the process group was killed.
    killed_reason: why the run stopped abnormally: "timeout", "cpu_limit", "memory_limit",
                   "output_limit", "refused:<audit event>" (an uncaught refusal), "signal:<NAME>";
                   None when it exited on its own (even with a non-zero status from an exception).
    refused:       every refused operation, "event: detail" (the first 50), even if the code caught it.
    netns:         whether the run had its own empty network namespace.
    """

    ok: bool
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None
    duration_s: float
    refused: tuple[str, ...] = ()
    stdout_truncated: bool = False
    netns: bool = False


def run_python(code: str, *, stdin: str = "", timeout_s: float = 10, cpu_s: int = 10, memory_mb: int = 1024,
               max_procs: int = 0, files: dict[str, str] | None = None, max_output_bytes: int = 1_000_000,
               hash_seed: int = 0, netns: bool = True) -> SandboxResult:
    """Run `code` as the main module of a fresh interpreter in a temporary directory.

    files: extra text files written into the directory first (relative paths; importable as modules).
    max_procs: 0 forbids child processes (audit hook + RLIMIT_NPROC). > 0 lets the code start
        processes (no per-run count can be enforced for a shared user; the timeout still kills the
        whole process group).
    max_output_bytes: cap on stdout and on any file the code writes (exceeding it kills the run).
    netns: use an empty network namespace when available (the audit hook refuses sockets anyway).
    """
    if timeout_s <= 0 or cpu_s < 1 or memory_mb < 32 or max_output_bytes < 1:
        raise ValueError("timeout_s > 0, cpu_s >= 1, memory_mb >= 32 and max_output_bytes >= 1 are required")
    root = Path(tempfile.mkdtemp(prefix="ctxbench-sbx-"))
    try:
        work = root / "work"
        work.mkdir()
        for name, content in (files or {}).items():
            dest = work / _safe_relpath(name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content, encoding="utf-8")
        (work / MAIN).write_text(code, encoding="utf-8")
        (root / "stdin").write_text(stdin, encoding="utf-8")
        use_netns = netns and _netns_available()
        with open(root / "stdin", "rb") as fin, open(root / "stdout", "wb") as fout, \
                open(root / "stderr", "wb") as ferr, open(root / "refused", "wb") as fref:
            cfg = {"work": str(work.resolve()), "main": MAIN, "cpu_s": int(cpu_s),
                   "memory_bytes": int(memory_mb) << 20, "fsize_bytes": int(max_output_bytes),
                   "max_procs": int(max_procs), "refusal_fd": fref.fileno(), "site_dirs": _site_dirs(),
                   "private": _private_dirs(), "readable": [*_readable_dirs(), *ETC_READABLE]}
            prefix = ["unshare", "-rn"] if use_netns else []
            cmd = [*prefix, sys.executable, "-S", "-P", "-B", "-c", _boot_source(), json.dumps(cfg)]
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=work, env=_child_env(work, hash_seed), stdin=fin, stdout=fout,
                                    stderr=ferr, pass_fds=(fref.fileno(),), start_new_session=True)
            timed_out = False
            try:
                rc = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                rc = proc.wait()
            except BaseException:  # KeyboardInterrupt in the caller: never leave the child behind
                _kill_group(proc.pid)
                proc.wait()
                raise
            finally:
                _kill_group(proc.pid)  # stragglers the code may have left in its group
                if max_procs > 0:
                    _kill_marked(f"HOME={work}".encode())  # and those that left it
            duration = time.monotonic() - t0
        stdout_b = (root / "stdout").read_bytes()[:max_output_bytes]
        out_full = len(stdout_b) >= max_output_bytes
        err_all = (root / "stderr").read_bytes()
        stderr = err_all[-STDERR_TAIL:].decode("utf-8", "replace")
        if len(err_all) > STDERR_TAIL:
            stderr = "[... stderr truncated ...]\n" + stderr
        refused = tuple(ln for ln in (root / "refused").read_bytes().decode("utf-8", "replace").splitlines() if ln)
        return SandboxResult(
            ok=rc == 0 and not timed_out, returncode=rc, stdout=stdout_b.decode("utf-8", "replace"),
            stderr=stderr, timed_out=timed_out,
            killed_reason=_killed_reason(rc, timed_out, stderr, refused, duration, cpu_s, out_full),
            duration_s=round(duration, 4), refused=refused[:50],
            stdout_truncated=out_full, netns=use_netns)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _safe_relpath(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or not p.parts or ".." in p.parts or p.as_posix() == MAIN:
        raise ValueError(f"sandbox file name {name!r} must be a relative path inside the directory "
                         f"(no '..', not {MAIN!r})")
    return p


def _child_env(work: Path, hash_seed: int) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": str(hash_seed), "PYTHONIOENCODING": "utf-8",
            "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _kill_group(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


def _kill_marked(marker: bytes) -> int:
    """SIGKILL every process whose environment holds `marker` (this run's private HOME): children
    that left the process group. Repeated until none is left (a fork may race the first sweep)."""
    killed = 0
    for _ in range(5):
        found = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if marker in env:
                found += 1
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        killed += found
        if not found:
            break
        time.sleep(0.02)
    return killed


def _killed_reason(rc: int, timed_out: bool, stderr: str, refused: tuple[str, ...], duration: float,
                   cpu_s: int, out_full: bool) -> str | None:
    if timed_out:
        return "timeout"
    if rc == -signal.SIGXCPU or (rc == -signal.SIGKILL and duration >= cpu_s):
        return "cpu_limit"
    if rc == -signal.SIGXFSZ or (rc != 0 and (out_full or "[Errno 27] File too large" in stderr)):
        return "output_limit"  # Python ignores SIGXFSZ: the write fails with EFBIG instead
    last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    if rc != 0 and last.startswith("MemoryError"):
        return "memory_limit"
    if rc != 0 and refused and ("PermissionError: sandbox refused" in stderr
                                or "ModuleNotFoundError: sandbox refused" in stderr):
        return "refused:" + refused[0].split(":", 1)[0]
    if rc < 0:
        try:
            return "signal:" + signal.Signals(-rc).name
        except ValueError:
            return f"signal:{-rc}"
    return None


@lru_cache(maxsize=1)
def _site_dirs() -> tuple[str, ...]:
    """The caller's site-packages directories (venv, system, user), in its own search order: what the
    child puts on sys.path so the same third-party packages import there (read-only to the code)."""
    return tuple(p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages")
                 and os.path.isdir(p))


# Files under /etc that the standard library opens from Python (mimetypes, platform, zoneinfo, ssl's
# certificate paths, name resolution): readable in the sandbox; the rest of /etc is not.
ETC_READABLE = ("/etc/mime.types", "/etc/httpd", "/etc/apache", "/etc/apache2", "/etc/os-release",
                "/etc/localtime", "/etc/timezone", "/etc/zoneinfo", "/etc/ssl", "/etc/pki", "/etc/ca-certificates",
                "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/protocols", "/etc/services",
                "/etc/matplotlibrc")


def _private_dirs() -> list[str]:
    """Where the code may not read: the caller's home, the ctxbench cache (benchmark data, answers), /root, /etc."""
    from ctxbench.core.paths import cache_dir

    out = ["/etc", "/root"]
    for d in (os.path.expanduser("~"), str(cache_dir())):
        r = os.path.realpath(d)
        if r not in ("/", "") and r not in out:
            out.append(r)
    return out


@lru_cache(maxsize=1)
def _readable_dirs() -> tuple[str, ...]:
    """The interpreter's own trees (stdlib, venv, site-packages): readable even under a private place."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            os.path.dirname(os.path.realpath(sys.executable)), *_site_dirs()}
    return tuple(sorted(os.path.realpath(d) for d in dirs if d))


@lru_cache(maxsize=1)
def _netns_available() -> bool:
    """Whether `unshare -rn` (user + network namespace, no root needed) works here."""
    if os.environ.get("CTXBENCH_SANDBOX_NETNS", "1") == "0" or shutil.which("unshare") is None:
        return False
    try:
        r = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


@lru_cache(maxsize=1)
def _boot_source() -> str:
    funcs = "\n\n".join(inspect.getsource(f) for f in (_install_guard, _child_main))
    return funcs + "\n\nimport json, sys\n_child_main(json.loads(sys.argv[1]))\n"


# ------------------------------------------------------------------------------------------------------
# Everything below runs in the child (its source is sent with -c), before and around the user's code.
# It must be self-contained: only the standard library, imports inside.


def _child_main(cfg: dict) -> None:
    import posix
    import resource
    import sys
    import traceback  # imported now: printing a traceback later must not need new imports
    import types

    def limit(res, soft, hard=None):
        try:
            resource.setrlimit(res, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass

    limit(resource.RLIMIT_CPU, cfg["cpu_s"], cfg["cpu_s"] + 1)
    limit(resource.RLIMIT_AS, cfg["memory_bytes"])
    limit(resource.RLIMIT_FSIZE, cfg["fsize_bytes"])
    limit(resource.RLIMIT_CORE, 0)
    if cfg["max_procs"] == 0:
        limit(resource.RLIMIT_NPROC, 0)

    import site  # under -S importing site defines it without running site.main() (no .pth file runs)

    site.setquit()  # exit() / quit() as in an ordinary interpreter
    site.setcopyright()
    site.sethelper()
    sys.path.extend(d for d in cfg["site_dirs"] if d not in sys.path)

    work = cfg["work"]
    main_path = work + "/" + cfg["main"]
    _install_guard(work, cfg["refusal_fd"], cfg["max_procs"] > 0, cfg["private"], cfg["readable"])

    mod = types.ModuleType("__main__")
    mod.__file__ = main_path
    mod.__builtins__ = __builtins__
    sys.modules["__main__"] = mod
    sys.argv = [main_path]
    sys.path.insert(0, work)
    with open(main_path, encoding="utf-8") as f:
        code = compile(f.read(), main_path, "exec")
    del cfg, f
    try:
        exec(code, mod.__dict__)  # noqa: S102 - running the user's code is the point
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - print the user's traceback without this bootstrap's frame
        sys.stdout.flush()
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        sys.stderr.flush()
        posix._exit(1)


def _install_guard(work: str, refusal_fd: int, allow_procs: bool, private=(), readable=()) -> None:
    """Install the audit hook. Its state lives only in this closure (heap walks are refused), and it
    calls only C functions captured here, so user code cannot monkeypatch its way around it."""
    import posix
    import sys

    lstat, stat, readlink, getcwd, write, getpid = (posix.lstat, posix.stat, posix.readlink, posix.getcwd,
                                                     posix.write, posix.getpid)
    fspath = posix.fspath
    my_pid = getpid()
    write_flags = posix.O_WRONLY | posix.O_RDWR | posix.O_CREAT | posix.O_TRUNC | posix.O_APPEND
    prefix = work + "/"
    logged = [0]
    net = frozenset({"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
                     "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
                     "socket.getnameinfo", "socket.sendto", "socket.sendmsg", "socket.socketpair"})
    procs = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                       "subprocess.Popen", "pty.spawn"})
    always = frozenset({"resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers",
                        "gc.get_referents", "os.chdir", "os.killpg", "ctypes.dlopen", "ctypes.dlsym"})
    # event -> (indices of path arguments, index of the dir_fd argument or None)
    paths = {"os.remove": ((0,), 1), "os.rmdir": ((0,), 1), "os.rename": ((0, 1), 2), "os.link": ((0, 1), 2),
             "os.symlink": ((1,), 2), "os.mkdir": ((0,), 2), "os.chmod": ((0,), 2), "os.chown": ((0,), 3),
             "os.utime": ((0,), 3), "os.truncate": ((0,), None), "os.setxattr": ((0,), None),
             "os.removexattr": ((0,), None), "os.chflags": ((0,), None), "os.lchflags": ((0,), None),
             "shutil.rmtree": ((0,), 1), "shutil.move": ((1,), None), "shutil.unpack_archive": ((1,), None),
             "os.mkfifo": ((0,), 2), "os.mknod": ((0,), 2)}
    private = tuple(private)
    readable = tuple(readable)

    def under(r, roots):
        for d in roots:
            if r == d or r.startswith(d + "/"):
                return True
        return False

    def secret(p):
        """Whether reading `p` (not inside the directory) would read a private place."""
        r = resolve(fspath(p))
        return under(r, private) and not under(r, readable)

    guarded_imports = frozenset({"ctypes", "_ctypes"} | (set() if allow_procs else {"_posixsubprocess"}))

    def refuse(event, detail, error=PermissionError):
        if logged[0] < 50:
            logged[0] += 1
            try:
                write(refusal_fd, (event + ": " + str(detail)[:200].replace("\n", " ") + "\n").encode())
            except OSError:
                pass
        raise error(f"sandbox refused {event} ({str(detail)[:200]})")

    def resolve(p, base=None):
        """Absolute path with symlinks followed (a missing tail is kept as written)."""
        if isinstance(p, bytes):
            p = p.decode("utf-8", "surrogateescape")
        if not p.startswith("/"):
            p = (base or getcwd()) + "/" + p
        todo, out, hops = p.split("/")[::-1], [], 0
        while todo:
            c = todo.pop()
            if c in ("", "."):
                continue
            if c == "..":
                if out:
                    out.pop()
                continue
            cand = "/" + "/".join(out + [c])
            try:
                st = lstat(cand)
            except OSError:
                out.append(c)
                continue
            if (st.st_mode & 0o170000) == 0o120000:
                hops += 1
                if hops > 40:
                    return "/<symlink loop>"
                target = readlink(cand)
                if target.startswith("/"):
                    out = []
                todo.extend(target.split("/")[::-1])
            else:
                out.append(c)
        return "/" + "/".join(out)

    def inside(p, dir_fd=None):
        p = fspath(p)
        base = None
        if dir_fd is not None and dir_fd >= 0 and not p.startswith("/" if isinstance(p, str) else b"/"):
            try:
                base = readlink(f"/proc/self/fd/{dir_fd}")
            except OSError:
                return False
        r = resolve(p, base)
        return r == work or r.startswith(prefix)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            path = fspath(path)
            writing = bool(flags & write_flags) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if inside(path):
                return
            if writing:
                if resolve(path) != "/dev/null":
                    refuse("open", f"write to {path!r} outside the sandbox directory")
                return
            try:  # a directory fd outside would let os.open(..., dir_fd=fd) write anywhere
                isdir = (stat(path).st_mode & 0o170000) == 0o040000
            except OSError:
                isdir = False
            if isdir:
                refuse("open", f"directory {path!r} outside the sandbox directory")
            if secret(path):
                refuse("open", f"read of {path!r}: a private place outside the sandbox directory")
        elif event in ("os.listdir", "os.scandir"):
            p = args[0] if args else None
            if p is not None and not isinstance(p, int) and not inside(p) and secret(p):
                refuse(event, f"listing of {p!r}: a private place outside the sandbox directory")
        elif event in net:
            refuse(event, args[:2] if isinstance(args, tuple) else args)
        elif event in procs:
            if not allow_procs:
                refuse(event, args[0] if args else "")
        elif event in always:
            refuse(event, args[:2] if isinstance(args, tuple) else args)
        elif event == "os.kill":
            if args[0] != my_pid:
                refuse(event, args)
        elif event == "import":
            if args[0] in guarded_imports:  # an ImportError: `try: import ctypes except ImportError` copes
                refuse(event, args[0], ModuleNotFoundError)
        elif event in paths:
            idxs, fd_idx = paths[event]
            dir_fd = args[fd_idx] if fd_idx is not None and fd_idx < len(args) else None
            for i in idxs:
                p = args[i]
                if isinstance(p, int) or p is None:
                    continue
                if not inside(p, dir_fd if isinstance(dir_fd, int) else None):
                    refuse(event, f"{p!r} is outside the sandbox directory")

    if not allow_procs:
        import _posixsubprocess  # what subprocess and multiprocessing's spawn call, without an audit event

        def fork_exec(*a, **k):
            refuse("subprocess.fork_exec", a[0] if a else "")

        _posixsubprocess.fork_exec = fork_exec
    sys.addaudithook(hook)


__all__ = ["SandboxResult", "run_python"]
