"""Shared pytest setup: offline, few threads, an isolated run root and cache per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _threads():
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass


@pytest.fixture
def root(tmp_path):
    """An empty run root."""
    r = tmp_path / "runs"
    r.mkdir()
    return r


@pytest.fixture(scope="session")
def tiny_ckpt():
    """The tiny preset checkpoint (built once into the shared cache; ~8 s the first time)."""
    from ctxbench.models.presets.tiny import ensure_tiny

    return ensure_tiny()
