"""Checkpoints that are either complete or invisible, and a resume that never silently starts over.

Layout: <run_dir>/checkpoints/step-0000012/ holds a `save_pretrained` model + tokenizer (so
`hf:<that folder>` loads it anywhere), `trainer_state.pt` (optimizer, scheduler, RNG states, stream
cursors, objective state, step, metric history) and `meta.json` (config and fingerprints). It is
written into a hidden temporary folder; `MANIFEST.json` (sha256 and size of every file) is written
LAST, then the folder is renamed into place. A folder without a valid manifest is not a checkpoint.

`find_resume` walks complete checkpoints newest first, verifies each against its manifest, warns and
falls back to the previous one when the newest is damaged, and raises when checkpoints exist but none
is usable: it never returns "nothing" for a run that has checkpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from ctxbench.core.atomic import disk_full_guard, publish_dir, temp_path
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.manifest import MANIFEST, ManifestError, verify_manifest, write_manifest

STATE = "trainer_state.pt"
META = "meta.json"
PREFIX = "step-"


class CheckpointError(CtxbenchError):
    """A checkpoint is incomplete, damaged or belongs to a different run configuration."""


def step_dir_name(step: int) -> str:
    return f"{PREFIX}{step:07d}"


def verify_checkpoint(folder: str | Path, required: tuple[str, ...] = ()) -> dict:
    """The manifest of a complete, undamaged checkpoint; CheckpointError naming the problem otherwise."""
    try:
        return verify_manifest(folder, required)
    except ManifestError as e:
        raise CheckpointError(str(e)) from None


def save_checkpoint(ckpt_root: Path, name: str, model, tok, state: dict, meta: dict,
                    extra: Callable[[Path], None] | None = None) -> Path:
    """Write a checkpoint atomically under `ckpt_root/name` and return its folder.

    extra(folder): writes more files into the unpublished folder, before the manifest seals it
    (the TRL engine's trainer_state.json, HF Trainer's own resume file)."""
    import torch

    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / name
    tmp = temp_path(final)
    tmp.mkdir()
    try:
        with disk_full_guard(final, f"checkpoint {final}"):  # ENOSPC / EFBIG: one line, nothing published
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            torch.save(state, tmp / STATE)
            (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str), encoding="utf-8")
            if extra is not None:
                extra(tmp)
            write_manifest(tmp, {"name": name, "step": state.get("step")})
        if final.exists():  # re-saving the same step: move the old copy aside only now
            old = temp_path(ckpt_root / f"{name}.old")
            os.replace(final, old)
            publish_dir(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def list_step_checkpoints(ckpt_root: Path) -> list[Path]:
    """Step checkpoint folders (complete or not), oldest first."""
    if not ckpt_root.exists():
        return []
    dirs = [p for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and p.name[len(PREFIX):].isdigit()]
    return sorted(dirs, key=lambda p: int(p.name[len(PREFIX):]))


def prune(ckpt_root: Path, keep_last: int) -> None:
    """Delete all but the newest `keep_last` complete step checkpoints (called after a save, and on
    resume). Step 0 always stays: it is the DA-SFT stage output, the run's KL reference."""
    keep = step_dir_name(0)
    complete = [p for p in list_step_checkpoints(ckpt_root) if (p / MANIFEST).exists() and p.name != keep]
    for p in complete[:-keep_last]:
        doomed = temp_path(p)  # hidden first: a kill mid-delete leaves no half-deleted checkpoint in view
        os.replace(p, doomed)  # (clean_stale_tmp removes what a kill left)
        shutil.rmtree(doomed, ignore_errors=True)


def clean_stale_tmp(ckpt_root: Path) -> None:
    """Remove half-written folders left by killed processes (they never became checkpoints)."""
    if ckpt_root.exists():
        for p in ckpt_root.iterdir():
            if p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
                shutil.rmtree(p, ignore_errors=True)


def _warn(msg: str) -> None:
    warnings.warn(msg, stacklevel=3)
    print(f"ctxbench: WARNING: {msg}", file=sys.stderr)


def find_resume(ckpt_root: Path) -> Path | None:
    """The newest usable step checkpoint, falling back past damaged ones with a warning.

    None only when the run has no step checkpoint folders at all (a fresh start)."""
    candidates = list_step_checkpoints(ckpt_root)
    problems = []
    for p in reversed(candidates):
        try:
            verify_checkpoint(p, required=(STATE, META))
        except CheckpointError as e:
            problems.append(str(e))
            _warn(f"skipping damaged checkpoint: {e}; trying the previous one")
            continue
        return p
    if candidates:
        raise CheckpointError(
            "no usable checkpoint to resume from; every checkpoint is damaged:\n  " + "\n  ".join(problems)
            + "\nRefusing to start over silently: delete the run folder or pass resume='never' to retrain."
        )
    return None


def load_state(folder: Path) -> tuple[dict, dict]:
    """(trainer state, meta) of a verified checkpoint."""
    import torch

    state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    return state, meta


def check_compatible(meta: dict, expected: dict, folder: Path) -> None:
    """Refuse to resume when the config, objective or data differ from the checkpoint's."""
    labels = {"config_fingerprint": "training config", "objective_fingerprint": "objective",
              "data_fingerprint": "training data (tasks, pairs or budget)", "init_identity": "starting model"}
    diffs = [f"{labels.get(k, k)} ({k}: checkpoint {meta.get(k)!r}, now {v!r})"
             for k, v in expected.items() if meta.get(k) != v]
    if diffs:
        raise CheckpointError(
            f"cannot resume from {folder}: the " + "; the ".join(diffs) + " changed.\n"
            "Resuming would mix two different runs. Use a new run_name (or resume='never' to overwrite "
            "this run from scratch), or restore the original settings."
        )
