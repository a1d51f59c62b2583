"""Line-level execution traces of Python programs, recorded in the sandbox, rendered as a tool log.

Why: trace-qa asks questions whose answer sits in one line of a long debugger log, and contrastive
trajectory pairs need the trace of a program next to the trace of a slightly wrong version of it
(`mutate_program`). Programs are arbitrary code, so they run in ctxbench.envs.sandbox: a small recorder
(`_recorder_main`, sent as source) installs `sys.settrace`, calls the entry point on literal
arguments and prints the events as JSON.

Event semantics (what the log means):
- `call f(a=1, b=[2])`: a call of a function defined in the program, with its arguments;
- `line 5 in f: x=1, y=[2]`: line 5 of f ran; the variables it changed (or created) and their new
  values, as `repr` (long values abbreviated with `...`, memory addresses removed);
- `return from f: 3` / `exception in f at line 5: ValueError: ...` (the error passing through f).
Comprehension, lambda and generator-expression frames are folded into the line that ran them.
Indentation shows call depth. A trace stops at `max_events` (a final `truncated` event), at a time
limit (`timeout`) or when the program cannot run at all (`error`).
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import random
import secrets
import threading
from dataclasses import dataclass, field
from functools import lru_cache

TRACER_VERSION = "1"  # bump when the recorder or the event format changes (trace caches key on it)
MAX_EVENTS = 400
MAX_REPR = 60
TERMINAL = ("truncated", "timeout", "error")


@dataclass(frozen=True)
class TraceEvent:
    """One log entry. kind: call | line | return | exception | truncated | timeout | error.

    depth: 0 for the traced entry-point call, +1 per nested call; frame: a per-trace call counter
    (the same for every event of one function invocation); line: source line number; values:
    (name, repr) pairs (call: arguments, line: variables the line changed); result: the returned
    value's repr, or "Type: message" for exceptions and terminal events; exc_type: the exception class."""

    step: int
    kind: str
    func: str = ""
    depth: int = 0
    frame: int = 0
    line: int = 0
    values: tuple[tuple[str, str], ...] = field(default=())
    result: str | None = None
    exc_type: str | None = None

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in ("step", "kind", "func", "depth", "frame", "line", "result", "exc_type")}
        d["values"] = [list(v) for v in self.values]
        return d

    @classmethod
    def from_json(cls, d: dict) -> TraceEvent:
        return cls(**{**d, "values": tuple(tuple(v) for v in d.get("values", ()))})


def event_text(ev: TraceEvent) -> str:
    """One rendered log line, e.g. `[step 12] line 5 in has_close_elements: idx=1, elem=2.0`."""
    tag, ind = f"[step {ev.step}] ", "  " * ev.depth
    vals = ", ".join(f"{k}={v}" for k, v in ev.values)
    if ev.kind == "call":
        return f"{tag}{ind}call {ev.func}({vals})"
    if ev.kind == "line":
        return f"{tag}{ind}line {ev.line} in {ev.func}" + (f": {vals}" if vals else "")
    if ev.kind == "return":
        return f"{tag}{ind}return from {ev.func}: {ev.result}"
    if ev.kind == "exception":
        return f"{tag}{ind}exception in {ev.func} at line {ev.line}: {ev.result}"
    if ev.kind == "truncated":
        return f"[trace truncated after {ev.step - 1} steps]"
    if ev.kind == "timeout":
        return f"[trace stopped after {ev.step - 1} steps: time limit]"
    return f"[trace failed: {ev.result}]"


def render_trace(events: list[TraceEvent]) -> str:
    """The tool log: one numbered line per event (line i of the text is events[i])."""
    return "\n".join(event_text(e) for e in events)


def record_trace(source: str, entry_point: str, args_src: str, *, max_events: int = MAX_EVENTS,
                 timeout_s: float = 10.0) -> list[TraceEvent]:
    """Trace `entry_point(<args_src>)` after running `source` as a module, in the sandbox.

    args_src: the argument list as Python source, e.g. "[1.0, 2.0], 0.5". Module-level code of
    `source` runs untraced; only functions defined in `source` appear in the trace."""
    return record_many([(source, entry_point, [args_src])], max_events=max_events, timeout_s=timeout_s)[0][0]


def record_many(jobs: list[tuple[str, str, list[str]]], *, max_events: int = MAX_EVENTS,
                timeout_s: float = 10.0) -> list[list[list[TraceEvent]]]:
    """Traces for several (source, entry_point, [args_src, ...]) jobs in one sandbox run:
    result[job][call] is a list of events. `timeout_s` is per call. If the batch dies (a call stuck
    in C code past the sandbox limit), each call is retried alone so one bad call costs only itself."""
    n_calls = sum(len(c) for _, _, c in jobs)
    if n_calls == 0:
        return [[] for _ in jobs]
    out, why = _run_batch(jobs, max_events, timeout_s, n_calls)
    if out is not None:
        return out
    if n_calls == 1:
        return [[[TraceEvent(step=1, kind="error", result=f"the traced program did not finish: {why}")]]]
    return [[record_many([(src, ep, [a])], max_events=max_events, timeout_s=timeout_s)[0][0] for a in calls]
            for src, ep, calls in jobs]


def _run_batch(jobs, max_events: int, timeout_s: float, n_calls: int):
    """(traces, None), or (None, why) when the recorder did not report (killed, or the program exited)."""
    from ctxbench.envs.sandbox import run_python

    tag = "@@ctxbench-trace-" + secrets.token_hex(6) + "@@"
    job = {"programs": [{"source": s, "entry_point": e, "calls": list(c)} for s, e, c in jobs],
           "max_events": max_events, "max_repr": MAX_REPR, "call_timeout": timeout_s, "tag": tag}
    res = run_python(_recorder_source(), files={"trace_job.json": json.dumps(job)},
                     timeout_s=timeout_s * n_calls + 10, cpu_s=int(timeout_s * n_calls) + 10, memory_mb=1024,
                     max_output_bytes=64 << 20)
    for ln in res.stdout.splitlines():
        if ln.startswith(tag):
            data = json.loads(ln[len(tag):])
            return [[[TraceEvent.from_json(e) for e in call] for call in prog] for prog in data], None
    last = next((ln for ln in reversed(res.stderr.splitlines()) if ln.strip()), "")
    return None, res.killed_reason or last[:200] or f"exit status {res.returncode}"


@lru_cache(maxsize=1)
def _recorder_source() -> str:
    return inspect.getsource(_recorder_main) + "\n_recorder_main('trace_job.json')\n"


def _recorder_main(job_path: str) -> None:  # runs inside the sandbox; self-contained
    import io
    import json
    import re
    import reprlib
    import signal
    import sys

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    max_events, max_repr = job["max_events"], job["max_repr"]
    rep = reprlib.Repr()
    rep.maxlevel, rep.maxlist, rep.maxtuple, rep.maxdeque = 3, 12, 12, 12
    rep.maxdict = rep.maxset = rep.maxfrozenset = 8
    rep.maxstring = rep.maxother = max_repr
    rep.maxlong = 40
    addr = re.compile(r" at 0x[0-9a-fA-F]+")
    src_name = "<traced>"

    class Stop(BaseException):
        pass

    def r(v):
        try:
            s = rep.repr(v)
        except Exception as e:  # noqa: BLE001 - a broken __repr__ is part of the program
            s = f"<repr failed: {type(e).__name__}>"
        s = addr.sub("", s)
        return s if len(s) <= max_repr + 10 else s[: max_repr] + "..."

    def trace_call(fn, args_src, g):
        events, state, depth, ids = [], {}, [0], [0]

        def emit(ev):
            if len(events) >= max_events:
                raise Stop("truncated")
            ev["step"] = len(events) + 1
            events.append(ev)

        def snap(frame):
            return {k: r(v) for k, v in frame.f_locals.items() if not k.startswith(("__", "."))}

        def flush(st, func, new):
            if st["pending"] is not None:
                old = st["snap"]
                ch = [[k, v] for k, v in new.items() if old.get(k) != v]
                emit({"kind": "line", "func": func, "depth": st["depth"], "frame": st["id"], "line": st["pending"],
                      "values": ch})
            st["pending"], st["snap"] = None, new

        def local(frame, event, arg):
            st = state.get(frame)
            if st is None:
                return None
            func = frame.f_code.co_name
            if event == "line":
                flush(st, func, snap(frame))
                st["pending"], st["raising"] = frame.f_lineno, False
            elif event == "exception":
                flush(st, func, snap(frame))
                et, ev = arg[0], arg[1]
                emit({"kind": "exception", "func": func, "depth": st["depth"], "frame": st["id"],
                      "line": frame.f_lineno, "exc_type": et.__name__,
                      "result": addr.sub("", f"{et.__name__}: {ev}")[: max_repr * 2]})
                st["raising"] = True
            elif event == "return":
                flush(st, func, snap(frame))
                if not st["raising"]:
                    emit({"kind": "return", "func": func, "depth": st["depth"], "frame": st["id"],
                          "line": frame.f_lineno, "result": r(arg)})
                del state[frame]
                depth[0] -= 1
            return local

        def glob(frame, event, arg):
            code = frame.f_code
            if event != "call" or code.co_filename != src_name or code.co_name.startswith("<"):
                return None
            ids[0] += 1
            st = {"id": ids[0], "depth": depth[0], "pending": None, "snap": snap(frame), "raising": False}
            state[frame] = st
            depth[0] += 1
            emit({"kind": "call", "func": code.co_name, "depth": st["depth"], "frame": st["id"],
                  "line": frame.f_lineno, "values": [[k, v] for k, v in st["snap"].items()]})
            return local

        def alarm(*_):
            raise Stop("timeout")

        g["__ctxbench_fn__"] = fn
        call = compile(f"__ctxbench_fn__({args_src})", "<call>", "eval")
        real_out, sys.stdout = sys.stdout, io.StringIO()
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, job["call_timeout"])
        end = None
        try:
            sys.settrace(glob)
            eval(call, g)
        except Stop as e:
            end = str(e)
        except BaseException:  # noqa: BLE001, S110 - the error is already in the trace as exception events
            pass
        finally:
            sys.settrace(None)
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout = real_out
        if end:
            events.append({"step": len(events) + 1, "kind": end})
        return events

    results = []
    for prog in job["programs"]:
        g = {"__name__": "__traced__"}
        try:
            exec(compile(prog["source"], src_name, "exec"), g)  # noqa: S102 - inside the sandbox
            fn = g[prog["entry_point"]]
        except BaseException as e:  # noqa: BLE001
            err = [{"step": 1, "kind": "error", "result": f"{type(e).__name__}: {e}"[:200]}]
            results.append([err for _ in prog["calls"]])
            continue
        results.append([trace_call(fn, a, g) for a in prog["calls"]])
    sys.stdout.write("\n" + job["tag"] + json.dumps(results) + "\n")


# ------------------------------------------------------------------------------------------ programs

_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """`ast.parse` under one process-wide lock. Why: CPython 3.11's ast constructor keeps its recursion
    counter in per-interpreter state, so two threads parsing at once (trace-qa builds its traces in a
    thread pool) can fail with `SystemError: AST constructor recursion depth mismatch` (CPython
    gh-106905; seen once here in a test run). A parse takes milliseconds; the sandbox runs around it
    stay parallel."""
    with _PARSE_LOCK:
        return ast.parse(source)


def strip_docstrings(source: str) -> str:
    """The program without docstrings, normalised by `ast.unparse` (short, and the line numbers of
    everything traced from it match what is shown)."""
    tree = parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


def literal_calls(test_source: str, name: str = "candidate") -> list[str]:
    """Argument lists (as source) of every `name(...)` call in `test_source` whose arguments are all
    literals, in order of appearance, deduplicated (the inputs of HumanEval's official asserts)."""
    out: list[str] = []
    calls = [n for n in ast.walk(parse(test_source))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        try:
            for a in [*node.args, *(k.value for k in node.keywords)]:
                ast.literal_eval(a)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        parts = [ast.unparse(a) for a in node.args] + [f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords]
        src = ", ".join(parts)
        if src not in out:
            out.append(src)
    return out


_NEGATE = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
_SYM = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
        ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
        ast.FloorDiv: "//", ast.And: "and", ast.Or: "or"}


def _sites(tree: ast.AST) -> list[tuple[int, str, object]]:
    """(node index in ast.walk order, kind, detail) of every single-point mutation of the program."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    out = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                for table in (_NEGATE, _BOUNDARY):
                    if type(op) in table:
                        out.append((i, "cmp", (j, table[type(op)])))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOP:
            out.append((i, "binop", _BINOP[type(node.op)]))
        elif isinstance(node, ast.BoolOp):
            out.append((i, "boolop", ast.Or if isinstance(node.op, ast.And) else ast.And))
        elif isinstance(node, ast.Constant) and type(node.value) is int and id(node) not in docstrings:
            out.extend((i, "const", node.value + d) for d in (1, -1))
    return out


def mutate_program(source: str, seed: int = 0) -> list[tuple[str, str]]:
    """Every single-point mutant of `source` as (description, mutated source), in a seeded order:
    comparison negated (`<` -> `>=`) or off by one (`<` -> `<=`), `+`/`-` and `*`/`//` swapped (also in
    `+=` etc.), `and`/`or` swapped, an integer constant changed by +-1. Sources are `ast.unparse`d, so pass an
    unparsed program (e.g. from `strip_docstrings`) to keep line numbers aligned with the original."""
    base = parse(source)
    original = ast.unparse(base)
    out, seen = [], {original}
    for idx, kind, detail in _sites(base):
        tree = copy.deepcopy(base)
        node = next(n for i, n in enumerate(ast.walk(tree)) if i == idx)
        line = getattr(node, "lineno", 0)
        if kind == "cmp":
            j, new = detail
            old = type(node.ops[j])
            node.ops[j] = new()
            desc = f"line {line}: `{_SYM[old]}` -> `{_SYM[new]}`"
        elif kind in ("binop", "boolop"):
            old = type(node.op)
            node.op = detail()
            desc = f"line {line}: `{_SYM[old]}` -> `{_SYM[detail]}`"
        else:
            desc = f"line {line}: constant {node.value} -> {detail}"
            node.value = detail
        src = ast.unparse(tree)
        if src in seen:
            continue
        try:
            compile(src, "<mutant>", "exec")
        except SyntaxError:
            continue
        seen.add(src)
        out.append((desc, src + "\n"))
    random.Random(seed).shuffle(out)
    return out


__all__ = ["MAX_EVENTS", "TERMINAL", "TRACER_VERSION", "TraceEvent", "event_text",
           "literal_calls", "mutate_program", "record_many", "record_trace", "render_trace",
           "strip_docstrings"]
