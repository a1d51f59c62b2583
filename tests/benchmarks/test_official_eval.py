"""The official-format benchmarks through the real harness (run_eval) on the fixture files: LongBench v2
with its result.py breakdown in the eval summary, and LiveCodeBench v6 with every fixture test
(public and decoded private) executed in the sandbox. A rule-based fake model answers, so every
score is predictable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctxbench.eval.config import EvalConfig
from ctxbench.eval.harness import run_eval
from ctxbench.models.base import Completion, GenConfig, Prompt

FIX = Path(__file__).parents[1] / "fixtures" / "official"


@dataclass
class RuleBackend:
    """Answers each prompt with `rule(prompt text)`."""

    rule: object
    identity: str = "rule-v1"
    name: str = "rule"
    max_context_tokens: int = 100_000

    def count_tokens(self, s: str) -> int:
        return max(1, len(s) // 4)

    def render(self, prompt: Prompt) -> str:
        return "".join(p["value"] for p in prompt.parts if p["type"] == "text") + prompt.prefill

    def generate(self, prompts, cfg: GenConfig):
        return [[Completion(self.rule(self.render(p)), 10, 5, "stop")] for p in prompts]

    def score_continuations(self, prompt, continuations):
        raise NotImplementedError


def _samples(root, run_id):
    from ctxbench.store.shards import read_table

    df = read_table(root, "samples", {"run_id": run_id})
    return dict(zip(df["item_id"], df["correct"]))


def test_longbench_v2_eval_prints_the_official_breakdown(root):
    be = RuleBackend(lambda p: "<think>(A)?</think>\nThe correct answer is (C).")
    cfg = EvalConfig(model="rule", benchmarks=("longbench-v2",), data={"longbench-v2": str(FIX / "longbench_v2")})
    rep = run_eval(cfg, root, backend=be, progress=False, ingest=False)
    res = rep.results[0]
    assert (res.n, res.n_correct, res.n_parse_fail) == (6, 2, 0)  # answers: C B A D C B
    got = {cat: (n, round(acc, 2)) for cat, n, acc in res.breakdown}
    assert got == {"Overall": (6, 33.33), "Easy": (3, 33.33), "Hard": (3, 33.33), "Short": (2, 50.0),
                   "Medium": (2, 0.0), "Long": (2, 50.0)}
    table = rep.table()
    assert "\n  Long                0.500                     2" in table and "  Medium" in table
    assert _samples(root, rep.run_id)["66f36490821e116aacb2cc26"]  # the long one answered C


SUM = "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
AVG_PUBLIC_ONLY = "```python\nprint('1.50')\n```"  # right on the public test, wrong on the private ones
TWO_SUM = ("```python\nclass Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
           "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
           "                return [seen[target - x], i]\n            seen[x] = i\n```")


def _lcb_rule(prompt: str) -> str:
    if "Print their sum" in prompt:
        return "Read and add.\n" + SUM
    if "average" in prompt:
        return AVG_PUBLIC_ONLY
    return TWO_SUM


def test_livecodebench_eval_runs_the_fixture_tests_in_the_sandbox(root, monkeypatch):
    from ctxbench.envs import sandbox

    runs = []
    real = sandbox.run_python

    def counting(*a, **k):
        runs.append(k.get("stdin", ""))
        return real(*a, **k)

    monkeypatch.setattr(sandbox, "run_python", counting)
    cfg = EvalConfig(model="rule", benchmarks=("livecodebench-v6",),
                     data={"livecodebench-v6": str(FIX / "livecodebench")})
    rep = run_eval(cfg, root, backend=RuleBackend(_lcb_rule), progress=False, ingest=False)
    res = rep.results[0]
    assert (res.n, res.n_correct, res.n_parse_fail, res.n_errors) == (3, 2, 0, 0)
    assert _samples(root, rep.run_id) == {"abc390_a": True, "abc391_b": False, "3720": True}
    # semantic: abc390_a: 1 public + 3 private stdin tests, one sandbox run each; abc391_b stops at its
    # first private test; 3720: all functional tests in one sandboxed run. official (lcb_runner): one
    # run per item, all its tests inside
    assert len(runs) == 4 + 2 + 1 + 3
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import LoadContext

    bench = get_benchmark("livecodebench-v6")
    item = {it.item_id: it for it in bench.load(LoadContext(data_path=str(FIX / "livecodebench")))}["abc390_a"]
    tests = bench.tests(item)
    assert len(tests) == 4 and all(t["input"] in runs for t in tests)  # decoded private inputs were run
