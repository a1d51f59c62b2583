"""Content-addressed image store: every image is stored once and referenced by its hash.

An image message part is `{"type": "image", "value": PATH}` where PATH is the absolute path of a PNG
under `<cache>/images/ab/<sha256>.png`. Keeping the path (not base64) in prompts keeps item rows,
result keys and shards small; the hash in the file name makes `prompt_hash` stable across machines
only through the hash, so `image_key` (not the path) is what goes into hashes and the store.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from ctxbench.core.atomic import write_bytes
from ctxbench.core.errors import DataError
from ctxbench.core.paths import cache_dir


def image_dir() -> Path:
    return cache_dir() / "images"


def put_image(img) -> str:
    """Store a PIL image, PNG bytes or a numpy HxW[xC] uint8 array; return the stored file's path.

    Idempotent: the same pixels give the same path. Written to a temporary name and renamed, so a
    killed writer never leaves a truncated image behind.
    """
    data = _png_bytes(img)
    digest = hashlib.sha256(data).hexdigest()
    path = image_dir() / digest[:2] / f"{digest}.png"
    if not path.exists():
        write_bytes(path, data)
    return str(path)


def image_key(path: str) -> str:
    """The machine-independent identity of a stored image ("sha256:<hex>")."""
    name = Path(path).name
    stem = name.split(".", 1)[0]
    if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
        return "sha256:" + stem
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_image(path: str):
    """Open a stored (or any local) image as RGB PIL; a clear error names the missing file."""
    from PIL import Image

    p = Path(path)
    if not p.exists():
        raise DataError(f"image file {p} is missing (image store: {image_dir()}); rebuild the benchmark's items")
    with Image.open(p) as im:
        return im.convert("RGB")


def _png_bytes(img) -> bytes:
    if isinstance(img, (bytes, bytearray)):
        return bytes(img)
    from PIL import Image

    if not isinstance(img, Image.Image):
        import numpy as np

        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            raise DataError(f"image array must be uint8, got {arr.dtype}")
        img = Image.fromarray(arr)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
