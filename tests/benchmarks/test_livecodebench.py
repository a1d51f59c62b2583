"""LiveCodeBench v6 adapter: schema, release selection, safe private-test decoding, prompt, code
extraction, and pass@1 grading of stdin and functional problems in the sandbox, by the semantic grader
and by the reproduction of lcb_runner (the official verdict; its golden cases are in
tests/benchmarks/conformance/lcb_cases.py)."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import pickletools
import shutil
import zlib
from pathlib import Path

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.official.livecodebench import (
    extract_code,
    grade,
    release_files,
    release_window,
    render,
    stdout_matches,
    with_prelude,
)
from ctxbench.benchmarks.official.livecodebench_decode import (
    RestrictedUnpickler,
    decode_private_tests,
    encode_private_tests,
    safe_unpickle,
)
from ctxbench.benchmarks.scoring.lcb_official import decode, extract_code_official, grade_official
from ctxbench.benchmarks.scoring.lcb_official_driver import encode
from ctxbench.core.errors import DataError

DATA = Path(__file__).parents[1] / "fixtures" / "official" / "livecodebench"
TESTS = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]


# ---------------------------------------------------------------------------------- safe decoding


def test_decodes_official_encoding_and_plain_json():
    enc = encode_private_tests(TESTS)
    raw = zlib.decompress(base64.b64decode(enc))
    assert isinstance(pickle.loads(raw), str)  # the official layout: a pickled JSON *string* (trusted here)
    assert decode_private_tests(enc) == TESTS
    assert decode_private_tests(json.dumps(TESTS)) == TESTS
    assert decode_private_tests("") == []


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Evil(marker))
    enc = base64.b64encode(zlib.compress(blob)).decode()
    with pytest.raises(DataError, match="refused pickle"):
        decode_private_tests(enc)
    # the Unpickler alone (without the opcode scan) refuses the global lookup too
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        RestrictedUnpickler(io.BytesIO(blob)).load()
    # and an old-protocol stream (GLOBAL + REDUCE instead of STACK_GLOBAL)
    with pytest.raises(DataError, match="refused pickle: opcode GLOBAL"):
        safe_unpickle(pickle.dumps(_Evil(marker), protocol=0))
    assert not marker.exists()


def test_non_plain_data_and_garbage_are_refused(monkeypatch):
    with pytest.raises(DataError, match="EMPTY_SET"):
        safe_unpickle(pickle.dumps({1, 2}))
    with pytest.raises(DataError, match="neither JSON nor base64"):
        decode_private_tests("not base64 !!")
    with pytest.raises(DataError, match="not zlib"):
        decode_private_tests(base64.b64encode(b"plain bytes").decode())
    with pytest.raises(DataError, match=r"test 0 is not"):
        decode_private_tests(encode_private_tests([{"input": 1, "output": "2", "testtype": "stdin"}]))
    monkeypatch.setattr("ctxbench.benchmarks.official.livecodebench_decode.MAX_DECOMPRESSED", 1000)
    bomb = base64.b64encode(zlib.compress(pickle.dumps("x" * 100_000))).decode()
    with pytest.raises(DataError, match="more than 1000 bytes"):
        decode_private_tests(bomb)
    assert "BINUNICODE" in {op.name for op, _, _ in pickletools.genops(pickle.dumps("x", protocol=2))}


# ---------------------------------------------------------------------------------- releases / loading


def test_release_tags_match_the_official_files():
    assert release_files("v6") == ("test6.jsonl",)
    assert release_files("release_v6") == tuple(["test.jsonl"] + [f"test{i}.jsonl" for i in range(2, 7)])
    assert release_files("v4_v5") == ("test4.jsonl", "test5.jsonl")
    assert release_files("release_v1") == ("test.jsonl",)
    lo, hi = release_window("v6")
    assert (lo.isoformat()[:10], hi.isoformat()[:10]) == ("2025-01-01", "2025-05-01")
    assert release_window("release_v6")[0].isoformat()[:10] == "2023-05-01"
    with pytest.raises(DataError, match="unknown LiveCodeBench release 'v7'"):
        release_files("v7")


@pytest.fixture
def bench():
    return get_benchmark("livecodebench-v6")


def _ids(items):
    return sorted(it.item_id for it in items)


def test_loads_v6_from_folder_file_or_dated_export(bench, tmp_path):
    assert _ids(bench.load(LoadContext(data_path=str(DATA)))) == ["3720", "abc390_a", "abc391_b"]
    assert _ids(bench.load(LoadContext(data_path=str(DATA / "test6.jsonl")))) == ["3720", "abc390_a", "abc391_b"]
    # a non-official export is filtered by contest_date: abc380_a (Nov 2024) is not a v6 problem
    assert _ids(bench.load(LoadContext(data_path=str(DATA / "export.jsonl")))) == ["3720", "abc390_a"]
    with pytest.raises(DataError, match="official shard of release v5"):
        bench.load(LoadContext(data_path=str(DATA / "test5.jsonl")))
    only5 = tmp_path / "lcb"
    only5.mkdir()
    shutil.copy(DATA / "test5.jsonl", only5 / "test5.jsonl")
    shutil.copy(DATA / "test6.jsonl", only5 / "test6.jsonl")
    bench.release = "release_v6"
    with pytest.raises(DataError, match=r"needs test\.jsonl, test2\.jsonl"):
        bench.load(LoadContext(data_path=str(only5)))


def test_missing_data_and_bad_rows(bench, tmp_path, monkeypatch):
    monkeypatch.delenv("CTXBENCH_DATA_LIVECODEBENCH_V6", raising=False)
    assert not bench.data_status().available
    with pytest.raises(DataError, match=r"code_generation_lite.*test6\.jsonl"):
        bench.load(LoadContext())
    rows = [json.loads(ln) for ln in (DATA / "test6.jsonl").read_text().splitlines()]
    del rows[1]["metadata"]
    bad = tmp_path / "test6.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"test6\.jsonl:2: missing column\(s\) metadata"):
        bench.load(LoadContext(data_path=str(bad)))


def test_prompt_formats_and_meta(bench):
    items = {it.item_id: it for it in bench.load(LoadContext(data_path=str(DATA)))}
    std, fn = items["abc390_a"], items["3720"]
    assert std.prompt_text().startswith("### Question:\nYou are given N followed by N integers.")
    assert "### Format: Read the inputs from stdin solve the problem" in std.prompt_text()
    assert "```python\n# YOUR CODE HERE\n```" in std.prompt_text()
    assert std.prompt_text().endswith("### Answer: (use the provided format with backticks)\n\n")
    assert "You will use the following starter code" in fn.prompt_text()
    assert "def twoSum(self, nums: List[int], target: int)" in fn.prompt_text()
    assert fn.meta["testtype"] == "functional" and fn.meta["fn_name"] == "twoSum"
    assert std.meta["testtype"] == "stdin" and std.meta["difficulty"] == "easy"
    assert "think step-by-step" in std.meta["system_prompt"]
    assert render("Q", "") != render("Q", "class Solution: pass")
    assert len(bench.tests(std)) == 4  # 1 public + 3 private (decoded from the official encoding)
    json.dumps(std.meta)  # meta is JSON-serialisable and holds no private tests
    assert "1000000000001" not in json.dumps(std.meta)


# ---------------------------------------------------------------------------------- extraction / comparison


@pytest.mark.parametrize("completion, code", [
    ("no code here", ""),
    ("```python\nprint(1)\n```", "print(1)"),
    ("first\n```python\nprint(1)\n```\nbetter:\n```python\nprint(2)\n```", "print(2)"),  # the last block
    ("<think>```python\nprint(0)\n```</think>\n```python3\nx = 1\nprint(x)\n```", "x = 1\nprint(x)"),
    ("```python\nprint(1)", ""),  # unterminated: fewer than two fence lines
])
def test_extract_code(completion, code):
    assert extract_code(completion) == code


@pytest.mark.parametrize("got, expected, ok", [
    ("6\n", "6\n", True), ("6", "6\n\n", True), ("  1 2  \n", "1 2", True), ("1.50\n", "1.5", True),
    ("1 2", "1  2", True), ("50000000000000001", "50000000000000000", False), ("6\n7", "6", False),
    ("Yes", "yes", False), ("", "0", False),
])
def test_stdout_comparison(got, expected, ok):
    assert stdout_matches(got, expected) is ok


# ---------------------------------------------------------------------------------- grading (sandbox)

SUM_OK = "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
SUM_PUBLIC_ONLY = "```python\nprint(6)\n```"  # passes the public test, fails the private ones
TWO_OK = """Here you go:
```python
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return (seen[target - x], i)
            seen[x] = i
```"""
TWO_BAD = "```python\nclass Solution:\n    def twoSum(self, nums, target):\n        print('noise')\n        return [0, 1]\n```"


def test_pass_at_1_stdin_and_functional(bench):
    items = {it.item_id: it for it in bench.load(LoadContext(data_path=str(DATA)))}
    s = bench.score(items["abc390_a"], SUM_OK)
    assert s.correct and s.score == 1.0 and s.parse_ok and "sum(map" in s.extracted
    s = bench.score(items["abc390_a"], SUM_PUBLIC_ONLY)
    assert not s.correct and s.parse_ok
    assert bench.score(items["3720"], TWO_OK).correct  # tuple return accepted, as lcb_runner does
    assert not bench.score(items["3720"], TWO_BAD).correct  # right on public, wrong on a private test
    s = bench.score(items["3720"], "I don't know")
    assert not s.correct and not s.parse_ok and s.extracted is None


def test_score_rereads_private_tests_from_the_file(bench):
    item = bench.load(LoadContext(data_path=str(DATA)))[0]
    fresh = get_benchmark("livecodebench-v6")  # never loaded: private tests come from meta's file/line
    assert len(fresh.tests(item)) == len(bench.tests(item))


def test_grade_reports_failures_in_order():
    tests = [{"input": "2\n1 2\n", "output": "1.50\n", "testtype": "stdin"},
             {"input": "4\n1 1 1 2\n", "output": "1.25\n", "testtype": "stdin"}]
    avg = "n = int(input())\na = list(map(int, input().split()))\nprint(f'{sum(a)/n:.2f}')"
    assert grade(avg, tests, None)["passed"]
    r = grade("print('1.50')", tests, None)
    assert not r["passed"] and r["n_passed"] == 1 and r["failure"]["status"] == "wrong"
    r = grade("raise ValueError('boom')", tests, None)
    assert r["n_passed"] == 0 and "boom" in r["failure"]["error"]
    r = grade("while True: pass", tests[:1], None, timeout_s=1)
    assert not r["passed"] and r["failure"]["status"] == "timeout"
    fn_tests = [{"input": "[1, 2]\n3", "output": "true", "testtype": "functional"}]
    loop = "class Solution:\n    def f(self, a, t):\n        while True: pass"
    r = grade(loop, fn_tests, "f", timeout_s=1)
    assert r["failure"]["status"] == "timeout"
    assert grade("def f(a, t):\n    return sum(a) == t", fn_tests, "f")["passed"]  # module-level function
    r = grade("class Solution:\n    pass", fn_tests, "f")
    assert not r["passed"] and "AttributeError" in r["failure"]["error"]


def test_private_tests_never_reach_pickle_loads(bench, monkeypatch, tmp_path):
    """Loading and scoring decode the official pickles only through the restricted loader; a data
    file carrying a code-executing pickle fails the item with a DataError and runs nothing."""
    def boom(*a, **k):
        raise AssertionError("pickle.loads/load called on benchmark data")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    items = {it.item_id: it for it in bench.load(LoadContext(data_path=str(DATA)))}
    assert len(bench.tests(items["abc390_a"])) == 4 and bench.score(items["abc390_a"], SUM_OK).correct
    marker = tmp_path / "pwned"
    rows = [json.loads(ln) for ln in (DATA / "test6.jsonl").read_text().splitlines()]
    rows[0]["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(_Evil(marker)))).decode()
    evil = tmp_path / "test6.jsonl"
    evil.write_text("".join(json.dumps(r) + "\n" for r in rows))
    item = {it.item_id: it for it in bench.load(LoadContext(data_path=str(evil)))}[rows[0]["question_id"]]
    with pytest.raises(DataError, match="refused pickle"):
        bench.score(item, SUM_OK)
    assert not marker.exists()


# ---------------------------------------------------------------------------------- semantic vs official

SUM_TESTS = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]
READ = "n = int(input())\nxs = list(map(int, input().split()))\n"


@pytest.mark.parametrize("code", [
    READ + "print(sum(xs))\nexit()",                                           # exit(): NameError under -S before
    "import numpy as np\n" + READ + "print(int(np.array(xs).sum()))",           # numpy: not importable before
    "from __future__ import annotations\n" + READ + "print(sum(xs))",           # the prelude broke the future import
    '"""Doc."""\nfrom __future__ import annotations\n' + READ + "print(sum(xs))",
    "import sys\nprint(sum(int(t) for line in list(sys.stdin)[1:] for t in line.split()))",
    "import sys\nsys.stdin.buffer.readline()\nprint(sum(map(int, sys.stdin.buffer.readline().split())))",
    "n, *xs = map(int, open(0).read().split())\nprint(sum(xs))",
    "total = 0\ndef add(x):\n    global total\n    total += x\n" + READ + "for x in xs:\n    add(x)\nprint(total)",
])
def test_semantic_grader_passes_correct_programs_however_they_are_written(code):
    assert grade(code, SUM_TESTS, None)["passed"], grade(code, SUM_TESTS, None)


def test_with_prelude_keeps_future_imports_first():
    out = with_prelude('"""Doc."""\nfrom __future__ import annotations\nx: int = 1\n')
    assert out.startswith("from __future__ import annotations\nfrom string import *\n")
    compile(out, "main.py", "exec")
    assert with_prelude("print(").endswith("print(")  # unparsable code is left to fail on its own


def test_official_grader_fails_what_lcb_runner_fails():
    ok = READ + "print(sum(xs))"
    assert grade_official(ok, SUM_TESTS, None)["passed"]
    r = grade_official("import sys\nprint(sum(int(t) for line in list(sys.stdin)[1:] for t in line.split()))",
                       SUM_TESTS, None)
    assert not r["passed"] and "not iterable" in r["failure"]["error"]
    r = grade_official("import sys\nsys.stdin.buffer.readline()\nprint(sum(map(int, sys.stdin.buffer.readline().split())))",
                       SUM_TESTS, None)
    assert not r["passed"] and r["failure"]["status"] == "wrong" and r["failure"]["got"] == "3\n"
    r = grade_official("from __future__ import annotations\n" + ok, SUM_TESTS, None)
    assert r["failure"]["i"] == -1 and "beginning of the file" in r["failure"]["error"]
    fn = [{"input": "[1, 2, 3, 4]\n5", "output": "[[0, 3], [1, 2]]", "testtype": "functional"}]
    tuples = "class Solution:\n    def pairs(self, nums, t):\n        return [(0, 3), (1, 2)]"
    assert not grade_official(tuples, fn, "pairs")["passed"] and grade(tuples, fn, "pairs")["passed"]


def test_official_extraction_keeps_the_reasoning():
    done = "<think>\n```python\nprint(6)\n```\n</think>\nDone."
    assert extract_code_official(done) == "print(6)" and extract_code(done) == ""


@pytest.mark.parametrize("value", [None, True, 0, -(10 ** 30), 1.5, float("inf"), "x", [1, (2, 3)], (1,),
                                   {"a": [1]}, {(1, 2): None}, {1, 2}, frozenset({3})])
def test_returned_values_round_trip_with_their_types(value):
    got = decode(json.loads(json.dumps(encode(value))))
    assert got == value and type(got) is type(value)


def test_opaque_values_equal_nothing():
    class Node:
        pass

    got = decode(encode(Node()))
    assert got != decode(encode(Node())) and got != [] and got != 0 and [got] != [decode(encode(Node()))]


def test_both_verdicts_are_stored_and_official_is_the_record(bench):
    items = {it.item_id: it for it in bench.load(LoadContext(data_path=str(DATA)))}
    assert bench.version == "2" and "testing_util.py run_test" in bench.official_scorer
    v = bench.verdicts(items["abc390_a"], SUM_OK)
    assert v.mode == "official" and v.record is v.official and v.official.correct and v.semantic.correct
    loop = "```python\nimport sys\nls = [l for l in sys.stdin]\nprint(sum(map(int, ls[1].split())))\n```"
    v = bench.verdicts(items["abc390_a"], loop)
    assert v.semantic.correct and not v.official.correct and not v.record.correct
