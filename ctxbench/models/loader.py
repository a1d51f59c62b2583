"""Model spec + options -> a Backend (or a bare model and tokenizer for the trainers).

One typed option set serves both backends so a `[model]` config table does not change shape when
the backend does; each backend reads the fields that apply to it. vLLM is used only when asked
(`backend="vllm"`) or when `backend="auto"` finds both vLLM and CUDA; it is never imported otherwise.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, Literal

from ctxbench.core.config import load_config
from ctxbench.core.errors import CtxbenchError
from ctxbench.models.presets.registry import ResolvedModel, resolve_model

BackendName = Literal["hf", "vllm", "auto"]


@dataclass(frozen=True)
class BackendOptions:
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    device: str = "cpu"                # hf: "cpu", "cuda", "cuda:1" ...
    batch_size: int = 8                # hf: prompts prefilled / contexts scored together
    decode_batch: int = 64             # hf: sequences decoded together (after chunked prefill)
    kv_cache_gb: float = 2.0           # hf: KV cache one decode batch may hold (fewer rows for long prompts)
    threads: int | None = None         # hf on CPU: torch.set_num_threads
    tensor_parallel_size: int = 1      # vllm
    gpu_memory_utilization: float = 0.85  # vllm
    max_model_len: int | None = None   # vllm: defaults to the model's window
    enable_prefix_caching: bool = True  # vllm: shared contexts (choices, GRPO groups) prefill once
    seed: int = 0                      # vllm engine seed (per-request seeds come from GenConfig)

    def __post_init__(self):
        if self.batch_size < 1 or self.decode_batch < 1:
            raise ValueError("batch_size and decode_batch must be >= 1")
        if self.kv_cache_gb <= 0:
            raise ValueError("kv_cache_gb must be > 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be >= 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")


def vllm_usable() -> bool:
    """vLLM installed and a CUDA device present (checked without importing vllm)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def choose_backend(backend: str) -> str:
    if backend not in ("hf", "vllm", "auto"):
        raise CtxbenchError(f"unknown backend {backend!r}; valid choices: auto, hf, vllm")
    if backend == "auto":
        return "vllm" if vllm_usable() else "hf"
    return backend


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
            "auto": "auto"}[name]


def load_model_and_tokenizer(spec: str | ResolvedModel, *, dtype: str = "float32", device: str = "cpu"):
    """(model in eval mode, tokenizer, ResolvedModel) for trainers and tools that need the raw objects."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the harness draws its own bars
    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    try:
        tok = AutoTokenizer.from_pretrained(str(resolved.path))
        model = AutoModelForCausalLM.from_pretrained(str(resolved.path), dtype=torch_dtype(dtype))
    except (OSError, ValueError, KeyError) as e:
        raise CtxbenchError(f"model {resolved.spec!r}: could not load {resolved.path}: {e}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.to(device).eval()
    return model, tok, resolved


def load_backend(
    spec: str | ResolvedModel,
    backend: BackendName = "hf",
    progress: bool | Callable[[int], Any] | None = None,
    **opts: Any,
):
    """A Backend for `spec` ('tiny', 'smollm2-135m', 'hf:PATH'). Unknown option keys are errors.

    progress: None/False for no bar, True for a tqdm bar on stderr, or a callback receiving the
    number of prompts finished since the last call (the harness drives its own bar with it).
    """
    options = load_config(BackendOptions, opts)
    chosen = choose_backend(backend)
    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    if chosen == "vllm":
        from ctxbench.models.vllm import VLLMBackend

        return VLLMBackend(resolved, options)
    from ctxbench.models.multimodal import is_vlm_checkpoint

    if is_vlm_checkpoint(resolved.path):  # LLaVA, Qwen2.5-VL, Qwen3-VL ...: processor + image-text-to-text
        from ctxbench.models.hf.vision import HFVLMBackend

        return HFVLMBackend.load(resolved, options, progress=progress)
    from ctxbench.models.hf.text import HFBackend

    return HFBackend.load(resolved, options, progress=progress)


def backend_status() -> dict[str, str]:
    """Which backends can run here, for `ctxbench models` (imports torch only if vllm is installed)."""
    if importlib.util.find_spec("vllm") is None:
        v = "not installed (pip install -e .[gpu] on a CUDA machine)"
    else:
        v = "available" if vllm_usable() else "installed, but no CUDA device"
    return {"hf": "available", "vllm": v}
