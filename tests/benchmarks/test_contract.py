"""The benchmark contract, checked over every registered benchmark (ctxbench/benchmarks/base.py).

Each benchmark loads a few items from its generator or packaged data (embedded) or from a small file in
its official format (tests/fixtures/official/, vqa_fixtures, easyr1_fixtures); ids are unique and the
same on a second load; prompts are message parts `{"type": "text" | "image", "value": ...}`; the
golden output (the item's answer written the way a correct model would write it) scores correct and a
garbage output does not; `version` is declared. An official-file benchmark without an entry in CASES
fails here: a new benchmark cannot slip in untested. Also: every module in `_MODULES` registers at
least one benchmark, and a misspelled module name is an error rather than a silently missing benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from easyr1_fixtures import rows, write_parquet
from vqa_fixtures import BUILDERS, GOLD

from ctxbench import benchmarks
from ctxbench.benchmarks import BENCHMARKS, benchmark_names, get_benchmark
from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext
from ctxbench.pairs.base import Pair, save_pairs

FIX = Path(__file__).parents[1] / "fixtures" / "official"
LIMIT = 4
GARBAGE = "zq xv wk"  # no number, no option letter, no code, no answer marker


def answer_line(item: Item) -> str:
    return f"Answer: {item.answer}"


@dataclass(frozen=True)
class Case:
    """How to load one benchmark's test data and what a correct model would reply.

    data:  writes or locates the data under a temporary folder and returns LoadContext.data_path
           (None: the benchmark generates its items or reads packaged data).
    golden: the correct reply for an item.
    score_exempt: why scoring cannot run in a test (then only loading is checked).
    """

    data: Callable[[Path], str | None] = lambda tmp: None
    golden: Callable[[Item], str] = answer_line
    score_exempt: str = ""


def vqa_case(name: str, golden: dict[str, str] | None = None) -> Case:
    replies = {idx: good for idx, good, _ in GOLD[name][1]} | (golden or {})

    def data(tmp: Path) -> str:
        BUILDERS[name](tmp)
        return str(tmp)

    return Case(data=data, golden=lambda it: replies[it.item_id])


def easyr1_data(tmp: Path) -> str:
    return str(write_parquet(tmp / "data" / "train-00000-of-00001.parquet", rows()))


def probe_data(tmp: Path) -> str:
    pairs = [Pair(f"p{k}", "trajectory", "test", f"src-{k}", "What value did the traced call return?", str(40 + k),
                  f"[step 1] return from f: {40 + k}", f"[step 1] return from f: {90 + k}") for k in range(3)]
    return str(save_pairs(tmp / "pairs.jsonl", pairs))


SUM = "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
AVERAGE = "```python\nn = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.2f}')\n```"
TWO_SUM = ("```python\nclass Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
           "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
           "                return [seen[target - x], i]\n            seen[x] = i\n```")
LCB_SOLUTIONS = {"abc390_a": SUM, "abc391_b": AVERAGE, "3720": TWO_SUM}  # tests/fixtures/official/livecodebench
SWE_EXEMPT = ("scoring runs the official swebench harness under Docker; tests/benchmarks/test_swe_bench.py "
              "covers the refusal without Docker and the import of official reports")


def correct_letter(item: Item) -> str:
    return f"The correct answer is ({item.answer})."


CASES: dict[str, Case] = {
    "code-exec": Case(golden=lambda it: f"```python\n{it.answer}```"),
    "long-mcq": Case(golden=correct_letter),
    "probe": Case(data=probe_data),
    "longbench-v2": Case(data=lambda tmp: str(FIX / "longbench_v2"), golden=correct_letter),
    "livecodebench-v6": Case(data=lambda tmp: str(FIX / "livecodebench"),
                             golden=lambda it: LCB_SOLUTIONS[it.item_id]),
    "swe-bench-verified": Case(data=lambda tmp: str(FIX / "swe_bench" / "instances.jsonl"), score_exempt=SWE_EXEMPT),
    "swe-bench-lite": Case(data=lambda tmp: str(FIX / "swe_bench" / "instances.jsonl"), score_exempt=SWE_EXEMPT),
    "easyr1-qa": Case(data=easyr1_data, golden=lambda it: f"<think>Worked it out.</think><answer>{it.answer}</answer>"),
    **{name: vqa_case(name) for name in BUILDERS},
    # VLMEvalKit keeps <think> in the prediction: "</think>C" is no letter token, so the golden reply
    # states its letter after the think block (tests/benchmarks/conformance/test_vlmeval_mcq.py)
    "MMMU_Pro_10c": vqa_case("MMMU_Pro_10c", {"8": "<think>A or C?</think>\nThe answer is C"}),
}
# Benchmarks whose score of record (`verdicts(...).record`, the official verdict) is checked too.
RECORD_CHECKED = ("MMMU_DEV_VAL", "MMMU_Pro_10c", "VStarBench", "MMStar", "BLINK", "ScienceQA_TEST",
                  "MME-RealWorld-Lite")


def case_for(name: str) -> Case:
    bench = get_benchmark(name)
    if name in CASES:
        return CASES[name]
    if bench.source == "official-file":
        pytest.fail(f"{name} reads an official file but has no fixture: add a Case for it to CASES in {__file__}")
    return Case()


def load(name: str, data_path: str | None) -> list[Item]:
    return get_benchmark(name).load(LoadContext(data_path=data_path), limit=LIMIT)


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch):
    """Official data comes from the fixture passed as data_path, never from the environment."""
    monkeypatch.delenv("LMUData", raising=False)
    for name in benchmark_names():
        monkeypatch.delenv("CTXBENCH_DATA_" + "".join(c if c.isalnum() else "_" for c in name).upper(), raising=False)
    monkeypatch.delenv("CTXBENCH_PROBE_PAIRS", raising=False)


@pytest.mark.parametrize("name", benchmark_names())
def test_declares_name_version_and_kind(name):
    bench = get_benchmark(name)
    assert bench.name == name and isinstance(bench.version, str) and bench.version.strip()
    assert bench.key == f"{name}@{bench.version}"
    assert bench.family in ("long-horizon", "vqa", "probe", "train")
    assert bench.source in ("generated", "packaged", "official-file")
    assert isinstance(bench.gen, GenSpec) and bench.gen.mode in ("generate", "choice")
    status = bench.data_status()
    assert isinstance(status.detail, str) and status.detail
    if bench.source != "official-file":  # embedded benchmarks run offline from what is installed
        assert status.available, status.detail


@pytest.mark.parametrize("name", benchmark_names())
def test_loads_stable_items_with_message_parts(name, tmp_path):
    data_path = case_for(name).data(tmp_path)
    items = load(name, data_path)
    assert 0 < len(items) <= LIMIT
    ids = [it.item_id for it in items]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    again = load(name, data_path)  # a fresh instance: ids and prompts depend on the data only
    assert [it.item_id for it in again] == ids
    assert [it.prompt_hash for it in again] == [it.prompt_hash for it in items]
    for it in items:
        assert isinstance(it.prompt, (tuple, list)) and it.prompt, it.item_id
        for part in it.prompt:
            assert set(part) == {"type", "value"} and part["type"] in ("text", "image"), part
            assert isinstance(part["value"], str)
            if part["type"] == "image":
                assert Path(part["value"]).is_file(), part
        assert any(p["type"] == "text" and p["value"].strip() for p in it.prompt)
        assert isinstance(it.answer, str)
        assert it.choices is None or all(isinstance(c, str) for c in it.choices)
        json.dumps(it.meta)  # stored with every result row


@pytest.mark.parametrize("name", benchmark_names())
def test_golden_output_scores_correct_and_garbage_does_not(name, tmp_path):
    case = case_for(name)
    if case.score_exempt:
        pytest.skip(case.score_exempt)
    bench = get_benchmark(name)
    for it in bench.load(LoadContext(data_path=case.data(tmp_path)), limit=LIMIT):
        good = bench.score(it, case.golden(it))
        assert good.correct and good.parse_ok and good.score == 1.0, (it.item_id, case.golden(it), good)
        bad = bench.score(it, GARBAGE)
        assert not bad.correct and bad.score == 0.0, (it.item_id, bad)
        if it.choices and it.answer in it.choices:  # choice mode: the harness passes the chosen label itself
            assert bench.score(it, it.answer).correct
            assert not bench.score(it, next(c for c in it.choices if c != it.answer)).correct


@pytest.mark.parametrize("name", RECORD_CHECKED)
def test_golden_output_is_correct_on_record_too(name, tmp_path):
    case = case_for(name)
    bench = get_benchmark(name)
    assert bench.official_scorer
    for it in bench.load(LoadContext(data_path=case.data(tmp_path)), limit=LIMIT):
        good = bench.verdicts(it, case.golden(it))
        assert good.official is not None and good.record == good.official, name
        assert good.record.correct and good.record.parse_ok and good.record.score == 1.0, (it.item_id, good)
        assert not bench.verdicts(it, GARBAGE).record.correct
        if it.choices and it.answer in it.choices:
            assert bench.verdicts(it, it.answer).record.correct


# The math and science VQA sets: the score of record is VLMEvalKit's verdict (mode "official", or
# "official-rule" where VLMEvalKit would ask GPT and no judge is set). Two fixture items cannot be correct
# on record for any ordinary reply, because of official bugs that ctxbench reproduces
# (tests/benchmarks/conformance/math_cases.py): those must stay wrong on record and right semantically.
MATH_RECORD = ("MathVista_MINI", "MathVerse_MINI", "MathVision", "PhyX", "OlympiadBench")
OFFICIAL_BUG = {("MathVista_MINI", "4"): "mathvista.post_check never scores a list answer correct",
                ("OlympiadBench", "4"): "final_answer[2:-2] keeps str(list)'s doubled backslashes"}
BARE_LABEL_WRONG = {"PhyX": "PhyX's STR rule needs an answer word, 'X:' or '**X': a bare label is wrong"}


@pytest.mark.parametrize("name", MATH_RECORD)
def test_math_golden_output_on_record(name, tmp_path):
    case = case_for(name)
    bench = get_benchmark(name)
    assert bench.official_scorer
    for it in bench.load(LoadContext(data_path=case.data(tmp_path)), limit=LIMIT):
        good = bench.verdicts(it, case.golden(it))
        assert good.record is good.official and good.mode in ("official", "official-rule"), name
        assert good.semantic.correct, (it.item_id, good)
        if (name, it.item_id) in OFFICIAL_BUG:
            assert not good.record.correct, OFFICIAL_BUG[(name, it.item_id)]
        else:
            assert good.record.correct and good.record.parse_ok and good.record.score == 1.0, (it.item_id, good)
        assert not bench.verdicts(it, GARBAGE).record.correct
        if it.choices and it.answer in it.choices:
            assert bench.verdicts(it, it.answer).record.correct is (name not in BARE_LABEL_WRONG)


# Long-horizon benchmarks whose score of record is checked too (SWE-bench scores under Docker; LongBench
# v2's record reads a bare choice label as pred.py reads it, as None: tests/benchmarks/conformance).
LONG_HORIZON_RECORD = ("longbench-v2", "livecodebench-v6", "niah")


@pytest.mark.parametrize("name", LONG_HORIZON_RECORD)
def test_long_horizon_golden_output_is_correct_on_record(name, tmp_path):
    case = case_for(name)
    bench = get_benchmark(name)
    assert bench.official_scorer
    for it in bench.load(LoadContext(data_path=case.data(tmp_path)), limit=LIMIT):
        good = bench.verdicts(it, case.golden(it))
        assert good.mode == "official" and good.record is good.official, name
        assert good.record.correct and good.record.parse_ok and good.record.score == 1.0, (it.item_id, good)
        assert not bench.verdicts(it, GARBAGE).record.correct


def test_an_official_benchmark_without_a_fixture_fails(monkeypatch):
    class Unlisted(Benchmark):
        name, version, family, source = "unlisted", "1", "vqa", "official-file"

        def data_status(self):
            return DataStatus(False, "not configured")

        def load(self, ctx, limit=None):
            return []

        def score(self, item, completion):
            raise NotImplementedError

    monkeypatch.setitem(BENCHMARKS._items, "unlisted", Unlisted)
    with pytest.raises(pytest.fail.Exception, match="unlisted reads an official file but has no fixture"):
        case_for("unlisted")


def test_every_listed_module_registers_a_benchmark():
    benchmark_names()
    modules = {BENCHMARKS.get(n).__module__ for n in BENCHMARKS.names()}
    for mod in benchmarks._MODULES:
        full = mod if mod.startswith("ctxbench.") else f"ctxbench.benchmarks.{mod}"
        assert full in modules, f"{mod} (in ctxbench/benchmarks/__init__.py _MODULES) registers no benchmark"


def test_a_misspelled_module_is_an_error_every_time(monkeypatch):
    benchmark_names()  # the real list is loaded (and restored after the test)
    monkeypatch.setattr(benchmarks, "_MODULES", (*benchmarks._MODULES, "embedded.naih"))
    monkeypatch.setattr(benchmarks, "_loaded", False)
    for _ in range(2):  # a failed load is not remembered as done
        with pytest.raises(ModuleNotFoundError, match="naih"):
            benchmark_names()
