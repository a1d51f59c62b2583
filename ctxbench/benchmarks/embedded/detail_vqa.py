"""`detail-vqa`: V*-style fine-detail questions. A small coloured object is placed into a large natural
image (scikit-image's packaged photographs); the questions ask for its colour or its position.

Why: V*Bench (VStarBench in the paper) asks about small objects in high-resolution images, where a
model that looks at a downscaled image misses them. Here the object covers about 0.1-0.3 % of the
image (a 12-22 px square, circle or triangle in a 300-1000 px photograph, with a dark outline so it is
visible on any background); the tiny VLM's 64 px view all but loses it, as V* intends.

Two multiple-choice questions per placement, options as letters (V*'s format):
  colour    "What is the colour of the small <shape> in the image?"  4 colours
  position  "Where is the small <colour> <shape> located in the image?"  the four quadrants
The object is placed inside one quadrant away from the centre lines, so the position is unambiguous.
Both questions of a placement share the image and `meta["group"]`. The object's box is recorded as
`meta["evidence_boxes"]`. Everything is a pure function of (seed, base image, placement index);
composition is cached by item id.
"""

from __future__ import annotations

import random
from typing import ClassVar

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
from ctxbench.benchmarks.embedded.embedded_vqa import LETTERS, RenderCache, mcq_prompt, score_letter
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash

BASES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
COLORS = {
    "red": (230, 25, 25), "green": (20, 200, 40), "blue": (30, 60, 235), "yellow": (250, 230, 20),
    "purple": (150, 40, 200), "orange": (255, 140, 0), "white": (255, 255, 255), "cyan": (0, 230, 230),
}
SHAPES = ("square", "circle", "triangle")
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


def base_image(name: str):
    """A packaged scikit-image photograph as HxWx3 uint8 (no download: these ship in the wheel)."""
    import numpy as np
    import skimage.data

    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    return np.ascontiguousarray(arr[..., :3]).astype("uint8")


def draw_object(arr, box: list[int], shape: str, rgb: tuple[int, int, int]):
    """Draw a filled shape with a 2-px dark outline into `arr` (a copy is returned)."""
    import numpy as np

    out = arr.copy()
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    if shape == "square":
        inside = np.ones((h, w), bool)
        core = (yy >= 2) & (yy < h - 2) & (xx >= 2) & (xx < w - 2)
    elif shape == "circle":
        r = min(h, w) / 2
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        inside, core = d <= r, d <= r - 2
    else:  # apex up
        half = (yy + 1) / h * (w / 2)
        inside = np.abs(xx - cx) <= half
        core = (np.abs(xx - cx) <= half - 2.2) & (yy >= 2) & (yy < h - 1)
    region = out[y0:y1, x0:x1]
    region[inside] = (20, 20, 20)
    region[core] = rgb
    return out


@register
class DetailVqa(Benchmark):
    """placements: objects per base image (each yields a colour and a position question)."""

    name = "detail-vqa"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "vqa"
    source = "generated"
    gen = GenSpec(mode="choice", max_new_tokens=8, stop=("\n",))

    def __init__(self, placements: int = 12, bases: tuple[str, ...] = BASES, seed: int = 0,
                 min_frac: float = 0.03, max_frac: float = 0.045):
        unknown = [b for b in bases if b not in BASES]
        if unknown or not bases:
            raise DataError(f"detail-vqa: unknown base images {unknown}; valid: {', '.join(BASES)}")
        if placements < 1 or not 0 < min_frac <= max_frac < 0.2:
            raise DataError("detail-vqa: placements >= 1 and 0 < min_frac <= max_frac < 0.2 required")
        self.placements, self.bases, self.seed = placements, tuple(bases), seed
        self.min_frac, self.max_frac = min_frac, max_frac

    def data_status(self) -> DataStatus:
        try:
            import skimage.data  # noqa: F401
        except ImportError:
            return DataStatus(False, "scikit-image is missing (pip install scikit-image); its packaged photos are used")
        return DataStatus(True, f"generated over scikit-image's packaged photos ({len(self.bases)} bases x "
                                f"{self.placements} placements x 2 questions)")

    # ------------------------------------------------------------------------------------ data

    _SIZES: ClassVar[dict[str, tuple[int, int]]] = {"astronaut": (512, 512), "coffee": (600, 400), "chelsea": (451, 300), "rocket": (640, 427),
                                                     "hubble_deep_field": (1000, 872),
                                                     "immunohistochemistry": (512, 512)}  # (width, height)

    def placement(self, base: str, k: int) -> dict:
        rng = random.Random(stable_hash(["detail-vqa", self.seed, base, k]))
        W, H = self._SIZES[base]
        side = max(10, int(min(W, H) * rng.uniform(self.min_frac, self.max_frac)))
        quad = QUADRANTS[(k + rng.randrange(4)) % 4] if k >= 4 else QUADRANTS[k]
        margin = int(0.08 * min(W, H))  # keep clear of the centre lines and the border
        xs = (margin, W // 2 - margin - side) if "left" in quad else (W // 2 + margin, W - margin - side)
        ys = (margin, H // 2 - margin - side) if "top" in quad else (H // 2 + margin, H - margin - side)
        x0, y0 = rng.randint(*xs), rng.randint(*ys)
        color = rng.choice(sorted(COLORS))
        shape = SHAPES[rng.randrange(3)]
        others = rng.sample([c for c in sorted(COLORS) if c != color], 3)
        pos_c = rng.randrange(4)
        colors = others[:pos_c] + [color] + others[pos_c:]
        return {"base": base, "k": k, "box": [x0, y0, x0 + side, y0 + side], "color": color, "shape": shape,
                "quadrant": quad, "color_options": colors, "image_size": [W, H]}

    def specs(self) -> list[dict]:
        out = []
        for base in self.bases:
            for k in range(self.placements):
                p = self.placement(base, k)
                rng = random.Random(stable_hash(["detail-vqa-pos", self.seed, base, k]))
                quads = list(QUADRANTS)
                rng.shuffle(quads)
                pid = f"{base}-{k:02d}"
                out.append({**p, "pid": pid, "item_id": f"{pid}-color", "kind": "color",
                            "q": f"What is the colour of the small {p['shape']} in the image?",
                            "options": p["color_options"], "a": LETTERS[p["color_options"].index(p["color"])]})
                out.append({**p, "pid": pid, "item_id": f"{pid}-position", "kind": "position",
                            "q": f"Where is the small {p['color']} {p['shape']} located in the image?",
                            "options": quads, "a": LETTERS[quads.index(p["quadrant"])]})
        return out

    def render(self, p: dict) -> tuple:
        arr = base_image(p["base"])
        if [arr.shape[1], arr.shape[0]] != p["image_size"]:
            raise DataError(f"detail-vqa: skimage.data.{p['base']} is {arr.shape[1]}x{arr.shape[0]}, "
                            f"expected {p['image_size']}; scikit-image changed its sample image")
        return draw_object(arr, p["box"], p["shape"], COLORS[p["color"]]), {}

    def _item(self, s: dict, cache: RenderCache) -> Item:
        path, _ = cache.get(s["pid"], lambda: self.render(s))
        return Item(
            item_id=s["item_id"],
            prompt=(image(path), text(mcq_prompt(s["q"], s["options"]))),
            answer=s["a"],
            choices=LETTERS[: len(s["options"])],
            meta={"group": f"detail-vqa/{s['pid']}", "kind": s["kind"], "base": s["base"], "shape": s["shape"],
                  "color": s["color"], "quadrant": s["quadrant"], "options": s["options"],
                  "question": s["q"], "image_size": s["image_size"], "evidence_boxes": [s["box"]],
                  "object_area_frac": round((s["box"][2] - s["box"][0]) ** 2 / (s["image_size"][0] * s["image_size"][1]), 5)},
        )

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        cache = RenderCache(self.name, self.version, [self.seed, self.min_frac, self.max_frac])
        try:
            return [self._item(s, cache) for s in spread_subset(self.specs(), limit)]  # type: ignore[arg-type]
        finally:
            cache.save()

    def score(self, item: Item, completion: str) -> Score:
        return score_letter(item, completion)
