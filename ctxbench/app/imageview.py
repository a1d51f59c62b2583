"""Images for the app: find the image parts of a stored prompt or pair context, draw the evidence.

Why a module of its own (no Streamlit here, like diffview): what the app shows comes from stored
JSON written by many builders (benchmark prompts, image pair contexts stored as JSON lists of
parts, probe prompts with two images), so finding image parts is a tolerant walk over whatever was
stored, unit-tested without a browser. Boxes are the pixel rectangles benchmarks and pair builders
record ([x0, y0, x1, y1], top-left origin): `evidence_boxes` in item meta (the embedded VQA suite),
`box`/`bbox` in meta, and the pixel `bbox` of an edit in a pair's diff.
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
BOX_KEYS = ("evidence_boxes", "boxes", "box", "bbox")


def image_parts(obj) -> list[str]:
    """Image part values found in `obj` (a parts list, a part, a JSON string of either, or nested
    containers), in order, without duplicates. A bare string naming an existing image file counts too."""
    out: list[str] = []

    def walk(x, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(x, str):
            s = x.strip()
            if s[:1] in "[{":
                try:
                    walk(json.loads(s), depth + 1)
                except ValueError:
                    pass
            elif s.lower().endswith(IMAGE_SUFFIXES) and "\n" not in s and len(s) < 4096 and Path(s).is_file():
                out.append(s)
        elif isinstance(x, dict):
            if x.get("type") == "image" and isinstance(x.get("value"), str):
                out.append(x["value"])
            else:
                for v in x.values():
                    walk(v, depth + 1)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, depth + 1)

    walk(obj)
    return list(dict.fromkeys(out))


def _is_box(v) -> bool:
    return (isinstance(v, (list, tuple)) and len(v) == 4 and all(isinstance(c, (int, float)) for c in v)
            and v[2] > v[0] and v[3] > v[1])


def boxes_in(meta) -> list[list[float]]:
    """Pixel boxes recorded in a meta / diff dict under BOX_KEYS (a box or a list of boxes)."""
    if not isinstance(meta, dict):
        return []
    out = []
    for k in BOX_KEYS:
        v = meta.get(k)
        if _is_box(v):
            out.append(list(v))
        elif isinstance(v, (list, tuple)):
            out += [list(b) for b in v if _is_box(b)]
    return out


def annotated(path: str, boxes=(), color=(255, 40, 40)):
    """The image at `path` as RGB PIL with `boxes` outlined (line width scaled to the image), or None
    when the file is missing or unreadable (the store may have moved machines)."""
    from PIL import Image, ImageDraw, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        return None
    try:
        with Image.open(p) as im:
            img = im.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None
    if boxes:
        draw = ImageDraw.Draw(img)
        width = max(1, round(max(img.size) / 200))
        for x0, y0, x1, y1 in boxes:
            draw.rectangle([x0 - width, y0 - width, x1 + width, y1 + width], outline=color, width=width)
    return img
