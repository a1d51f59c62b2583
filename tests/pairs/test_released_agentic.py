"""The paper's agentic CT JSONL (SkyRL ct_dataset.py schema) read as verbatim pairs: the prompt is the
A/B prompt as authored (whatever the option-order flag says), the letter is correct_answer, the prefill
travels with the pair; malformed rows are one-line errors naming the file and line."""

from __future__ import annotations

import json

import pytest
from released_fixtures import ct_prompt, write_ct_jsonl

from ctxbench.core.errors import DataError
from ctxbench.pairs.base import Pair, choice_parts, choice_prompt, load_pairs, pair_fingerprint, save_pairs
from ctxbench.pairs.released.agentic import read_agentic


def test_rows_load_as_verbatim_pairs_and_round_trip(tmp_path):
    path = write_ct_jsonl(tmp_path / "eval_prompts.jsonl", 6)
    pairs = read_agentic(path, prefill="The correct option is")
    assert [p.letter for p in pairs] == list("ABABAB") and len({p.pair_id for p in pairs}) == 6
    p = pairs[1]
    assert p.verbatim and not p.has_parts and p.prompt == ct_prompt(1) and p.split == "train"
    assert p.source == "contextrl-agentic:eval_prompts.jsonl:2" and p.prefill == "The correct option is"
    # used verbatim: both option orders give the authored prompt and its letter
    assert choice_prompt(p, True) == choice_prompt(p, False) == (ct_prompt(1), "B")
    assert choice_parts(p, True) == (({"type": "text", "value": ct_prompt(1)},), "B")
    back = load_pairs(save_pairs(tmp_path / "pairs.jsonl", pairs))
    assert back == pairs and pair_fingerprint(back) == pair_fingerprint(pairs)
    # a different letter is a different pair (the hash covers the verbatim fields)
    flipped = [Pair(**{**vars(pairs[0]), "letter": "B"})]
    assert pair_fingerprint(flipped) != pair_fingerprint(pairs[:1])


def test_rendered_pairs_keep_their_file_format(tmp_path):
    p = Pair("p1", "toy", "train", "toy", "q?", "5", "x = 5.", "x = 7.")
    row = json.loads(save_pairs(tmp_path / "p.jsonl", [p]).read_text())
    assert not {"prompt", "letter", "prefill"} & set(row)  # files and hashes of built pairs are as before
    assert choice_prompt(p, True)[0] != choice_prompt(p, False)[0]


def test_heldout_fraction_splits_by_prompt(tmp_path):
    pairs = read_agentic(write_ct_jsonl(tmp_path / "ct.jsonl", 40), heldout_frac=0.5)
    assert 0 < sum(p.split == "test" for p in pairs) < 40
    assert [p.split for p in pairs] == [p.split for p in read_agentic(tmp_path / "ct.jsonl", heldout_frac=0.5)]


@pytest.mark.parametrize(("row", "match"), [
    ({"prompt": "which?", "correct_answer": "C"}, r"ct\.jsonl:2: correct_answer must be A or B, got 'C'"),
    ({"prompt": "which?"}, r"ct\.jsonl:2: correct_answer must be A or B, got None"),
    ({"question": "which?", "correct_answer": "A"}, r"ct\.jsonl:2: 'prompt' must be a non-empty string"),
    ({"prompt": [{"role": "user", "content": "x"}], "correct_answer": "A"}, r"ct\.jsonl:2: 'prompt' must be"),
])
def test_malformed_rows_name_file_and_line(tmp_path, row, match):
    path = tmp_path / "ct.jsonl"
    path.write_text(json.dumps({"prompt": "ok", "correct_answer": " A "}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=match):
        read_agentic(path)


def test_stored_verbatim_fields_are_checked(tmp_path):
    good = json.loads(save_pairs(tmp_path / "p.jsonl", read_agentic(write_ct_jsonl(tmp_path / "ct.jsonl", 1)))
                      .read_text())
    bad = tmp_path / "bad.jsonl"
    for change, match in [({"letter": "C"}, r"bad\.jsonl:1: letter must be A or B"),
                          ({"prefill": 3}, r"bad\.jsonl:1: prefill must be a string")]:
        bad.write_text(json.dumps({**good, **change}) + "\n")
        with pytest.raises(DataError, match=match):
            load_pairs(bad)
    bad.write_text(json.dumps({k: v for k, v in good.items() if k != "letter"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:1: a verbatim prompt needs its letter"):
        load_pairs(bad)
