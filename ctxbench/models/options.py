"""The typed option set every backend takes (`[model]` tables, `ctxbench eval` flags).

Why its own module: the factory (loader) imports the backends, and the backends need these options;
with the options in the factory the two imported each other. One option set serves both backends so a
`[model]` table does not change shape when the backend does; each backend reads the fields that apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ctxbench.models.chat import TemplateConfig

BackendName = Literal["hf", "vllm", "auto"]


@dataclass(frozen=True)
class RopeScaling:
    """Context extension by rope scaling, applied to the checkpoint's config when it loads (both
    backends). The paper's LongBench v2 run (Evaluation/Agentic/OODEval/longbench_v2/eval.sh): vLLM with
    `--max-model-len 131072 --hf-overrides '{"max_position_embeddings":131072,"rope_scaling":
    {"rope_type":"yarn","factor":2.0,"original_max_position_embeddings":65536}}'`, the defaults here."""

    rope_type: Literal["yarn", "linear", "dynamic"] = "yarn"
    factor: float = 2.0
    original_max_position_embeddings: int = 65536
    max_position_embeddings: int = 131072  # the window the model is run at (and max_model_len on vLLM)

    def __post_init__(self):
        if self.factor <= 1:
            raise ValueError("rope_scaling.factor must be > 1")
        if self.original_max_position_embeddings < 1 or self.max_position_embeddings < 1:
            raise ValueError("rope_scaling: the position counts must be >= 1")

    def config_overrides(self) -> dict:
        """What goes into the checkpoint config (transformers) / vLLM's hf_overrides: one mapping."""
        return {"max_position_embeddings": self.max_position_embeddings,
                "rope_scaling": {"rope_type": self.rope_type, "factor": self.factor,
                                 "original_max_position_embeddings": self.original_max_position_embeddings}}


@dataclass(frozen=True)
class BackendOptions:
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    device: str = "cpu"                # hf: "cpu", "cuda", "cuda:1" ...
    batch_size: int = 8                # hf: prompts prefilled / contexts scored together
    decode_batch: int = 64             # hf: sequences decoded together (after chunked prefill)
    kv_cache_gb: float = 2.0           # hf: KV cache one decode batch may hold; vllm on CPU: the engine's KV space
    enforce_eager: bool | None = None  # vllm: skip CUDA graphs / torch.compile (None: on for the CPU build)
    threads: int | None = None         # hf on CPU: torch.set_num_threads
    tensor_parallel_size: int = 1      # vllm
    gpu_memory_utilization: float = 0.85  # vllm
    max_model_len: int | None = None   # vllm: defaults to the model's window
    enable_prefix_caching: bool = True  # vllm: shared contexts (choices, GRPO groups) prefill once
    seed: int = 0                      # vllm engine seed (per-request seeds come from GenConfig)
    template: TemplateConfig = field(default_factory=TemplateConfig)  # rendering when a prompt names none
    rope_scaling: RopeScaling | None = None  # both: YaRN-style context extension (the window grows with it)

    def __post_init__(self):
        if self.batch_size < 1 or self.decode_batch < 1:
            raise ValueError("batch_size and decode_batch must be >= 1")
        if self.kv_cache_gb <= 0:
            raise ValueError("kv_cache_gb must be > 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be >= 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
            "auto": "auto"}[name]


__all__ = ["BackendName", "BackendOptions", "RopeScaling", "torch_dtype"]
