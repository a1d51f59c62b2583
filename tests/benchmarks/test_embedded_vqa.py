"""The embedded VQA suite: stable ids, images stored once and referenced by content hash, rendering
that is deterministic across caches, evidence boxes that point at the evidence, and scorer goldens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ctxbench.benchmarks import SUITES, get_benchmark, resolve_benchmarks
from ctxbench.benchmarks.base import Item, LoadContext, split_of
from ctxbench.benchmarks.embedded.embedded_vqa import (
    RenderCache,
    mcq_prompt,
    score_letter,
    score_number,
    score_word,
)

NAMES = ("easy-vqa", "chart-qa", "geometry-qa", "detail-vqa")
CTX = LoadContext()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, private ctxbench cache (image store + render index)."""
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _item(answer="B", choices=("A", "B", "C", "D"), **meta) -> Item:
    return Item(item_id="x", prompt=({"type": "text", "value": "q"},), answer=answer, choices=choices, meta=meta)


# --------------------------------------------------------------------------------------------- suite

def test_suite_registers_the_four_benchmarks_with_data_present():
    assert SUITES["embedded-vqa"] == NAMES
    assert resolve_benchmarks("embedded-vqa") == list(NAMES)
    for n in NAMES:
        b = get_benchmark(n)
        assert b.family == "vqa" and b.version and b.data_status().available, n


@pytest.mark.parametrize("name", NAMES)
def test_item_ids_stable_unique_and_images_content_addressed(name, cache, tmp_path, monkeypatch):
    bench = get_benchmark(name)
    specs = [s["item_id"] for s in bench.specs()]
    assert specs == [s["item_id"] for s in get_benchmark(name).specs()]  # a second build
    assert len(set(specs)) == len(specs)
    first = bench.load(CTX, limit=4)
    assert len(first) == 4 and {it.item_id for it in first} <= set(specs)
    for it in first:
        assert it.prompt[0]["type"] == "image" and it.prompt[-1]["type"] == "text"
        path = Path(it.prompt[0]["value"])
        assert path.is_relative_to(cache / "images")
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()  # stored once, named by content
        w, h = Image.open(path).size
        for x0, y0, x1, y1 in it.meta["evidence_boxes"]:
            assert -3 <= x0 < x1 <= w + 3 and -3 <= y0 < y1 <= h + 3, (it.item_id, w, h)
        assert it.meta["group"]
    # A fresh cache elsewhere re-renders the same pixels: same prompt hashes, different paths.
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "other"))
    again = get_benchmark(name).load(CTX, limit=4)
    assert [it.item_id for it in again] == [it.item_id for it in first]
    assert [it.prompt_hash for it in again] == [it.prompt_hash for it in first]
    assert again[0].prompt[0]["value"] != first[0].prompt[0]["value"]


def test_render_cache_reuses_and_rerenders_missing_files(cache):
    calls = []

    def render():
        calls.append(1)
        return np.full((4, 4, 3), 7, np.uint8), {"boxes": [[0, 0, 1, 1]]}

    c = RenderCache("t", "1", {"p": 1})
    path, meta = c.get("a", render)
    c.save()
    c2 = RenderCache("t", "1", {"p": 1})
    assert c2.get("a", render) == (path, meta) and len(calls) == 1
    Path(path).unlink()
    assert RenderCache("t", "1", {"p": 1}).get("a", render)[0] == path and len(calls) == 2
    assert RenderCache("t", "1", {"p": 2}).entries == {}  # other parameters, other index


def test_groups_keep_an_image_in_one_split_and_both_splits_exist():
    b = get_benchmark("detail-vqa")
    items = [Item(s["item_id"], (), s["a"], meta={"group": f"detail-vqa/{s['pid']}"}) for s in b.specs()]
    by_group: dict[str, set] = {}
    for it in items:
        by_group.setdefault(it.meta["group"], set()).add(split_of(it))
    assert all(len(v) == 1 for v in by_group.values())
    assert {s for v in by_group.values() for s in v} == {"train", "test"}


# --------------------------------------------------------------------------------------------- content

def test_chart_answers_follow_the_data_and_boxes_cover_the_bars(cache):
    b = get_benchmark("chart-qa")
    specs = b.specs()
    for s in specs:
        ch, vals = s["chart"], s["chart"]["values"]
        if s["kind"] == "value":
            assert s["a"] == str(vals[s["asked"][0]])
        elif s["kind"] == "extreme":
            assert s["a"] == ch["labels"][vals.index(max(vals) if "highest" in s["q"] else min(vals))]
    bar = next(s for s in specs if s["chart"]["kind"] == "bar" and s["kind"] == "value")
    item = b._item(bar, RenderCache(b.name, b.version, "test"))
    arr = np.asarray(Image.open(item.prompt[0]["value"]).convert("RGB")).astype(int)
    x0, y0, x1, y1 = item.meta["evidence_boxes"][0]
    inside = arr[max(y0, 0):y1, max(x0, 0):x1]
    bar_rgb = np.array([0x4C, 0x72, 0xB0])
    assert (np.abs(inside - bar_rgb).sum(-1) < 10).mean() > 0.5  # the box is mostly the asked bar


def test_detail_object_is_inside_its_box_and_only_there(cache):
    from ctxbench.benchmarks.embedded.detail_vqa import COLORS, base_image

    b = get_benchmark("detail-vqa")
    s = next(x for x in b.specs() if x["base"] == "chelsea" and x["kind"] == "color")
    item = b._item(s, RenderCache(b.name, b.version, "test"))
    arr = np.asarray(Image.open(item.prompt[0]["value"]).convert("RGB")).astype(int)
    base = base_image("chelsea").astype(int)
    x0, y0, x1, y1 = item.meta["evidence_boxes"][0]
    changed = np.abs(arr - base).sum(-1) > 0
    assert changed[y0:y1, x0:x1].any() and changed.sum() == changed[y0:y1, x0:x1].sum()
    centre = arr[(y0 + y1) // 2, (x0 + x1) // 2]
    assert tuple(centre) == COLORS[item.meta["color"]]
    assert item.choices == ("A", "B", "C", "D") and item.meta["options"][ord(item.answer) - 65] == item.meta["color"]
    h, w = base.shape[:2]
    quad = ("top" if y1 < h / 2 else "bottom") + "-" + ("left" if x1 < w / 2 else "right")
    assert quad == item.meta["quadrant"]


def test_geometry_answers_are_the_geometric_facts():
    b = get_benchmark("geometry-qa")
    for s in b.specs():
        g = s["given"]
        if s["kind"] == "angle":
            assert int(s["a"]) == 180 - g["A"] - g["B"] > 0
        elif s["kind"] == "hypotenuse":
            assert int(s["a"]) ** 2 == g["legs"][0] ** 2 + g["legs"][1] ** 2
        elif s["kind"] == "circle":
            assert int(s["a"]) == 2 * g["radius"]
        elif s["kind"] == "relation":
            d = abs(g["angles"][0] - g["angles"][1]) % 180
            want = "A" if d < 1e-6 else "B" if abs(d - 90) < 1e-6 else "C"
            assert s["a"] == want and (want != "C" or 20 < d < 160)


def test_easy_vqa_uses_the_packaged_questions_and_boxes_the_shape(cache):
    import easy_vqa

    qs, answers, ids = easy_vqa.get_test_questions()
    truth = set(zip(qs, answers, map(int, ids)))
    items = get_benchmark("easy-vqa").load(CTX, limit=6)
    for it in items:
        assert (it.meta["question"], it.answer, it.meta["image_id"]) in truth
        assert it.answer in it.choices
        x0, y0, x1, y1 = it.meta["evidence_boxes"][0]
        assert 0 < (x1 - x0) * (y1 - y0) < 64 * 64  # the shape, not the whole image


# --------------------------------------------------------------------------------------------- scorers

@pytest.mark.parametrize("completion,extracted,correct,parse_ok", [
    ("B", "B", True, True),                       # choice mode returns the label itself
    ("The answer is (B).", "B", True, True),
    ("C", "C", False, True),
    ("B) top-right", "B", True, True),
    ("I cannot tell", None, False, False),
])
def test_letter_scorer(completion, extracted, correct, parse_ok):
    sc = score_letter(_item(), completion)
    assert (sc.extracted, sc.correct, sc.parse_ok) == (extracted, correct, parse_ok)


@pytest.mark.parametrize("completion,gold,tol,correct,parse_ok", [
    ("42", "42", 0.05, True, True),
    ("about 43.9", "42", 0.05, True, True),       # within 5 % (ChartQA relaxed accuracy)
    ("44.2", "42", 0.05, False, True),
    ("2009", "2009", 0.0, True, True),
    ("2010", "2009", 0.0, False, True),           # years are exact
    ("The angle is 55°.", "55", 0.0, True, True),
    ("no idea", "55", 0.0, False, False),
])
def test_number_scorer(completion, gold, tol, correct, parse_ok):
    sc = score_number(_item(answer=gold, choices=None), completion, tol)
    assert (sc.correct, sc.parse_ok) == (correct, parse_ok)


@pytest.mark.parametrize("completion,extracted,correct", [
    ("circle", "circle", True),
    ("Circle.", "circle", True),
    ("It is a circle.", "circle", True),
    ("triangle", "triangle", False),
    ("a circle or a triangle", None, False),      # ambiguous: not guessed
    ("blue", None, False),                        # outside this question's vocabulary
])
def test_word_scorer(completion, extracted, correct):
    sc = score_word(_item(answer="circle", choices=None), completion, ("circle", "rectangle", "triangle"))
    assert (sc.extracted, sc.correct, sc.parse_ok) == (extracted, correct, extracted is not None)


def test_benchmark_scorers_dispatch_on_answer_type():
    chart = get_benchmark("chart-qa")
    label = _item(answer="Tokyo", choices=None, answer_type="label", chart={"labels": ["Tokyo", "Paris"]})
    assert chart.score(label, "Tokyo").correct and not chart.score(label, "Paris").correct
    assert chart.score(label, "Berlin").parse_ok and not chart.score(label, "Berlin").correct
    yn = _item(answer="no", choices=None, answer_type="yesno")
    assert chart.score(yn, "No.").correct and not chart.score(yn, "yes").correct
    geo = get_benchmark("geometry-qa")
    assert geo.score(_item(answer="C", choices=("A", "B", "C"), answer_type="option"), "C").correct
    assert geo.score(_item(answer="30", choices=None, answer_type="number"), "d = 30").correct
    ev = get_benchmark("easy-vqa")
    assert ev.score(_item(answer="teal", choices=("red", "teal")), "teal").correct
    assert mcq_prompt("Q?", ["x", "y"]).splitlines() == ["Q?", "Options:", "A. x", "B. y",
                                                         "Answer with the option's letter from the given choices directly."]
