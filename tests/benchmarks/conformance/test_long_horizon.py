"""Conformance of the long-horizon benchmarks with their official scorers, case by case.

Each case is (item, model output, official verdict), the verdict derived by reading the official code:
LongBench v2's pred.py `extract_answer` (THUDM/LongBench @2e00731), lcb_runner's `run_test`
(LiveCodeBench @28fef95; cases in lcb_cases.py), RULER's `string_match_all` + `postprocess_pred`
(NVIDIA/RULER @c3f5e3b) and swebench 5.0.2's `make_run_report` for SWE-bench report files. The
official verdict is the score of record (`verdicts(...).record`); where ctxbench's semantic reading
differs, the semantic verdict is asserted too. docs/official-scorers/long-horizon.md explains every
surprising row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lcb_cases import CALL, EXTRACTION, FENCE, PROBLEMS, STDIN

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import Item, LoadContext, text
from ctxbench.benchmarks.embedded.niah import Niah
from ctxbench.benchmarks.official import swe_bench as sb
from ctxbench.core.errors import DataError

FIX = Path(__file__).parents[2] / "fixtures" / "official"


def check(bench, item, output, official, semantic):
    v = bench.verdicts(item, output)
    assert v.mode == "official" and v.record is v.official
    assert v.official.correct is official, ("official", output, v.official)
    assert v.semantic.correct is semantic, ("semantic", output, v.semantic)
    assert v.official.score == float(official) and v.semantic.score == float(semantic)
    return v


# ------------------------------------------------------------------------------------ LongBench v2

# output -> (pred.py's prediction, ctxbench's semantic extraction); the item's answer is C
LONGBENCH = {
    "The correct answer is (C)": ("C", "C"),
    "The correct answer is C": ("C", "C"),
    "The correct answer is C.": ("C", "C"),
    "**The correct answer is (C)**": ("C", "C"),
    "The correct answer is **(C)**": ("C", "C"),
    "Let me weigh each option.\n\nB ignores the second chapter.\n\nThe correct answer is (C)": ("C", "C"),
    "Final answer: The correct answer is (C).": ("C", "C"),
    "```\nThe correct answer is (C)\n```": ("C", "C"),
    "The correct answer is (C) because option B contradicts the text.": ("C", "C"),
    "The correct answer is (C) or (D)": ("C", "C"),
    "The correct answer is CD": ("C", "C"),
    "The answer is (C)": (None, None),
    "Answer: C": (None, None),
    "C": (None, "C"),                                  # a bare letter: None officially
    "  C\n": (None, "C"),
    "D": (None, "D"),
    "(C)": (None, None),
    "c": (None, None),                                 # lower case
    "the correct answer is (C)": (None, None),         # pred.py is case-sensitive
    "The correct answer is (c)": (None, None),
    "The Correct Answer is (C)": (None, None),
    "The correct answer is: C": (None, None),
    "The correct answer is: (C)": (None, None),
    "The correct answer is ( C )": (None, None),
    "The correct answer is  (C)": (None, None),
    "The correct answer is\n(C)": (None, None),
    "The correct answer is \\(C\\)": (None, None),
    "The correct answer is $\\boxed{C}$": (None, None),
    "The correct answer is (E)": (None, None),
    "": (None, None),
    "The correct answer is Actually (C)": ("A", "A"),  # the bare pattern takes the capital after "is "
    "The correct answer is B. No: The correct answer is (C)": ("C", "C"),  # the (X) pattern is tried first
    "The correct answer is (B). On reflection, the correct answer is (C).": ("B", "B"),  # the first match
    "<think>The correct answer is (C)</think>": ("C", None),  # only inside the reasoning
    "<think>The correct answer is (A)?</think>\nThe correct answer is (C)": ("A", "C"),
    "<think>Option C fits.</think>\nThe correct answer is (C)": ("C", "C"),
    "<think>\nThe correct answer is (C)": ("C", "C"),  # unterminated reasoning is kept
    "reasoning prefilled</think>The correct answer is (C)": ("C", "C"),
}


@pytest.fixture(scope="module")
def longbench():
    bench = get_benchmark("longbench-v2")
    item = bench.load(LoadContext(max_context_tokens=100_000, data_path=str(FIX / "longbench_v2")), limit=1)[0]
    assert item.answer == "C"
    return bench, item


def test_longbench_v2_has_enough_cases():
    assert len(LONGBENCH) >= 30


@pytest.mark.parametrize("output", list(LONGBENCH))
def test_longbench_v2_matches_pred_py(longbench, output):
    bench, item = longbench
    official, semantic = LONGBENCH[output]
    v = check(bench, item, output, official == "C", semantic == "C")
    assert v.official.extracted == official and v.official.parse_ok == (official is not None)
    assert v.semantic.extracted == semantic


# ------------------------------------------------------------------------------------ NIAH (RULER)

# output -> (RULER passes, semantic passes); the needle's number is 4823917
NIAH = {
    "4823917": (True, True),
    " 4823917.": (True, True),
    "The special magic number for Lisbon mentioned in the provided text is 4823917.": (True, True),
    "4823917\n\nExplanation: it appears in the second essay.": (True, True),
    "The magic numbers are 1234567 and 4823917": (True, True),
    "The number is 4823917 or 4823918.": (True, True),
    "4,823,917 (i.e. 4823917)": (True, True),
    "**4823917**": (True, True),
    "`4823917`": (True, True),
    "Answer:4823917": (True, True),
    "4823917.0": (True, True),
    "+4823917": (True, True),
    "04823917": (True, True),
    "4823917%": (True, True),
    "4823917\x00": (True, True),                # control characters become newlines, then stripped
    "<think>maybe 1111111</think>4823917": (True, True),
    "4,823,917": (False, True),                 # thousands separators: no substring
    "$4,823,917": (False, True),
    "\uff14\uff18\uff12\uff13\uff19\uff11\uff17": (False, True),  # full-width digits
    "48239170": (True, False),                  # a longer number containing the needle
    "14823917": (True, False),
    "-4823917": (True, False),
    "4823917th": (True, False),
    "4823917.5": (True, False),
    "id4823917": (True, False),
    "<think>It is 4823917</think>I am not sure.": (True, False),  # RULER does not strip reasoning
    "4 823 917": (False, False),
    "4823 917": (False, False),
    "4.823.917": (False, False),
    "4_823_917": (False, False),
    "4.823917e6": (False, False),
    "4823\x0b917": (False, False),
    "4823918": (False, False),
    "I could not find it.": (False, False),
    "four million eight hundred twenty-three thousand nine hundred seventeen": (False, False),
    "": (False, False),
}


def test_niah_has_enough_cases():
    assert len(NIAH) >= 30


@pytest.mark.parametrize("output", list(NIAH))
def test_niah_matches_ruler_string_match_all(output):
    bench = Niah()
    item = Item("L1000-D50-n0", (text("What is the special magic number for Lisbon?"),), "4823917")
    official, semantic = NIAH[output]
    v = check(bench, item, output, official, semantic)
    assert v.official.parse_ok == (output != ""), "RULER counts only empty predictions as nulls"


# ------------------------------------------------------------------------------------ LiveCodeBench


@pytest.fixture(scope="module")
def lcb(tmp_path_factory):
    """The PROBLEMS of lcb_cases.py as an official test6.jsonl (no private tests), loaded once."""
    template = json.loads((FIX / "livecodebench" / "test6.jsonl").read_text().splitlines()[0])
    rows = []
    for qid, (fn, tests) in PROBLEMS.items():
        rows.append({**template, "question_id": qid, "public_test_cases": json.dumps(tests),
                     "private_test_cases": "", "metadata": json.dumps({"func_name": fn} if fn else {})})
    path = tmp_path_factory.mktemp("lcb") / "test6.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench = get_benchmark("livecodebench-v6")
    bench.timeout_s = 1.0  # the programs are tiny; keeps the two timeout cases short
    return bench, {it.item_id: it for it in bench.load(LoadContext(data_path=str(path)))}


LCB = {**{f"stdin: {k}": (p, FENCE.format(c), o, s) for k, (p, c, o, s) in STDIN.items()},
       **{f"call: {k}": (p, FENCE.format(c), o, s) for k, (p, c, o, s) in CALL.items()},
       **{f"extract: {k}": v for k, v in EXTRACTION.items()},
       "stdin: infinite loop": ("sum", FENCE.format("while True:\n    pass"), False, False),
       "call: infinite loop": ("count", FENCE.format("class Solution:\n    def count(self, nums):\n"
                                                     "        while True:\n            pass"), False, False)}


def test_livecodebench_has_enough_cases():
    assert len(LCB) >= 30


@pytest.mark.parametrize("name", list(LCB))
def test_livecodebench_matches_lcb_runner(lcb, name):
    bench, items = lcb
    problem, completion, official, semantic = LCB[name]
    check(bench, items[problem], completion, official, semantic)


# ------------------------------------------------------------------------------------ SWE-bench

IID, MODEL, PATCH = "org__repo-1", "org/agent-8b", "diff --git a/x.py b/x.py\n+fix\n"


def report(resolved, **extra):
    return json.dumps({IID: {"patch_is_None": False, "patch_exists": True, "patch_successfully_applied": True,
                             "resolved": resolved, **extra}})


ALL_PASS = {"FAIL_TO_PASS": {"success": ["t"], "failure": []}, "PASS_TO_PASS": {"success": ["a"], "failure": []}}
# per-instance report.json content (None: no file) -> make_run_report's status; the patch is non-empty
PER_INSTANCE = {
    "resolved": (report(True), "resolved"),
    "unresolved": (report(False), "unresolved"),
    "empty file": ("", "error"),
    "whitespace only": ("\n  \n", "error"),
    "invalid JSON": ("{", "error"),
    "truncated JSON": ('{"org__repo-1": {"resolved": tr', "error"),
    "empty object": ("{}", "error"),
    "no resolved key": (json.dumps({IID: {"patch_exists": True}}), "error"),
    "another instance only": (json.dumps({"other__repo-2": {"resolved": True}}), "error"),
    "resolved 1": (json.dumps({IID: {"resolved": 1}}), "resolved"),
    "resolved 0": (json.dumps({IID: {"resolved": 0}}), "unresolved"),
    "resolved null": (json.dumps({IID: {"resolved": None}}), "unresolved"),
    "resolved as the string 'false'": (json.dumps({IID: {"resolved": "false"}}), "resolved"),  # truthy
    "resolved although the patch did not apply": (report(True, patch_successfully_applied=False), "resolved"),
    "unresolved although every test passed": (report(False, tests_status=ALL_PASS), "unresolved"),
    "extra keys": (report(True, tests_status=ALL_PASS, note="x"), "resolved"),
}
CRASHES = {"a JSON list": "[]", "null": "null", "a bare flag": json.dumps({IID: True})}
# summary <model>.<run_id>.json listing IID under `key` -> status
SUMMARY = {"resolved_ids": "resolved", "unresolved_ids": "unresolved", "error_ids": "error",
           "empty_patch_ids": "empty_patch", "incomplete_ids": "not_evaluated", None: "not_evaluated"}


def write_case(tmp: Path, content: str | None, patch: str | None = PATCH, summary_key="-") -> tuple[Path, list]:
    preds = tmp / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": IID, "model_name_or_path": MODEL, "model_patch": patch}) + "\n")
    sources = []
    logs = tmp / "logs" / "run_evaluation" / "run1" / MODEL.replace("/", "__") / IID
    logs.mkdir(parents=True)
    if content is not None:
        (logs / "report.json").write_text(content)
    if summary_key != "-":
        s = {"total_instances": 500, "resolved_ids": [], "unresolved_ids": [], "error_ids": [],
             "empty_patch_ids": [], "incomplete_ids": [], "infra_failure_ids": [], "schema_version": 2}
        if summary_key is not None:
            s[summary_key] = [IID]
        (tmp / "summary.json").write_text(json.dumps(s))
        sources.append(tmp / "summary.json")
    if content is not None or not sources:
        sources.append(tmp / "logs")
    return preds, sources


def imported(tmp, content, **kw) -> dict:
    preds, sources = write_case(tmp, content, **kw)
    [row] = sb.import_predictions(preds, sources)
    assert row["correct"] is (row["status"] == "resolved") and row["score"] == float(row["correct"])
    return row


def test_swe_bench_has_enough_cases():
    assert len(PER_INSTANCE) + len(CRASHES) + len(SUMMARY) + 6 >= 30


@pytest.mark.parametrize("name", list(PER_INSTANCE))
def test_swe_bench_per_instance_report_as_make_run_report(tmp_path, name):
    content, status = PER_INSTANCE[name]
    assert imported(tmp_path, content)["status"] == status


@pytest.mark.parametrize("name", list(CRASHES))
def test_swe_bench_reports_the_harness_cannot_read_are_refused(tmp_path, name):
    preds, sources = write_case(tmp_path, CRASHES[name])
    with pytest.raises(DataError, match="make_run_report would fail on it too"):
        sb.import_predictions(preds, sources)


@pytest.mark.parametrize("key", list(SUMMARY))
def test_swe_bench_summary_statuses(tmp_path, key):
    assert imported(tmp_path, None, summary_key=key)["status"] == SUMMARY[key]


@pytest.mark.parametrize("content, patch, status", [
    (report(True), "", "empty_patch"),      # a stale report never resolves an empty patch
    (report(True), None, "empty_patch"),
    ("", "", "empty_patch"),
])
def test_swe_bench_empty_patches(tmp_path, content, patch, status):
    assert imported(tmp_path, content, patch=patch)["status"] == status


@pytest.mark.parametrize("content, key, status", [
    ("", "error_ids", "error"),              # the summary and the empty report agree
    (report(True), "resolved_ids", "resolved"),
    ("{", "unresolved_ids", "unresolved"),   # an unreadable report beside the summary's unresolved
])
def test_swe_bench_summary_and_log_folder_together(tmp_path, content, key, status):
    assert imported(tmp_path, content, summary_key=key)["status"] == status


def test_swe_bench_verdict_is_the_harness_and_declared():
    for name in ("swe-bench-verified", "swe-bench-lite"):
        bench = get_benchmark(name)
        assert bench.official_scorer.startswith("swebench 5.0.2: swebench/harness/reporting.py make_run_report")
        assert bench.version == "2"
