"""Strict readers for users' data files (JSONL, JSON arrays, TSV, Parquet).

Why: a benchmark file that is empty, misses a column, repeats an id or is not UTF-8 must fail before
any model loads, with a message naming the file and the line, never halfway through a GPU job.
Official-format adapters read their files through these functions; `ctxbench validate` calls them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from ctxbench.core.errors import DataError


def _text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte offset {e.start})") from None


def _check_rows(path: Path, rows: Iterable[tuple[int, dict]], required: Iterable[str], id_col: str | None):
    required = list(required)
    seen: dict[str, int] = {}
    out = []
    for line, row in rows:
        if not isinstance(row, dict):
            raise DataError(f"{path}:{line}: expected an object, got {type(row).__name__}")
        missing = [c for c in required if c not in row]
        if missing:
            raise DataError(f"{path}:{line}: missing column(s) {', '.join(missing)}")
        if id_col is not None:
            key = str(row[id_col])
            if key in seen:
                raise DataError(f"{path}:{line}: duplicate {id_col} {key!r} (first at line {seen[key]})")
            seen[key] = line
        out.append(row)
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def iter_jsonl(path: str | Path, required: Iterable[str] = ()) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of a JSONL file, streamed so a large official
    file is never held whole; invalid JSON, a line that is not an object or one missing a `required`
    column is an error naming the file and line."""
    path = Path(path)
    required = list(required)
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder, not a JSONL file' if path.is_dir() else 'file not found'}")
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{i}: not valid UTF-8 (byte {e.start} of the line)") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: invalid JSON: {e.msg}") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{i}: expected an object, got {type(row).__name__}")
            missing = [c for c in required if c not in row]
            if missing:
                raise DataError(f"{path}:{i}: missing column(s) {', '.join(missing)}")
            yield i, row


def read_records(path: str | Path, required: Iterable[str] = (), id_col: str | None = None) -> list[dict]:
    """Rows of a .jsonl / .json (array) / .tsv / .csv / .parquet file, checked strictly."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        if not path.exists():
            raise DataError(f"{path}: file not found")
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as e:
            raise DataError(f"{path}: unreadable Parquet: {e}") from None
        return _check_rows(path, ((i + 1, r) for i, r in enumerate(rows)), required, id_col)
    text = _text(path)
    if suffix == ".jsonl":
        def gen():
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{i}: invalid JSON: {e.msg}") from None
        return _check_rows(path, gen(), required, id_col)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of objects")
        return _check_rows(path, ((i + 1, r) for i, r in enumerate(data)), required, id_col)
    if suffix in (".tsv", ".csv"):
        csv.field_size_limit(1 << 30)
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} in header")
        return _check_rows(path, ((reader.line_num, r) for r in reader), required, id_col)
    raise DataError(f"{path}: unsupported file type {suffix!r} (expected .jsonl, .json, .tsv, .csv or .parquet)")
