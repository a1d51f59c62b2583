"""LiveCodeBench's official verdict, reproduced: `lcb_runner` code extraction and `run_test` grading.

Why a second grader: ctxbench's semantic grader (ctxbench.benchmarks.official.livecodebench.grade) runs
each test in a fresh interpreter with the real stdin, so every correct program passes. lcb_runner,
whose numbers are published, runs all tests inside one process with a mocked stdin and a rewritten
program, and so fails some correct programs (docs/official-scorers/long-horizon.md lists them). The
`official` verdict must fail them too. Sources, read not copied (LiveCodeBench/LiveCodeBench @28fef95):

- `lcb_runner/utils/extraction_utils.py extract_code`: the text between the last two lines that
  contain ``` (no <think> handling: a fenced block inside the reasoning counts);
- `lcb_runner/evaluation/testing_util.py run_test` (grade_stdio, grade_call_based): how the program
  runs, in ctxbench.benchmarks.scoring.lcb_official_driver inside ctxbench.envs.sandbox; the
  comparison happens here, on the host: stdin tests by stripped lines, then Decimal tokens
  (`get_stripped_lines`, `convert_line_to_decimals`); functional tests by Python `==` on the
  decoded return value (a top-level tuple became a list; nested tuples stay tuples, so
  `[(0, 3)] != [[0, 3]]`);
- `lcb_runner/evaluation/compute_code_generation_metrics.py check_correctness` and
  `pass_k_utils.py`: a timeout of `timeout` (6) seconds per test, a global limit of
  (timeout + 1) x tests + 5 seconds, and pass@1 = every test passed.

Approximations: the sandbox's address-space limit (`MEMORY_MB`) stands in for "no limit"; the driver
keeps running after a wrong answer (it cannot know: expected outputs never enter the sandbox), which
costs time, never a verdict.
"""

from __future__ import annotations

import json
import math
import secrets
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

OFFICIAL_TIMEOUT_S = 6  # lcb_runner's default per-test timeout (whole seconds: signal.alarm)
MEMORY_MB = 4096        # the official runner sets no memory limit; this bounds the sandbox instead
MAX_OUTPUT_BYTES = 64 << 20


def extract_code_official(completion: str | None) -> str:
    """lcb_runner `extract_code`: the lines between the last two lines containing ``` ('' if fewer
    than two), on the raw completion (reasoning included)."""
    lines = (completion or "").split("\n")
    fences = [i for i, ln in enumerate(lines) if "```" in ln]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1: fences[-1]])


# ------------------------------------------------------------------------------------ comparison


def _lines(s: str) -> list[str]:
    return [ln.strip() for ln in s.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except InvalidOperation:
        return None


def stdout_matches(got: str, expected: str) -> bool:
    """lcb_runner's stdin comparison: same number of stripped lines; each line equal, or equal as a
    list of Decimal tokens (so '1.0' matches '1.00', but 50000000000000001 never matches ...0)."""
    a, b = _lines(got), _lines(expected)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False
    return True


class _Opaque:
    """A returned value the driver could not carry over (an array, a custom object): equals nothing."""

    def __init__(self, kind: str):
        self.kind = kind

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<{self.kind}>"


def decode(v):
    """The driver's `encode`, inverted into the Python value it stood for (tuples stay tuples)."""
    kind = v[0]
    if kind == "N":
        return None
    if kind == "B":
        return bool(v[1])
    if kind == "I":
        return int(v[1])
    if kind == "F":
        return float(v[1])
    if kind == "S":
        return v[1]
    if kind == "L":
        return [decode(x) for x in v[1]]
    if kind == "T":
        return tuple(decode(x) for x in v[1])
    if kind == "SET":
        return {decode(x) for x in v[1]}
    if kind == "FS":
        return frozenset(decode(x) for x in v[1])
    if kind == "D":
        return {decode(k): decode(x) for k, x in v[1]}
    return _Opaque(str(v[1]) if len(v) > 1 else "?")


# ------------------------------------------------------------------------------------ grading


@lru_cache(maxsize=1)
def _driver_source() -> str:
    return Path(__file__).with_name("lcb_official_driver.py").read_text(encoding="utf-8")


def _reports(stdout: str, tag: str) -> dict[int, dict]:
    """The driver's tagged lines (anywhere in a line: the program may have left text without a newline
    on the real stdout); the first report of each test counts."""
    out: dict[int, dict] = {}
    for ln in stdout.splitlines():
        at = ln.find(tag)
        if at < 0:
            continue
        try:
            r = json.loads(ln[at + len(tag):])
        except json.JSONDecodeError:
            continue
        if isinstance(r, dict) and isinstance(r.get("i"), int):
            out.setdefault(r["i"], r)
    return out


def grade_official(code: str, tests: list[dict], fn_name: str | None,
                   timeout_s: int = OFFICIAL_TIMEOUT_S) -> dict:
    """lcb_runner's verdict on `code` for `tests` (public then private, in order): {"passed", "n_tests",
    "n_passed", "failure"}, the shape of livecodebench.grade. `fn_name` None means a stdin problem."""
    from ctxbench.envs.sandbox import run_python

    if not tests:
        return {"passed": False, "n_tests": 0, "n_passed": 0, "failure": {"error": "no tests"}}
    functional = bool(fn_name) and tests[0].get("testtype") == "functional"
    tag = "@@ctxbench-lcb-" + secrets.token_hex(8) + "@@"
    timeout_s = max(1, int(timeout_s))
    job = {"tag": tag, "timeout": timeout_s, "code": code, "fn": fn_name if functional else None,
           "inputs": [t["input"] for t in tests]}
    limit = (timeout_s + 1) * len(tests) + 5  # check_correctness's global timeout
    res = run_python(_driver_source(), files={"lcb_job.json": json.dumps(job)}, timeout_s=limit,
                     cpu_s=math.ceil(limit) + 1, memory_mb=MEMORY_MB, max_output_bytes=MAX_OUTPUT_BYTES)
    reports = _reports(res.stdout or "", tag)
    n = len(tests)
    if -1 in reports:
        return {"passed": False, "n_tests": n, "n_passed": 0, "failure": reports[-1]}
    for i, t in enumerate(tests):
        r = reports.get(i)
        if r is None:
            why = "global timeout" if res.timed_out else \
                f"no result (exit {res.returncode}, {res.killed_reason}): {(res.stderr or '')[-300:]}"
            return {"passed": False, "n_tests": n, "n_passed": i, "failure": {"i": i, "status": why}}
        if r["status"] != "ok":
            return {"passed": False, "n_tests": n, "n_passed": i, "failure": r}
        if functional:
            try:
                ok = decode(r["value"]) == json.loads(t["output"])
            except (json.JSONDecodeError, TypeError, ValueError):
                ok = False
            fail = {"i": i, "status": "wrong", "got": str(decode(r["value"]))[:200]}
        else:
            ok = stdout_matches(r["out"], t["output"])
            fail = {"i": i, "status": "wrong", "got": r["out"][:200]}
        if not ok:
            return {"passed": False, "n_tests": n, "n_passed": i, "failure": {**fail, "expected": t["output"][:200]}}
    return {"passed": True, "n_tests": n, "n_passed": n, "failure": None}


__all__ = ["OFFICIAL_TIMEOUT_S", "decode", "extract_code_official", "grade_official", "stdout_matches"]
