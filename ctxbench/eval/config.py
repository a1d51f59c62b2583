"""What an evaluation runs: `EvalConfig` and its strict TOML loader (the one `ctxbench validate` and
`ctxbench eval --config` use).

Why its own module: the config is read by the CLI, `validate`, the ablation runner and the probe, none
of which should import the harness's machinery to learn a config's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ctxbench.models.chat import TemplateConfig


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
    # how prompts are rendered (thinking, override, system, suffix, prefix; ctxbench.models.chat);
    # a protocol's per-benchmark template keys go on top
    template: TemplateConfig = field(default_factory=TemplateConfig)
    # the paper's per-benchmark decoding and scoring ("paper", or a protocol TOML path; ctxbench/eval/protocol.py);
    # None keeps the harness's own: greedy, each benchmark's max_new_tokens
    protocol: str | None = None
    judge: str | None = None  # a registered judge name switched on where the protocol's scorer uses one

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be >= 1")
        if not self.suite and not self.benchmarks:
            raise ValueError("give a suite or at least one benchmark")
        if self.protocol is not None:
            from ctxbench.eval.protocol import load_protocol

            load_protocol(self.protocol)  # an unknown name or a bad file fails with the config


# Keys added after runs were first stored; left out of hashed config dicts while at their defaults, so
# an eval that does not use them keeps its run id (and a store written before them resumes).
LATER_KEYS = {"template": TemplateConfig(), "protocol": None, "judge": None}


def unchanged_defaults(d: dict) -> dict:
    """`d` (a plain config dict) without the LATER_KEYS that hold their default values."""
    from dataclasses import asdict

    defaults = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in LATER_KEYS.items()}
    return {k: v for k, v in d.items() if not (k in defaults and v == defaults[k])}


def load_eval_config(path) -> EvalConfig:
    """An EvalConfig from a TOML file, strictly, with its benchmark names checked (did-you-mean on a typo)."""
    from ctxbench.benchmarks import resolve_benchmarks
    from ctxbench.core.config import load_toml

    cfg = load_toml(EvalConfig, path)
    resolve_benchmarks(cfg.suite, list(cfg.benchmarks))
    return cfg


__all__ = ["LATER_KEYS", "EvalConfig", "load_eval_config", "unchanged_defaults"]
