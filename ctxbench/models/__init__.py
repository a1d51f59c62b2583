"""Model presets and backends. Nothing here imports torch at package import time: the presets and
the loader only locate and identify checkpoints; backends import torch/transformers/vllm when built.
"""

from ctxbench.models.base import Backend, Completion, GenConfig, Prompt
from ctxbench.models.hf.common import load_model_and_tokenizer
from ctxbench.models.loader import backend_status, load_backend
from ctxbench.models.options import BackendOptions
from ctxbench.models.presets.registry import ResolvedModel, preset_status, resolve_model

__all__ = [
    "Backend", "BackendOptions", "Completion", "GenConfig", "Prompt", "ResolvedModel",
    "backend_status", "load_backend", "load_model_and_tokenizer", "preset_status", "resolve_model",
]
