"""MANIFEST.json: the commit marker of a folder of files (checkpoints, warm-ups), and its check.

Why in core: the trainers write it last when they save a checkpoint (a folder without a valid manifest
is not a checkpoint), and `ctxbench eval --ckpt` must refuse a folder whose files no longer match it
(a truncated model.safetensors loads as a raw SafetensorError otherwise). Both sides read one format:
{"format": 1, "files": {relative path: {"sha256": ..., "bytes": ...}}, ...extra}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ctxbench.core.atomic import write_json
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import file_sha256

MANIFEST = "MANIFEST.json"


class ManifestError(CtxbenchError):
    """A folder is incomplete or damaged: its files do not match its manifest."""


def write_manifest(folder: str | Path, extra: dict | None = None) -> Path:
    """Hash every file under `folder` (fsynced first) and write MANIFEST.json last: the commit marker."""
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            with open(p, "rb") as f:
                os.fsync(f.fileno())
            files[p.relative_to(folder).as_posix()] = {"sha256": file_sha256(p), "bytes": p.stat().st_size}
    return write_json(folder / MANIFEST, {"format": 1, "files": files, **(extra or {})}, indent=1, sort_keys=True)


def verify_manifest(folder: str | Path, required: tuple[str, ...] = (),
                    sha256: Callable[[Path], str] = file_sha256) -> dict:
    """The manifest of a complete, undamaged folder; ManifestError naming the problem otherwise.
    `sha256` may be a cached hasher (the model presets reuse theirs, keyed by mtime and size)."""
    folder = Path(folder)
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise ManifestError(f"{folder}: no {MANIFEST} (the save did not complete)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ManifestError(f"{mpath}: unreadable manifest ({e})") from None
    for name in required:
        if name not in files:
            raise ManifestError(f"{folder}: {name} is not in the manifest")
    for rel, info in files.items():
        p = folder / rel
        if not p.exists():
            raise ManifestError(f"{folder}: {rel} is missing")
        if p.stat().st_size != info["bytes"]:
            raise ManifestError(f"{folder}: {rel} has {p.stat().st_size} bytes, the manifest says {info['bytes']} "
                                "(truncated or overwritten)")
        if sha256(p) != info["sha256"]:
            raise ManifestError(f"{folder}: {rel} does not match its sha256 in the manifest")
    return manifest


__all__ = ["MANIFEST", "ManifestError", "verify_manifest", "write_manifest"]
