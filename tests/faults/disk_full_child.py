"""One disk-full scenario, run inside a child process whose filesystem is small (a tmpfs mounted in a user
and mount namespace) or whose files may not grow past a size (RLIMIT_FSIZE): build the previous state, make
one write fail for lack of space, then check that the error is the one-line DiskFullError (or, for a
writer that does not translate it, an error `out_of_space` recognises) and that the previous state is
exactly as it was. Prints one JSON line; test_disk_full.py asserts on it.

Why everything is checked in here: a tmpfs mounted in a namespace exists only while the namespace does.

    python disk_full_child.py SCENARIO WORKDIR MECHANISM [broken]

`broken` swaps the shard writer's atomic_file for a plain in-place write: the suite's negative control
(tests/faults/test_suite_controls.py) shows that its checks then fail.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

import numpy as np

BIG = 3 << 20  # bytes of incompressible text in the write that must fail


def _limit(folder: Path, mechanism: str, leave: int) -> None:
    """From now on, writes may add only about `leave` bytes: fill the tmpfs up to that, or cap every file
    this process writes at that size (RLIMIT_FSIZE; SIGXFSZ ignored, so the write fails with EFBIG instead
    of killing the process). Applied after the previous state is built, as a disk fills during a run."""
    if mechanism == "fsize":
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (leave, leave))
        return
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    if free > leave:
        with open(folder / "filler.bin", "wb") as f:
            f.write(b"\0" * (free - leave))


def _noise(n_rows: int, width: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.bytes(width // 2).hex() for _ in range(n_rows)]


def _sample_rows(run: str, outputs: list[str]) -> list[dict]:
    return [{"key": f"{run}:{i}", "run_id": run, "ckpt_id": "ck", "benchmark": "b", "benchmark_version": "1",
             "item_id": str(i), "config_hash": "c", "sample_idx": 0, "lib_versions": "{}", "score": 1.0, "output": o}
            for i, o in enumerate(outputs)]


def _leftovers(folder: Path) -> list[str]:
    from ctxbench.core.atomic import is_temp

    return sorted(p.name for p in folder.rglob("*") if is_temp(p) and p.name != "filler.bin")


def _error(e: BaseException, folder: Path) -> dict:
    from ctxbench.core.atomic import DiskFullError, out_of_space

    return {"error": type(e).__name__, "message": str(e), "one_line": "\n" not in str(e),
            "disk_full_error": isinstance(e, DiskFullError), "recognised": out_of_space(e, folder)}


def shard(work: Path, mechanism: str, replace: bool) -> dict:
    """A shard write runs out of space: a new shard, or a rewrite of an existing one under its name."""
    from ctxbench.store.shards import read_table, write_shard

    root = work / "runs"
    old = write_shard(root, "samples", _sample_rows("r1", ["a", "b", "c"]), name="first")
    before = old.read_bytes()
    _limit(work, mechanism, 256 << 10)
    rows = _sample_rows("r1" if replace else "r2", _noise(BIG // 4096, 4096, 1))
    out: dict = {}
    try:
        write_shard(root, "samples", rows, name="first" if replace else "second")
        out["error"] = None
    except Exception as e:  # noqa: BLE001 - what reaches the user is the observation
        out.update(_error(e, root))
    try:
        outputs = sorted(read_table(root, "samples")["output"])
    except Exception as e:  # noqa: BLE001 - a torn shard (the broken variant): not intact
        outputs = [repr(e)]
    out["intact"] = old.read_bytes() == before and outputs == ["a", "b", "c"]
    out["leftovers"] = _leftovers(root)
    out["files"] = sorted(p.name for p in (root / "shards" / "samples").iterdir())
    return out


class _Weights:
    """Stands in for a model in save_checkpoint: its save_pretrained writes real safetensors bytes."""

    def __init__(self, n: int):
        import torch

        self.tensors = {"w": torch.arange(n, dtype=torch.float32)}

    def save_pretrained(self, path) -> None:
        from safetensors.torch import save_file

        save_file(self.tensors, str(Path(path) / "model.safetensors"))


class _Tokenizer:
    def save_pretrained(self, path) -> None:
        (Path(path) / "tokenizer_config.json").write_text('{"model_max_length": 64}')


def checkpoint(work: Path, mechanism: str, where: str) -> dict:
    """A checkpoint save runs out of space while writing the weights (safetensors) or the trainer state
    (torch.save): the previous checkpoint stays the one a resume picks."""
    import torch

    from trainers import checkpoint as ck

    ckpt_root = work / "run" / "checkpoints"
    small = {"step": 1, "rng": torch.arange(8)}
    first = ck.save_checkpoint(ckpt_root, ck.step_dir_name(1), _Weights(64), _Tokenizer(), small, {"k": 1})
    manifest = (first / "MANIFEST.json").read_bytes()
    _limit(work, mechanism, 512 << 10)
    n = BIG // 4
    weights = _Weights(n if where == "weights" else 64)
    state = {"step": 2, "rng": torch.rand(n if where == "state" else 8)}
    out: dict = {}
    try:
        ck.save_checkpoint(ckpt_root, ck.step_dir_name(2), weights, _Tokenizer(), state, {"k": 2})
        out["error"] = None
    except Exception as e:  # noqa: BLE001
        out.update(_error(e, ckpt_root))
    resume = ck.find_resume(ckpt_root)
    ck.verify_checkpoint(first, required=(ck.STATE, ck.META))
    out["intact"] = (first / "MANIFEST.json").read_bytes() == manifest and resume == first
    out["leftovers"] = _leftovers(ckpt_root)
    out["files"] = sorted(p.name for p in ckpt_root.iterdir())
    return out


def ingest(work: Path, mechanism: str) -> dict:
    """`ingest` runs out of space while DuckDB writes the new database: the live one stays as it was."""
    from ctxbench.core.paths import db_path
    from ctxbench.store.ingest import ingest as do_ingest
    from ctxbench.store.read import connect_readonly
    from ctxbench.store.shards import write_shard

    root = work / "runs"
    write_shard(root, "samples", _sample_rows("r1", ["a", "b", "c"]), name="first")
    do_ingest(root, progress=False)
    db = db_path(root)
    before = db.read_bytes()
    write_shard(root, "samples", _sample_rows("r2", _noise(BIG // 4096, 4096, 2)), name="second")
    _limit(work, mechanism, len(before) + (256 << 10))  # room to copy the live file, not to grow it
    out: dict = {}
    try:
        do_ingest(root, progress=False)
        out["error"] = None
    except Exception as e:  # noqa: BLE001
        out.update(_error(e, root))
    con = connect_readonly(root)
    try:
        n = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    finally:
        con.close()
    out["intact"] = db.read_bytes() == before and n == 3
    out["leftovers"] = sorted(p.name for p in root.iterdir() if ".ingest-" in p.name)
    out["files"] = sorted(p.name for p in root.iterdir())
    return out


SCENARIOS = {
    "shard-new": lambda w, m: shard(w, m, replace=False),
    "shard-replace": lambda w, m: shard(w, m, replace=True),
    "checkpoint-weights": lambda w, m: checkpoint(w, m, "weights"),
    "checkpoint-state": lambda w, m: checkpoint(w, m, "state"),
    "ingest": ingest,
}


def _break_atomic_writes() -> None:
    from contextlib import contextmanager

    from ctxbench.store import shards

    @contextmanager
    def in_place(path, mode="wb", encoding=None):
        with open(path, mode, encoding=encoding) as f:
            yield f

    shards.atomic_file = in_place


def main() -> None:
    scenario, work, mechanism = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if sys.argv[4:] == ["broken"]:
        _break_atomic_writes()
    try:
        out = SCENARIOS[scenario](work, mechanism)
    except Exception:  # noqa: BLE001 - the scenario itself broke: report it, the test fails on it
        out = {"crash": traceback.format_exc()}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
