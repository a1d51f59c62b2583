"""The generated VLMEvalKit TSV both lane modules use: six image MCQ rows in VLMEvalKit's schema (PNG and
JPEG images, one row reusing another's image by naming its index, rows with four, three and two
options), and replies chosen to hit VLMEvalKit's `can_infer` quirks."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw


def _b64(color, fmt="PNG", shape="square") -> str:
    im = Image.new("RGB", (48, 48), (250, 250, 250))
    draw = ImageDraw.Draw(im)
    (draw.ellipse if shape == "circle" else draw.rectangle)([8, 8, 40, 40], fill=color)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def _row(index: int, question: str, options: str, answer: str, category: str, l2: str, image: str) -> dict:
    """One row in MMStar's columns; `options` is '|'-separated, lettered A, B, ..."""
    opts = dict(zip("ABCD", options.split("|"), strict=False))
    return {"index": index, "question": question, **opts, "answer": answer, "category": category,
            "l2_category": l2, "image": image}


RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (90, 90, 90)
COARSE, FINE = "coarse perception", "fine-grained perception"
ROWS = [
    _row(0, "What colour is the square?", "red|green|blue|black", "A", COARSE, "color", _b64(RED)),
    _row(1, "Which colour dominates?", "red|green|blue|white", "B", FINE, "color", _b64(GREEN, fmt="JPEG")),
    _row(2, "Is this the same picture as item 0?", "yes|no|maybe|unknown", "A", COARSE, "identity",
         "0"),  # VLMEvalKit's image reuse: the cell names another row's index
    _row(3, "What colour is the square?", "red|green|blue|black", "C", COARSE, "color", _b64(BLUE)),
    _row(4, "Which shape is drawn?", "circle|square|triangle", "B", FINE, "shape", _b64(GREY)),
    _row(5, "Which shape is drawn?", "circle|square", "A", FINE, "shape", _b64(GREY, shape="circle")),
]

# Replies that exercise can_infer (gold letters: A B A C B A): a letter near the end (hit), an option's
# text (hit), the gold letter too far from the end (not taken: 'Z', a miss where a looser reader would
# score a hit), a wrong option with its text (miss), two letters one of them gold ('Z'), VLMEvalKit's
# reject phrase ('Z').
CRAFTED = {0: "The answer is A.", 1: "green", 2: "A is what I would pick here if asked twice",
           3: "(B) green", 4: "A or B", 5: "Cannot determine the answer"}


def write_tsv(folder: Path, rows=ROWS) -> Path:
    """MMStar.tsv in VLMEvalKit's schema, written with pandas as VLMEvalKit writes its TSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "MMStar.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path
