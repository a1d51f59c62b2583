"""LongBench v2 adapter: official schema, prompt, token middle-truncation, extraction, breakdown."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.official.longbench_v2 import SOURCE, breakdown, middle_truncate, render
from ctxbench.core.errors import DataError

DATA = Path(__file__).parents[1] / "fixtures" / "official" / "longbench_v2"
words = lambda s: len(s.split())


@pytest.fixture
def bench():
    return get_benchmark("longbench-v2")


def test_loads_official_schema_without_truncation(bench):
    items = bench.load(LoadContext(max_context_tokens=100_000, count_tokens=words, data_path=str(DATA)))
    assert [it.item_id for it in items][:2] == ["66f36490821e116aacb2cc22", "66f36490821e116aacb2cc23"]
    assert len(items) == 6
    first = items[0]
    assert first.answer == "C" and first.choices == ("A", "B", "C", "D")
    assert first.meta["difficulty"] == "easy" and first.meta["length"] == "short" and not first.meta["truncated"]
    p = first.prompt_text()
    assert p.startswith("Please read the following text and answer the questions below.\n\n<text>\nThe vault door is blue.")
    assert "What is the correct answer to this question: Which colour is the vault door?\nChoices:\n(A) Red\n" in p
    assert "(D) Black\n\n" in p and p.endswith("Let’s think step by step:")
    assert 'Format your final answer' not in p and '"The correct answer is (insert answer here)"' in p


def test_official_templates_render_like_pred_py():
    row = json.loads((DATA / "data.json").read_text())[0]
    zero = render(row, "0shot")
    assert zero.endswith('Format your response as follows: "The correct answer is (insert answer here)".')
    assert "answer the question below" in zero
    assert render(row, "cot").endswith("(D) Black\n\nLet’s think step by step:")
    ans = render(row, "cot_ans", cot="It says blue.")
    assert "The text is too long and omitted here." in ans and "Let’s think step by step: It says blue." in ans


def test_env_var_and_missing_data(bench, monkeypatch, tmp_path):
    monkeypatch.delenv(SOURCE.env_var, raising=False)
    st = bench.data_status()
    assert not st.available and "CTXBENCH_DATA_LONGBENCH_V2" in st.detail and "THUDM/LongBench-v2" in st.detail
    with pytest.raises(DataError, match=r"data\.json.*--data PATH.*THUDM/LongBench-v2"):
        bench.load(LoadContext())
    with pytest.raises(DataError, match="nope"):
        bench.load(LoadContext(data_path=str(tmp_path / "nope")))
    monkeypatch.setenv(SOURCE.env_var, str(DATA / "data.json"))
    assert bench.data_status().available
    assert len(bench.load(LoadContext(max_context_tokens=100_000), limit=3)) == 3


def test_bad_rows_name_file_and_id(bench, tmp_path):
    rows = json.loads((DATA / "data.json").read_text())
    rows[2]["answer"] = "E"
    (tmp_path / "data.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"data\.json: item 2 \(_id 66f36490821e116aacb2cc24\): answer 'E'"):
        bench.load(LoadContext(data_path=str(tmp_path)))
    del rows[2]["answer"]
    (tmp_path / "data.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match="missing column"):
        bench.load(LoadContext(data_path=str(tmp_path)))


def test_middle_truncation_by_tokens_keeps_head_and_tail(bench):
    window = 1024 + 64 + 700  # leaves a 700-token prompt budget after 1024 generated tokens
    items = bench.load(LoadContext(max_context_tokens=window, count_tokens=words, data_path=str(DATA)))
    long_ = {it.item_id: it for it in items if it.meta["length"] == "long"}
    assert all(it.meta["truncated"] for it in long_.values())
    assert not any(it.meta["truncated"] for it in items if it.meta["length"] == "short")
    for it in long_.values():
        p = it.prompt_text()
        assert words(p) <= 700
        assert p.startswith("Please read the following text") and p.endswith("Let’s think step by step:")
        assert "sentence 250 " not in p  # the middle of the document is gone
    table = long_["66f36490821e116aacb2cc27"].prompt_text()
    assert "START-OF-TABLE" in table and "The total in the last row is 20." in table
    assert "END-OF-DIALOGUE-MARKER" in long_["66f36490821e116aacb2cc26"].prompt_text()


@pytest.mark.parametrize("budget", [2, 9, 100, 1001])
def test_middle_truncate_is_exact_for_a_char_tokenizer(budget):
    s = "".join(chr(97 + i % 26) for i in range(3000))
    out, cut = middle_truncate(s, budget, len)
    assert cut and out == s[: budget // 2] + s[len(s) - budget // 2:]  # pred.py: first half + last half


def test_middle_truncate_word_budget_is_tight():
    s = " ".join(f"w{i}" for i in range(5000))
    out, cut = middle_truncate(s, 300, words)
    assert cut and 296 <= words(out) <= 300
    assert out.startswith("w0 w1 ") and out.endswith("w4998 w4999")
    assert middle_truncate("short text", 300, words) == ("short text", False)


@pytest.mark.parametrize("completion, extracted", [
    ("Reasoning ... The correct answer is (C)", "C"),
    ("The correct answer is C.", "C"),
    ("**The correct answer is (C)**", "C"),                      # markdown bold removed, as pred.py does
    ("```\nThe correct answer is (C)\n```", "C"),                # answer inside a code block
    ("The correct answer is (B). On reflection, the correct answer is (C).", "B"),  # several: first, as pred.py
    ("<think>The correct answer is (A)?</think>\nThe correct answer is (C)", "C"),  # reasoning dropped
    ("I think it is C.", None),                                  # no answer marker
    ("the correct answer is (c)", None),                         # official regex is case-sensitive
    ("The correct answer is (E)", None),
    ("", None),
])
def test_official_answer_extraction(bench, completion, extracted):
    item = bench.load(LoadContext(max_context_tokens=100_000, data_path=str(DATA)), limit=1)[0]
    assert item.answer == "C"
    s = bench.score(item, completion)
    assert s.extracted == extracted and s.parse_ok == (extracted is not None)
    assert s.correct == (extracted == "C") and s.score == float(extracted == "C")


def test_breakdown_matches_result_py_columns():
    diff = ["easy", "hard", "easy", "hard", "hard", "easy"]
    length = ["short", "short", "medium", "medium", "long", "long"]
    correct = [True, False, True, False, True, True]
    df = pd.DataFrame({"correct": correct, "difficulty": diff, "length": length})
    got = breakdown(df)
    expect = {"Overall": (6, 400 / 6), "Easy": (3, 100.0), "Hard": (3, 100 / 3), "Short": (2, 50.0),
              "Medium": (2, 50.0), "Long": (2, 100.0)}
    assert list(got.index) == list(expect)
    for cat, (n, acc) in expect.items():
        assert got.loc[cat, "n"] == n and got.loc[cat, "accuracy"] == pytest.approx(acc)
    meta = pd.DataFrame({"score": [float(c) for c in correct],
                         "meta_json": [json.dumps({"difficulty": d, "length": ln}) for d, ln in zip(diff, length)]})
    pd.testing.assert_frame_equal(breakdown(meta), got)
    with pytest.raises(DataError, match="difficulty"):
        breakdown(pd.DataFrame({"correct": correct}))


@pytest.mark.parametrize("completion, official, semantic", [
    ("The correct answer is (C)", "C", "C"),
    ("C", None, "C"),                          # a bare label: None for pred.py, the option for ctxbench
    ("<think>The correct answer is (C)</think>", "C", None),      # pred.py searches the reasoning too
    ("<think>The correct answer is (A)?</think>\nThe correct answer is (C)", "A", "C"),
    ("The correct answer is Actually (C)", "A", "A"),
])
def test_official_verdict_is_pred_py_on_the_raw_output(bench, completion, official, semantic):
    item = bench.load(LoadContext(max_context_tokens=100_000, data_path=str(DATA)), limit=1)[0]
    v = bench.verdicts(item, completion)
    assert bench.version == "2" and "pred.py extract_answer" in bench.official_scorer
    assert v.mode == "official" and v.record is v.official
    assert v.official.extracted == official and v.official.correct == (official == "C")
    assert v.semantic.extracted == semantic and v.semantic.correct == (semantic == "C")
