"""Pairs (record, A/B prompt, JSONL IO) and the trainer's data streams and budget."""

from __future__ import annotations

import json

import pytest
from toy import toy_pairs

from ctxbench.core.errors import DataError
from ctxbench.pairs import Pair, choice_prompt, load_pairs, save_pairs, score_choice
from trainers.data import Stream, pos_first_for


def test_choice_prompt_orders_contexts_and_letter():
    p = Pair("p1", "toy", "train", "toy", "what is x?", "5", "x = 5.", "x = 7.")
    text, letter = choice_prompt(p, pos_first=True)
    assert letter == "A" and text.index("x = 5.") < text.index("x = 7.")
    assert "Answer: 5" in text and text.rstrip().endswith("Output A or B directly.")
    text2, letter2 = choice_prompt(p, pos_first=False)
    assert letter2 == "B" and text2.index("x = 7.") < text2.index("x = 5.")


def test_score_choice():
    assert score_choice(" A", "A").score == 1.0
    assert score_choice("B", "A").score == 0.0
    assert score_choice("no idea", "A").parse_ok is False


def test_pairs_roundtrip_and_errors(tmp_path):
    pairs = toy_pairs(5)
    path = save_pairs(tmp_path / "p.jsonl", pairs)
    back = load_pairs(path)
    assert back == pairs and back[0].meta == pairs[0].meta
    rows = path.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(rows[0] + "\n" + rows[0] + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: duplicate pair_id"):
        load_pairs(bad)
    row = json.loads(rows[1])
    del row["ctx_neg"]
    bad.write_text(rows[0] + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field\(s\) ctx_neg"):
        load_pairs(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: invalid JSON"):
        load_pairs(bad)
    with pytest.raises(DataError, match="not found"):
        load_pairs(tmp_path / "missing.jsonl")


def test_stream_is_deterministic_drop_last_and_resumable():
    a, b = Stream(10, 3, "tasks"), Stream(10, 3, "tasks")
    draws = [a.take(4) for _ in range(5)]
    # 10 // 4 = 2 batches per epoch, the remaining 2 items are skipped
    assert [ep for batch in draws for _, ep in batch[:1]] == [0, 0, 1, 1, 2]
    first_epoch = [i for batch in draws[:2] for i, _ in batch]
    assert len(set(first_epoch)) == 8
    # restoring the cursor continues exactly
    b.take(4), b.take(4), b.take(4)
    c = Stream(10, 3, "tasks")
    c.load_state_dict(b.state_dict())
    assert c.take(4) == draws[3] and c.take(4) == draws[4]
    # other seeds / names give other orders
    assert Stream(10, 4, "tasks").take(4) != Stream(10, 3, "tasks").take(4)
    assert Stream(10, 3, "pairs").take(4) != Stream(10, 3, "tasks").take(4)
    with pytest.raises(DataError):
        Stream(11, 3, "tasks").load_state_dict(b.state_dict())


def test_stream_smaller_than_batch_wraps():
    s = Stream(3, 0, "pairs")
    got = s.take(5)
    assert [ep for _, ep in got] == [0, 0, 0, 1, 1] and sorted(i for i, _ in got[:3]) == [0, 1, 2]
    assert Stream(0, 0, "pairs").take(4) == []


def test_ab_order_is_balanced_and_varies_by_epoch():
    firsts = [pos_first_for(0, 0, f"p{i}") for i in range(400)]
    assert 150 < sum(firsts) < 250
    assert [pos_first_for(0, 0, "p1")] * 3 == [pos_first_for(0, 0, "p1") for _ in range(3)]
    assert any(pos_first_for(0, e, "p1") != pos_first_for(0, 0, "p1") for e in range(1, 10))
