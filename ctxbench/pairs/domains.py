"""The pair domains by name: one entry point that turns a `[pairs]` table into a config and builds it.

Why here and not in a builder: the ablation runner, `ctxbench pairs build`, `train` and the probe take
a `[pairs]` table whose `domain` picks the builder; dispatching inside one builder made the builders
import each other. Each builder now only knows its own domain.
"""

from __future__ import annotations

from collections.abc import Callable

from ctxbench.core.config import load_config
from ctxbench.pairs.common import PairsResult
from ctxbench.pairs.image.build import ImagePairsConfig, build_image_pairs
from ctxbench.pairs.notes import NotesPairsConfig, build_notes_pairs
from ctxbench.pairs.trajectory.build import build_trajectory_pairs
from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig

PairsConfig = TrajectoryPairsConfig | ImagePairsConfig | NotesPairsConfig
DOMAINS = {"trajectory": TrajectoryPairsConfig, "image": ImagePairsConfig, "notes": NotesPairsConfig}


def pairs_config(data: dict | None = None, /, **overrides) -> PairsConfig:
    """The config for a plain dict (e.g. an ablation spec's [pairs] table), strictly: unknown keys are
    errors. `domain` picks the builder (default "trajectory")."""
    domain = overrides.get("domain") or (data or {}).get("domain") or "trajectory"
    cls = DOMAINS.get(domain)
    if cls is None:  # let the trajectory config reject the value with its valid choices
        cls = TrajectoryPairsConfig
    return load_config(cls, data or {}, **overrides)


def build_pairs(cfg: PairsConfig, root, *, count_tokens: Callable[[str], int] | None = None,
                counter_id: str | None = None, progress: bool = True, write_store: bool = True,
                force: bool = False) -> PairsResult:
    """Build (or reuse) the pairs for `cfg` under `root` with its domain's builder."""
    if isinstance(cfg, ImagePairsConfig):
        return build_image_pairs(cfg, root, progress=progress, write_store=write_store, force=force)
    if isinstance(cfg, NotesPairsConfig):
        return build_notes_pairs(cfg, root, progress=progress, write_store=write_store, force=force)
    return build_trajectory_pairs(cfg, root, count_tokens=count_tokens, counter_id=counter_id, progress=progress,
                                  write_store=write_store, force=force)


__all__ = ["DOMAINS", "PairsConfig", "build_pairs", "pairs_config"]
