"""Trainer tests: one torch thread (the CPU is shared; two threads oversubscribe it badly) and the
toy fakes importable by name.

This folder is named like the `trainers` package; with `tests/` on sys.path (pytest's rootdir
insertion) Python would otherwise resolve `import trainers` to this folder as a namespace package.
Putting the repository root on sys.path lets the real (regular) package win.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))
if "trainers" in sys.modules and getattr(sys.modules["trainers"], "__file__", None) is None:
    del sys.modules["trainers"]  # a namespace stub picked up before this conftest ran


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
