"""The sandbox side of LiveCodeBench's official mode: one program graded the way lcb_runner grades it.

Why this file exists: published LiveCodeBench pass@1 comes from `lcb_runner/evaluation/testing_util.py`
(`run_test`, `grade_stdio`, `grade_call_based`, LiveCodeBench/LiveCodeBench @28fef95), and that runner
fails some correct programs. To reproduce its verdicts, quirks included, the program must run the way
it runs there. Re-implemented here from reading that file (no code copied):

- the process: lcb_runner grades inside a multiprocessing child, whose stdin multiprocessing has
  closed and reopened on os.devnull (fd 0 stays the parent's stdin, here the sandbox's empty stdin);
  numpy is already imported (testing_util imports it); `reliability_guard` then sets `quit`,
  `help` and a list of os/shutil/subprocess functions to None and blocks a few modules;
- the program: a fixed block of star imports is put in front (`from sys import *` and
  `from builtins import *` included, so `stdin`, `stdout` and `open` are bound once, to the real
  objects); for stdin problems a final `if __name__ == '__main__':` block is unwrapped, every
  top-level import is hoisted and all other statements become the body of `wrapped_function()`
  (so a module-level variable that a nested function reaches with `global` does not exist);
- each stdin test: stdout is swapped for a StringIO; `sys.stdin` becomes a stand-in whose `read()`
  returns the whole input, `readline()` reads on, `readlines()` is `split("\\n")`, `buffer.read()` is
  the bytes and `buffer.readline()` is always the first line, which cannot be iterated; before the
  swap, read/readline/readlines of the real stdin object are replaced too (readline there returns
  lines without their newline); `builtins.open` is mocked (by a StringIO of the input, as mock_open
  reads), which the star-imported `open` never sees;
  SystemExit ends the test normally;
- each functional test: `Solution()` (if "class Solution" occurs in the code, else the module) is
  called with the JSON-decoded argument lines; a top-level tuple becomes a list;
- a SIGALRM timer of `timeout` whole seconds around compilation and around each test.

What comes back is what the program printed (stdin) or returned (functional), as tagged JSON lines
on the real stdout; expected outputs never enter the sandbox, the host compares. Self-contained:
standard library only, because this source is the sandbox's main module.
"""

from __future__ import annotations

JOB = "lcb_job.json"
_STAR = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
         "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing")
_PLAIN = _STAR[:16]  # the same modules, bound as names, except builtins and typing
PRELUDE = ("".join(f"from {m} import *\n" for m in _STAR) + "".join(f"import {m}\n" for m in _PLAIN)
           + "sys.setrecursionlimit(50000)\n")


def _main() -> None:  # one straight pass, in the order lcb_runner does things
    import ast
    import io
    import json
    import os
    import signal
    import sys
    import types
    from contextlib import ExitStack

    with open(JOB, encoding="utf-8") as f:
        job = json.load(f)
    os.remove(JOB)  # the program under test never sees the report tag
    tag, timeout, code = job["tag"], int(job["timeout"]), job["code"]
    write, out_fd = os.write, os.dup(1)  # a private copy of stdout: the program may close or redirect fd 1

    def emit(**rec) -> None:
        data = ("\n" + tag + json.dumps(rec) + "\n").encode("utf-8", "surrogatepass")
        while data:
            data = data[write(out_fd, data):]

    # -- the multiprocessing child's stdin: closed, then reopened on os.devnull
    try:
        sys.stdin.close()
    except (OSError, ValueError):
        pass
    sys.stdin = open(os.open(os.devnull, os.O_RDONLY), encoding="utf-8", closefd=False)  # noqa: SIM115

    # -- testing_util imports numpy before the guard runs, so a later `import numpy` finds it loaded
    # (importing it after the guard fails: it needs os functions the guard removes). Loaded only for
    # programs that mention it, to keep the others fast.
    if "numpy" in code:
        try:
            import numpy  # noqa: F401
        except ImportError:
            pass

    # -- reliability_guard (lcb_runner testing_util.py): what it disables, in its order
    import builtins
    import shutil
    import subprocess

    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown",
                 "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None

    class TimeoutException(Exception):  # an Exception, as upstream: a bare `except:` in the program swallows it
        pass

    def on_alarm(signum, frame):
        raise TimeoutException

    signal.signal(signal.SIGALRM, on_alarm)

    # -- the program, transformed as grade_stdio / grade_call_based transform it
    def unwrap_main_guard(src: str) -> str:
        try:
            body = ast.parse(src).body
            last = body[-1]
            if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
                src = ast.unparse(ast.Module(body=body[:-1], type_ignores=[])) + "\n" + \
                    ast.unparse(ast.Module(body=last.body, type_ignores=[]))
        except Exception:  # noqa: BLE001, S110 - upstream leaves unparsable code as it is
            pass
        return src

    def as_function(src: str) -> str:
        try:
            body = ast.parse(src).body
            imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
            rest = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))]
            no_args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
            fields = {"name": "wrapped_function", "args": no_args, "body": rest, "decorator_list": [],
                      "returns": None, "type_comment": None, "lineno": -1}
            if "type_params" in ast.FunctionDef._fields:
                fields["type_params"] = []
            return (PRELUDE + "\n" + ast.unparse(ast.Module(body=imports, type_ignores=[])) + "\n"
                    + ast.unparse(ast.FunctionDef(**fields)))
        except Exception:  # noqa: BLE001 - upstream runs the original code when the transform fails
            return src

    stdin_mode = job["fn"] is None
    source = as_function(unwrap_main_guard(code)) if stdin_mode else PRELUDE + "\n\n" + code
    signal.alarm(timeout)
    try:
        module = types.ModuleType("tmp_sol", "")
        exec(source, module.__dict__)  # noqa: S102 - the program under test, inside the sandbox
        target = module.Solution() if "class Solution" in source else module
        method = getattr(target, "wrapped_function" if stdin_mode else job["fn"])
    except BaseException as e:  # noqa: BLE001 - any failure here fails every test
        signal.alarm(0)
        emit(i=-1, status="error", error="compile: " + repr(e)[:300])
        return
    finally:
        signal.alarm(0)

    def failed(i: int, e: BaseException) -> None:
        emit(i=i, status="timeout" if isinstance(e, TimeoutException) else "error", error=repr(e)[:300])

    if not stdin_mode:
        try:
            all_args = [[json.loads(line) for line in inp.split("\n")] for inp in job["inputs"]]
        except Exception as e:  # noqa: BLE001
            emit(i=-1, status="error", error="bad test input: " + repr(e)[:200])
            return
        for i, args in enumerate(all_args):
            signal.alarm(timeout)
            try:
                got = method(*args)
                signal.alarm(0)
                emit(i=i, status="ok", value=encode(list(got) if isinstance(got, tuple) else got))
            except BaseException as e:  # noqa: BLE001 - SystemExit upstream kills the worker: a failure too
                signal.alarm(0)
                failed(i, e)
                return
            finally:
                signal.alarm(0)
        return

    class StandInBuffer:
        def __init__(self, data: bytes):
            self.data = data

        def read(self, *a):
            return self.data

        def readline(self, *a):  # upstream's quirk: always the first line
            return self.data.split(b"\n")[0] + b"\n"

    class StandInStdin:
        """sys.stdin during a test; no __iter__, so `for line in sys.stdin` is a TypeError."""

        def __init__(self, text: str):
            self.inputs, self._lines, self.buffer = text, io.StringIO(text), StandInBuffer(text.encode("utf-8"))

        def read(self, *a):
            return self.inputs

        def readline(self, *a):
            return self._lines.readline(*a)

        def readlines(self, *a):
            return self.inputs.split("\n")

        def __getattr__(self, name):
            return getattr(self._lines, name)

    def patched(obj, name, value):
        """Set obj.name for the duration of a `with`, then restore it (what mock.patch does)."""
        had, old = name in getattr(obj, "__dict__", {}), getattr(obj, name)
        setattr(obj, name, value)
        def undo():
            if had:
                setattr(obj, name, old)
            else:
                delattr(obj, name)
        return undo

    def mocked_open(text: str):
        """mock_open(read_data=text): whatever is opened reads as `text`, writes go nowhere."""
        return lambda *a, **k: io.StringIO(text)

    for i, text in enumerate(job["inputs"]):
        lines = iter(text.split("\n"))
        captured = io.StringIO()
        captured.close = lambda x: 1  # upstream makes close() a one-argument no-op
        saved = sys.stdout
        signal.alarm(timeout)
        sys.stdout = captured
        try:
            with ExitStack() as patches:
                # upstream's stacked decorators enter bottom-up: the three methods are patched on the
                # real stdin object, which sys.stdin still is at that moment, then sys.stdin, then open
                real = sys.stdin
                patches.callback(patched(real, "read", lambda *a, _t=text: _t))
                patches.callback(patched(real, "readlines", lambda *a, _t=text: _t.split("\n")))
                patches.callback(patched(real, "readline", lambda *a, _l=lines: next(_l)))
                patches.callback(patched(sys, "stdin", StandInStdin(text)))
                patches.callback(patched(builtins, "open", mocked_open(text)))
                try:
                    method()
                except SystemExit:
                    pass
            signal.alarm(0)
        except BaseException as e:  # noqa: BLE001
            signal.alarm(0)
            sys.stdout = saved
            failed(i, e)
            return
        finally:
            signal.alarm(0)
            sys.stdout = saved
        emit(i=i, status="ok", out=captured.getvalue())


def encode(v, depth: int = 0):
    """A returned value as JSON that keeps what Python's == distinguishes: list vs tuple, int vs float vs
    bool, sets. numpy scalars become their Python value (they compare equal to it); anything else
    (arrays, custom objects) is opaque and equals nothing."""
    if depth > 200:
        return ["X", "too deep"]
    t = type(v)
    if v is None:
        return ["N"]
    if t is bool:
        return ["B", v]
    if isinstance(v, bool):
        return ["B", bool(v)]
    if isinstance(v, int):
        return ["I", str(int(v))]
    if isinstance(v, float):
        return ["F", repr(float(v))]
    if isinstance(v, str):
        return ["S", str(v)]
    if isinstance(v, (list, tuple, set, frozenset)):
        kind = "L" if isinstance(v, list) else "T" if isinstance(v, tuple) else "SET" if isinstance(v, set) else "FS"
        return [kind, [encode(x, depth + 1) for x in v]]
    if isinstance(v, dict):
        return ["D", [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]]
    if t.__module__ == "numpy" and getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
        return encode(v.item(), depth + 1)
    return ["X", t.__name__]


if __name__ == "__main__":
    _main()
