"""Ablation specs: arms x seeds x budgets, the model, the pairs to build and the suites to score.

A spec is a TOML file (see ablations/*.toml). Arms name an objective (one declared in trainers/arms.py:
`grpo`, `contextrl`, `da-rl`, `da-sft`) or a variant defined under `[variants.NAME]` (an objective plus
training overrides, e.g. a λ sweep). `[train]` holds trainers.TrainConfig keys shared by every arm;
each arm and seed only sets `objective.name` (plus its variant's overrides) and `seed`, so arms differ
in the objective alone.
`[resources.pairs|warmup|train|eval]` (cpus, gpus) is what each job of that kind reserves under
`run-ablation --executor ray`.
Everything is validated strictly before any job runs: `ctxbench validate ablations/X.toml`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxbench.core.config import ConfigError, deep_merge, load_config, naming_file, read_toml
from ctxbench.core.errors import did_you_mean
from ctxbench.models.chat import TemplateConfig
from trainers.arms import arm_names, baseline, method


@dataclass(frozen=True)
class Variant:
    """An arm that is an objective plus training overrides (merged over `[train]`)."""

    objective: str = field(default_factory=method)
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.objective not in arm_names():
            raise ValueError(f"variant objective {self.objective!r} is not one of {', '.join(arm_names())}")


@dataclass(frozen=True)
class EvalSpec:
    """What every checkpoint (and the base model) is scored on."""

    suite: str | None = "embedded-long"
    benchmarks: tuple[str, ...] = ()
    split: str = "test"          # held-out items only: training draws from the train split
    limit: int | None = None     # items per benchmark (spread over each benchmark); None = all
    probe: bool = True           # context-selection accuracy on held-out pairs, both A/B orders
    probe_limit: int | None = None
    batch_size: int = 8
    max_new_tokens: int | None = None
    scoring: str = "auto"        # "choice": multiple-choice items by option log-probs (lm-eval style)
    score_base: bool = True      # also score the starting checkpoint (after warm-up)
    data: dict[str, str] = field(default_factory=dict)
    protocol: str | None = None  # "paper": the paper's per-benchmark decoding/scoring (ctxbench/eval/protocol.py)
    template: TemplateConfig = field(default_factory=TemplateConfig)  # prompt rendering (ctxbench.models.chat)
    judge: str | None = None     # a registered judge, used where the protocol's scorer asks one

    def __post_init__(self):
        if self.split not in ("all", "train", "test"):
            raise ValueError(f"eval.split must be all, train or test, not {self.split!r}")
        if self.scoring not in ("auto", "generate", "choice"):
            raise ValueError(f"eval.scoring must be auto, generate or choice, not {self.scoring!r}")
        for key in ("limit", "probe_limit", "max_new_tokens"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ValueError(f"eval.{key} must be >= 1 (or left out for all), not {v}")
        if self.batch_size < 1:
            raise ValueError(f"eval.batch_size must be >= 1, not {self.batch_size}")
        if self.protocol is not None:
            from ctxbench.eval.protocol import load_protocol

            load_protocol(self.protocol)


@dataclass(frozen=True)
class JobResources:
    """What one job asks a scheduler for. Read by the ray executor only: the local one runs jobs one at a
    time in this process, so it has nothing to reserve. Not part of any job's key (it cannot change a result)."""

    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self):
        for key in ("cpus", "gpus"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, not {getattr(self, key)}")
        if self.gpus > 1 and self.gpus != int(self.gpus):  # Ray's rule: a share of one GPU, or whole GPUs
            raise ValueError(f"gpus must be a fraction of one GPU or a whole number, not {self.gpus}")


@dataclass(frozen=True)
class ResourcesSpec:
    """`[resources.KIND]` per job kind of the graph (ctxbench.ablation.runner.build_jobs)."""

    pairs: JobResources = field(default_factory=JobResources)
    warmup: JobResources = field(default_factory=JobResources)
    train: JobResources = field(default_factory=JobResources)
    eval: JobResources = field(default_factory=JobResources)

    def of(self, kind: str) -> JobResources:
        from dataclasses import fields

        names = [f.name for f in fields(self)]
        if kind not in names:
            raise ValueError(f"no [resources] entry for job kind {kind!r}{did_you_mean(kind, names)}")
        return getattr(self, kind)


@dataclass(frozen=True)
class AblationSpec:
    name: str
    arms: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    quick_seeds: tuple[int, ...] = (0,)
    model: str = "tiny"
    description: str = ""
    baseline: str = field(default_factory=baseline)
    requires: tuple[str, ...] = ()   # e.g. ("gpu", "official-data"): printed, and checked by run-ablation
    pairs: dict[str, Any] = field(default_factory=dict)        # pair-builder config, or a released file (`file`)
    train: dict[str, Any] = field(default_factory=dict)        # trainers.TrainConfig keys, shared by arms
    variants: dict[str, Variant] = field(default_factory=dict)
    eval: EvalSpec = field(default_factory=EvalSpec)
    quick_train: dict[str, Any] = field(default_factory=dict)  # overrides under --quick (e.g. fewer steps)
    resources: ResourcesSpec = field(default_factory=ResourcesSpec)  # per job kind, for `--executor ray`

    def __post_init__(self):
        if not self.arms:
            raise ValueError("arms: give at least one arm")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError("arms: duplicate arm")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        known = set(arm_names()) | set(self.variants)
        for a in self.arms:
            if a not in known:
                raise ValueError(f"arms: unknown arm {a!r}{did_you_mean(a, known)}")
        if self.baseline not in self.arms:
            raise ValueError(f"baseline {self.baseline!r} is not among the arms")

    def objective_of(self, arm: str) -> str:
        return self.variants[arm].objective if arm in self.variants else arm

    def train_dict(self, arm: str, seed: int, quick: bool = False) -> dict[str, Any]:
        """The resolved TrainConfig dict for one arm and seed."""
        d = deep_merge(self.train, self.quick_train) if quick else copy.deepcopy(self.train)
        if arm in self.variants:
            d = deep_merge(d, self.variants[arm].train)
        d.setdefault("model", self.model)
        d = deep_merge(d, {"objective": {"name": self.objective_of(arm)}, "seed": seed})
        return d


def load_spec(path: str | Path) -> AblationSpec:
    """Load and fully validate a spec: its own keys, every arm's training config (via trainers),
    the benchmark names and the pairs config."""
    path = Path(path)
    with naming_file(path):
        spec = load_config(AblationSpec, read_toml(path))
        check_spec(spec)
    return spec


def check_spec(spec: AblationSpec) -> None:
    from ctxbench.benchmarks import resolve_benchmarks
    from trainers.config import make_config
    for arm in spec.arms:
        for quick in (False, True):
            try:
                make_config(spec.train_dict(arm, spec.seeds[0], quick))
            except ConfigError as e:
                raise ConfigError(f"train (arm {arm}{', --quick' if quick else ''}): {e}") from None
    resolve_benchmarks(spec.eval.suite, list(spec.eval.benchmarks))
    if spec.pairs and "file" in spec.pairs:  # the paper's released data (ctxbench.pairs.released)
        from ctxbench.pairs.released import ReleasedPairsConfig

        load_config(ReleasedPairsConfig, spec.pairs)
    elif spec.pairs:
        from ctxbench.pairs.domains import pairs_config  # validates keys strictly

        pairs_config(spec.pairs)
