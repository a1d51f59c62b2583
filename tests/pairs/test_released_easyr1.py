"""The EasyR1 mixed dataset (the released multimodal data, verl/utils/dataset.py's schema): choose-image rows
become verbatim image pairs (two images, two `<image>` markers, "Output A or B directly." appended as the
released loader does), QA rows stay the easyr1-qa task's, and a row that is neither is an error."""

from __future__ import annotations

import json

import pytest
from released_fixtures import choose_row, mixed_rows, png, qa_row, write_ct_jsonl, write_mixed_parquet

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import sha256_hex
from ctxbench.pairs.base import CHOICE_INSTRUCTION, choice_parts, load_pairs, save_pairs
from ctxbench.pairs.released import detect_format
from ctxbench.pairs.released.easyr1 import read_easyr1
from ctxbench.sources.images import image_key
from trainers.data import pair_prompt


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))


def test_choose_image_rows_are_pairs_and_qa_rows_stay_tasks(tmp_path):
    path = write_mixed_parquet(tmp_path / "mix" / "data" / "train-00000-of-00001.parquet", mixed_rows(5, 3))
    pairs, n_qa = read_easyr1(tmp_path / "mix")
    assert n_qa == 5 and [p.letter for p in pairs] == ["A", "B", "A"] and all(p.domain == "image" for p in pairs)
    p = pairs[1]  # answer B: the second image supports it
    parts, letter = choice_parts(p, pos_first=True)
    assert letter == "B" and choice_parts(p, pos_first=False) == (parts, "B")  # authored order, kept
    assert [x["type"] for x in parts] == ["text", "image", "text", "image", "text"]
    assert parts[0]["value"] == "Image A: " and parts[-1]["value"].endswith(f"?\n{CHOICE_INSTRUCTION}")
    first, second = choose_row(1, "B")["images"]
    assert image_key(parts[1]["value"]) == "sha256:" + sha256_hex(first["bytes"])
    assert image_key(p.ctx_pos[0]["value"]) == "sha256:" + sha256_hex(second["bytes"])  # ctx_pos = the named image
    assert image_key(p.ctx_neg[0]["value"]) == "sha256:" + sha256_hex(first["bytes"])
    assert p.source == "easyr1:train-00000-of-00001.parquet:row 4" and p.has_parts
    assert load_pairs(save_pairs(tmp_path / "pairs.jsonl", pairs)) == pairs  # images in the store: confined, loadable
    # DA-RL asks the same verbatim prompt, images included
    rl = pair_prompt(p, True)
    assert rl.parts == parts and rl.answer == "B" and rl.scorer("B").score == 1.0
    # the GRPO side: the QA rows only (the choose-image rows are no longer dropped: they are the pairs)
    bench = get_benchmark("easyr1-qa")
    items = bench.load(LoadContext(data_path=str(path)))
    assert len(items) == 5 and bench.last_skipped == 3


def test_rows_matching_neither_form_are_errors(tmp_path):
    bad = [qa_row(0), {**choose_row(1), "answer": "7"}]
    path = write_mixed_parquet(tmp_path / "bad.parquet", bad)
    msg = r"bad\.parquet:row 2: 2 images but answer '7': neither a QA row .* nor a choose-image row"
    with pytest.raises(DataError, match=msg):
        read_easyr1(path)
    with pytest.raises(DataError, match=msg):  # the GRPO reader refuses it too (it used to drop it)
        get_benchmark("easyr1-qa").load(LoadContext(data_path=str(path)))
    three = {**choose_row(2), "problem": "<image> <image> <image> which?"}
    three["images"] = three["images"] + [{"bytes": png((1, 2, 3)), "path": None}]
    with pytest.raises(DataError, match=r"row 2: a choose-image row needs exactly 2 images and 2 <image> markers"):
        read_easyr1(write_mixed_parquet(tmp_path / "three.parquet", [qa_row(0), three]))
    nomark = {**choose_row(3), "problem": "Which image shows it?"}
    with pytest.raises(DataError, match=r"row 1: a choose-image row needs exactly 2 images and 2 <image> markers, got 2 and 0"):
        read_easyr1(write_mixed_parquet(tmp_path / "nomark.parquet", [nomark]))


def test_image_paths_are_confined_to_the_data_folder(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "a.png").write_bytes(png((1, 1, 1)))
    (d / "b.png").write_bytes(png((2, 2, 2)))
    (tmp_path / "outside.png").write_bytes(png((3, 3, 3)))
    row = {"problem": "<image> or <image>?", "answer": "A", "images": ["a.png", "b.png"]}
    (d / "train.jsonl").write_text(json.dumps(row) + "\n")
    pairs, n_qa = read_easyr1(d / "train.jsonl")
    assert len(pairs) == 1 and n_qa == 0
    (d / "train.jsonl").write_text(json.dumps({**row, "images": ["a.png", "../outside.png"]}) + "\n")
    with pytest.raises(DataError, match=r"train\.jsonl:row 1: image path '\.\./outside\.png' is outside the data"):
        read_easyr1(d / "train.jsonl")


def test_format_detection(tmp_path):
    assert detect_format(write_ct_jsonl(tmp_path / "ct.jsonl", 2)) == "contextrl-agentic"
    assert detect_format(write_mixed_parquet(tmp_path / "m" / "x.parquet", mixed_rows(1, 1))) == "easyr1"
    assert detect_format(tmp_path / "m") == "easyr1"
    (tmp_path / "e.jsonl").write_text(json.dumps({"problem": "2+2?", "answer": "4", "images": []}) + "\n")
    assert detect_format(tmp_path / "e.jsonl") == "easyr1"
    (tmp_path / "x.jsonl").write_text(json.dumps({"text": "hi"}) + "\n")
    with pytest.raises(DataError, match=r"x\.jsonl:1: neither format: a contextrl-agentic row has prompt and "
                                        r"correct_answer, an easyr1 row has problem, answer and images \(got text\)"):
        detect_format(tmp_path / "x.jsonl")
