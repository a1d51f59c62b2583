"""Image contrastive pairs: edits stay local and change the answer, neighbours meet the threshold,
every rejection has a reason, splits never share a source image, and pairs render as A/B image parts."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random

import numpy as np
import pytest

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.pairs import Pair, choice_parts, choice_prompt, load_pairs, pair_fingerprint, save_pairs
from ctxbench.pairs.common import split_for
from ctxbench.pairs.domains import build_pairs, pairs_config
from ctxbench.pairs.image.build import IMAGE_STAGES, new_ledger, run_image_cascade
from ctxbench.pairs.image.edit import (
    EditResult,
    LocalEditor,
    check_edit,
    edit_region,
    make_editor,
    pixel_diff,
)
from ctxbench.pairs.image.scenes import FAMILIES, sample_scene
from ctxbench.pairs.image.similarity import Embedder
from ctxbench.sources.images import load_image

SMALL = {"domain": "image", "scenes_per_family": 8, "easyvqa_images": 80, "similarity_charts": 10, "max_pairs": 200,
         "max_per_source": 2}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    old = os.environ.get("CTXBENCH_CACHE")
    os.environ["CTXBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("CTXBENCH_CACHE", None)
    else:
        os.environ["CTXBENCH_CACHE"] = old


@pytest.fixture(scope="module")
def built(cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = pairs_config(SMALL)
    res = build_pairs(cfg, root, progress=False)
    return cfg, root, res, load_pairs(res.path)


def _valid_edits(family: str, n: int = 3):
    """(scene, kind, target) for the first n proposed edits that change the answer."""
    rng, out = random.Random(7), []
    while len(out) < n:
        s = sample_scene(family, rng)
        for kind in s.kinds():
            a = s.answer(kind)
            _, t, _ = s.propose(kind, rng)
            b = t.answer(kind)
            if a is not None and b not in (None, a) and not getattr(t, "invalid", lambda: None)():
                out.append((s, kind, t))
    return out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_local_edit_changes_only_the_decisive_region_and_the_answer(family):
    for scene, kind, target in _valid_edits(family):
        before = scene.render()
        res = LocalEditor().edit(before, dataclasses.replace(_spec(scene, target), kind=kind))
        region = edit_region(scene, target, pad=2)
        changed = pixel_diff(before, res.image, tol=8)
        assert changed[region].sum() >= 6, "the edit is visible inside the region"
        assert changed[~region].sum() == 0, f"{family}/{kind}: pixels changed outside the decisive region"
        assert region.mean() < 0.5, "the allowed region is the decisive object, not the image"
        assert scene.answer(kind) != target.answer(kind)
        assert check_edit(before, res.image, region).reason is None
        assert (res.mask & ~region).sum() == 0  # the editor's own account agrees


def _spec(scene, target):
    from ctxbench.pairs.image.edit import EditSpec

    return EditSpec("test", "test edit", scene, target, "", edit_region(scene, target))


class GlobalTint(LocalEditor):
    """A broken editor: the right edit, plus a brightness shift over the whole image."""

    name = "tint"

    def edit(self, image, spec):
        r = super().edit(image, spec)
        return EditResult(np.clip(r.image.astype(np.int16) + 30, 0, 255).astype(np.uint8), r.mask)


class NoOp(LocalEditor):
    name = "noop"

    def edit(self, image, spec):
        return EditResult(image.copy(), np.zeros(image.shape[:2], bool))


@pytest.mark.parametrize("editor, reason", [(GlobalTint(), "too-global"), (NoOp(), "no-visible-change")])
def test_bad_edits_are_rejected_with_a_reason(cache, editor, reason):
    cfg = pairs_config({**SMALL, "methods": ["edit"], "families": ["shapes", "chart"], "scenes_per_family": 3})
    ledger = new_ledger()
    assert run_image_cascade(cfg, ledger, editor) == []
    verify = [r for r in ledger.rejections if r.stage == "verify"]
    assert verify and {r.reason for r in verify} == {reason}
    assert all("px changed inside the region" in r.detail for r in verify)


def test_yield_accounts_for_every_candidate_and_rejections_carry_reasons(built):
    _, _, res, pairs = built
    rows = {r["stage"]: r for r in res.yield_table}
    assert [r["stage"] for r in res.yield_table] == list(IMAGE_STAGES)
    for r in res.yield_table:
        assert r["in"] == r["kept"] + sum(r["rejected"].values()), r
    assert rows["counterpart"]["in"] >= rows["source"]["kept"]  # k neighbours per similarity anchor
    assert rows["verify"]["in"] == rows["counterpart"]["kept"] and rows["select"]["in"] == rows["verify"]["kept"]
    assert rows["select"]["kept"] == len(pairs) == res.n_train + res.n_test > 40
    assert {"answer-unchanged", "same-answer"} <= set(rows["counterpart"]["rejected"])
    assert "below-threshold" in rows["verify"]["rejected"]
    assert "duplicate" in rows["select"]["rejected"]
    methods = {(p.meta["method"], p.meta["family"]) for p in pairs}
    assert {("edit", f) for f in FAMILIES} | {("similarity", "easy-vqa"), ("similarity", "chart")} <= methods


def test_edited_pairs_differ_only_locally_with_different_answers(built):
    cfg, _, _, pairs = built
    edits = [p for p in pairs if p.meta["method"] == "edit"]
    assert edits
    for p in edits:
        a, b = (np.asarray(load_image(q)) for q in p.image_paths)
        assert a.shape == b.shape and p.answer != p.meta["neg_answer"]
        changed = pixel_diff(a, b, cfg.pixel_tol)
        x0, y0, x1, y1 = p.meta["diff"]["bbox"]
        assert changed.sum() >= cfg.min_changed_px and changed[y0:y1, x0:x1].sum() == changed.sum()
        assert p.meta["outside_frac"] <= cfg.max_outside_frac
        assert (x1 - x0) * (y1 - y0) < 0.25 * changed.size, "the change is confined to a small box"
    assert {p.meta["edited"] for p in edits} == {"pos", "neg"}  # the edited image supports the answer too


def test_similarity_pairs_meet_the_threshold(built):
    cfg, _, _, pairs = built
    sims = [p for p in pairs if p.meta["method"] == "similarity"]
    assert sims
    emb = Embedder(cfg.embedder, cfg.colour_weight)
    for p in sims[:25]:
        e = emb([np.asarray(load_image(q)) for q in p.image_paths])
        cos = float(e[0] @ e[1])
        assert cos >= cfg.min_cos and cos == pytest.approx(p.meta["cos"], abs=1e-3)
        assert p.answer != p.meta["neg_answer"] and p.image_paths[0] != p.image_paths[1]


def test_splits_never_share_a_source_image(built):
    cfg, _, _, pairs = built
    groups, images = {"train": set(), "test": set()}, {"train": set(), "test": set()}
    for p in pairs:
        assert p.split == split_for(p.meta["group"], cfg.heldout_frac)
        if p.meta["method"] == "similarity":
            assert split_for(p.meta["neg_source"], cfg.heldout_frac) == p.split
        groups[p.split].add(p.meta["group"])
        images[p.split] |= set(p.meta["images"].values())
    assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
    assert not images["train"] & images["test"]


def test_build_is_reused_deterministic_and_stored(built, tmp_path):
    from ctxbench.store.shards import read_table

    cfg, root, res, pairs = built
    again = build_pairs(cfg, root, progress=False)
    assert again.cached and again.path == res.path
    fresh = build_pairs(cfg, tmp_path, progress=False, write_store=False)
    digest = [hashlib.sha256(q.read_bytes()).hexdigest() for q in (res.path, fresh.path)]
    assert not fresh.cached and digest[0] == digest[1]
    prs, rej = read_table(root, "pairs"), read_table(root, "pair_rejections")
    assert sorted(prs["pair_id"]) == sorted(p.pair_id for p in pairs)
    assert '"type": "image"' in prs.iloc[0]["ctx_pos"]
    assert len(rej) == res.n_rejections and rej["reason"].notna().all() and (rej["reason"] != "").all()


def test_image_pairs_render_as_two_image_parts_and_round_trip(built, tmp_path):
    _, _, _, pairs = built
    p = pairs[0]
    for pos_first in (True, False):
        parts, letter = choice_prompt(p, pos_first)
        assert (parts, letter) == choice_parts(p, pos_first)
        imgs = [q["value"] for q in parts if q["type"] == "image"]
        assert imgs == (p.image_paths if pos_first else p.image_paths[::-1])
        txt = "".join(q["value"] if q["type"] == "text" else "<image>" for q in parts)
        assert txt == (f"Question: {p.query}\nAnswer: {p.answer}\nWhich image supports this answer?\n"
                       "Image A: <image>\nImage B: <image>\nOutput A or B directly.")
        assert letter == ("A" if pos_first else "B")
    path = save_pairs(tmp_path / "p.jsonl", pairs[:5])
    assert load_pairs(path) == pairs[:5] and pair_fingerprint(load_pairs(path)) == pair_fingerprint(pairs[:5])
    # text pairs keep their exact string prompt
    t = Pair("t", "toy", "train", "s", "q?", "1", "x = 1", "x = 2")
    assert choice_prompt(t, True)[0] == ("Question: q?\nAnswer: 1\nWhich context supports this answer?\n"
                                         "Context A:\nx = 1\nContext B:\nx = 2\nOutput A or B directly.")
    assert choice_parts(t, False) == (({"type": "text", "value": choice_prompt(t, False)[0]},), "B")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(path.read_text().splitlines()[0].replace('"type": "image"', '"type": "video"') + "\n")
    with pytest.raises(DataError, match="ctx_"):
        load_pairs(bad)


def test_probe_items_carry_both_images(built):
    from ctxbench.pairs.probe import probe_items

    _, _, _, pairs = built
    held = [p for p in pairs if p.split == "test"][:4]
    items = probe_items(held)
    assert len(items) == 2 * len(held)
    for it in items:
        assert sum(q["type"] == "image" for q in it.prompt) == 2 and it.answer in "AB"
        assert it.meta["group"] == next(p for p in held if p.pair_id == it.meta["pair_id"]).meta["group"]
    assert {it.answer for it in items} == {"A", "B"}


def test_diffusion_editor_is_a_slot_with_clear_errors():
    with pytest.raises(CtxbenchError, match="diffusion_model"):
        make_editor("diffusion", "")
    with pytest.raises(CtxbenchError, match="did you mean"):
        make_editor("locl")
    try:
        import diffusers  # noqa: F401
    except ImportError:
        with pytest.raises(CtxbenchError, match="diffusers"):
            make_editor("diffusion", "/nonexistent/pix2pix")._load()


def test_cli_builds_image_pairs_and_prints_the_yield(cache, tmp_path, capsys):
    from ctxbench.cli import main

    cfg = tmp_path / "pairs.toml"
    cfg.write_text('[pairs]\ndomain = "image"\nscenes_per_family = 3\neasyvqa_images = 30\nsimilarity_charts = 4\n')
    rc = main(["--root", str(tmp_path / "r"), "pairs", "build", "--config", str(cfg), "--quiet", "--no-ingest"])
    out = capsys.readouterr().out
    assert rc == 0
    for title in ("1 image + question", "2 edit / neighbour", "3 local edit / similarity", "4 dedupe and caps"):
        assert title in out
    assert "overall:" in out and "held-out" in out
    rc = main(["--root", str(tmp_path / "r"), "pairs", "build", "--domain", "image", "--humaneval-limit", "3"])
    assert rc != 0 and "--humaneval-limit: trajectory-only" in capsys.readouterr().err
    with pytest.raises(CtxbenchError, match="scenes_per_famly|did you mean"):
        pairs_config({"domain": "image", "scenes_per_famly": 3})
