"""Tiny files in the paper's released contrastive-data schemas, generated (no downloaded data):

- the SkyRL choose-trajectory JSONL (ct_dataset.py): {"prompt": one user message, "correct_answer": A|B};
- the EasyR1 mixed dataset (verl/utils/dataset.py), Parquet in the Hugging Face layout: QA rows (at most
  one image) and choose-image rows (two images, two `<image>` markers, answer A or B).

Shared by the reader tests (tests/pairs), the command test and the budget test (tests/trainers).
"""

from __future__ import annotations

import io
import json
from pathlib import Path


def ct_prompt(i: int) -> str:
    """A CT row's user message: issue, reference patch, two trajectories, the instruction (as authored)."""
    return (f"## Issue\nparse_config({i}) drops the last key.\n\n## Reference patch\n--- a/cfg.py\n+++ b/cfg.py\n"
            f"-    return keys[:-1]\n+    return keys\n\n## Trajectory A\n$ grep -n return cfg.py\n{i}: return keys[:-1]\n\n"
            f"## Trajectory B\n$ cat setup.py\nsetup(name='pkg{i}')\n\nWhich trajectory led to the reference patch? "
            "Answer A or B.")


def write_ct_jsonl(path: Path, n: int) -> Path:
    """n CT rows, answers alternating A, B, ..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt": ct_prompt(i), "correct_answer": "AB"[i % 2]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def png(rgb, size=(12, 10)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, format="PNG")
    return buf.getvalue()


def qa_row(i: int) -> dict:
    return {"problem": f"<image>What is the angle {i}?", "answer": str(30 + i),
            "images": [{"bytes": png((i % 256, 10, 20)), "path": None}]}


def choose_row(i: int, answer: str = "A") -> dict:
    return {"problem": f"Image A: <image> Image B: <image> Which image shows a {40 + i} degree angle?",
            "answer": answer, "images": [{"bytes": png((10, i % 256, 200)), "path": None},
                                         {"bytes": png((200, i % 256, 10)), "path": None}]}


def mixed_rows(n_qa: int, n_choose: int) -> list[dict]:
    """The released mix's shape: QA rows and choose-image rows interleaved (answers A and B)."""
    qa = [qa_row(i) for i in range(n_qa)]
    ci = [choose_row(i, "AB"[i % 2]) for i in range(n_choose)]
    step = max(1, len(qa) // max(1, len(ci)))
    out = []
    for k, row in enumerate(qa):
        out.append(row)
        if k % step == step - 1 and ci:
            out.append(ci.pop(0))
    return out + ci


def write_mixed_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("problem", pa.string()), ("answer", pa.string()),
                        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())])))])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path
