"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Why one helper: every writer (shards, checkpoints, pair files, caches, markers, reports) must survive
both a killed process and a power loss. A killed process leaves at most a hidden temporary file; a
power loss cannot publish a file whose data was never flushed, because the data is fsynced before the
rename and the folder is fsynced after it (otherwise the rename itself may be lost). The temporary
name is unique per process *and* per call (`.NAME.tmp-PID-RANDOM`), so two processes (or two threads)
writing the same target never write into each other's file; the last rename wins, whole.

Temporary names start with '.' and contain '.tmp', which is what `is_temp` recognises, so every
directory scanner in the project (shard listing, stale-file cleanup) skips them, and `remove_orphans`
deletes those whose writer (the PID in the name) is gone.

A write that runs out of space (ENOSPC, a quota, a file-size limit) raises `DiskFullError`, one line
naming the file and saying it was left as it was: the temporary file is deleted and nothing is renamed.
`disk_full_guard` gives writers that do not go through `atomic_file` (DuckDB, `save_pretrained`,
`torch.save`) the same message (tests/faults/test_disk_full.py fills a real small filesystem).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ctxbench.core.errors import CtxbenchError

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# How writers written in other languages report it (safetensors' Rust io::Error, DuckDB's IOException)
NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded", "file too large", "os error 28", "os error 27")
LOW_SPACE_BYTES = 1 << 20  # torch.save's C++ writer only says "unexpected pos": recognised by free space


class DiskFullError(CtxbenchError):
    """A write ran out of space (or into a quota or file-size limit); the target was left as it was."""


def out_of_space(err: BaseException, folder: str | os.PathLike) -> bool:
    """Whether `err`, raised while writing into `folder`, means the device (or a limit) is full."""
    if isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS:
        return True
    if any(t in str(err).lower() for t in NO_SPACE_TEXT):
        return True
    if isinstance(err, CtxbenchError) or not isinstance(err, OSError | RuntimeError):
        return False  # a bad value, not a failed write: never blamed on the disk
    import resource

    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
        return True  # a failed write under a file-size limit (`ulimit -f`)
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE_BYTES


@contextmanager
def disk_full_guard(target: str | os.PathLike, what: str = "") -> Iterator[None]:
    """Re-raise a failed write into `target` that ran out of space as DiskFullError (other errors pass).
    The caller is responsible for having left `target` as it was (write aside, rename last)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as e:
        target = Path(target)
        folder = next((p for p in (target.parent, *target.parents) if p.exists()), Path("."))
        if not out_of_space(e, folder):
            raise
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise DiskFullError(f"no space left to write {what or target} ({first}); nothing was published: "
                            f"{target.name} is unchanged. Free space on {folder} (`df -h {folder}`) and "
                            f"re-run: finished work is kept") from e


def temp_path(path: str | os.PathLike) -> Path:
    """A hidden temporary sibling of `path`, unique to this process and call."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def is_temp(path: str | os.PathLike) -> bool:
    """True for a temporary file of this module (and of the writers that used `.tmp` names before it)."""
    name = Path(path).name
    return name.startswith(".") or ".tmp" in name


def _writer_alive(name: str) -> bool:
    """Whether the process named in a `temp_path` name (`.NAME.tmp-PID-HEX`) still runs on this machine.
    A name without a PID (an older writer's) counts as alive: it is never removed on a guess."""
    try:
        pid = int(name.rsplit(".tmp-", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files in `folder` whose writer is gone (killed before its rename); return them.

    Why by PID and not by age: a folder that one job owns (a pair build's) should look, after a re-run,
    exactly like an uninterrupted run's, and the kill may be seconds old. A live writer's file is kept,
    so two processes writing into one folder do not break each other. On a filesystem shared between
    machines a PID is only checked here, so callers use it on folders written by one job at a time."""
    gone = []
    for p in Path(folder).glob(".*.tmp-*"):
        if p.is_file() and not _writer_alive(p.name):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


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
    `path` and fsync the folder; on an exception delete it and leave `path` as it was (out of space:
    DiskFullError)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        with disk_full_guard(final):
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
