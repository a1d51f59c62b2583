"""The data files the package reads at run time ship with it (issue 12, gap 4): pyproject.toml's
package-data globs cover every non-Python file under ctxbench/ (and each glob matches a file, so none
is dead), and the paper's eval protocol is found through importlib.resources, as an installed wheel
finds it. Without the glob a wheel leaves ctxbench/eval/protocols/paper.toml out (setuptools ships only
Python files of a package by default), and `[eval] protocol = "paper"` fails after `pip install`."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "ctxbench"


def data_files() -> list[str]:
    return sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)


def test_package_data_covers_every_data_file_and_no_glob_is_dead():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ctxbench"]
    files = data_files()
    assert "eval/protocols/paper.toml" in files
    assert [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)] == []
    assert [g for g in globs if not any(fnmatch.fnmatch(f, g) for f in files)] == []


def test_the_paper_protocol_is_found_through_importlib_resources():
    res = resources.files("ctxbench.eval").joinpath("protocols", "paper.toml")
    assert res.is_file()
    assert tomllib.loads(res.read_text())  # a readable TOML table
