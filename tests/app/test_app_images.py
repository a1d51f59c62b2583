"""The app shows images: an item's image parts in the drill-down (evidence boxed), both images of an
image pair; and the pure helpers that find image parts in stored JSON and draw boxes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ablation_fixture import ARMS, SEEDS, make_store
from app_fixture import assert_ok, goto, open_app, texts

from ctxbench.app.imageview import annotated, boxes_in, image_parts
from ctxbench.core.hashing import stable_hash
from ctxbench.sources.images import put_image
from ctxbench.store import ingest, item_uid, sample_key, write_shard


def _img(color, box=None):
    a = np.full((64, 64, 3), 255, np.uint8)
    if box:
        x0, y0, x1, y1 = box
        a[y0:y1, x0:x1] = color
    return put_image(a)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small synthetic ablation plus one VQA item (image part, evidence box) scored by every arm,
    and one image pair (contexts stored as JSON lists of image parts, the edit's bbox in diff_json)."""
    import os

    base = tmp_path_factory.mktemp("appimg")
    old = os.environ.get("CTXBENCH_CACHE")
    os.environ["CTXBENCH_CACHE"] = str(base / "cache")
    try:
        root = base / "runs"
        make_store(root, n_items=3, benchmarks=("niah",), train_steps=2, published=False, do_ingest=False)
        path = _img((200, 30, 30), (20, 24, 30, 34))
        parts = [{"type": "image", "value": path}, {"type": "text", "value": "What color is the shape?"}]
        ph = stable_hash(parts, 16)
        uid = item_uid("easy-vqa", "1", "0001-abc", ph)
        write_shard(root, "items", [{
            "item_uid": uid, "benchmark": "easy-vqa", "benchmark_version": "1", "item_id": "0001-abc",
            "prompt_hash": ph, "prompt_json": json.dumps({"parts": parts, "prefill": "", "choices": ["red", "blue"]}),
            "answer": "red", "meta_json": json.dumps({"evidence_boxes": [[20, 24, 30, 34]], "group": "g"})}], name="vqa")
        rows = []
        for arm, seed in [(a, s) for a in ARMS for s in SEEDS] + [("base", None)]:
            rid = f"eval-abl-test-{arm}-{seed}"
            rows.append({"key": sample_key(rid, uid, 0), "run_id": rid, "ckpt_id": f"ckpt-{arm}-{seed}",
                         "benchmark": "easy-vqa", "benchmark_version": "1", "item_id": "0001-abc", "item_uid": uid,
                         "prompt_hash": ph, "gen_hash": "g", "config_hash": "c", "sample_idx": 0, "output": "red",
                         "extracted": "red", "correct": True, "score": 1.0, "parse_ok": True, "latency_s": 0.01,
                         "n_new_tokens": 1, "error": None, "lib_versions": {"x": "1"},
                         "created_at": "2026-01-01 12:00:00"})
        write_shard(root, "samples", rows, name="vqa-samples")
        pos, neg = _img((0, 0, 255), (10, 10, 20, 20)), _img((0, 255, 0), (10, 10, 20, 20))
        write_shard(root, "pairs", [{
            "pair_id": "img-001", "domain": "image", "split": "test", "source": "scene-1", "stage": "final",
            "query": "What color is the square?", "answer": "blue",
            "ctx_pos": json.dumps([{"type": "image", "value": pos}]),
            "ctx_neg": json.dumps([{"type": "image", "value": neg}]),
            "diff_json": {"unit": "pixel", "bbox": [10, 10, 20, 20]}, "meta_json": {"method": "edit"}}], name="img-pairs")
        ingest(root, progress=False)
        yield root
    finally:
        if old is None:
            os.environ.pop("CTXBENCH_CACHE", None)
        else:
            os.environ["CTXBENCH_CACHE"] = old


def _images(at) -> int:
    return len(at.get("image"))  # st.image elements rendered


def test_item_drilldown_shows_the_prompt_image(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    goto(at, "Item drill-down")
    at.selectbox(key="item_benchmark").select("easy-vqa").run()
    assert_ok(at)
    assert _images(at) == 1
    assert "evidence boxed" in texts(at, "markdown")
    at.selectbox(key="item_benchmark").select("niah").run()  # text items show no image
    assert_ok(at)
    assert _images(at) == 0


def test_pair_view_shows_both_images(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    goto(at, "Contrastive pairs")
    at.selectbox(key="pair_domain").select("image").run()
    assert_ok(at)
    assert at.selectbox(key="pair_id").value == "img-001"
    assert _images(at) == 2 and "Changed region outlined" in texts(at, "caption")
    at.selectbox(key="pair_domain").select("text").run()  # text pairs keep the word diff
    assert_ok(at)
    assert _images(at) == 0 and len(at.get("html")) == 2


def test_image_parts_are_found_in_any_stored_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path))
    a, b = _img((1, 2, 3), (0, 0, 8, 8)), _img((4, 5, 6), (0, 0, 8, 8))
    parts = [{"type": "text", "value": "A:"}, {"type": "image", "value": a}, {"type": "image", "value": b}]
    assert image_parts(parts) == [a, b]
    assert image_parts(json.dumps(parts)) == [a, b]
    assert image_parts({"prompt": {"parts": parts}, "again": [{"type": "image", "value": a}]}) == [a, b]
    assert image_parts(a) == [a]  # a bare path to an existing image file
    assert image_parts("see figure.png") == [] and image_parts("[1, 2]") == [] and image_parts("plain text") == []
    assert boxes_in({"evidence_boxes": [[1, 2, 3, 4], [0, 0, 0, 0]], "bbox": [5, 5, 9, 9], "other": [1, 2, 3, 4]}) == \
        [[1, 2, 3, 4], [5, 5, 9, 9]]
    assert boxes_in(None) == [] and boxes_in({"bbox": []}) == []


def test_annotated_outlines_the_box_and_tolerates_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path))
    path = _img((0, 0, 0))
    img = np.asarray(annotated(path, [[20, 20, 40, 40]]))
    assert tuple(img[19, 30]) == (255, 40, 40) and tuple(img[30, 30]) == (255, 255, 255)  # outline, not fill
    assert annotated(str(tmp_path / "gone.png")) is None
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert annotated(str(tmp_path / "bad.png")) is None
