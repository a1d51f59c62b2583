"""Benchmarks, registered by name. Importing this package registers the embedded suite.

Suites are named groups of benchmarks (`embedded-long` is the offline long-horizon suite).
"""

from __future__ import annotations

import importlib

from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score
from ctxbench.core.registry import Registry

BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark")

SUITES: dict[str, tuple[str, ...]] = {
    "embedded-long": ("niah", "trace-qa", "code-exec", "tool-trace", "long-mcq"),
    "embedded-vqa": ("easy-vqa", "chart-qa", "geometry-qa", "detail-vqa"),
    "paper-vqa": ("MathVista_MINI", "MathVerse_MINI", "MathVision", "MMMU_Pro_10c", "MMMU_DEV_VAL", "VStarBench",
                  "MMStar", "BLINK", "ScienceQA_TEST", "PhyX", "OlympiadBench", "MME-RealWorld-Lite"),
}

# Modules that define and register benchmarks, imported on first lookup (not at `import ctxbench`, so
# that listing commands stay cheap). A name here that does not import is an error, not a skipped entry:
# a typo or a renamed module must not turn into "unknown benchmark". tests/benchmarks/test_contract.py
# checks that every module listed here registers at least one benchmark.
_MODULES = (
    "embedded.niah", "embedded.trace_qa", "embedded.code_exec", "embedded.tool_trace", "embedded.long_mcq",
    "embedded.note_lookup",  # the default ablation's short, learnable task
    "embedded.easyvqa", "embedded.chart_qa", "embedded.geometry_qa", "embedded.detail_vqa",
    "official.longbench_v2", "official.livecodebench", "official.swe_bench",  # official file formats (--data PATH)
    "official.vqa_mcq", "official.vqa_math", "official.vqa_science",  # the paper's twelve VQA TSVs ($LMUData)
    "official.easyr1_qa",  # EasyR1/verl RL data (the paper's multimodal GRPO pool), read from --data PATH
    # the context-selection probe lives with the pairs it is made of; it registers here by name
    "ctxbench.pairs.probe",
)
_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _MODULES:
        importlib.import_module(mod if mod.startswith("ctxbench.") else f"{__name__}.{mod}")
    _loaded = True  # only once every module imported: a failed load raises again on the next lookup


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
    from ctxbench.core.errors import CtxbenchError, did_you_mean

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
