"""Benchmarks, registered by name. Importing this package registers the embedded suite.

Suites are named groups of benchmarks (`embedded-long` is the offline long-horizon suite).
"""

from __future__ import annotations

import importlib

from ..registry import Registry
from .base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score

BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark")

SUITES: dict[str, tuple[str, ...]] = {
    "embedded-long": ("niah", "trace-qa", "code-exec", "tool-trace", "long-mcq"),
    "embedded-vqa": ("easy-vqa", "chart-qa", "geometry-qa", "detail-vqa"),
    "paper-vqa": ("MathVista_MINI", "MathVerse_MINI", "MathVision", "MMMU_Pro_10c", "MMMU_DEV_VAL", "VStarBench",
                  "MMStar", "BLINK", "ScienceQA_TEST", "PhyX", "OlympiadBench", "MME-RealWorld-Lite"),
}

# Modules that define and register benchmarks. Each is imported lazily on first lookup so that a
# broken optional benchmark cannot break `import ctxbench`.
_MODULES = (
    "niah", "trace_qa", "code_exec", "tool_trace", "long_mcq",  # embedded, offline
    "easyvqa", "chart_qa", "geometry_qa", "detail_vqa",  # embedded VQA, offline
    "probe",  # context-selection probe on held-out contrastive pairs
    "longbench_v2", "livecodebench", "swe_bench",  # official file formats, read from --data PATH
    "vqa_mcq", "vqa_math", "vqa_science",  # the paper's twelve VQA benchmarks, VLMEvalKit TSVs ($LMUData)
    "easyr1_qa",  # EasyR1/verl RL data (the paper's multimodal GRPO pool), read from --data PATH
)
_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _MODULES:
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{mod}":
                raise


def register(cls: type[Benchmark]) -> type[Benchmark]:
    BENCHMARKS.add(cls.name, cls)
    return cls


def get_benchmark(name: str) -> Benchmark:
    _load_all()
    return BENCHMARKS.get(name)()


def benchmark_names() -> list[str]:
    _load_all()
    return BENCHMARKS.names()


def resolve_benchmarks(suite: str | None = None, names: str | list[str] | None = None) -> list[str]:
    """Names from `--suite` and/or `--benchmarks a,b`; unknown names are errors with suggestions."""
    from ..errors import CtxbenchError, did_you_mean

    _load_all()
    out: list[str] = []
    if suite:
        if suite not in SUITES:
            raise CtxbenchError(f"unknown suite {suite!r}{did_you_mean(suite, SUITES)}")
        out.extend(SUITES[suite])
    if names:
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        out.extend(names)
    for n in out:
        BENCHMARKS.get(n)  # raises with suggestion
    return list(dict.fromkeys(out))


__all__ = [
    "BENCHMARKS", "SUITES", "Benchmark", "DataStatus", "GenSpec", "Item", "LoadContext", "Score",
    "register", "get_benchmark", "benchmark_names", "resolve_benchmarks",
]
