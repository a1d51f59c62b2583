"""tracing + trace-qa: recorded events of a known function, mutants, questions decided by one log line,
the scorer's golden table, deterministic cached loading."""

from __future__ import annotations

import re

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.embedded.trace_qa import TraceQA, extract_answer, normalize, problem_traces
from ctxbench.envs.tracing import (
    TraceEvent,
    literal_calls,
    mutate_program,
    record_trace,
    render_trace,
    strip_docstrings,
)
from ctxbench.sources import assets

SRC = """def f(xs):
    total = 0
    for x in xs:
        if x > 1:
            total += helper(x)
    return total

def helper(v):
    if v == 3:
        raise ValueError(v)
    return v * 10
"""


def test_trace_of_a_known_function():
    log = render_trace(record_trace(SRC, "f", "[1, 2]"))
    assert log.split("\n") == [
        "[step 1] call f(xs=[1, 2])",
        "[step 2] line 2 in f: total=0",
        "[step 3] line 3 in f: x=1",
        "[step 4] line 4 in f",
        "[step 5] line 3 in f: x=2",
        "[step 6] line 4 in f",
        "[step 7]   call helper(v=2)",
        "[step 8]   line 9 in helper",
        "[step 9]   line 11 in helper",
        "[step 10]   return from helper: 20",
        "[step 11] line 5 in f: total=20",
        "[step 12] line 3 in f",
        "[step 13] line 6 in f",
        "[step 14] return from f: 20",
    ]


def test_trace_of_an_exception_and_of_limits():
    ev = record_trace(SRC, "f", "xs=[3]")
    exc = [e for e in ev if e.kind == "exception"]
    assert [(e.func, e.depth, e.line, e.exc_type) for e in exc] == [("helper", 1, 10, "ValueError"),
                                                                     ("f", 0, 5, "ValueError")]
    assert ev[-1].result == "ValueError: 3" and all(e.kind != "return" for e in ev)
    loop = record_trace("def g():\n    while True:\n        pass\n", "g", "", max_events=10)
    assert len(loop) == 11 and loop[-1].kind == "truncated"
    assert render_trace(loop).endswith("[trace truncated after 10 steps]")
    assert record_trace("def g(:\n", "g", "")[0].kind == "error"
    assert TraceEvent.from_json(ev[3].to_json()) == ev[3]


def test_values_are_abbreviated_and_addresses_removed():
    ev = record_trace("def g():\n    o = object()\n    big = list(range(100))\n    return 1\n", "g", "")
    line2, line3 = ev[1], ev[2]
    assert line2.values == (("o", "<object object>"),)
    assert line3.values[0][1].startswith("[0, 1, 2") and "..." in line3.values[0][1]


def test_mutants():
    muts = mutate_program(SRC, seed=0)
    assert muts == mutate_program(SRC, seed=0) and muts != mutate_program(SRC, seed=1)
    descs = {d for d, _ in muts}
    assert {"line 4: `>` -> `<=`", "line 4: `>` -> `>=`", "line 9: `==` -> `!=`", "line 5: `+` -> `-`",
            "line 11: constant 10 -> 11"} <= descs
    base = SRC.split("\n")
    for desc, src in muts:  # one line differs, the one named, so traces stay line-aligned
        diff = [i + 1 for i, (a, b) in enumerate(zip(base, src.split("\n"))) if a != b]
        assert diff == [int(re.match(r"line (\d+)", desc).group(1))], desc
    ev = record_trace(dict(muts)["line 9: `==` -> `!=`"], "f", "[2]")
    assert ev[-1].kind == "exception" and ev[-1].exc_type == "ValueError"


def test_literal_calls_and_docstrings():
    test = ("def check(candidate):\n    assert candidate([1, 2], 0.5) == True\n    x = [3]\n"
            "    assert candidate(x, 1) == 1\n    assert abs(candidate([-1.5], t=2) - 1) < 1e-6\n"
            "    assert candidate([1, 2], 0.5)\n")
    assert literal_calls(test) == ["[1, 2], 0.5", "[-1.5], t=2"]
    assert strip_docstrings('def f():\n    """Doc."""\n    return 1\n') == "def f():\n    return 1\n"


# ------------------------------------------------------------------------------------------ benchmark

SUBSET = ("HumanEval/0", "HumanEval/9", "HumanEval/13", "HumanEval/24")


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CTXBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    probs = [p for p in assets.humaneval_problems() if p["task_id"] in SUBSET]
    yield probs
    mp.undo()


@pytest.fixture(scope="module")
def items(subset):
    return TraceQA(subset).load(LoadContext())


def test_registered():
    b = get_benchmark("trace-qa")
    assert b.key == "trace-qa@1" and b.gen.max_new_tokens <= 64


def test_items_cover_every_kind_with_unique_stable_ids(items):
    kinds = {it.meta["kind"] for it in items}
    assert kinds == {"value", "branch", "return", "exception"}
    ids = [it.item_id for it in items]
    assert len(ids) == len(set(ids))
    for it in items:
        assert re.fullmatch(r"HumanEval/\d+#call\d+(#mut\d+)?#(value|branch|return|exception)-step\d+", it.item_id)
        assert it.item_id.endswith(f"-step{it.meta['decisive_step']}")
        assert it.prefill == "Answer:" and it.meta["group"] == it.meta["task_id"]


def test_answer_sits_in_the_decisive_line(items):
    for it in items:
        m, prompt = it.meta, it.prompt_text()
        a, b = m["decisive_char_span"]
        line = prompt[a:b]
        assert line == m["decisive_text"] and line.startswith(f"[step {m['decisive_step']}] ")
        log = prompt.split("Trace log:\n", 1)[1].split("\n\nQuestion:", 1)[0].split("\n")
        assert log[m["decisive_log_line"]] == line
        if m["kind"] == "value":
            var = re.search(r"value of `(\w+)`", prompt).group(1)
            assert f"{var}={it.answer}" in line
        elif m["kind"] == "branch":
            assert re.search(rf"\] *line {it.answer} in ", line)
        elif m["kind"] == "return":
            fn = re.search(r"call `(\w+)", prompt).group(1)
            assert line.endswith(f"return from {fn}: {it.answer}")
        else:
            assert "exception in " in line and f": {it.answer}: " in line and m["mutation"]


def test_questions_are_decided_by_that_line(subset, items):
    """Replaying the recorded events gives the gold answer, so the decisive line really decides it."""
    traces = {p["task_id"]: problem_traces(p) for p in subset}
    for it in items:
        m = it.meta
        data = traces[m["task_id"]]
        ev = [TraceEvent.from_json(e) for e in (data["mutants"][0]["trace"] if m["mutation"] else data["trace"])]
        q = it.prompt_text().split("Question: ", 1)[1]
        if m["kind"] == "value":
            var, n = re.search(r"value of `(\w+)`.*after step (\d+)", q).groups()
            vals = [v for e in ev if e.depth == 0 and e.kind == "line" and e.step <= int(n)
                    for k, v in e.values if k == var]
            setter = [e.step for e in ev if e.depth == 0 and e.kind == "line" and e.step <= int(n)
                      and any(k == var for k, _ in e.values)]
            assert vals[-1] == it.answer and setter[-1] == m["decisive_step"]
        elif m["kind"] == "branch":
            step = int(re.search(r"At step (\d+)", q).group(1))
            cond = ev[step - 1]
            nxt = next(e for e in ev[step:] if e.frame == cond.frame)
            assert nxt.step == m["decisive_step"] and str(nxt.line) == it.answer
        elif m["kind"] == "return":
            assert ev[-1].kind == "return" and ev[-1].result == it.answer and ev[-1].step == m["decisive_step"]
        else:
            assert ev[-1].kind == "exception" and ev[-1].exc_type == it.answer


def test_load_is_deterministic_and_cached(subset, items, tmp_path, monkeypatch):
    again = TraceQA(subset).load(LoadContext())
    assert [(i.item_id, i.prompt_hash, i.answer) for i in again] == [(i.item_id, i.prompt_hash, i.answer) for i in items]
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path))  # recomputed from scratch: the same items
    fresh = TraceQA(subset[:2]).load(LoadContext())
    assert [i.item_id for i in fresh] == [i.item_id for i in items if i.meta["task_id"] in SUBSET[:2]]
    assert list(tmp_path.glob("trace-qa-v1/*.json")) and not list(tmp_path.glob("trace-qa-v1/*.tmp*"))
    sub = TraceQA(subset).load(LoadContext(), limit=3)
    assert [i.item_id for i in sub] == [i.item_id for i in TraceQA(subset).load(LoadContext(), limit=3)]


def test_token_budget_drops_long_prompts(subset, items):
    b = TraceQA(subset)
    small = b.load(LoadContext(max_context_tokens=400))
    assert len(small) < len(items) and b.skipped
    assert all(len(it.prompt_text() + it.prefill) // 4 <= 400 - b.gen.max_new_tokens - 8 for it in small)


SCORER_GOLDEN = [
    # (completion, gold, extracted, correct)
    (" 4.9", "4.9", "4.9", True),
    ("Answer: 4.9", "4.9", "4.9", True),
    ("The distance is computed first.\nAnswer: `4.9`.", "4.9", "`4.9`.", True),
    (" 4.90", "4.9", "4.90", False),
    (" line 7", "7", "line 7", True),
    (" Line 7.", "7", "Line 7.", True),
    (" 17", "7", "17", False),
    (" [2,4]", "[2, 4]", "[2,4]", True),
    (" [ 2, 4 ]\nbecause...", "[2, 4]", "[ 2, 4 ]", True),
    (" (2, 4)", "[2, 4]", "(2, 4)", False),
    (" 'abc'", "'abc'", "'abc'", True),
    (' "abc"', "'abc'", '"abc"', True),
    (" abc", "'abc'", "abc", True),
    (" true", "True", "true", True),
    (" ValueError: 3", "ValueError", "ValueError: 3", False),
    ("<think>maybe 3</think> Answer: IndexError", "IndexError", "IndexError", True),
    ("", "True", None, False),
    ("   \n  ", "True", None, False),
    ("Answer:\n5", "5", "5", True),
]


@pytest.mark.parametrize("completion,gold,extracted,correct", SCORER_GOLDEN)
def test_scorer_golden(completion, gold, extracted, correct):
    from ctxbench.benchmarks.base import Item, text

    item = Item(item_id="x", prompt=(text("q"),), answer=gold, prefill="Answer:")
    s = TraceQA().score(item, completion)
    assert s.extracted == extracted and s.correct is correct and s.parse_ok is (extracted is not None)
    assert s.score == (1.0 if correct else 0.0)
    assert extract_answer(completion) == extracted
    assert (normalize(extracted, gold) == normalize(gold, gold)) is correct


def test_parse_lets_one_thread_at_a_time_into_ast_parse(monkeypatch):
    """trace-qa parses in a thread pool; CPython 3.11's ast constructor is not safe under that (gh-106905:
    a rare SystemError, seen once here). tracing.parse must serialise the calls."""
    import ast
    import threading
    import time

    from ctxbench.envs import tracing

    inside, most, real = [0], [0], ast.parse
    guard = threading.Lock()

    def slow_parse(source, *args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)
        try:
            return real(source, *args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(tracing.ast, "parse", slow_parse)
    threads = [threading.Thread(target=tracing.parse, args=(SRC,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
