"""One module per `ctxbench` subcommand (add_parser + run)."""

from __future__ import annotations

from pathlib import Path


def root_of(args) -> Path:
    from ctxbench.core.paths import run_root

    return run_root(getattr(args, "root", None))
