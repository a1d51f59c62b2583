"""`chart-qa`: bar and line charts rendered with matplotlib from seeded data; value and comparison
questions with known answers (ChartQA-style, offline).

Why: ChartQA needs its image files; the embedded stand-in keeps the task (read a value off a chart,
compare marks) while the ground truth is exact because the data is ours. Each chart gets three
questions: a value ("What is the value of Tokyo?"), an extreme ("Which city has the highest value?",
or the year for line charts) and a comparison (the difference between two marks, or "Is A greater
than B?"). Half of the bar charts print the values on the bars (the easy ChartQA case); the others
must be read off the axis, which the 5 % relaxed accuracy of ChartQA allows for. Years, labels and
yes/no are exact.

Everything is a pure function of (seed, chart index): values are distinct integers at least 3 apart,
so extremes and comparisons are unambiguous. The marks asked about are recorded as pixel boxes
(`meta["evidence_boxes"]`) for the app. Rendering is cached by item id (embedded_vqa.RenderCache).
"""

from __future__ import annotations

import itertools
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
    pixel_box,
    point_box,
    score_number,
    score_word,
    short_prompt,
)
from ctxbench.benchmarks.scoring.extract import normalize_answer
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash

TOPICS = (
    ("Annual sales by city", "city", ("Tokyo", "Paris", "Lima", "Oslo", "Cairo", "Delhi", "Quito", "Perth")),
    ("Fruit harvest (tons)", "fruit", ("apples", "pears", "plums", "figs", "limes", "grapes", "kiwis", "dates")),
    ("Visitors per museum", "museum", ("Louvre", "Prado", "Tate", "Uffizi", "Met", "Orsay", "Getty", "Rijks")),
    ("Votes per candidate", "candidate", ("Ana", "Ben", "Chloe", "Dev", "Emil", "Fay", "Gus", "Hana")),
)
LINE_TOPICS = ("Rainfall (mm)", "Users (thousands)", "Revenue (M$)", "Temperature index")
VALUE_TOL = 0.05  # ChartQA relaxed accuracy


def _distinct_values(rng: random.Random, n: int, lo: int = 5, hi: int = 95, gap: int = 3) -> list[int]:
    while True:
        vals = rng.sample(range(lo, hi + 1), n)
        s = sorted(vals)
        if all(b - a >= gap for a, b in itertools.pairwise(s)):
            return vals


@register
class ChartQa(Benchmark):
    """n_charts: charts (each yields 3 questions); bar_fraction: share of bar charts (rest: line)."""

    name = "chart-qa"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "vqa"
    source = "generated"
    gen = GenSpec(mode="generate", max_new_tokens=12, stop=("\n",))

    def __init__(self, n_charts: int = 40, bar_fraction: float = 0.6, seed: int = 0,
                 width: int = 400, height: int = 300):
        if n_charts < 1 or not 0 <= bar_fraction <= 1:
            raise DataError("chart-qa: n_charts must be >= 1 and bar_fraction in [0, 1]")
        self.n_charts, self.bar_fraction, self.seed = n_charts, bar_fraction, seed
        self.width, self.height = width, height

    def data_status(self) -> DataStatus:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return DataStatus(False, "matplotlib is missing (pip install matplotlib); charts are rendered with it")
        return DataStatus(True, f"generated: {self.n_charts} matplotlib charts x 3 questions")

    # ------------------------------------------------------------------------------------ data

    def chart(self, c: int) -> dict:
        rng = random.Random(stable_hash(["chart-qa", self.seed, c]))
        bar = rng.random() < self.bar_fraction
        if bar:
            title, noun, pool = rng.choice(TOPICS)
            labels = rng.sample(pool, rng.randint(4, 6))
            return {"kind": "bar", "title": title, "noun": noun, "labels": labels,
                    "values": _distinct_values(rng, len(labels)), "annotated": rng.random() < 0.5}
        n = rng.randint(5, 7)
        start = rng.randint(2005, 2016)
        return {"kind": "line", "title": rng.choice(LINE_TOPICS), "noun": "year",
                "labels": [str(start + i) for i in range(n)], "values": _distinct_values(rng, n), "annotated": True}

    def questions(self, c: int, ch: dict) -> list[dict]:
        """Three questions per chart: value, extreme, comparison (answers exact from the data)."""
        rng = random.Random(stable_hash(["chart-qa-q", self.seed, c]))
        labels, values = ch["labels"], ch["values"]
        i, j = rng.sample(range(len(labels)), 2)
        line = ch["kind"] == "line"
        value_q = (f"What was the value in {labels[i]}?" if line else f"What is the value of {labels[i]}?")
        hi = rng.random() < 0.5
        k = values.index(max(values) if hi else min(values))
        word = "highest" if hi else "lowest"
        extreme_q = (f"In which year was the value {word}?" if line else f"Which {ch['noun']} has the {word} value?")
        if rng.random() < 0.5:
            comp = {"q": f"What is the difference between the values of {labels[i]} and {labels[j]}?",
                    "a": str(abs(values[i] - values[j])), "type": "number", "tol": VALUE_TOL, "asked": [i, j]}
        else:
            comp = {"q": f"Is the value of {labels[i]} greater than the value of {labels[j]}?",
                    "a": "yes" if values[i] > values[j] else "no", "type": "yesno", "tol": 0.0, "asked": [i, j]}
        return [
            {"kind": "value", "q": value_q, "a": str(values[i]), "type": "number", "tol": VALUE_TOL, "asked": [i]},
            {"kind": "extreme", "q": extreme_q, "a": labels[k], "type": "year" if line else "label",
             "tol": 0.0, "asked": [k]},
            {"kind": "compare", **comp},
        ]

    def specs(self) -> list[dict]:
        out = []
        for c in range(self.n_charts):
            ch = self.chart(c)
            for qi, q in enumerate(self.questions(c, ch)):
                out.append({"chart_index": c, "chart": ch, "item_id": f"c{c:03d}-{q['kind']}", "qi": qi, **q})
        return out

    # ------------------------------------------------------------------------------------ rendering

    def render(self, ch: dict) -> tuple:
        """(HxWx3 image, {"boxes": pixel box of each mark}) for one chart."""
        fig, canvas = figure_canvas(self.width, self.height)
        ax = fig.add_subplot(111)
        x = list(range(len(ch["labels"])))
        if ch["kind"] == "bar":
            marks = list(ax.bar(x, ch["values"], color="#4C72B0"))
            if ch["annotated"]:
                for xi, v in zip(x, ch["values"]):
                    ax.text(xi, v + 1, str(v), ha="center", va="bottom", fontsize=8)
        else:
            ax.plot(x, ch["values"], marker="o", color="#DD8452")
            for xi, v in zip(x, ch["values"]):
                ax.text(xi, v + 2, str(v), ha="center", va="bottom", fontsize=7)
            marks = None
        ax.set_xticks(x, ch["labels"], fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_title(ch["title"], fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        img = canvas_rgb(canvas)
        if marks is None:  # line chart: the points
            return img, {"boxes": [point_box(ax, canvas, xi, v) for xi, v in zip(x, ch["values"])]}
        return img, {"boxes": [pixel_box(m, canvas) for m in marks]}

    def _item(self, s: dict, cache: RenderCache) -> Item:
        ch = s["chart"]
        path, rmeta = cache.get(f"c{s['chart_index']:03d}", lambda: self.render(ch))
        return Item(
            item_id=s["item_id"],
            prompt=(image(path), text(short_prompt(s["q"]))),
            answer=s["a"],
            meta={"group": f"chart-qa/c{s['chart_index']:03d}", "kind": s["kind"], "answer_type": s["type"],
                  "tolerance": s["tol"], "question": s["q"], "chart": ch,
                  "asked": [ch["labels"][i] for i in s["asked"]],
                  "evidence_boxes": [rmeta["boxes"][i] for i in s["asked"]]},
        )

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        cache = RenderCache(self.name, self.version, [self.seed, self.width, self.height, self.bar_fraction])
        try:
            return [self._item(s, cache) for s in spread_subset(self.specs(), limit)]  # type: ignore[arg-type]
        finally:
            cache.save()

    # ------------------------------------------------------------------------------------ scoring

    def score(self, item: Item, completion: str) -> Score:
        kind = item.meta.get("answer_type")
        if kind in ("number", "year"):
            return score_number(item, completion, float(item.meta.get("tolerance", 0.0)))
        if kind == "yesno":
            return score_word(item, completion, ("yes", "no"))
        labels = item.meta.get("chart", {}).get("labels") or [item.answer]
        sc = score_word(item, completion, labels)
        if sc.extracted is None:  # a label outside the chart still counts as an (incorrect) answer
            got = normalize_answer(completion)
            return Score(extracted=got or None, correct=False, score=0.0, parse_ok=bool(got))
        return sc
