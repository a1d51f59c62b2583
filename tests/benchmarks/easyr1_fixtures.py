"""Tiny EasyR1/verl-format rows (the paper's multimodal GRPO pool) and a Parquet writer in the Hugging Face
layout (images as {bytes, path} structs): shared by the easyr1-qa adapter tests and the benchmark contract test.
"""

from __future__ import annotations

import io
from pathlib import Path


def png(colour, size=(24, 16)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


RED, GREEN, BLUE, GREY = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255)), png((128, 128, 128), (8, 8))


def rows():
    """Four regular rows (a placeholder in the middle, none, a text-only row, two questions on one
    image) and one choose-image row (two images, answer A) that the GRPO pool leaves out."""
    return [
        {"problem": "<image>Find x in the triangle.", "answer": "30", "images": [{"bytes": RED, "path": None}]},
        {"problem": "What is the area of the shaded region?", "answer": "\\frac{3}{4}",
         "images": [{"bytes": GREEN, "path": "g.png"}]},
        {"problem": "How many primes are below 10?", "answer": "4", "images": []},
        {"problem": "Which option is correct? A. 2 B. 3 <image>", "answer": "B", "images": [{"bytes": RED, "path": None}]},
        {"problem": "Image A: <image> Image B: <image> Which image shows 30 degrees?", "answer": "A",
         "images": [{"bytes": BLUE, "path": None}, {"bytes": GREY, "path": None}]},
    ]


def write_parquet(path: Path, data: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("problem", pa.string()), ("answer", pa.string()),
                        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())])))])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(data, schema=schema), path)
    return path
