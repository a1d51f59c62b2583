"""`geometry-qa`: rendered, labelled figures (angles, lengths, relations) with exact answers.

Why: the paper's math-vision columns (MathVista, MathVerse, MathVision) ask for quantities that are
written on a figure and combined with one geometric fact. The embedded stand-in draws such figures to
scale with matplotlib, with the given quantities printed only in the image, so the question cannot be
answered from the text:

  angle       triangle with two labelled angles -> the third angle (180 - a - b)
  hypotenuse  right triangle with labelled legs (scaled Pythagorean triples) -> the hypotenuse
  rectangle   rectangle with labelled sides -> its area or perimeter
  circle      circle with a labelled radius -> its diameter
  relation    two labelled segments AB, CD -> parallel / perpendicular / neither (options A-C)

Numeric answers are integers scored exactly (the number a completion gives, see extract_number);
relations are option letters (scored by letter log-probability in choice mode). The labels holding
the given quantities are recorded as pixel boxes (`meta["evidence_boxes"]`). Each figure is its own
group. Everything is a pure function of (seed, figure index); rendering is cached by item id.
"""

from __future__ import annotations

import math
import random

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
from ctxbench.benchmarks.embedded.embedded_vqa import (
    RenderCache,
    canvas_rgb,
    figure_canvas,
    mcq_prompt,
    pixel_box,
    score_letter,
    score_number,
    short_prompt,
)
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash

KINDS = ("angle", "hypotenuse", "rectangle", "circle", "relation")
TRIPLES = ((3, 4, 5), (5, 12, 13), (6, 8, 10), (8, 15, 17), (9, 12, 15), (7, 24, 25), (20, 21, 29))
RELATIONS = ("parallel", "perpendicular", "neither")


@register
class GeometryQa(Benchmark):
    """n_figures: figures (one question each), kinds cycling through KINDS."""

    name = "geometry-qa"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "vqa"
    source = "generated"
    gen = GenSpec(mode="generate", max_new_tokens=12, stop=("\n",))

    def __init__(self, n_figures: int = 100, seed: int = 0, size: int = 320):
        if n_figures < 1:
            raise DataError("geometry-qa: n_figures must be >= 1")
        self.n_figures, self.seed, self.size = n_figures, seed, size

    def data_status(self) -> DataStatus:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return DataStatus(False, "matplotlib is missing (pip install matplotlib); figures are rendered with it")
        return DataStatus(True, f"generated: {self.n_figures} labelled matplotlib figures")

    # ------------------------------------------------------------------------------------ data

    def spec(self, c: int) -> dict:
        rng = random.Random(stable_hash(["geometry-qa", self.seed, c]))
        kind = KINDS[c % len(KINDS)]
        s: dict = {"kind": kind, "item_id": f"g{c:03d}-{kind}", "index": c, "mirror": rng.random() < 0.5,
                   "rot": round(rng.uniform(-20, 20), 2)}  # degrees: no two figures render alike
        if kind == "angle":
            while True:
                a, b = rng.randrange(30, 95, 5), rng.randrange(25, 95, 5)
                if 180 - a - b >= 25:
                    break
            s.update(given={"A": a, "B": b}, q="What is the measure of angle C in degrees?", a=str(180 - a - b))
        elif kind == "hypotenuse":
            p, q, h = rng.choice(TRIPLES)
            k = rng.choice((1, 2, 3)) if h <= 10 else 1
            s.update(given={"legs": [p * k, q * k]}, q="What is the length of the hypotenuse?", a=str(h * k))
        elif kind == "rectangle":
            w, h = rng.randint(3, 15), rng.randint(2, 12)
            what = rng.choice(("area", "perimeter"))
            s.update(given={"width": w, "height": h}, q=f"What is the {what} of the rectangle?",
                     a=str(w * h if what == "area" else 2 * (w + h)), asked=what)
        elif kind == "circle":
            r = rng.randint(2, 25)
            s.update(given={"radius": r}, q="What is the diameter of the circle?", a=str(2 * r))
        else:
            rel = RELATIONS[c // len(KINDS) % 3]
            theta = rng.uniform(0, 180)
            other = {"parallel": theta, "perpendicular": theta + 90,
                     "neither": theta + rng.choice((-1, 1)) * rng.uniform(25, 65)}[rel]
            s.update(given={"relation": rel, "angles": [round(theta, 2), round(other, 2)]},
                     q="How are segment AB and segment CD related?", a="ABC"[RELATIONS.index(rel)])
        return s

    def specs(self) -> list[dict]:
        return [self.spec(c) for c in range(self.n_figures)]

    # ------------------------------------------------------------------------------------ rendering

    def render(self, s: dict) -> tuple:
        """(HxWx3 image, {"boxes": pixel boxes of the labels holding the given quantities})."""
        fig, canvas = figure_canvas(self.size, self.size)
        ax = fig.add_axes((0.05, 0.05, 0.9, 0.9))
        ax.set_aspect("equal")
        ax.axis("off")
        kw = {"fontsize": 11, "ha": "center", "va": "center"}
        given = []
        line = {"color": "black", "lw": 1.6}
        k, g = s["kind"], s["given"]
        sx = -1 if s["mirror"] else 1
        cr, sr = math.cos(math.radians(s["rot"])), math.sin(math.radians(s["rot"]))

        def rot(x: float, y: float) -> tuple[float, float]:
            return (cr * x - sr * y, sr * x + cr * y)

        def poly(*pts: tuple[float, float]) -> None:
            xy = [rot(*p) for p in pts]
            ax.plot([p[0] for p in xy], [p[1] for p in xy], **line)

        def label(x: float, y: float, txt: str, **extra):
            return ax.text(*rot(x, y), txt, **kw, **extra)
        if k == "angle":
            a, b = math.radians(g["A"]), math.radians(g["B"])
            c = math.pi - a - b
            ac = math.sin(b) / math.sin(c)
            A, B, C = (0.0, 0.0), (sx * 1.0, 0.0), (sx * ac * math.cos(a), ac * math.sin(a))
            poly(A, B, C, A)
            for name, (x, y), (dx, dy) in (("A", A, (-0.06 * sx, -0.05)), ("B", B, (0.06 * sx, -0.05)),
                                           ("C", C, (0, 0.06))):
                label(x + dx, y + dy, name, fontweight="bold")
            cx, cy = (A[0] + B[0] + C[0]) / 3, (A[1] + B[1] + C[1]) / 3
            for (x, y), val in ((A, g["A"]), (B, g["B"])):
                given.append(label(x + 0.3 * (cx - x), y + 0.3 * (cy - y), f"{val}°"))
        elif k == "hypotenuse":
            p, q = g["legs"]
            scale = 1.0 / max(p, q)
            P, Q = sx * p * scale, q * scale
            poly((0, 0), (P, 0), (0, Q), (0, 0))
            m = 0.05
            poly((sx * m, 0), (sx * m, m), (0, m))
            given.append(label(P / 2, -0.07, str(p)))
            given.append(label(-0.08 * sx, Q / 2, str(q)))
        elif k == "rectangle":
            w, h = g["width"], g["height"]
            scale = 1.0 / max(w, h)
            W, H = w * scale, h * scale
            poly((0, 0), (W, 0), (W, H), (0, H), (0, 0))
            given.append(label(W / 2, -0.07, str(w)))
            given.append(label(W + 0.08 if sx > 0 else -0.08, H / 2, str(h)))
        elif k == "circle":
            from matplotlib.patches import Circle

            ax.add_patch(Circle((0, 0), 1, fill=False, **line))
            ang = math.radians((35 if sx > 0 else 145) + 4 * s["rot"])
            ax.plot([0, math.cos(ang)], [0, math.sin(ang)], **line)
            ax.plot([0], [0], "ko", ms=3)
            given.append(ax.text(0.5 * math.cos(ang) - 0.1 * math.sin(ang),
                                 0.5 * math.sin(ang) + 0.1 * math.cos(ang), f"r = {g['radius']}", **kw))
        else:
            for (name0, name1), ang, (ox, oy) in zip((("A", "B"), ("C", "D")), g["angles"], ((-0.2, 0.45), (0.2, -0.45))):
                t = math.radians(ang)
                dx, dy = 0.55 * math.cos(t), 0.55 * math.sin(t)
                seg = ax.plot([ox - dx, ox + dx], [oy - dy, oy + dy], **line)[0]
                ax.text(ox - dx * 1.18, oy - dy * 1.18, name0, fontweight="bold", **kw)
                ax.text(ox + dx * 1.18, oy + dy * 1.18, name1, fontweight="bold", **kw)
                given.append(seg)
        ax.relim()
        ax.autoscale_view()
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        pad = 0.18 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        img = canvas_rgb(canvas)
        return img, {"boxes": [pixel_box(t, canvas) for t in given]}

    def _item(self, s: dict, cache: RenderCache) -> Item:
        path, rmeta = cache.get(s["item_id"], lambda: self.render(s))
        relation = s["kind"] == "relation"
        q = mcq_prompt(s["q"], RELATIONS) if relation else short_prompt(s["q"])
        return Item(
            item_id=s["item_id"],
            prompt=(image(path), text(q)),
            answer=s["a"],
            choices=("A", "B", "C") if relation else None,
            meta={"group": f"geometry-qa/{s['item_id']}", "kind": s["kind"], "given": s["given"],
                  "question": s["q"], "answer_type": "option" if relation else "number",
                  "evidence_boxes": rmeta["boxes"]},
        )

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        cache = RenderCache(self.name, self.version, [self.seed, self.size])
        try:
            return [self._item(s, cache) for s in spread_subset(self.specs(), limit)]  # type: ignore[arg-type]
        finally:
            cache.save()

    def score(self, item: Item, completion: str) -> Score:
        if item.meta.get("answer_type") == "option":
            return score_letter(item, completion)
        return score_number(item, completion, 0.0)
