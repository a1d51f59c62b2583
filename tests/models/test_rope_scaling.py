"""YaRN rope scaling (the paper's LongBench v2 setting) reaches the HF model config and the vLLM engine
arguments; the window the backend reports grows with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbench.core.config import ConfigError, load_config
from ctxbench.models.options import BackendOptions, RopeScaling
from ctxbench.models.presets.registry import ResolvedModel

YARN = RopeScaling(rope_type="yarn", factor=2.0, original_max_position_embeddings=2048,
                   max_position_embeddings=8192)


def test_yarn_reaches_the_hf_config(tiny_ckpt):
    from ctxbench.models.hf.common import scaled_config
    from ctxbench.models.loader import load_backend

    cfg = scaled_config(tiny_ckpt, YARN)
    params = getattr(cfg, "rope_parameters", None) or cfg.rope_scaling
    assert (params["rope_type"], params["factor"], params["original_max_position_embeddings"]) == ("yarn", 2.0, 2048)
    assert params.get("rope_theta") is not None and cfg.max_position_embeddings == 8192
    be = load_backend("tiny", rope_scaling={"factor": 2.0, "original_max_position_embeddings": 2048,
                                            "max_position_embeddings": 8192})
    assert be.max_context_tokens == 8192
    assert be.model.model.rotary_emb.rope_type == "yarn"
    assert be.model.model.rotary_emb.attention_scaling > 1.0  # YaRN's attention factor is in use


def test_yarn_maps_to_vllm_hf_overrides():
    vllm_backend = pytest.importorskip("ctxbench.models.vllm")
    resolved = ResolvedModel(spec="hf:/ckpt", path=Path("/ckpt"), identity="0" * 16, kind="hf", max_context=40960)
    kw = vllm_backend.llm_kwargs(resolved, BackendOptions(rope_scaling=RopeScaling()))
    assert kw["max_model_len"] == 131072
    assert kw["hf_overrides"] == {"max_position_embeddings": 131072, "rope_scaling": {
        "rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 65536}}
    assert "hf_overrides" not in vllm_backend.llm_kwargs(resolved, BackendOptions())


def test_rope_options_are_strict():
    with pytest.raises(ConfigError, match="rope_scaling"):
        load_config(BackendOptions, {"rope_scaling": {"fator": 2.0}})
    with pytest.raises(ConfigError, match="unknown config key 'fator'"):
        load_config(RopeScaling, {"fator": 2.0})
    with pytest.raises(ConfigError, match="factor must be > 1"):
        load_config(RopeScaling, {"factor": 1.0})
