"""note-recall: the one-note form of note-lookup (the default ablation's task), its own items."""

from __future__ import annotations

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext, split_of


def test_one_note_items_whose_answer_is_the_note_and_scoring_reads_the_first_digit():
    b = get_benchmark("note-recall")
    items = b.load(LoadContext())
    assert len(items) == 2000
    for it in items[:50]:
        lines = it.prompt_text().splitlines()
        assert lines[0] == "Notes:" and len(lines) == 4 and lines[-1] == "Answer:"
        name, value = lines[1].split(" = ")
        assert lines[2] == f"What is {name}?" and value == it.answer
    it = items[0]
    assert b.score(it, f" {it.answer}\n").correct
    assert not b.score(it, "no digit").parse_ok
    wrong = "0" if it.answer != "0" else "1"
    assert not b.score(it, wrong).correct
    assert {split_of(i) for i in items} == {"train", "test"}


def test_items_differ_from_note_lookup():
    recall = get_benchmark("note-recall").load(LoadContext(), limit=20)
    lookup = get_benchmark("note-lookup").load(LoadContext(), limit=20)
    assert [i.prompt_text() for i in recall] != [i.prompt_text() for i in lookup]
