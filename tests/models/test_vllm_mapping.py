"""What the vLLM backend asks vLLM for, checked on CPU without vLLM; backend selection; and import
hygiene (importing ctxbench never drags in torch, transformers, vllm or vlmeval)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctxbench.core.config import ConfigError
from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import GenConfig
from ctxbench.models.loader import choose_backend, load_backend
from ctxbench.models.options import BackendOptions
from ctxbench.models.presets.registry import ResolvedModel

vllm_backend = pytest.importorskip("ctxbench.models.vllm")  # needs torch (not vllm)

RESOLVED = ResolvedModel(spec="hf:/ckpt", path=Path("/ckpt"), identity="0" * 16, kind="hf", max_context=4096)


def test_greedy_maps_to_one_greedy_sample():
    kw = vllm_backend.sampling_params_kwargs(GenConfig(max_new_tokens=16, n=4, top_p=0.9, top_k=5, seed=3,
                                                       stop=("\n\n", "###")))
    assert kw == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "seed": None, "max_tokens": 16,
        "stop": ["\n\n", "###"], "include_stop_str_in_output": False, "skip_special_tokens": True,
    }


def test_sampling_maps_all_knobs_and_the_per_prompt_seed():
    cfg = GenConfig(max_new_tokens=64, temperature=0.7, top_p=0.95, top_k=0, n=8, seed=3)
    kw = vllm_backend.sampling_params_kwargs(cfg)
    assert (kw["n"], kw["temperature"], kw["top_p"], kw["top_k"], kw["seed"], kw["max_tokens"]) == \
        (8, 0.7, 0.95, -1, 3, 64)
    assert vllm_backend.sampling_params_kwargs(cfg, seed=12345)["seed"] == 12345
    assert vllm_backend.sampling_params_kwargs(GenConfig(temperature=1.0, top_k=40))["top_k"] == 40


def test_scoring_params_ask_for_prompt_logprobs():
    kw = vllm_backend.scoring_params_kwargs()
    assert kw["prompt_logprobs"] >= 0 and kw["max_tokens"] == 1 and kw["temperature"] == 0.0


def test_llm_kwargs_from_options():
    kw = vllm_backend.llm_kwargs(RESOLVED, BackendOptions(dtype="bfloat16", tensor_parallel_size=2,
                                                          gpu_memory_utilization=0.5))
    assert kw == {
        "model": "/ckpt", "tokenizer": "/ckpt", "dtype": "bfloat16", "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.5, "max_model_len": 4096, "enable_prefix_caching": True, "seed": 0,
        "trust_remote_code": False, "enforce_eager": False,
    }
    # the CPU build runs eagerly unless asked otherwise (its torch.compile warm-up outweighs a tiny model)
    assert vllm_backend.llm_kwargs(RESOLVED, BackendOptions(), cpu=True)["enforce_eager"] is True
    assert vllm_backend.llm_kwargs(RESOLVED, BackendOptions(enforce_eager=False), cpu=True)["enforce_eager"] is False
    assert vllm_backend.llm_kwargs(RESOLVED, BackendOptions(max_model_len=1024))["max_model_len"] == 1024
    assert vllm_backend.llm_kwargs(RESOLVED, BackendOptions(max_model_len=10**6))["max_model_len"] == 4096


@dataclass
class Logprob:  # the shape of vllm.sequence.Logprob
    logprob: float
    rank: int = 1


def test_scoring_requests_and_prompt_logprob_readback():
    pairs = [([1, 2, 3], [[4], [5, 6], []]), ([7], [[8, 9]])]
    seqs, where = vllm_backend.scoring_requests(pairs)
    assert seqs == [[1, 2, 3, 4], [1, 2, 3, 5, 6], [7, 8, 9]]
    assert where == [(0, 0, 3), (0, 1, 3), (1, 0, 1)]
    # prompt_logprobs as vLLM returns them: None first, then {token: Logprob} incl. the actual token
    plp = [None, {2: Logprob(-0.5)}, {3: Logprob(-0.25), 9: Logprob(-0.1)},
           {5: Logprob(-1.0), 4: Logprob(-0.2)}, {6: Logprob(-2.0)}]
    assert vllm_backend.continuation_logprob(plp, seqs[1], 3) == pytest.approx(-3.0)
    assert vllm_backend.continuation_logprob(plp, [1, 2, 3], 1) == pytest.approx(-0.75)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm installed")
def test_vllm_backend_without_vllm_says_how_to_get_it():
    with pytest.raises(CtxbenchError, match=r"pip install -e \.\[gpu\]"):
        vllm_backend.VLLMBackend(RESOLVED)
    with pytest.raises(CtxbenchError, match="needs vLLM"):
        load_backend("tiny", backend="vllm")


def test_backend_choice_and_option_validation():
    if importlib.util.find_spec("vllm") is None:
        assert choose_backend("auto") == "hf"
    assert choose_backend("hf") == "hf" and choose_backend("vllm") == "vllm"
    with pytest.raises(CtxbenchError, match="unknown backend 'vlm'"):
        choose_backend("vlm")
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        load_backend("tiny", batch_sise=4)
    with pytest.raises(ConfigError, match="dtype"):
        load_backend("tiny", dtype="fp8")


def test_import_ctxbench_imports_no_heavy_libraries():
    mods = ["ctxbench", "ctxbench.models", "ctxbench.models.presets.registry", "ctxbench.models.loader"]
    if importlib.util.find_spec("ctxbench.cli") is not None:
        mods.append("ctxbench.cli")
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "from ctxbench.models import preset_status; preset_status()\n"
        "print(','.join(m for m in ('torch', 'transformers', 'vllm', 'vlmeval') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at ctxbench import time: {out.stdout}"
