"""The CLI wires up exactly the command modules that exist: every module in ctxbench/commands/ is a
subcommand, and a name in `COMMANDS` without its module is an error instead of a missing command."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ctxbench import cli


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_module_is_a_subcommand():
    modules = {p.stem for p in (Path(cli.__file__).parent / "commands").glob("*.py") if p.stem != "__init__"}
    assert set(cli.COMMANDS) == modules
    subs = subcommands(cli.build_parser())
    assert len(subs) == len(cli.COMMANDS)
    assert {"run-ablation", "eval", "train", "validate", "swe-bench"} <= set(subs)


def test_a_listed_command_without_a_module_is_an_error(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "evl"))
    with pytest.raises(ModuleNotFoundError, match="ctxbench.commands.evl"):
        cli.build_parser()
