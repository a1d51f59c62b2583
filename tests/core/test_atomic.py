"""The one atomic write: whole file or old file, unique temporary names, fsync of data and folder."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

from ctxbench.core import atomic


def test_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "f.json"
    atomic.write_json(p, {"a": 1})
    atomic.write_text(p, "second")
    assert p.read_text() == "second" and sorted(x.name for x in p.parent.iterdir()) == ["f.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_file(p, "w") as f:
        f.write("half")
        raise RuntimeError("killed mid-write")
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_temporary_names_are_unique_per_call_and_hidden(tmp_path):
    names = {atomic.temp_path(tmp_path / "f").name for _ in range(200)}
    assert len(names) == 200
    assert all(n.startswith(".f.tmp-") and atomic.is_temp(n) for n in names)


def test_concurrent_writers_never_mix(tmp_path):
    p = tmp_path / "f.txt"
    bodies = [str(i) * 50_000 for i in range(8)]

    def write(b):
        for _ in range(5):
            atomic.write_text(p, b)

    threads = [threading.Thread(target=write, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert p.read_text() in bodies and [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_data_and_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                        real(fd)))
    atomic.write_bytes(tmp_path / "f.bin", b"x")
    assert any("/.f.bin.tmp-" in s for s in synced)  # the data, under its temporary name
    assert str(tmp_path) in synced  # the folder, after the rename


def test_publish_dir_moves_a_whole_folder(tmp_path):
    tmp = atomic.temp_path(tmp_path / "ckpt")
    (tmp / "inner").mkdir(parents=True)
    (tmp / "inner" / "w.bin").write_bytes(b"w")
    final = atomic.publish_dir(tmp, tmp_path / "ckpt")
    assert (final / "inner" / "w.bin").read_bytes() == b"w" and not tmp.exists()
    other = atomic.temp_path(tmp_path / "ckpt")
    (other / "x").mkdir(parents=True)
    (other / "x" / "y").write_text("y")
    with pytest.raises(OSError):  # never over a published folder
        atomic.publish_dir(other, tmp_path / "ckpt")


def test_no_other_module_renames_files_by_hand():
    """Every rename-into-place goes through core.atomic, except two documented protocols: ingest publishes
    the database file it built (DuckDB writes that file itself), moves a stray WAL aside and moves an
    unreadable shard into quarantine, a checkpoint re-save moves the old folder aside before
    publishing the new one, and prune hides an old checkpoint under a temporary name before deleting it
    (a kill mid-delete leaves no half-deleted checkpoint in view)."""
    root = Path(__file__).parents[2]
    allowed = {"ctxbench/core/atomic.py": 2, "ctxbench/store/ingest.py": 3, "trainers/checkpoint.py": 2}
    found: dict[str, int] = {}
    for top in ("ctxbench", "trainers"):
        for p in (root / top).rglob("*.py"):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("replace", "rename") and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "os"):
                    rel = p.relative_to(root).as_posix()
                    found[rel] = found.get(rel, 0) + 1
    assert found == allowed


def test_remove_orphans_deletes_only_a_dead_writers_temporary(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # a PID that has exited
    orphan = tmp_path / f".pairs.jsonl.tmp-{dead}-0a1b2c3d"
    live = atomic.temp_path(tmp_path / "yield.json")  # this process's own, still writing
    legacy = tmp_path / ".old.tmp"  # no PID in the name: kept, never removed on a guess
    for p in (orphan, live, legacy, tmp_path / "pairs.jsonl"):
        p.write_bytes(b"")
    assert atomic.remove_orphans(tmp_path) == [orphan]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, legacy.name, "pairs.jsonl"])
