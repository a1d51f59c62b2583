"""The VLMEvalKit TSV format, read strictly: where the file lives, its rows, and its images.

Why this shape:
- The twelve paper VQA benchmarks are read from the very files VLMEvalKit uses (`$LMUData/<Name>.tsv`),
  so a ctxbench score and a VLMEvalKit score are computed on the same items with the same ids (the
  official `index` column). Nothing is downloaded: the folder comes from `--data NAME=PATH` (the TSV or
  its folder), `CTXBENCH_DATA_<NAME>`, or VLMEvalKit's own `LMUData` variable, and a missing file is an
  error naming the exact file expected and where VLMEvalKit gets it.
- Official TSVs are large (base64 images; MME-RealWorld is gigabytes), so the file is streamed twice:
  the first pass keeps every column except the image, `--limit` picks rows, and only the chosen rows'
  images are decoded (a row may reuse another row's image by naming its index, VLMEvalKit's
  space-saving convention, so referenced rows are decoded too). Images go to the content-addressed
  store (ctxbench.sources.images) as the bytes the TSV holds; the prompt part holds the stored path.
- As in VLMEvalKit (`ImageBaseDataset(skip_noimg=True)`), rows without an image are skipped: that is
  what makes ScienceQA_TEST its image subset.
- Every malformed row fails before any model loads, naming the file, the line and the index.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ctxbench.benchmarks.base import DataStatus, image, text
from ctxbench.core.errors import DataError

LMU_ENV = "LMUData"  # VLMEvalKit's data folder variable (vlmeval.smp.file.LMUDataRoot)
IMAGE_REF_MAX = 64   # VLMEvalKit: an `image` cell this short names another row's index
MISSING = ("", "nan", "NaN")  # how pandas writes a missing cell (VLMEvalKit writes TSVs with pandas)


def env_var_for(name: str) -> str:
    return "CTXBENCH_DATA_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def present(v) -> bool:
    return v is not None and str(v).strip() not in MISSING


@dataclass(frozen=True)
class TSVSource:
    """Where one benchmark's official TSV lives.

    files: accepted file names inside the data folder, preferred first (VLMEvalKit saves a download under
    the URL's base name, which is not always `<Name>.tsv`: MME-RealWorld-Lite arrives as
    mme_realworld_lite.tsv, MathVerse_MINI as MathVerse_MINIV.tsv).
    """

    bench: str
    files: tuple[str, ...]
    obtain: str

    @property
    def env_var(self) -> str:
        return env_var_for(self.bench)

    def expected(self) -> str:
        root = "$" + LMU_ENV
        return " or ".join(f"{root}/{f}" for f in self.files)

    def hint(self) -> str:
        return (f"{self.bench} reads VLMEvalKit's TSV, {self.expected()}; pass --data {self.bench}=PATH (the "
                f"TSV or its folder), or set {self.env_var}=PATH or {LMU_ENV}=FOLDER. Obtain it: {self.obtain}")

    def configured(self, data_path: str | os.PathLike | None = None) -> Path | None:
        p = data_path or os.environ.get(self.env_var) or os.environ.get(LMU_ENV)
        return Path(p).expanduser() if p else None

    def locate(self, data_path: str | os.PathLike | None = None) -> Path:
        """The TSV file itself; DataError naming the expected file and how to obtain it."""
        p = self.configured(data_path)
        if p is None:
            raise DataError(f"no data for {self.bench} ({LMU_ENV} is not set): {self.hint()}")
        if p.is_file():
            return p
        if not p.exists():
            raise DataError(f"{p}: not found ({self.bench}). {self.hint()}")
        for f in self.files:
            if (p / f).is_file():
                return p / f
        raise DataError(f"{p}: folder has no {' or '.join(self.files)} ({self.bench}). {self.hint()}")

    def status(self, data_path: str | os.PathLike | None = None) -> DataStatus:
        try:
            return DataStatus(True, f"VLMEvalKit TSV: {self.locate(data_path)}")
        except DataError as e:
            p = self.configured(data_path)
            return DataStatus(False, str(e), "not configured" if p is None else f"no usable TSV at {p}")


def vlmeval_url(file: str) -> str:
    return f"https://opencompass.openxlab.space/utils/VLMEval/{file}"


# ----------------------------------------------------------------------------------------------- rows


@dataclass
class Row:
    """One TSV row without its image cell. `image_ref` is the index whose image this row shows (its
    own index unless the cell is a short reference); None when the row has no image."""

    line: int
    cells: dict[str, str]
    image_ref: str | None

    @property
    def index(self) -> str:
        return self.cells["index"]

    def get(self, key: str, default: str | None = None) -> str | None:
        v = self.cells.get(key)
        return v if present(v) else default

    def __getitem__(self, key: str) -> str:
        return self.cells[key]


def _rows(path: Path):
    """(line, header, values) for every record; decoding and shape errors name the line."""
    csv.field_size_limit(2**31 - 1)
    with open(path, encoding="utf-8", newline="") as f:
        rd = csv.reader(f, delimiter="\t")
        try:
            header = next(rd, None)
            if header is None:
                raise DataError(f"{path}: file is empty")
            header = [h.strip() for h in header]
            for values in rd:
                if not values or values == [""]:
                    continue
                if len(values) != len(header):
                    raise DataError(f"{path}:{rd.line_num}: {len(values)} cells, header has {len(header)} "
                                    f"(a tab or an unbalanced quote inside a cell?)")
                yield rd.line_num, header, values
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not valid UTF-8 near line {rd.line_num + 1} (byte {e.start} of a "
                            f"read block)") from None
        except csv.Error as e:
            raise DataError(f"{path}:{rd.line_num}: unreadable TSV: {e}") from None


def read_rows(path: Path, required: tuple[str, ...] = ("index", "question", "answer")) -> list[Row]:
    """Every row of a VLMEvalKit TSV (images left out), checked: required columns, unique index,
    image references that resolve. Rows without an image keep image_ref=None."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    header_checked = False
    for line, header, values in _rows(path):
        if not header_checked:
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} in header "
                                f"(has: {', '.join(header[:20])})")
            if "image" not in header and "image_path" not in header:
                raise DataError(f"{path}:1: no image or image_path column")
            header_checked = True
        cells = dict(zip(header, values))
        img = cells.pop("image", "")
        idx = cells["index"].strip()
        if not idx:
            raise DataError(f"{path}:{line}: empty index")
        cells["index"] = idx
        if idx in seen:
            raise DataError(f"{path}:{line}: duplicate index {idx!r} (first at line {seen[idx]})")
        seen[idx] = line
        if present(img):
            ref = img.strip() if len(img.strip()) <= IMAGE_REF_MAX else idx
        elif present(cells.get("image_path")):
            ref = idx
        else:
            ref = None
        rows.append(Row(line, cells, ref))
    if not rows:
        raise DataError(f"{path}: no rows")
    for r in rows:
        if r.image_ref is not None and r.image_ref != r.index and r.image_ref not in seen:
            raise DataError(f"{path}:{r.line}: image cell {r.image_ref!r} (index {r.index}) names no row's index")
    return rows


def spread(rows: list, limit: int | None) -> list:
    """`limit` rows spread evenly over the list (harness `--limit` semantics), picked before decoding."""
    if limit is None or limit >= len(rows):
        return list(rows)
    step = len(rows) / max(limit, 1)
    return [rows[int(i * step)] for i in range(max(limit, 0))]


# ----------------------------------------------------------------------------------------------- images


def split_image_cell(cell: str) -> list[str]:
    """A cell holds one base64 string or a Python list of them (VLMEvalKit's `toliststr`)."""
    s = cell.strip()
    if s.startswith("[") and s.endswith("]"):
        try:
            val = ast.literal_eval(s)
        except (ValueError, SyntaxError):
            raise DataError("image cell looks like a list but does not parse") from None
        return [str(v) for v in val]
    return [s]


def split_list_cell(cell: str | None) -> list[str]:
    if not present(cell):
        return []
    return split_image_cell(cell)


def store_image_bytes(data: bytes, where: str) -> str:
    """Check the bytes are an image (header only, cheap) and put them in the content-addressed store."""
    from PIL import Image, UnidentifiedImageError

    from ctxbench.sources.images import put_image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.size  # noqa: B018  (reads the header)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{where}: not an image ({e})") from None
    return put_image(data)


def decode_b64(s: str, where: str) -> bytes:
    try:
        return base64.b64decode(s, validate=False)
    except (binascii.Error, ValueError) as e:
        raise DataError(f"{where}: image is not valid base64 ({e})") from None


def load_images(path: Path, rows: list[Row], image_dir: Path | None = None) -> dict[str, list[str]]:
    """Stored image paths for the given rows, by index: a second streaming pass decodes only what is
    needed. Rows whose TSV has no `image` column read `image_path` files from `image_dir`
    (VLMEvalKit: $LMUData/images/<Name>/)."""
    wanted = {r.image_ref for r in rows if r.image_ref is not None}
    by_row = {r.index: r for r in rows}
    decoded: dict[str, list[str]] = {}
    for line, header, values in _rows(path):
        cells = dict(zip(header, values))
        idx = cells["index"].strip()
        if idx not in wanted:
            continue
        where = f"{path}:{line} (index {idx})"
        cell = cells.get("image", "")
        if present(cell) and len(cell.strip()) > IMAGE_REF_MAX:
            try:
                parts = split_image_cell(cell)
            except DataError as e:
                raise DataError(f"{where}: {e}") from None
            decoded[idx] = [store_image_bytes(decode_b64(p, where), where) for p in parts]
        else:
            decoded[idx] = [_from_file(p, image_dir, where) for p in split_list_cell(cells.get("image_path"))]
        if len(decoded) == len(wanted):
            break
    out = {}
    for idx, r in by_row.items():
        if r.image_ref is None:
            out[idx] = []
            continue
        if r.image_ref not in decoded:
            raise DataError(f"{path}:{r.line}: image of index {r.image_ref} was not found on the second read "
                            f"(file changed while loading?)")
        out[idx] = decoded[r.image_ref]
    return out


def _from_file(name: str, image_dir: Path | None, where: str) -> str:
    p = Path(name)
    if not p.is_absolute() and image_dir is not None:
        p = image_dir / name
    if not p.is_file():
        raise DataError(f"{where}: image_path {name!r} not found (looked in {image_dir})")
    return store_image_bytes(p.read_bytes(), where)


# ----------------------------------------------------------------------------------------------- prompts


def options_of(row: Row, letters: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> dict[str, str]:
    """The option columns present in the row, in letter order (VLMEvalKit's `build_choices`)."""
    return {c: row.cells[c] for c in letters if present(row.cells.get(c))}


def mcq_text(row: Row, options: dict[str, str], instruction: str, hint: bool = True) -> str:
    """ImageMCQDataset.build_prompt's text: optional Hint, Question, Options, instruction."""
    out = ""
    h = row.get("hint") if hint else None
    if h is not None:
        out += f"Hint: {h}\n"
    out += f"Question: {row['question']}\n"
    if options:
        out += "Options:\n" + "".join(f"{k}. {v}\n" for k, v in options.items())
        out += instruction
    return out


def images_then_text(paths: list[str], body: str) -> tuple[dict, ...]:
    """VLMEvalKit's default message: every image, then the text."""
    return tuple(image(p) for p in paths) + (text(body),)


def interleave(paths: list[str], body: str) -> tuple[dict, ...]:
    """MMMU's `<image k>` tags: the text is cut at each tag and the k-th image (1-based) placed there.
    Without tags, images first then text (VLMEvalKit's `split_MMMU`)."""
    import re

    pieces = re.split(r"<image (\d+)>", body)
    if len(pieces) == 1:
        return images_then_text(paths, body)
    parts: list[dict] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if piece:
                parts.append(text(piece))
            continue
        k = int(piece) - 1
        if not 0 <= k < len(paths):
            raise DataError(f"prompt names <image {piece}> but the row has {len(paths)} image(s)")
        parts.append(image(paths[k]))
    return tuple(parts)


def literal_list(cell: str | None, where: str) -> list[str]:
    """A Python list literal cell ("['(A) x', '(B) y']", "[]"); DataError if it is not one."""
    if not present(cell):
        return []
    try:
        val = ast.literal_eval(cell.strip())
    except (ValueError, SyntaxError):
        raise DataError(f"{where}: expected a Python list literal, got {cell[:60]!r}") from None
    if not isinstance(val, (list, tuple)):
        raise DataError(f"{where}: expected a list, got {type(val).__name__}")
    return [str(v) for v in val]


__all__ = [
    "LMU_ENV",
    "Row",
    "TSVSource",
    "images_then_text",
    "interleave",
    "literal_list",
    "load_images",
    "mcq_text",
    "options_of",
    "present",
    "read_rows",
    "split_image_cell",
    "spread",
    "vlmeval_url",
]
