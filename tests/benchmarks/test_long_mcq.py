"""long-mcq: planted chains are where the metadata says, an independent solver recovers every
answer from the context alone, the prompt is LongBench v2's, and scoring uses its extraction."""

import collections
import re
from itertools import pairwise

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.embedded.long_mcq import LETTERS, LongMcq
from ctxbench.core.errors import DataError


@pytest.fixture(scope="module")
def items():
    return LongMcq().load(LoadContext(max_context_tokens=2048))


def solve(prompt: str) -> dict[str, int]:
    """Resolve every VAR assignment in the document, in reading order (an independent reference)."""
    doc = prompt.split("<text>\n", 1)[1].split("\n</text>", 1)[0]
    env: dict[str, int] = {}
    for name, rhs in re.findall(r"VAR ([A-Z]{5}) = (VAR [A-Z]{5}|\d+)\.", doc):
        env[name] = env[rhs[4:]] if rhs.startswith("VAR ") else int(rhs)
    return env


def test_registered_and_available():
    b = get_benchmark("long-mcq")
    assert isinstance(b, LongMcq) and b.version == "2" and b.data_status().available


def test_solver_recovers_every_answer(items):
    assert len(items) == 36
    for it in items:
        env = solve(it.prompt_text())
        opts = it.meta["options"]
        if it.meta["kind"] == "value":
            var = re.search(r"VAR ([A-Z]{5}) hold", it.meta["question"]).group(1)
            correct = [k for k, v in opts.items() if v == str(env[var])]
        else:
            value = int(re.search(r"value (\d+)", it.meta["question"]).group(1))
            holders = sorted(n for n, v in env.items() if v == value)
            correct = [k for k, v in opts.items() if v == ", ".join(f"VAR {n}" for n in holders)]
        assert correct == [it.answer], it.item_id  # exactly one option is right, and it is the key
        assert opts[it.answer] == it.meta["answer_text"]


def test_evidence_spans_are_the_chain_in_order(items):
    for it in items:
        p = it.prompt_text()
        ev = [p[a:b] for a, b in it.meta["evidence_spans"]]
        assert len(ev) == it.meta["hops"] + 1
        chain = [c[4:] for c in it.meta["chain"]]
        assert ev[0] == f"VAR {chain[0]} = {it.meta['value']}."
        assert ev[1:] == [f"VAR {b} = VAR {a}." for a, b in pairwise(chain)]
        starts = [a for a, _ in it.meta["evidence_spans"]]
        assert starts == sorted(starts)
        assert p.count(str(it.meta["value"])) == 2  # planted once, plus the question or its option
        for a, b in it.meta["distractor_spans"]:
            assert p[a:b].startswith("VAR ") and p[a:b].endswith(".")


def test_prompt_is_longbench_v2_zero_shot_and_fits(items):
    count = LoadContext().count_tokens
    for it in items:
        p = it.prompt_text()
        assert p.startswith("Please read the following text and answer the question below.\n\n<text>\n")
        assert "\n</text>\n\nWhat is the correct answer to this question: " in p
        assert p.endswith('Format your response as follows: "The correct answer is (insert answer here)".')
        for L in LETTERS:
            assert f"\n({L}) {it.meta['options'][L]}" in p
        assert it.choices == ("A", "B", "C", "D")
        assert count(p) + LongMcq.gen.max_new_tokens <= 2048
        assert it.meta["context_tokens"] <= it.meta["length_tokens"]


def test_balance_and_mix(items):
    assert collections.Counter(i.answer for i in items) == {L: 9 for L in LETTERS}
    assert collections.Counter(i.meta["kind"] for i in items) == {"value": 18, "vars": 18}
    assert {i.meta["hops"] for i in items} == {2, 3, 4}


def test_ids_unique_and_stable(items):
    again = LongMcq().load(LoadContext(max_context_tokens=2048))
    assert [i.item_id for i in items] == [i.item_id for i in again]
    assert [i.prompt_hash for i in items] == [i.prompt_hash for i in again]
    assert len({i.item_id for i in items}) == len(items)
    assert items[0].item_id == "L614-q00"
    other = LongMcq(seed=1).load(LoadContext(max_context_tokens=2048), limit=5)
    assert {i.prompt_hash for i in other}.isdisjoint({i.prompt_hash for i in items})


@pytest.mark.parametrize("window", [1024, 8192, 131072])
def test_lengths_scale_with_window(window):
    b = LongMcq()
    Ls = b.lengths(LoadContext(max_context_tokens=window))
    assert len(Ls) == 3 and Ls[-1] <= window - b.room(LoadContext(max_context_tokens=window))
    if window >= 8192:
        assert Ls == [int(f * window) for f in (0.3, 0.6, 0.9)]
    with pytest.raises(DataError, match="window"):
        b.lengths(LoadContext(max_context_tokens=200))


def test_limit_is_spread(items):
    sub = LongMcq().load(LoadContext(max_context_tokens=2048), limit=6)
    assert len({i.meta["length_tokens"] for i in sub}) == 3
    by_id = {i.item_id: i for i in items}
    assert all(by_id[i.item_id].prompt_hash == i.prompt_hash for i in sub)


SCORE_TABLE = [
    # (completion, official extracted, lenient extracted)
    ("The correct answer is (B)", "B", "B"),
    ("The correct answer is B", "B", "B"),
    ("**The correct answer is (B)**", "B", "B"),
    ("Following the chain... The correct answer is (C)", "C", "C"),
    ("The correct answer is (A). Actually the correct answer is (B)", "A", "A"),
    ("the correct answer is (b)", None, "B"),
    ("Answer: B", None, "B"),
    ("(B)", None, "B"),
    ("I am not sure.", None, None),
    ("", None, None),
]


@pytest.mark.parametrize("completion,official,lenient", SCORE_TABLE)
def test_score_golden(items, completion, official, lenient):
    it = next(i for i in items if i.answer == "B")
    s = LongMcq().score(it, completion)
    assert (s.extracted, s.parse_ok, s.correct) == (official, official is not None, official == "B")
    assert s.score == float(official == "B")
    s2 = LongMcq(lenient=True).score(it, completion)
    assert (s2.extracted, s2.correct) == (lenient, lenient == "B")


def test_choice_mode_label_and_reasoning(items):
    it = next(i for i in items if i.answer == "C")
    assert LongMcq().score(it, "C") == LongMcq().score(it, "The correct answer is (C)")
    assert LongMcq().score(it, "C").correct and not LongMcq().score(it, "A").correct
    assert LongMcq().score(it, "A").parse_ok
    s = LongMcq().score(it, "<think>The correct answer is (A)?</think>The correct answer is (C)")
    assert s.extracted == "C" and s.correct


def test_prefill_continuation_is_scored():
    it = LongMcq(prefill=True).load(LoadContext(max_context_tokens=2048), limit=1)[0]
    assert it.prefill == "The correct answer is ("
    b = LongMcq(prefill=True)
    assert b.score(it, f"{it.answer})").correct
    assert b.score(it, f"The correct answer is ({it.answer})").correct
