"""`ctxbench pairs build --domain image`: image contrastive pairs by editing and by similarity search.

Why both: the paper's 7k image pairs come from generative edits of natural images (~10%) and from
similarity retrieval among structured images (~90%) (the ContextRL paper, §4.2). Offline:

- edit: generated scenes (ctxbench.pairs.image.scenes) edited by an Editor (ctxbench.pairs.image.edit:
  re-rendering with the decisive object recoloured / moved / resized / reshaped, one bar's value or
  one label changed; a diffusion editor plugs into the same slot on a GPU).
- similarity: easy-VQA training images and generated charts, embedded (ctxbench.pairs.image.similarity)
  and coupled with a near neighbour asked the same question with a different answer.

Every candidate passes the same four stages; each drop is recorded with its stage and reason (the
Ledger of the text builder), which gives the yield table `ctxbench pairs build` prints:

    source       an image (scene) and a question with an unambiguous answer
    counterpart  an edit / a neighbour in the same split whose answer differs
    verify       the edit is local (pixel difference outside the allowed region under a bound) / cos >= min_cos
    select       duplicates, per-source cap, total cap

Splits: by the image's source group (the scene, the natural background for detail scenes, the
easy-VQA image id) with the rule of benchmarks.base.split_of, so train and held-out pairs never share
a source image. The probe's image half reads the held-out split. Output: the same layout as the text
builder (<root>/pairs/image-<hash>/pairs.jsonl + yield.json, store shards); contexts are image parts
referencing the content-addressed image store (ctxbench.sources.images).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ctxbench.core.config import to_dict
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import Pair, load_pairs, save_pairs
from ctxbench.pairs.common import PairsResult, cached_result, finish_build, split_for, write_pairs_store
from ctxbench.pairs.filters import Ledger, format_yield

IMAGE_BUILD_VERSION = "1"
IMAGE_STAGES = ("source", "counterpart", "verify", "select")
IMAGE_TITLES = {
    "source": "1 image + question, unambiguous answer",
    "counterpart": "2 edit / neighbour, different answer",
    "verify": "3 local edit / similarity >= threshold",
    "select": "4 dedupe and caps",
}


@dataclass(frozen=True)
class ImagePairsConfig:
    """How to build image pairs (see the module docstring). Pixel values are 0-255."""

    domain: Literal["image"] = "image"
    methods: tuple[str, ...] = ("edit", "similarity")
    max_pairs: int = 400
    max_per_source: int = 2              # pairs per source scene / anchor image
    heldout_frac: float = 0.3
    seed: int = 0
    # editing
    editor: Literal["local", "diffusion"] = "local"
    diffusion_model: str = ""            # local diffusers pipeline folder (editor = "diffusion")
    families: tuple[str, ...] = ("shapes", "detail", "chart", "geometry")
    scenes_per_family: int = 40
    region_pad: int = 2                  # allowed region = decisive object before/after, dilated
    pixel_tol: int = 8                   # a pixel "changed" when a channel moved by more than this
    max_outside_frac: float = 0.002      # changed share of the pixels outside the region ("too-global")
    min_changed_px: int = 6              # fewer changed pixels inside: "no-visible-change"
    # similarity
    similarity_sources: tuple[str, ...] = ("easy-vqa", "chart")
    easyvqa_images: int = 400            # first N easy-VQA training images (0 = all 4,000)
    similarity_charts: int = 60
    embedder: str = "classical"          # or hf:PATH (a local CLIP/SigLIP-style vision encoder)
    colour_weight: float = 0.5
    neighbours: int = 3                  # k nearest neighbours tried per anchor image
    min_cos: float = 0.85

    def __post_init__(self):
        from ctxbench.pairs.image.scenes import FAMILIES

        bad = [m for m in self.methods if m not in ("edit", "similarity")]
        if bad or not self.methods:
            raise ValueError(f"methods: unknown {bad}; valid: edit, similarity")
        bad = [f for f in self.families if f not in FAMILIES]
        if bad:
            raise ValueError(f"families: unknown {bad}; valid: {', '.join(FAMILIES)}")
        bad = [s for s in self.similarity_sources if s not in ("easy-vqa", "chart")]
        if bad:
            raise ValueError(f"similarity_sources: unknown {bad}; valid: easy-vqa, chart")
        if self.max_pairs < 1 or self.max_per_source < 1 or self.neighbours < 1:
            raise ValueError("max_pairs, max_per_source and neighbours must be >= 1")
        if not 0.0 < self.heldout_frac < 1.0:
            raise ValueError("heldout_frac must be between 0 and 1 (exclusive)")
        if not -1.0 <= self.min_cos <= 1.0 or not 0.0 <= self.colour_weight <= 1.0:
            raise ValueError("min_cos must be in [-1, 1] and colour_weight in [0, 1]")
        if not 0.0 <= self.max_outside_frac < 1.0:
            raise ValueError("max_outside_frac must be in [0, 1)")


@dataclass
class _Cand:
    """An accepted couple before selection: images as arrays, provenance in meta."""

    source: str          # provenance id (scene id / anchor image id): the per-source cap counts these
    group: str           # split group
    query: str
    answer: str
    neg_answer: str
    pos: np.ndarray
    neg: np.ndarray
    meta: dict


def new_ledger() -> Ledger:
    return Ledger(stages=IMAGE_STAGES, titles=dict(IMAGE_TITLES))


# ------------------------------------------------------------------------------------------ editing


def edit_candidates(cfg: ImagePairsConfig, ledger: Ledger, editor=None) -> list[_Cand]:
    from ctxbench.pairs.image.edit import EditSpec, check_edit, edit_region, make_editor
    from ctxbench.pairs.image.scenes import sample_scene, scene_group

    editor = editor or make_editor(cfg.editor, cfg.diffusion_model)
    out = []
    for fam in cfg.families:
        rng = random.Random(stable_hash(["image-pairs", "scenes", fam, cfg.seed]))
        for n in range(cfg.scenes_per_family):
            scene = sample_scene(fam, rng)
            sid = f"{fam}/{n}-" + stable_hash(repr(scene), 8)
            group = scene_group(scene)
            image = scene.render()
            for kind in scene.kinds():
                ledger.enter("source")
                why = getattr(scene, "invalid", lambda: None)()
                ans = scene.answer(kind)
                if why or ans is None:
                    ledger.reject("source", why or "ambiguous-answer", sid, f"{kind}: {scene.query(kind)}")
                    continue
                ledger.keep("source")
                ledger.enter("counterpart")
                ekind, target, instruction = scene.propose(kind, rng)
                why = getattr(target, "invalid", lambda: None)()
                new = target.answer(kind)
                if why or new is None or new == ans:
                    reason = why or ("ambiguous-answer" if new is None else "answer-unchanged")
                    ledger.reject("counterpart", reason, sid, f"{kind}: {instruction} (answer {ans!r} -> {new!r})")
                    continue
                ledger.keep("counterpart")
                ledger.enter("verify")
                region = edit_region(scene, target, cfg.region_pad)
                spec = EditSpec(ekind, instruction, scene, target, new, region)
                res = editor.edit(image, spec)
                chk = check_edit(image, res.image, region, tol=cfg.pixel_tol, max_outside=cfg.max_outside_frac,
                                 min_changed=cfg.min_changed_px)
                if chk.reason:
                    ledger.reject("verify", chk.reason, sid, f"{instruction}: {chk.detail()}")
                    continue
                ledger.keep("verify")
                edited_is_pos = random.Random(stable_hash(["edited-pos", cfg.seed, sid, kind])).random() < 0.5
                q = scene.query(kind)
                a, b = (new, ans) if edited_is_pos else (ans, new)
                pos, neg = (res.image, image) if edited_is_pos else (image, res.image)
                ys, xs = np.nonzero(np.abs(res.image.astype(np.int16) - image.astype(np.int16)).max(-1) > cfg.pixel_tol)
                bbox = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else []
                meta = {"builder": f"image/edit/{editor.name}", "method": "edit", "family": fam, "kind": kind,
                        "edit": ekind, "instruction": instruction, "editor": editor.name,
                        "edited": "pos" if edited_is_pos else "neg", "neg_answer": b, "group": group,
                        "neg_source": sid, "changed_inside_px": chk.changed_inside,
                        "changed_outside_px": chk.changed_outside, "outside_frac": round(chk.outside_frac, 6),
                        "diff": {"unit": "pixel", "bbox": bbox, "tol": cfg.pixel_tol}}
                out.append(_Cand(sid, group, q, a, b, pos, neg, meta))
    return out


# ------------------------------------------------------------------------------------------ similarity


def _load_png(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _pixels_key(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()[:16]


def similarity_candidates(cfg: ImagePairsConfig, ledger: Ledger) -> list[_Cand]:
    from ctxbench.pairs.image.similarity import Embedder, Pool, chart_sources, easyvqa_sources, neighbours

    rows = []  # (image id, question, answer)
    images: dict[str, np.ndarray] = {}
    if "easy-vqa" in cfg.similarity_sources:
        for iid, path, q, a in easyvqa_sources(cfg.easyvqa_images, cfg.seed):
            if iid not in images:
                images[iid] = _load_png(path)
            rows.append((iid, q, a))
    if "chart" in cfg.similarity_sources:
        for sid, scene, q, a in chart_sources(cfg.similarity_charts, cfg.seed):
            if sid not in images:
                images[sid] = scene.render()
            rows.append((sid, q, a))
    if not rows:
        return []
    ids = sorted(images)
    emb = Embedder(cfg.embedder, cfg.colour_weight)([images[i] for i in ids])
    row_of = {i: n for n, i in enumerate(ids)}
    keys = {i: _pixels_key(images[i]) for i in ids}
    ledger.notes.append(f"similarity: {len(ids)} images ({cfg.embedder} embedder), {len(rows)} (image, question)")
    by_q: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for iid, q, a in rows:
        by_q[q].append((iid, a))
    out = []
    for q in sorted(by_q):
        members = by_q[q]
        groups = [split_for(i, cfg.heldout_frac) for i, _ in members]
        for i, _ in members:
            ledger.enter("source")
        by_split = defaultdict(list)
        for m, sp in zip(members, groups):
            by_split[sp].append(m)
        for sp, ms in sorted(by_split.items()):
            if len(ms) < 2:
                for iid, _ in ms:
                    ledger.reject("source", "no-peer", iid, f"no other {sp} image is asked {q!r}")
                continue
            ledger.keep("source", len(ms))
            pool = Pool(q, [m[0] for m in ms], [m[1] for m in ms], [sp] * len(ms), [keys[m[0]] for m in ms],
                        emb[[row_of[m[0]] for m in ms]])
            for i, j, cos in neighbours(pool, cfg.neighbours):
                a_id, b_id = pool.ids[i], pool.ids[j]
                ledger.enter("counterpart")
                if pool.answers[i] == pool.answers[j]:
                    ledger.reject("counterpart", "same-answer", a_id, f"{q!r}: {b_id} also answers {pool.answers[i]!r}")
                    continue
                ledger.keep("counterpart")
                ledger.enter("verify")
                if pool.keys[i] == pool.keys[j]:
                    ledger.reject("verify", "identical-images", a_id, f"{b_id} has the same pixels")
                    continue
                if cos < cfg.min_cos:
                    ledger.reject("verify", "below-threshold", a_id, f"{b_id}: cos {cos:.3f} < {cfg.min_cos}")
                    continue
                ledger.keep("verify")
                meta = {"builder": f"image/similarity/{cfg.embedder}", "method": "similarity",
                        "family": "easy-vqa" if a_id.startswith("easy-vqa") else "chart", "kind": "retrieval",
                        "cos": round(cos, 4), "neg_answer": pool.answers[j], "group": a_id, "neg_source": b_id,
                        "diff": {"unit": "image", "cos": round(cos, 4)}}
                out.append(_Cand(a_id, a_id, q, pool.answers[i], pool.answers[j], images[a_id], images[b_id], meta))
    return out


# ------------------------------------------------------------------------------------------ select + build


def _select(cands: list[_Cand], cfg: ImagePairsConfig, ledger: Ledger) -> list[tuple[_Cand, str, str]]:
    """Dedupe (same question over the same two images, in either order), cap per source, then take
    sources round-robin in a seeded order up to max_pairs. Returns (candidate, pos key, neg key)."""
    from ctxbench.sources.images import put_image

    ledger.enter("select", len(cands))
    seen, by_src = set(), defaultdict(list)
    for c in cands:
        key = stable_hash([c.query, sorted([_pixels_key(c.pos), _pixels_key(c.neg)])])
        if key in seen:
            ledger.reject("select", "duplicate", c.source, f"{c.query!r} over the same two images")
            continue
        seen.add(key)
        by_src[c.source].append((stable_hash([cfg.seed, key]), c))
    queues = {}
    for src, rows in by_src.items():
        rows.sort(key=lambda t: t[0])
        for _, c in rows[cfg.max_per_source:]:
            ledger.reject("select", "per-source-cap", src, c.meta.get("kind", ""))
        queues[src] = rows[:cfg.max_per_source]
    out, srcs, depth = [], sorted(queues, key=lambda s: stable_hash([cfg.seed, s])), 0
    while any(depth < len(queues[s]) for s in srcs):
        for s in srcs:
            if depth < len(queues[s]):
                _, c = queues[s][depth]
                if len(out) < cfg.max_pairs:
                    out.append((c, put_image(c.pos), put_image(c.neg)))
                else:
                    ledger.reject("select", "max-pairs", s, c.meta.get("kind", ""))
        depth += 1
    ledger.keep("select", len(out))
    return out


def run_image_cascade(cfg: ImagePairsConfig, ledger: Ledger, editor=None) -> list[Pair]:
    """Both methods, all four stages; the pairs in their final order."""
    from ctxbench.benchmarks.base import image

    cands = []
    if "edit" in cfg.methods:
        cands += edit_candidates(cfg, ledger, editor)
    if "similarity" in cfg.methods:
        cands += similarity_candidates(cfg, ledger)
    from ctxbench.sources.images import image_key

    pairs = []
    for c, kp, kn in _select(cands, cfg, ledger):
        sp = split_for(c.group, cfg.heldout_frac)
        if c.meta["method"] == "similarity":
            assert split_for(c.meta["neg_source"], cfg.heldout_frac) == sp, "a couple never spans two splits"
        pid = "img-" + stable_hash([c.query, c.answer, image_key(kp), image_key(kn), sp], 12)
        pairs.append(Pair(pid, cfg.domain, sp, c.source, c.query, c.answer, (image(kp),), (image(kn),),
                          {**c.meta, "images": {"pos": image_key(kp), "neg": image_key(kn)}}))
    return pairs


def image_build_id(cfg: ImagePairsConfig) -> str:
    from ctxbench.sources import assets

    data = {d: assets.package_version(d) for d in ("easy-vqa", "scikit-image", "matplotlib", "pillow")}
    return stable_hash({"cfg": to_dict(cfg), "build": IMAGE_BUILD_VERSION, "data": data}, 12)


def build_image_pairs(cfg: ImagePairsConfig, root, *, progress: bool = True, write_store: bool = True,
                      force: bool = False, editor=None) -> PairsResult:
    """Build (or reuse) the image pairs for `cfg` under `root` (same files as the text builder)."""
    bid = image_build_id(cfg)
    out = Path(root) / "pairs" / f"{cfg.domain}-{bid}"
    done = None if force or editor is not None else cached_result(out, bid)
    # images live in the shared cache: rebuild when it was cleared
    if done is not None and not [q for p in load_pairs(done.path)[:50] for q in p.image_paths if not Path(q).exists()]:
        return done
    ledger = new_ledger()
    pairs = run_image_cascade(cfg, ledger, editor)
    save_pairs(out / "pairs.jsonl", pairs)
    if write_store:
        # contexts are image parts (stored as JSON); the edit's pixel box / retrieval cosine is the diff
        write_pairs_store(root, cfg, bid, pairs, {p.pair_id: p.meta.get("diff") for p in pairs}, ledger)
    return finish_build(out, bid, pairs, ledger, {"config": to_dict(cfg)})


def summary(res: PairsResult) -> str:
    return format_yield(res.yield_table, res.notes) + f"\npairs: {res.n_train} train, {res.n_test} held-out -> {res.path}"


__all__ = ["IMAGE_STAGES", "ImagePairsConfig", "build_image_pairs", "edit_candidates", "image_build_id",
           "new_ledger", "run_image_cascade", "similarity_candidates"]
