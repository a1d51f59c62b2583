"""`easy-vqa`: the packaged easy-VQA dataset (64x64 images of one coloured shape; questions about its
shape, its colour, or yes/no). A deterministic subset of the test split.

Why this shape: easy-VQA ships its images and questions inside the `easy-vqa` wheel, so it is the one
real VQA dataset that runs offline. Its 13 answers form a closed vocabulary, so each item also carries
the answers of its question type as `choices` (shape: 3, colour: 8, yes/no: 2) and the harness scores
it by option log-probability by default, which gives a tiny model a usable signal; generated answers
are scored against the same vocabulary.

Subset: `n_images` test images chosen by a stable hash of their id, and up to `questions_per_image`
questions each, one per question type first (so every image contributes a shape, a colour and a
yes/no question when it has them). Item ids are `<image id>-<hash of the question>`; an image's
questions share `meta["group"]`, so train and held-out items never share an image. The image is
stored as-is (its PNG bytes) in the image store.
"""

from __future__ import annotations

from pathlib import Path

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    image,
    spread_subset,
    text,
)
from ctxbench.benchmarks.embedded.embedded_vqa import score_word, short_prompt
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash

SHAPES = ("circle", "rectangle", "triangle")
COLORS = ("red", "green", "blue", "yellow", "teal", "brown", "black", "gray")
YESNO = ("yes", "no")
VOCAB = SHAPES + COLORS + YESNO


def question_type(answer: str) -> str:
    return "shape" if answer in SHAPES else "yesno" if answer in YESNO else "color"


def choices_for(qtype: str) -> tuple[str, ...]:
    return {"shape": SHAPES, "color": COLORS, "yesno": YESNO}[qtype]


def shape_box(path: str, pad: int = 1) -> list[int]:
    """Pixel box [x0, y0, x1, y1] of the shape: the pixels that differ from the (corner) background."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB")).astype(int)
    bg = a[0, 0]
    ys, xs = np.nonzero(np.abs(a - bg).sum(-1) > 30)
    if not len(xs):
        return [0, 0, a.shape[1], a.shape[0]]
    return [max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad),
            min(a.shape[1], int(xs.max()) + 1 + pad), min(a.shape[0], int(ys.max()) + 1 + pad)]


@register
class EasyVqa(Benchmark):
    """n_images: test images in the subset; questions_per_image: at most this many questions each."""

    name = "easy-vqa"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "vqa"
    source = "packaged"
    gen = GenSpec(mode="choice", max_new_tokens=8, stop=("\n",))

    def __init__(self, n_images: int = 120, questions_per_image: int = 3, seed: int = 0):
        if n_images < 1 or questions_per_image < 1:
            raise DataError("easy-vqa: n_images and questions_per_image must be >= 1")
        self.n_images, self.questions_per_image, self.seed = n_images, questions_per_image, seed

    def data_status(self) -> DataStatus:
        try:
            import easy_vqa

            paths = easy_vqa.get_test_image_paths()
        except (ImportError, OSError) as e:
            return DataStatus(False, f"the easy-vqa package is missing ({e}); pip install easy-vqa==1.0")
        from ctxbench.sources.assets import package_version

        return DataStatus(True, f"packaged: easy-vqa {package_version('easy-vqa') or '?'} "
                                f"({len(paths)} test images; {self.n_images} used)")

    def specs(self) -> list[dict]:
        """The subset as plain records (no image work): sorted, deterministic."""
        import easy_vqa

        qs, answers, image_ids = easy_vqa.get_test_questions()
        paths = easy_vqa.get_test_image_paths()
        by_image: dict[int, list[tuple[str, str]]] = {}
        for q, a, i in zip(qs, answers, image_ids):
            by_image.setdefault(int(i), []).append((q, a))
        chosen = sorted(by_image, key=lambda i: stable_hash(["easy-vqa", self.seed, i]))[: self.n_images]
        out = []
        for img in sorted(chosen):
            qa = sorted(set(by_image[img]), key=lambda x: stable_hash(["easy-vqa-q", self.seed, img, x[0]]))
            picked, seen = [], set()
            for q, a in qa:  # one per question type first, then the rest in hash order
                if question_type(a) not in seen:
                    seen.add(question_type(a))
                    picked.append((q, a))
            picked += [x for x in qa if x not in picked]
            for q, a in picked[: self.questions_per_image]:
                out.append({"image_id": img, "path": str(paths[img]), "question": q, "answer": a,
                            "qtype": question_type(a), "item_id": f"{img:04d}-{stable_hash(q, 6)}"})
        return sorted(out, key=lambda s: s["item_id"])

    def _item(self, s: dict) -> Item:
        from ctxbench.sources.images import put_image

        path = put_image(Path(s["path"]).read_bytes())
        return Item(
            item_id=s["item_id"],
            prompt=(image(path), text(short_prompt(s["question"][:1].upper() + s["question"][1:]))),
            answer=s["answer"],
            choices=choices_for(s["qtype"]),
            meta={"group": f"easy-vqa/test/{s['image_id']}", "image_id": s["image_id"], "qtype": s["qtype"],
                  "question": s["question"], "evidence_boxes": [shape_box(path)], "source_split": "test"},
        )

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        return [self._item(s) for s in spread_subset(self.specs(), limit)]  # type: ignore[arg-type]

    def score(self, item: Item, completion: str) -> Score:
        return score_word(item, completion, item.choices or VOCAB)
