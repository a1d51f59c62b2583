"""code-exec: code extraction golden table, HumanEval items, sandboxed pass@1 scoring."""

from __future__ import annotations

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.embedded.code_exec import CodeExec
from ctxbench.benchmarks.scoring.extract_code import build_program, extract_code

PROMPT = 'from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    """Sum of xs."""\n'
FULL = "def add(xs: List[int]) -> int:\n    return sum(xs)"
BODY = "    return sum(xs)"

# (completion, expected kind or None for "no code", expected code)
GOLDEN = [
    # no code at all
    ("", None, None),
    ("I am not sure how to solve this.", None, None),
    ("Use the built-in sum function.\nIt adds numbers.", None, None),
    ("```text\nsum of the list\n```", None, None),
    (" prestige prestige prestige", None, None),  # a leading space does not make prose an indented body
    ("    I would use sum here.", None, None),
    ("def other(x):\n    return x", None, None),
    # one fenced block, with and without a language tag and prose around it
    (f"```python\n{FULL}\n```", "function", FULL),
    (f"Here is the solution:\n\n```py\n{FULL}\n```\n\nIt sums the list.", "function", FULL),
    (f"```\n{FULL}\n```", "function", FULL),
    # several blocks: the last one that defines the entry point wins over a later usage example
    ((f"```python\ndef add(xs):\n    return 0\n```\nBetter:\n```python\n{FULL}\n```\n"
     "Usage:\n```python\nprint(add([1, 2]))\n```"), "function", FULL),
    # several blocks, none defines the function: the last fenced snippet is a body
    ("```python\nx = 1\n```\n```python\nreturn sum(xs)\n```", "body", BODY),
    # unclosed fence (cut off by max_new_tokens or a stop string): everything after it
    (f"```python\n{FULL}\n", "function", FULL),
    (f"Sure.\n```python\n{FULL}", "function", FULL),
    # the reply starts inside the block: a lone closing fence after the body
    (f"{BODY}\n```\nThis returns the sum.", "body", BODY),
    # indented body-only continuation of the prompt, with trailing prose dropped
    (BODY, "body", BODY),
    (f"{BODY}\n\nThis works because sum adds all the elements.", "body", BODY),
    ("    total = 0\n    for x in xs:\n        total += x\n    return total\n", "body",
     "    total = 0\n    for x in xs:\n        total += x\n    return total"),
    # unfenced full function after prose, trailing explanation dropped
    (f"The answer:\n{FULL}\n\nThe function returns the sum.", "function", FULL),
    (f"from typing import List\n{FULL}", "function", f"from typing import List\n{FULL}"),
    # an indented fenced function (inside a list item) is dedented
    ("1. Code:\n   ```python\n   def add(xs):\n       return sum(xs)\n   ```", "function",
     "def add(xs):\n    return sum(xs)"),
]


@pytest.mark.parametrize("completion,kind,code", GOLDEN)
def test_extraction_golden(completion, kind, code):
    got = extract_code(completion, PROMPT, "add")
    if kind is None:
        assert got is None
    else:
        assert got is not None and got.kind == kind and got.code.rstrip() == code


def test_build_program_runs_both_styles():
    for completion in (f"```python\n{FULL}\n```", BODY):
        program = build_program(PROMPT, extract_code(completion, PROMPT, "add"))
        ns: dict = {}
        exec(compile(program, "<p>", "exec"), ns)  # noqa: S102 - trusted, fixed code: no sandbox needed here
        assert ns["add"]([1, 2, 3]) == 6


@pytest.fixture(scope="module")
def bench():
    return get_benchmark("code-exec")


def test_items(bench):
    assert bench.data_status().available
    items = bench.load(LoadContext())
    assert len(items) == 164 and items[0].item_id == "HumanEval/0"
    assert len({it.item_id for it in items}) == 164
    it = items[0]
    assert "has_close_elements" in it.prompt_text() and "```python" in it.prompt_text()
    assert it.meta["entry_point"] == "has_close_elements" and "def check(candidate)" in it.meta["test"]
    assert [i.item_id for i in bench.load(LoadContext(), limit=4)] == [i.item_id for i in bench.load(LoadContext(), 4)]
    assert bench.validate(LoadContext()) == []


def test_scoring_runs_the_official_tests(bench):
    items = {it.item_id: it for it in bench.load(LoadContext())}
    for tid in ("HumanEval/0", "HumanEval/38", "HumanEval/53", "HumanEval/162"):
        it = items[tid]
        body = it.answer[len(it.meta["prompt"]):]
        fenced = bench.score(it, f"Solution:\n```python\n{it.answer}```\n")
        assert fenced == fenced.__class__(fenced.extracted, True, 1.0, True), tid
        assert bench.score(it, body).correct, tid
    it = items["HumanEval/0"]
    wrong = bench.score(it, "    return False\n")
    assert wrong.parse_ok and not wrong.correct and wrong.score == 0.0
    assert bench.score(it, "No idea.") == bench.score(it, "").__class__(None, False, 0.0, False)
    hang = CodeExec(timeout_s=1.0).score(it, "    while True:\n        pass\n")
    assert hang.parse_ok and not hang.correct
    evil = bench.score(it, "    import os\n    os.system('touch /tmp/pwned')\n    return True\n")
    assert not evil.correct
