"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Why one helper: every writer (shards, checkpoints, pair files, caches, markers, reports) must survive
both a killed process and a power loss. A killed process leaves at most a hidden temporary file; a
power loss cannot publish a file whose data was never flushed, because the data is fsynced before the
rename and the folder is fsynced after it (otherwise the rename itself may be lost). The temporary
name is unique per process *and* per call (`.NAME.tmp-PID-RANDOM`), so two processes (or two threads)
writing the same target never write into each other's file; the last rename wins, whole.

Temporary names start with '.' and contain '.tmp', which is what `is_temp` recognises, so every
directory scanner in the project (shard listing, stale-file cleanup) skips them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temp_path(path: str | os.PathLike) -> Path:
    """A hidden temporary sibling of `path`, unique to this process and call."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def is_temp(path: str | os.PathLike) -> bool:
    """True for a temporary file of this module (and of the writers that used `.tmp` names before it)."""
    name = Path(path).name
    return name.startswith(".") or ".tmp" in name


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename inside `path` durable. Filesystems that cannot fsync a directory are accepted."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; on a clean exit flush, fsync, rename it onto
    `path` and fsync the folder; on an exception delete it and leave `path` as it was."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_file(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    with atomic_file(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, **dumps: Any) -> Path:
    return write_text(path, json.dumps(obj, **dumps))


def publish_dir(tmp_dir: str | os.PathLike, final_dir: str | os.PathLike) -> Path:
    """Rename a fully written folder into place (the folder must not exist yet), durably.

    Every file and folder inside is fsynced first (writers such as `save_pretrained` do not), then the
    parent after the rename. A folder is published whole or not at all."""
    tmp, final = Path(tmp_dir), Path(final_dir)
    for p in sorted(tmp.rglob("*"), reverse=True):  # files before the folders that hold them
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        elif p.is_dir():
            fsync_dir(p)
    fsync_dir(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final
