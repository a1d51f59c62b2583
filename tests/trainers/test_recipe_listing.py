"""Every training recipe is listed where a user looks for one (issue 12, gap 5), from RECIPES in
trainers/config.py, the one source of truth: `ctxbench train --recipe` help names them all, and the
README names the spec of every paper recipe (one per paper model, each named after its recipe)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from trainers.config import RECIPES

ROOT = Path(__file__).resolve().parents[2]


def recipe_help() -> str:
    from ctxbench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    train = sub.choices["train"]
    return next(a.help for a in train._actions if "--recipe" in a.option_strings)


def test_train_help_lists_every_recipe():
    text = recipe_help()
    assert len(RECIPES) >= 5 and all(name in text for name in RECIPES)


def test_readme_names_the_spec_of_every_paper_recipe():
    readme = " ".join((ROOT / "README.md").read_text().split())
    paper = [name for name in RECIPES if name.startswith("paper-")]
    assert len(paper) == 4
    for name in paper:
        spec = ROOT / "ablations" / f"{name}.toml"
        assert f"`ablations/{name}.toml`" in readme, name
        assert tomllib.loads(spec.read_text())["train"]["recipe"] == name
