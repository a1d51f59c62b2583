"""easyr1-qa: the EasyR1/verl multimodal RL format (the paper's GRPO pool) on a tiny generated Parquet
file in the Hugging Face layout (images as {bytes, path} structs), plus JSONL with image paths."""

from __future__ import annotations

import json

import pytest
from easyr1_fixtures import BLUE, GREEN, RED, rows, write_parquet

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext, split_of
from ctxbench.benchmarks.official import easyr1_qa as e1
from ctxbench.core.errors import DataError
from ctxbench.sources.images import image_key, load_image

ENV = "CTXBENCH_DATA_EASYR1_QA"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def hf_dir(tmp_path):
    """A dataset folder as `huggingface-cli download` leaves it: data/train-*.parquet (+ a test shard)."""
    d = tmp_path / "ContextRL_Multimodal"
    write_parquet(d / "data" / "train-00000-of-00001.parquet", rows())
    write_parquet(d / "data" / "test-00000-of-00001.parquet", rows()[:1])
    return d


def load(path, limit=None):
    return get_benchmark("easyr1-qa").load(LoadContext(data_path=str(path)), limit)


def test_loads_regular_rows_with_images_in_the_store(hf_dir):
    bench = get_benchmark("easyr1-qa")
    items = bench.load(LoadContext(data_path=str(hf_dir)))
    assert bench.last_skipped == 1 and len(items) == 4        # the choose-image row is not a task
    assert bench.family == "train" and bench.source == "official-file" and bench.key == "easyr1-qa@1"
    a, b, c, d = items
    # placeholder at the start: image part, then the text; the format instruction closes the prompt
    assert [p["type"] for p in a.prompt] == ["image", "text"] and a.prompt[1]["value"].startswith("Find x")
    assert a.prompt_text().endswith(e1.FORMAT_INSTRUCTION) and "<image>" not in a.prompt_text()
    assert image_key(a.prompt[0]["value"]) == "sha256:" + e1.sha256_hex(RED)
    assert load_image(a.prompt[0]["value"]).getpixel((0, 0)) == (255, 0, 0)
    # no placeholder: the image first; text-only row: no image part
    assert [p["type"] for p in b.prompt] == ["image", "text"] and b.answer == "\\frac{3}{4}"
    assert [p["type"] for p in c.prompt] == ["text"] and c.meta["n_images"] == 0
    # placeholder at the end: text, image, then the instruction after it
    assert [p["type"] for p in d.prompt] == ["text", "image", "text"]
    assert d.meta["source"] == "train-00000-of-00001.parquet:row 4"
    # one image, one group: both questions about RED fall in the same split
    assert a.meta["group"] == d.meta["group"] == "img-" + e1.sha256_hex(RED)[:16]
    assert split_of(a) == split_of(d) and c.meta["group"].startswith("txt-")
    assert bench.validate(LoadContext(data_path=str(hf_dir))) == []


def test_ids_are_stable_across_reorder_and_format(tmp_path, hf_dir, monkeypatch):
    ids = [it.item_id for it in load(hf_dir)]
    assert len(set(ids)) == 4 and all(i.startswith("e1-") for i in ids)
    shuffled = write_parquet(tmp_path / "other.parquet", rows()[::-1])
    assert sorted(it.item_id for it in load(shuffled)) == sorted(ids)
    # JSONL with image paths relative to the file gives the same items (same bytes, same ids)
    jd = tmp_path / "jsonl"
    jd.mkdir()
    lines = []
    for i, r in enumerate(rows()):
        names = []
        for k, img in enumerate(r["images"]):
            (jd / f"{i}_{k}.png").write_bytes(img["bytes"])
            names.append(f"{i}_{k}.png")
        lines.append(json.dumps({"problem": r["problem"], "answer": r["answer"], "images": names}))
    (jd / "train.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(ENV, str(jd / "train.jsonl"))
    via_env = get_benchmark("easyr1-qa").load(LoadContext())
    assert [it.item_id for it in via_env] == ids
    # an identical duplicate row gets a suffixed id instead of colliding
    dup = write_parquet(tmp_path / "dup.parquet", rows()[:1] * 2)
    assert [it.item_id for it in load(dup)] == [ids[0], ids[0] + "-2"]


def test_limit_spreads_and_stores_only_the_chosen_images(hf_dir, tmp_path):
    items = load(hf_dir, limit=2)
    assert [it.item_id for it in items] == [it.item_id for it in load(hf_dir)][::2]
    stored = sorted(p.stem for p in (tmp_path / "cache" / "images").rglob("*.png"))
    assert e1.sha256_hex(GREEN) in stored and e1.sha256_hex(BLUE) not in stored  # choose-image row never stored


@pytest.mark.parametrize("reply,gold,extracted,correct", [
    ("<think>x+60+90=180</think><answer>30</answer>", "30", "30", True),
    ("<think>..</think> < answer > 30.0 </ answer >", "30", "30.0", True),        # spacing quirk, numeric
    ("<answer>12</answer> oh wait <answer>30</answer>", "30", "30", True),         # the last tag counts
    ("<think>so</think> the area is \\boxed{0.75}", "\\frac{3}{4}", "0.75", True),  # boxed, math-equal
    ("<think>so</think> \\boxed{\\dfrac{3}{4}}.", "\\frac{3}{4}", "\\dfrac{3}{4}", True),
    ("<think>thinking</think> 4", "4", "4", True),                                 # text after </think>
    ("<answer>(B) 3</answer>", "B", "(B) 3", True),                                # option letter as a token
    ("<answer>B. three</answer>", "B", "B. three", True),
    ("<answer>Blue</answer>", "B", "Blue", False),                                 # not the letter B
    ("<answer>C</answer>", "B", "C", False),
    ("<answer>The Red Car!</answer>", "the red car", "The Red Car!", True),        # words, punctuation
    ("<answer>it is the large red car</answer>", "the large red car", "it is the large red car", True),
    ("<answer>red</answer>", "the large red car", "red", False),                  # too short to contain
    ("<answer>31</answer>", "30", "31", False),
    ("The answer is 30", "30", None, False),                                       # no tag/box/think: none
    ("", "30", None, False),
    ("<answer> </answer>", "30", None, False),
])
def test_scoring_golden(reply, gold, extracted, correct):
    from ctxbench.benchmarks.base import Item

    it = Item(item_id="x", prompt=(), answer=gold)
    sc = get_benchmark("easyr1-qa").score(it, reply)
    assert (sc.extracted, sc.correct, sc.score, sc.parse_ok) == (extracted, correct, float(correct),
                                                                 extracted is not None)


def test_boxed_reference_is_unwrapped(tmp_path):
    p = write_parquet(tmp_path / "b.parquet", [{"problem": "2+2?", "answer": "\\boxed{4}", "images": []}])
    (it,) = load(p)
    assert it.answer == "4" and get_benchmark("easyr1-qa").score(it, "<answer>4</answer>").correct


def test_missing_and_malformed_data_errors(tmp_path, monkeypatch):
    bench = get_benchmark("easyr1-qa")
    assert not bench.data_status().available
    with pytest.raises(DataError, match=rf"no data for easyr1-qa.*train parquet.*{ENV}.*ContextRL_Multimodal_Qwen2.5_VL"):
        bench.load(LoadContext())
    missing = tmp_path / "data" / "ContextRL_Multimodal_Qwen2.5_VL" / "train.parquet"
    with pytest.raises(DataError, match=r"train\.parquet: not found \(easyr1-qa\).*--data PATH"):
        bench.load(LoadContext(data_path=str(missing)))
    monkeypatch.setenv(ENV, str(missing))
    assert not bench.data_status().available and str(missing) in bench.data_status().detail
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: folder has no \.parquet or \.jsonl file"):
        load(tmp_path / "empty")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "1"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:row 1: missing column\(s\) problem"):
        load(bad)
    bad.write_text(json.dumps({"problem": "<image><image> q", "answer": "1", "images": ["a.png"]}) + "\n")
    with pytest.raises(DataError, match=r"image file 'a\.png' not found"):
        load(bad)
    (tmp_path / "a.png").write_bytes(RED)
    with pytest.raises(DataError, match=r"row 1: problem has 2 <image> marker\(s\) but the row has 1 image"):
        load(bad)
    bad.write_text(json.dumps({"problem": "q", "answer": "1"}) + "\n{oops\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        load(bad)


def test_trainer_pool_reads_it_through_data_paths(hf_dir):
    """What paper-multimodal.toml relies on: data.data_paths names the folder, the pool takes the train
    split (by image group) with the images as parts."""
    from trainers.config import make_config
    from trainers.data import build_pools

    cfg = make_config({"recipe": "paper-multimodal", "model": "tiny-vlm",
                       "data": {"tasks": ["easyr1-qa"], "data_paths": {"easyr1-qa": str(hf_dir)},
                                "total_instances": 0, "pair_share": 0.0}})
    pool = build_pools(cfg, lambda s: len(s) // 4)
    train = [it for it in load(hf_dir) if split_of(it) == "train"]
    assert train and [t.key for t in pool.tasks] == [f"easyr1-qa@1/{it.item_id}" for it in train]
    with_image = [t for t in pool.tasks if t.has_images]
    assert with_image and with_image[0].image_keys()[0].startswith("sha256:")
    assert all(t.scorer("<answer>" + t.answer + "</answer>").correct for t in pool.tasks)
