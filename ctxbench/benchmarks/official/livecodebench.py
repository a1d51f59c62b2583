"""LiveCodeBench code generation (release v6), read from the user's copy of `code_generation_lite`.

Why this shape: the paper scores LiveCodeBench v6 by pass@1 with one sample per problem, running the
extracted program against the public and private tests. We follow the official lcb_runner pieces:
- schema: the JSONL rows of `livecodebench/code_generation_lite` (tests as JSON strings, private tests
  as base64(zlib(pickle(json))) in later releases: decoded by ctxbench.benchmarks.official.livecodebench_decode, never unpickled);
- release selection: the official shard files (test.jsonl, test2.jsonl ... test6.jsonl; the tag `v6` is
  the sixth shard alone, `release_v6` all six) when the user gives the HF folder or a shard file, and
  otherwise the contest_date window of the release (README date ranges; exact only away from the
  boundary month);
- prompt: the generic chat template of lcb_runner (with/without starter code); the paper's system
  prompt is carried in `meta["system_prompt"]` for backends that support a system turn;
- extraction: the text between the last two lines containing ``` (lcb_runner `extract_code`);
- grading: stdin tests compare stripped output lines, then the lines as Decimal tokens; functional
  (LeetCode) tests call `Solution().<func_name>(*json args)` and compare with the JSON output. Tests
  run in order and stop at the first failure; pass@1 = all tests pass.

Two verdicts. `score_official` (the score of record) is lcb_runner's, quirks included: published pass@1
fails correct programs that iterate sys.stdin, read sys.stdin.buffer line by line, use open(0), reach
a module-level variable with `global`, or return nested tuples (ctxbench.benchmarks.scoring.lcb_official,
docs/official-scorers/long-horizon.md). `score` (semantic, the RL reward) runs each test as a fresh
`python main.py < input`, so a correct program passes however it reads stdin, exits or imports numpy;
reasoning in <think> is dropped before extraction, and a functional return value is compared after a
JSON round trip (tuples are lists, numpy values are their Python values).

Tests run in ctxbench.envs.sandbox. The sandbox never sees expected outputs: it returns what the program
printed (stdin tests) or what the method returned (functional tests) and the comparison happens here,
so a program cannot pass by reading the answers.

Changelog: 2: official verdict added (lcb_runner run_test semantics) as the score of record; semantic
verdict: exit()/quit()/numpy work (the sandbox no longer lacks `site`), `from __future__` imports
survive the prelude, numpy return values compare by value, lcb_runner's full import prelude.
"""

from __future__ import annotations

import ast
import json
import math
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    spread_subset,
    text,
)
from ctxbench.benchmarks.official.livecodebench_decode import decode_private_tests
from ctxbench.benchmarks.official.source import OfficialSource
from ctxbench.benchmarks.scoring.extract import strip_reasoning
from ctxbench.benchmarks.scoring.lcb_official import (
    MEMORY_MB,
    OFFICIAL_TIMEOUT_S,
    extract_code_official,
    grade_official,
    stdout_matches,
)
from ctxbench.benchmarks.scoring.lcb_official_driver import PRELUDE
from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.sources.datafiles import iter_jsonl

SOURCE = OfficialSource(
    bench="livecodebench-v6",
    expected="the code_generation_lite folder (test.jsonl ... test6.jsonl) or one of its JSONL files",
    obtain="https://huggingface.co/datasets/livecodebench/code_generation_lite (file test6.jsonl holds the "
           "v6 problems), e.g. `huggingface-cli download livecodebench/code_generation_lite test6.jsonl "
           "--repo-type dataset --local-dir DIR`",
)
COLUMNS = ("question_title", "question_content", "platform", "question_id", "contest_id", "contest_date",
           "starter_code", "difficulty", "public_test_cases", "private_test_cases", "metadata")

# ------------------------------------------------------------------------------------------ releases

_SHARDS = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")
# End (exclusive) of each release's problem window, from the README ("between May 2023 and <month>").
# v6's increment is Jan-Apr 2025 (175 problems in test6.jsonl).
_ENDS = ("2024-04-01", "2024-06-01", "2024-08-01", "2024-10-01", "2025-01-01", "2025-05-01")
_START = "2023-05-01"


def release_files(tag: str) -> tuple[str, ...]:
    """Official shard files of a version tag: 'release_vN' (cumulative), 'vN' (one shard), 'vA_vB'."""
    n = len(_SHARDS)
    if tag in ("release_latest",):
        return _SHARDS
    if tag.startswith("release_v") and tag[9:].isdigit() and 1 <= int(tag[9:]) <= n:
        return _SHARDS[: int(tag[9:])]
    parts = tag.split("_")
    if all(p.startswith("v") and p[1:].isdigit() and 1 <= int(p[1:]) <= n for p in parts) and len(parts) in (1, 2):
        a, b = int(parts[0][1:]), int(parts[-1][1:])
        if a <= b:
            return _SHARDS[a - 1: b]
    raise DataError(f"unknown LiveCodeBench release {tag!r}; valid: release_v1..release_v{n}, release_latest, "
                    f"v1..v{n}, vA_vB (e.g. v4_v5)")


def release_window(tag: str) -> tuple[datetime, datetime]:
    """[start, end) contest_date window of a version tag (for files that are not official shards)."""
    files = release_files(tag)
    first, last = _SHARDS.index(files[0]), _SHARDS.index(files[-1])
    start = _START if first == 0 else _ENDS[first - 1]
    return datetime.fromisoformat(start), datetime.fromisoformat(_ENDS[last])


def _parse_date(s: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(s)).replace(tzinfo=None)
    except ValueError:
        raise DataError(f"{where}: contest_date {s!r} is not an ISO date") from None


def select_rows(path: Path, tag: str) -> list[tuple[Path, int, dict]]:
    """(file, line, row) of the problems of release `tag`, from an official folder, an official shard
    file, or any other JSONL export (filtered by contest_date)."""
    wanted = release_files(tag)
    if path.is_dir():
        present = [path / f for f in wanted if (path / f).is_file()]
        if present and len(present) < len(wanted):
            missing = [f for f in wanted if not (path / f).is_file()]
            raise DataError(f"{path}: release {tag} needs {', '.join(missing)} as well. {SOURCE.hint()}")
        if not present:
            others = sorted(path.glob("*.jsonl"))
            if len(others) != 1:
                raise DataError(f"{path}: expected {', '.join(wanted)} (or a single JSONL file). {SOURCE.hint()}")
            path = others[0]
        else:
            return [(f, i, r) for f in present for i, r in iter_jsonl(f, COLUMNS)]
    if path.name in _SHARDS:
        if path.name not in wanted:
            raise DataError(f"{path}: this is the official shard of release v{_SHARDS.index(path.name) + 1}, "
                            f"but {tag} needs {', '.join(wanted)}. {SOURCE.hint()}")
        if len(wanted) > 1:
            raise DataError(f"{path}: {tag} spans {', '.join(wanted)}; pass the folder holding them")
        return [(path, i, r) for i, r in iter_jsonl(path, COLUMNS)]
    lo, hi = release_window(tag)
    return [(path, i, r) for i, r in iter_jsonl(path, COLUMNS)
            if lo <= _parse_date(r["contest_date"], f"{path}:{i}") < hi]


# ------------------------------------------------------------------------------------------ prompt

SYSTEM_PROMPT = "You are a helpful and harmless assistant. You should think step-by-step."  # paper §8
_WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose "
                 "your code within delimiters.")
_WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not "
                    "directly test on the sample inputs). Enclose your code within delimiters as follows.")


def render(question_content: str, starter_code: str) -> str:
    """lcb_runner's generic question template (OpenAI-chat style user turn)."""
    p = f"### Question:\n{question_content}\n\n"
    if starter_code:
        p += f"### Format: {_WITH_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        p += f"### Format: {_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return p + "### Answer: (use the provided format with backticks)\n\n"


def extract_code(completion: str) -> str:
    """The text between the last two lines containing ``` ('' when there are fewer than two).
    Reasoning in <think>...</think> is dropped first (it holds drafts, not the answer)."""
    lines = strip_reasoning(completion or "").split("\n")
    fences = [i for i, ln in enumerate(lines) if "```" in ln]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1: fences[-1]])


# ------------------------------------------------------------------------------------------ grading

PER_TEST_TIMEOUT_S = float(OFFICIAL_TIMEOUT_S)  # lcb_runner's default per-test timeout


def with_prelude(code: str) -> str:
    """lcb_runner's import prelude (what every solution may use unimported) in front of `code`, after
    the program's own `from __future__` imports, which must stay first to compile."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return PRELUDE + code
    lines = code.split("\n")
    future = []
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append("\n".join(lines[node.lineno - 1: node.end_lineno]))
            for k in range(node.lineno - 1, node.end_lineno):
                lines[k] = ""
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # a docstring may precede
            break
    return "\n".join(future) + ("\n" if future else "") + PRELUDE + "\n".join(lines)

_DRIVER = '''

def _ctxbench_driver():
    import io as _io, json as _json, signal as _signal, sys as _sys
    from contextlib import redirect_stdout as _redirect
    _out = _sys.stdout
    _payload = _json.loads(_CTXBENCH_PAYLOAD)
    _tag, _fn, _limit = _payload["tag"], _payload["fn"], _payload["timeout"]
    class _Timeout(BaseException):
        pass
    def _alarm(*_):
        raise _Timeout()
    _signal.signal(_signal.SIGALRM, _alarm)
    def _plain(o):  # numpy scalars and arrays: their Python value
        if type(o).__module__ == "numpy" and hasattr(o, "tolist"):
            return o.tolist()
        raise TypeError(type(o).__name__)
    def _emit(**kw):
        _out.write(_tag + _json.dumps(kw) + "\\n")
        _out.flush()
    try:
        _target = Solution() if "Solution" in globals() else None
        _method = getattr(_target, _fn) if _target is not None else globals()[_fn]
    except BaseException as e:
        _emit(i=-1, status="error", error=repr(e)[:300])
        return
    for _i, _inp in enumerate(_payload["inputs"]):
        try:
            _args = [_json.loads(_line) for _line in _inp.split("\\n")]
        except ValueError as e:
            _emit(i=_i, status="error", error="bad test input: " + repr(e)[:200])
            return
        _signal.setitimer(_signal.ITIMER_REAL, _limit)
        try:
            with _redirect(_io.StringIO()):
                _r = _method(*_args)
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            if isinstance(_r, tuple):
                _r = list(_r)
            try:
                _emit(i=_i, status="ok", value=_json.dumps(_r, default=_plain))
            except (TypeError, ValueError):
                _emit(i=_i, status="error", error="return value is not JSON: " + repr(_r)[:200])
                return
        except _Timeout:
            _emit(i=_i, status="timeout")
            return
        except BaseException as e:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _emit(i=_i, status="error", error=repr(e)[:300])
            return

_ctxbench_driver()
'''


def _sandbox():
    try:
        from ctxbench.envs import sandbox
    except ImportError as e:
        raise CtxbenchError(f"livecodebench-v6 needs ctxbench.envs.sandbox to run tests ({e})") from None
    return sandbox


def grade(code: str, tests: list[dict], fn_name: str | None, timeout_s: float = PER_TEST_TIMEOUT_S) -> dict:
    """The semantic grader: run `tests` in order against `code`, each stdin test in a fresh interpreter
    with the test as its real stdin; stop at the first failure. Returns
    {"passed": bool, "n_tests": n, "n_passed": k, "failure": {...} | None}."""
    if not tests:
        return {"passed": False, "n_tests": 0, "n_passed": 0, "failure": {"error": "no tests"}}
    sb = _sandbox()
    if fn_name and tests[0]["testtype"] == "functional":
        tag = "@@ctxbench-" + secrets.token_hex(8) + "@@"
        payload = json.dumps({"tag": tag, "fn": fn_name, "timeout": timeout_s, "inputs": [t["input"] for t in tests]})
        program = with_prelude(code) + "\n\n_CTXBENCH_PAYLOAD = " + repr(payload) + _DRIVER
        limit = timeout_s * len(tests) + 10
        res = sb.run_python(program, timeout_s=limit, cpu_s=math.ceil(limit), memory_mb=MEMORY_MB)
        reports = {}
        for ln in (res.stdout or "").splitlines():
            if ln.startswith(tag):
                try:
                    r = json.loads(ln[len(tag):])
                except json.JSONDecodeError:
                    continue
                reports[r.get("i")] = r
        if -1 in reports:
            return {"passed": False, "n_tests": len(tests), "n_passed": 0, "failure": reports[-1]}
        for i, t in enumerate(tests):
            r = reports.get(i)
            if r is None:
                why = "timeout" if res.timed_out else f"no result (exit {res.returncode}): {(res.stderr or '')[-300:]}"
                return {"passed": False, "n_tests": len(tests), "n_passed": i, "failure": {"i": i, "status": why}}
            if r["status"] != "ok" or json.loads(r["value"]) != json.loads(t["output"]):
                return {"passed": False, "n_tests": len(tests), "n_passed": i,
                        "failure": {**r, "expected": t["output"][:200]}}
        return {"passed": True, "n_tests": len(tests), "n_passed": len(tests), "failure": None}
    program = with_prelude(code)
    for i, t in enumerate(tests):
        res = sb.run_python(program, stdin=t["input"], timeout_s=timeout_s, cpu_s=math.ceil(timeout_s) + 1,
                            memory_mb=MEMORY_MB, max_output_bytes=16 << 20)
        if res.timed_out:
            fail = {"i": i, "status": "timeout"}
        elif res.returncode != 0:
            fail = {"i": i, "status": "error", "error": (res.stderr or "")[-300:]}
        elif not stdout_matches(res.stdout or "", t["output"]):
            fail = {"i": i, "status": "wrong", "got": (res.stdout or "")[:200], "expected": t["output"][:200]}
        else:
            continue
        return {"passed": False, "n_tests": len(tests), "n_passed": i, "failure": fail}
    return {"passed": True, "n_tests": len(tests), "n_passed": len(tests), "failure": None}


# ------------------------------------------------------------------------------------------ benchmark


@lru_cache(maxsize=8)
def _private_from_file(path: str, line: int) -> tuple[str, str]:
    """(private_test_cases field, question_id) of one row, re-read from the data file."""
    with open(path, encoding="utf-8") as f:
        for i, ln in enumerate(f, 1):
            if i == line:
                row = json.loads(ln)
                return row["private_test_cases"], row["question_id"]
    raise DataError(f"{path}:{line}: line not found (the data file changed since loading)")


@register
class LiveCodeBenchV6(Benchmark):
    name = "livecodebench-v6"
    version = "2"
    official_scorer = ("LiveCodeBench @28fef95: lcb_runner/evaluation/testing_util.py run_test "
                       "(+ utils/extraction_utils.py extract_code)")
    timeout_s = PER_TEST_TIMEOUT_S  # per test, both verdicts (lcb_runner: 6 s)
    family = "long-horizon"
    source = "official-file"
    gen = GenSpec(mode="generate", max_new_tokens=2048)
    release = "v6"

    def __init__(self):
        self._private: dict[str, str] = {}  # item_id -> encoded private tests (decoded at score time)

    def data_status(self) -> DataStatus:
        return SOURCE.status()

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        path = SOURCE.locate(ctx.data_path)
        rows = select_rows(path, self.release)
        if not rows:
            raise DataError(f"{path}: no problems of release {self.release}")
        items, seen = [], {}
        for f, line, r in rows:
            where = f"{f}:{line}"
            qid = str(r["question_id"])
            if qid in seen:
                raise DataError(f"{where}: duplicate question_id {qid!r} (first at {seen[qid]})")
            seen[qid] = where
            try:
                public = json.loads(r["public_test_cases"]) if isinstance(r["public_test_cases"], str) \
                    else r["public_test_cases"]
                metadata = json.loads(r["metadata"]) if isinstance(r["metadata"], str) else (r["metadata"] or {})
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: public_test_cases/metadata is not valid JSON: {e.msg}") from None
            testtype = public[0]["testtype"] if public else ("functional" if metadata.get("func_name") else "stdin")
            if testtype == "functional" and not metadata.get("func_name"):
                raise DataError(f"{where}: functional tests but metadata has no func_name")
            self._private[qid] = r["private_test_cases"]
            items.append(Item(
                item_id=qid, prompt=(text(render(r["question_content"], r["starter_code"] or "")),), answer="",
                meta={"question_title": r["question_title"], "platform": r["platform"],
                      "contest_id": str(r["contest_id"]), "contest_date": str(r["contest_date"]),
                      "difficulty": r["difficulty"], "testtype": testtype, "fn_name": metadata.get("func_name"),
                      "public_tests": public, "source_file": str(f.resolve()), "source_line": line,
                      "system_prompt": SYSTEM_PROMPT, "group": qid},
            ))
        items.sort(key=lambda it: (it.meta["contest_date"], it.item_id))
        return spread_subset(items, limit)

    def tests(self, item: Item) -> list[dict]:
        """Public then private tests of an item (private decoded safely, on demand)."""
        enc = self._private.get(item.item_id)
        where = f"{item.meta.get('source_file')}:{item.meta.get('source_line')}"
        if enc is None:
            enc, qid = _private_from_file(item.meta["source_file"], int(item.meta["source_line"]))
            if str(qid) != item.item_id:
                raise DataError(f"{where}: holds {qid!r}, not {item.item_id!r} (the data file changed)")
        return list(item.meta["public_tests"]) + decode_private_tests(enc, f"{where} private_test_cases")

    def _fn(self, item: Item) -> str | None:
        return item.meta.get("fn_name") if item.meta.get("testtype") == "functional" else None

    def score(self, item: Item, completion: str) -> Score:
        """Semantic: every test as a fresh program run (see `grade`)."""
        code = extract_code(completion)
        if not code.strip():
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False)
        ok = grade(code, self.tests(item), self._fn(item), self.timeout_s)["passed"]
        return Score(extracted=code, correct=ok, score=1.0 if ok else 0.0, parse_ok=True)

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        """lcb_runner's verdict: `extract_code` on the raw completion, then `run_test` semantics
        (ctxbench.benchmarks.scoring.lcb_official.grade_official)."""
        code = extract_code_official(completion)
        if not code.strip():  # lcb_runner runs the empty program and fails every test
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False), "official"
        ok = grade_official(code, self.tests(item), self._fn(item), math.ceil(self.timeout_s))["passed"]
        return Score(extracted=code, correct=ok, score=1.0 if ok else 0.0, parse_ok=True), "official"


__all__ = [
    "SOURCE",
    "SYSTEM_PROMPT",
    "LiveCodeBenchV6",
    "extract_code",
    "grade",
    "release_files",
    "release_window",
    "render",
    "select_rows",
    "stdout_matches",
]
