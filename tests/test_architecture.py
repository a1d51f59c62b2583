"""The layout stays a pipeline: no import circle, no import that runs back up a layer.

Layers, lowest first (an import may only point at its own package or a lower layer):

    ctxbench (root: the version only)
    core                                           foundation
    sources, store, stats                          data in, results out, pure statistics
    models                                         backends and presets
    envs                                           sandboxes, tracing, tau2, the SWE agent loop
    benchmarks                                     items and scorers
    pairs                                          contrastive pairs and the probe built from them
    eval, trainers                                 the harness; the compact trainers
    integrations, report                           lm-eval / VLMEvalKit bridges; the report builder
    app, ablation                                  the explorer's queries; the ablation runner
    commands, cli                                  the command line

The graph is read from source (tests/import_graph.py), function-level imports included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import cycles, import_graph

REPO = Path(__file__).resolve().parents[1]
LAYERS = [
    ("ctxbench",),
    ("ctxbench.core",),
    ("ctxbench.sources", "ctxbench.store", "ctxbench.stats"),
    ("ctxbench.models",),
    ("ctxbench.envs",),
    ("ctxbench.benchmarks",),
    ("ctxbench.pairs",),
    ("ctxbench.eval", "trainers"),
    ("ctxbench.integrations", "ctxbench.report"),
    ("ctxbench.app", "ctxbench.ablation"),
    ("ctxbench.commands", "ctxbench.cli"),
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] != "ctxbench" or len(parts) == 1 else ".".join(parts[:2])


@pytest.fixture(scope="module")
def graph():
    return import_graph(REPO, ("ctxbench", "trainers"))


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_every_package_has_a_layer(graph):
    assert {package_of(m) for m in graph} <= set(RANK)


def test_no_import_runs_back_up(graph):
    upward = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                    if package_of(a) != package_of(b) and RANK[package_of(b)] >= RANK[package_of(a)])
    assert upward == []


def test_the_root_module_imports_nothing(graph):
    assert graph["ctxbench"] == set()


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src, encoding="utf-8")


def test_the_walk_finds_circles_and_function_level_imports(tmp_path):
    """The checker itself: a circle through a lazy import, a relative import and `from pkg import mod`."""
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def f():\n    from .sub.c import x\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "import pkg.a\nx = 1\n",
        "pkg/d.py": "import os\nfrom pkg.sub import c\n",
    })
    g = import_graph(tmp_path, ("pkg",))
    assert g["pkg.a"] == {"pkg.b"} and g["pkg.b"] == {"pkg.sub.c"} and g["pkg.d"] == {"pkg.sub.c"}
    assert cycles(g) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (tmp_path / "pkg/sub/c.py").write_text("x = 1\n", encoding="utf-8")
    assert cycles(import_graph(tmp_path, ("pkg",))) == []
