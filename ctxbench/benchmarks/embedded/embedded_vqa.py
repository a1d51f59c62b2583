"""Shared parts of the embedded (offline) VQA suite: easy-vqa, chart-qa, geometry-qa, detail-vqa.

- Prompts follow the LLaVA / VLMEvalKit conventions: the image part first, then the question with
  "Answer the question using a single word or phrase." (short answers) or the options as
  "A. ..." lines and "Answer with the option's letter from the given choices directly." (MCQ).
- Scorers: option letters (the harness's choice mode returns the letter itself), numbers with a
  relative tolerance (ChartQA's relaxed accuracy is 5 %; years and counts use 0), and short words
  against a closed vocabulary. Each returns `parse_ok=False` when nothing answer-like was found.
- Rendering is cached by item id (`RenderCache`): rendering a chart or composing a 512 px image costs
  tens of milliseconds, so the first load renders and stores the PNG once (ctxbench.sources.images), and later
  loads only read a small JSON index. Render-derived metadata (pixel boxes of the evidence, which the
  app draws over the image) is cached with it.
- Evidence for the app: every item's meta has `evidence_boxes`, a list of [x0, y0, x1, y1] pixel boxes
  in the item's (first) image, top-left origin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ctxbench.benchmarks.base import Item, Score
from ctxbench.benchmarks.scoring.extract import (
    clean,
    extract_choice,
    extract_number,
    extract_short_answer,
    normalize_answer,
    parse_number,
)
from ctxbench.core.atomic import write_json
from ctxbench.core.hashing import stable_hash
from ctxbench.sources.images import put_image

LETTERS = ("A", "B", "C", "D", "E", "F")
SHORT_HINT = "Answer the question using a single word or phrase."
MCQ_HINT = "Answer with the option's letter from the given choices directly."


def short_prompt(question: str) -> str:
    return f"{question}\n{SHORT_HINT}"


def mcq_prompt(question: str, options: Sequence[str]) -> str:
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    return f"{question}\nOptions:\n{lines}\n{MCQ_HINT}"


# ---------------------------------------------------------------------------------------- scoring


def score_letter(item: Item, completion: str) -> Score:
    """An option letter: the choice-mode output itself, else extract_choice over the item's labels."""
    labels = "".join(item.choices or LETTERS[:4])
    t = (completion or "").strip()
    got = t if t in (item.choices or ()) else extract_choice(t, labels)
    ok = got == item.answer
    return Score(extracted=got, correct=ok, score=float(ok), parse_ok=got is not None)


def number_matches(got: float, gold: float, rel_tol: float) -> bool:
    """|got - gold| within rel_tol of |gold| (ChartQA relaxed accuracy), or 1e-6 for exact answers."""
    return abs(got - gold) <= max(rel_tol * abs(gold), 1e-6 * max(1.0, abs(gold)))


def score_number(item: Item, completion: str, rel_tol: float) -> Score:
    got = extract_number(completion)
    gold = parse_number(item.answer)
    ok = got is not None and gold is not None and number_matches(float(got), gold, rel_tol)
    return Score(extracted=got, correct=ok, score=float(ok), parse_ok=got is not None)


def first_vocab_word(completion: str, vocab: Sequence[str]) -> str | None:
    """The vocabulary word the completion answers with: the short answer when it is one, else the
    only vocabulary word mentioned (None when none or several different ones are)."""
    short = normalize_answer(extract_short_answer(completion))
    words = {normalize_answer(v): v for v in vocab}
    if short in words:
        return words[short]
    found = {words[w] for w in re.findall(r"[a-z]+(?:-[a-z]+)?", clean(completion).lower()) if w in words}
    return found.pop() if len(found) == 1 else None


def score_word(item: Item, completion: str, vocab: Sequence[str]) -> Score:
    got = first_vocab_word(completion or "", vocab)
    ok = got is not None and normalize_answer(got) == normalize_answer(item.answer)
    return Score(extracted=got, correct=ok, score=float(ok), parse_ok=got is not None)


# ---------------------------------------------------------------------------------------- rendering


class RenderCache:
    """item id -> (stored image path, render-derived meta), one JSON index per benchmark version and
    parameter set, under the ctxbench cache. A missing image file (cache cleared) re-renders."""

    def __init__(self, name: str, version: str, params: Any):
        from ctxbench.core.paths import cache_dir

        self.file = cache_dir() / "vqa-render" / f"{name}-v{version}-{stable_hash(params, 10)}.json"
        self.entries: dict[str, dict] = {}
        self.dirty = False
        try:
            self.entries = json.loads(self.file.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def get(self, key: str, render: Callable[[], tuple[Any, dict]]) -> tuple[str, dict]:
        e = self.entries.get(key)
        if e and Path(e["path"]).exists():
            return e["path"], e["meta"]
        img, meta = render()
        path = put_image(img)
        self.entries[key] = {"path": path, "meta": meta}
        self.dirty = True
        return path, meta

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            try:  # keep entries another process added meanwhile
                merged = {**json.loads(self.file.read_text()), **self.entries}
            except (OSError, ValueError):
                merged = self.entries
            write_json(self.file, merged, sort_keys=True)
            self.dirty = False
        except OSError:  # a read-only cache only costs speed
            pass


def figure_canvas(width_px: int, height_px: int, dpi: int = 100):
    """(figure, canvas) on the Agg backend without pyplot's global state (safe in threads)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    return fig, FigureCanvasAgg(fig)


def canvas_rgb(canvas):
    """The drawn canvas as an HxWx3 uint8 array."""
    import numpy as np

    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def pixel_box(artist, canvas, pad: int = 2) -> list[int]:
    """An artist's drawn extent as [x0, y0, x1, y1] image pixels (top-left origin). Call after draw."""
    bb = artist.get_window_extent(canvas.get_renderer())
    height = canvas.get_width_height()[1]
    return [int(bb.x0) - pad, int(height - bb.y1) - pad, int(bb.x1) + pad, int(height - bb.y0) + pad]


def point_box(ax, canvas, x: float, y: float, radius: int = 7) -> list[int]:
    """A [x0, y0, x1, y1] pixel box of `radius` around the data point (x, y). Call after draw."""
    px, py = ax.transData.transform((x, y))
    height = canvas.get_width_height()[1]
    return [int(px) - radius, int(height - py) - radius, int(px) + radius, int(height - py) + radius]
