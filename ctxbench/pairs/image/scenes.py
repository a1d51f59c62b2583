"""Generated scenes for image contrastive pairs: parameters in, pixels, answers and footprints out.

Why generated scenes: an edit that changes the answer while keeping the image nearly identical needs
to know where the decisive object is and what the answer becomes. Rendering from parameters gives
both exactly, offline, for four families that mirror the paper's sources (the ContextRL
paper, §4.2): easy-VQA-like shapes on a background, a small object placed into a packaged natural image
(V*-style detail), bar charts with value labels (chart QA) and labelled triangles (geometry).

A scene is a frozen dataclass. Each family implements:
    render()            -> HxWx3 uint8 array (deterministic: same parameters, same pixels)
    kinds()             -> the question kinds it supports
    query(kind)         -> the question text
    answer(kind)        -> the answer, or None when it would be ambiguous (near a boundary, a tie)
    propose(kind, rng)  -> (edit kind, edited scene, instruction): one random edit of the decisive object
    footprint()         -> bool HxW: pixels of the decisive object (or label) in this scene

The edited scene's answer is recomputed with `answer`, so "the edit changed the answer" is checked,
never assumed (ctxbench.pairs.image.edit).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

COLOURS = {  # easy-VQA's colour names
    "red": (220, 30, 30), "green": (40, 170, 60), "blue": (30, 60, 220), "yellow": (235, 210, 30),
    "teal": (20, 150, 150), "brown": (130, 80, 30), "gray": (128, 128, 128), "black": (15, 15, 15),
}
SHAPES = ("circle", "rectangle", "triangle")
BACKGROUNDS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
               "coins", "camera", "grass")


def _font(size: int):
    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", size)


def _draw_shape(draw, kind: str, cx: int, cy: int, r: int, fill) -> None:
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "rectangle":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)


def _shape_mask(size: tuple[int, int], kind: str, cx: int, cy: int, r: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.new("L", size, 0)
    _draw_shape(ImageDraw.Draw(im), kind, cx, cy, r, 255)
    return np.asarray(im) > 0


def _noise_bg(size: int, colour, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.int16)[None, None, :]
    return np.clip(base + rng.integers(-6, 7, (size, size, 1)), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------ shapes (easy-VQA-like)


@dataclass(frozen=True)
class Obj:
    kind: str
    colour: str
    cx: int
    cy: int
    r: int


@dataclass(frozen=True)
class ShapeScene:
    """A target shape and a distractor of another kind and colour on a lightly textured background."""

    family = "shapes"
    objs: tuple[Obj, Obj]
    bg: tuple[int, int, int]
    noise_seed: int
    size: int = 64

    SMALL, LARGE = (5, 8), (12, 15)

    @property
    def target(self) -> Obj:
        return self.objs[0]

    def render(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        im = Image.fromarray(_noise_bg(self.size, self.bg, self.noise_seed))
        d = ImageDraw.Draw(im)
        for o in reversed(self.objs):  # the target is drawn last (on top)
            _draw_shape(d, o.kind, o.cx, o.cy, o.r, COLOURS[o.colour])
        return np.asarray(im)

    def footprint(self) -> np.ndarray:
        t = self.target
        return _shape_mask((self.size, self.size), t.kind, t.cx, t.cy, t.r)

    def kinds(self) -> tuple[str, ...]:
        return ("colour", "position", "size", "shape")

    def query(self, kind: str) -> str:
        t = self.target
        return {"colour": f"what color is the {t.kind}?", "position": f"is the {t.kind} on the left or the right?",
                "size": f"is the {t.kind} large or small?", "shape": f"what shape is {t.colour}?"}[kind]

    def invalid(self) -> str | None:
        """Why this scene cannot be asked about (the target touches the distractor), or None."""
        return "overlaps-other-object" if _overlap(*self.objs) else None

    def answer(self, kind: str) -> str | None:
        t, other = self.target, self.objs[1]
        if kind == "colour":
            return t.colour if t.colour != other.colour or t.kind != other.kind else None
        if kind == "position":
            mid = self.size / 2
            return None if abs(t.cx - mid) <= t.r else ("left" if t.cx < mid else "right")
        if kind == "size":
            return "small" if t.r <= self.SMALL[1] else ("large" if t.r >= self.LARGE[0] else None)
        return t.kind if t.colour != other.colour else None

    def _with(self, **kw) -> ShapeScene:
        return dataclasses.replace(self, objs=(dataclasses.replace(self.target, **kw), self.objs[1]))

    def propose(self, kind: str, rng: random.Random):
        t = self.target
        if kind == "colour":
            c = rng.choice(sorted(COLOURS))
            return "recolour", self._with(colour=c), f"recolour the {t.kind} from {t.colour} to {c}"
        if kind == "position":
            cx = rng.randint(t.r + 1, self.size - t.r - 2)
            return "move", self._with(cx=cx), f"move the {t.kind} horizontally to x={cx}"
        if kind == "size":
            r = rng.choice([*range(self.SMALL[0], self.SMALL[1] + 1), *range(self.LARGE[0], self.LARGE[1] + 1)])
            r = min(r, t.cx, t.cy, self.size - 1 - t.cx, self.size - 1 - t.cy)
            return "resize", self._with(r=r), f"resize the {t.kind} to radius {r}"
        k = rng.choice(SHAPES)
        return "reshape", self._with(kind=k), f"turn the {t.colour} {t.kind} into a {k}"

    @classmethod
    def sample(cls, rng: random.Random, size: int = 64) -> ShapeScene:
        kinds = rng.sample(SHAPES, 2)
        cols = rng.sample(sorted(COLOURS), 2)
        for _ in range(50):  # place the two shapes apart (a scene with touching shapes is not asked about)
            objs = []
            for k, c in zip(kinds, cols):
                r = rng.randint(*(cls.SMALL if rng.random() < 0.5 else cls.LARGE))
                objs.append(Obj(k, c, rng.randint(r + 1, size - r - 2), rng.randint(r + 1, size - r - 2), r))
            if not _overlap(*objs):
                break
        bg = tuple(rng.randint(200, 250) for _ in range(3))
        return cls((objs[0], objs[1]), bg, rng.randrange(1 << 30), size)


def _overlap(a: Obj, b: Obj, gap: int = 2) -> bool:
    """Bounding boxes (with a small gap) intersect: an edit there would touch the other object."""
    return abs(a.cx - b.cx) <= a.r + b.r + gap and abs(a.cy - b.cy) <= a.r + b.r + gap


# ------------------------------------------------------------------------------------ detail (V*-style)


@lru_cache(maxsize=16)
def background(name: str, size: int) -> np.ndarray:
    """A packaged scikit-image picture, centre-cropped to a square and resized, as RGB uint8."""
    import skimage.data
    from PIL import Image

    a = np.asarray(getattr(skimage.data, name)())
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    a = a[..., :3]
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(Image.fromarray(a).resize((size, size), Image.BICUBIC))


@dataclass(frozen=True)
class DetailScene:
    """A small coloured square or circle placed into a natural image; the question is about it."""

    family = "detail"
    bg_name: str
    obj: Obj
    size: int = 160

    def render(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        im = Image.fromarray(background(self.bg_name, self.size).copy())
        o = self.obj
        d = ImageDraw.Draw(im)
        _draw_shape(d, o.kind, o.cx, o.cy, o.r + 1, (255, 255, 255))  # a thin white rim keeps it visible
        _draw_shape(d, o.kind, o.cx, o.cy, o.r, COLOURS[o.colour])
        return np.asarray(im)

    def footprint(self) -> np.ndarray:
        o = self.obj
        return _shape_mask((self.size, self.size), o.kind, o.cx, o.cy, o.r + 1)

    def kinds(self) -> tuple[str, ...]:
        return ("colour", "position")

    def query(self, kind: str) -> str:
        k = self.obj.kind if self.obj.kind != "rectangle" else "square"
        if kind == "colour":
            return f"what color is the small {k}?"
        return f"where is the small {k}: top-left, top-right, bottom-left or bottom-right?"

    def answer(self, kind: str) -> str | None:
        o, mid = self.obj, self.size / 2
        if kind == "colour":
            return o.colour
        if abs(o.cx - mid) <= o.r + 2 or abs(o.cy - mid) <= o.r + 2:
            return None
        return ("top" if o.cy < mid else "bottom") + "-" + ("left" if o.cx < mid else "right")

    def propose(self, kind: str, rng: random.Random):
        o = self.obj
        name = o.kind if o.kind != "rectangle" else "square"
        if kind == "colour":
            c = rng.choice(sorted(COLOURS))
            return "recolour", dataclasses.replace(self, obj=dataclasses.replace(o, colour=c)), \
                f"recolour the small {name} from {o.colour} to {c}"
        cx, cy = (rng.randint(o.r + 2, self.size - o.r - 3) for _ in range(2))
        return "move", dataclasses.replace(self, obj=dataclasses.replace(o, cx=cx, cy=cy)), \
            f"move the small {name} to ({cx}, {cy})"

    @classmethod
    def sample(cls, rng: random.Random, size: int = 160) -> DetailScene:
        r = rng.randint(4, 6)
        o = Obj(rng.choice(("circle", "rectangle")), rng.choice(sorted(COLOURS)),
                rng.randint(r + 2, size - r - 3), rng.randint(r + 2, size - r - 3), r)
        return cls(rng.choice(BACKGROUNDS), o, size)


# ------------------------------------------------------------------------------------ bar charts

CATEGORIES = ("A", "B", "C", "D")
CHART_PX = (192, 160)  # width, height
Y_MAX = 11


@lru_cache(maxsize=4096)
def _chart(values: tuple[int, ...], colour: str, title: str) -> tuple[np.ndarray, tuple]:
    """Rendered chart and, per bar, the pixel box (x0, y0, x1, y1) its bar and value label live in.
    Fixed axis limits and figure size: changing one value moves only that bar and its label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = CHART_PX
    fig = Figure(figsize=(w / 80, h / 80), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.14, 0.14, 0.82, 0.74))
    bars = ax.bar(CATEGORIES[:len(values)], values, color=np.array(COLOURS[colour]) / 255, width=0.6)
    labels = [ax.text(b.get_x() + b.get_width() / 2, v + 0.2, str(v), ha="center", va="bottom", fontsize=7)
              for b, v in zip(bars, values)]
    ax.set_ylim(0, Y_MAX)
    ax.set_yticks(range(0, Y_MAX, 2))
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    r = fig.canvas.get_renderer()
    ax_box = ax.get_window_extent(r)
    boxes = []
    for b, t in zip(bars, labels):
        bb, tb = b.get_window_extent(r), t.get_window_extent(r)
        x0, x1 = min(bb.x0, tb.x0), max(bb.x1, tb.x1)
        y_top = max(bb.y1, tb.y1)
        boxes.append((int(x0), int(h - y_top), int(np.ceil(x1)), int(np.ceil(h - ax_box.y0))))
    return img, tuple(boxes)


@dataclass(frozen=True)
class ChartScene:
    family = "chart"
    values: tuple[int, ...]
    colour: str
    title: str
    focus: int  # the bar a value question asks about (and the bar an edit changes)

    def render(self) -> np.ndarray:
        return _chart(self.values, self.colour, self.title)[0]

    def footprint(self) -> np.ndarray:
        h, w = CHART_PX[1], CHART_PX[0]
        x0, y0, x1, y1 = _chart(self.values, self.colour, self.title)[1][self.focus]
        m = np.zeros((h, w), bool)
        m[max(0, y0):min(h, y1 + 1), max(0, x0):min(w, x1 + 1)] = True
        return m

    def kinds(self) -> tuple[str, ...]:
        return ("value", "largest")

    def query(self, kind: str) -> str:
        if kind == "value":
            return f"what is the value of bar {CATEGORIES[self.focus]}?"
        return "which bar has the largest value?"

    def answer(self, kind: str) -> str | None:
        if kind == "value":
            return str(self.values[self.focus])
        top = max(self.values)
        return CATEGORIES[self.values.index(top)] if self.values.count(top) == 1 else None

    def propose(self, kind: str, rng: random.Random):
        i = self.focus if kind == "value" else rng.randrange(len(self.values))
        v = rng.randint(1, Y_MAX - 2)
        vals = tuple(v if j == i else x for j, x in enumerate(self.values))
        return "bar-value", dataclasses.replace(self, values=vals, focus=i), \
            f"change the value of bar {CATEGORIES[i]} from {self.values[i]} to {v}"

    @classmethod
    def sample(cls, rng: random.Random) -> ChartScene:
        vals = tuple(rng.randint(1, Y_MAX - 2) for _ in CATEGORIES)
        title = rng.choice(("Sales", "Visitors", "Rainfall", "Scores", "Orders"))
        return cls(vals, rng.choice(("blue", "teal", "green", "brown", "gray")), title, rng.randrange(len(vals)))


# ------------------------------------------------------------------------------------ labelled triangles


@dataclass(frozen=True)
class LabelScene:
    """A triangle ABC with its vertex letters, the measure of angle A and the length of side BC
    written next to them. The questions read a label; an edit rewrites one label."""

    family = "geometry"
    pts: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    angle_a: int
    side_bc: int
    focus: str = "angle"  # which label an edit rewrites
    size: int = 128

    def _label_pos(self, which: str) -> tuple[int, int]:
        (ax, ay), (bx, by), (cx, cy) = self.pts
        if which == "angle":
            gx, gy = (ax + bx + cx) / 3, (ay + by + cy) / 3
            return int(ax + 0.35 * (gx - ax)) - 6, int(ay + 0.35 * (gy - ay)) - 5
        return int((bx + cx) / 2) - 6, int((by + cy) / 2) + 4

    def _texts(self) -> dict[str, str]:
        return {"angle": f"{self.angle_a}°", "side": f"{self.side_bc}"}

    def render(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        im = Image.new("RGB", (self.size, self.size), (255, 255, 255))
        d = ImageDraw.Draw(im)
        d.polygon(list(self.pts), outline=(0, 0, 0), width=2)
        f = _font(11)
        for name, (x, y) in zip("ABC", self.pts):
            d.text((x + (-12 if x < self.size / 2 else 4), y - 12), name, fill=(0, 0, 160), font=f)
        for which, t in self._texts().items():
            d.text(self._label_pos(which), t, fill=(170, 0, 0), font=f)
        return np.asarray(im)

    def footprint(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        im = Image.new("L", (self.size, self.size), 0)
        bx = ImageDraw.Draw(im).textbbox(self._label_pos(self.focus), self._texts()[self.focus], font=_font(11))
        m = np.zeros((self.size, self.size), bool)
        m[max(0, bx[1]):bx[3] + 1, max(0, bx[0]):bx[2] + 1] = True
        return m

    def kinds(self) -> tuple[str, ...]:
        return ("angle", "side")

    def query(self, kind: str) -> str:
        return "what is the measure of angle A in degrees?" if kind == "angle" else "what is the length of side BC?"

    def answer(self, kind: str) -> str | None:
        return str(self.angle_a if kind == "angle" else self.side_bc)

    def propose(self, kind: str, rng: random.Random):
        if kind == "angle":
            v = rng.randrange(20, 85, 5)
            return "label", dataclasses.replace(self, angle_a=v, focus="angle"), \
                f"change the label of angle A from {self.angle_a}° to {v}°"
        v = rng.randint(3, 15)
        return "label", dataclasses.replace(self, side_bc=v, focus="side"), \
            f"change the length label of side BC from {self.side_bc} to {v}"

    @classmethod
    def sample(cls, rng: random.Random, size: int = 128) -> LabelScene:
        a = (rng.randint(20, 50), rng.randint(18, 40))
        b = (rng.randint(12, 40), rng.randint(92, 108))
        c = (rng.randint(84, 112), rng.randint(88, 108))
        return cls((a, b, c), rng.randrange(20, 85, 5), rng.randint(3, 15), rng.choice(("angle", "side")), size)


FAMILIES = {"shapes": ShapeScene, "detail": DetailScene, "chart": ChartScene, "geometry": LabelScene}


def sample_scene(family: str, rng: random.Random):
    return FAMILIES[family].sample(rng)


def scene_group(scene) -> str:
    """The split group of a scene: its natural background image for detail scenes (a background never
    serves both splits), else the scene itself."""
    from ctxbench.core.hashing import stable_hash

    if isinstance(scene, DetailScene):
        return f"skimage/{scene.bg_name}"
    return f"{scene.family}/{stable_hash(dataclasses.asdict(scene), 12)}"


__all__ = ["BACKGROUNDS", "CATEGORIES", "COLOURS", "FAMILIES", "SHAPES", "ChartScene", "DetailScene", "LabelScene",
           "Obj", "ShapeScene", "background", "sample_scene", "scene_group"]
