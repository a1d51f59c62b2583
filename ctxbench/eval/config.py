"""What an evaluation runs: `EvalConfig` and its strict TOML loader (the one `ctxbench validate` and
`ctxbench eval --config` use).

Why its own module: the config is read by the CLI, `validate`, the ablation runner and the probe, none
of which should import the harness's machinery to learn a config's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how. Resolved and hashed into the run id (without `limit`, so a larger
    `--limit` later reuses what a smaller one computed)."""

    model: str = "tiny"  # preset name or hf:PATH
    backend: Literal["hf", "vllm", "auto"] = "hf"
    suite: str | None = None
    benchmarks: tuple[str, ...] = ()
    limit: int | None = None
    split: Literal["all", "train", "test"] = "all"
    batch_size: int = 8
    dtype: Literal["float32", "bfloat16"] = "float32"
    scoring: Literal["auto", "generate", "choice"] = "auto"
    max_new_tokens: int | None = None  # override each benchmark's own default
    data: dict[str, str] = field(default_factory=dict)  # benchmark name -> local data path
    seed: int = 0

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be >= 1")
        if not self.suite and not self.benchmarks:
            raise ValueError("give a suite or at least one benchmark")


def load_eval_config(path) -> EvalConfig:
    """An EvalConfig from a TOML file, strictly, with its benchmark names checked (did-you-mean on a typo)."""
    from ctxbench.benchmarks import resolve_benchmarks
    from ctxbench.core.config import load_toml

    cfg = load_toml(EvalConfig, path)
    resolve_benchmarks(cfg.suite, list(cfg.benchmarks))
    return cfg


__all__ = ["EvalConfig", "load_eval_config"]
