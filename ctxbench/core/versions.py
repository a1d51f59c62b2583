"""Library versions recorded with every stored row (results move when libraries move)."""

from __future__ import annotations

import json
import platform
from functools import lru_cache

from ctxbench import __version__

_DISTS = ("torch", "transformers", "trl", "lm-eval", "vllm", "duckdb", "numpy")


@lru_cache(maxsize=1)
def lib_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"ctxbench": __version__, "python": platform.python_version()}
    for d in _DISTS:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            pass
    return out


def lib_versions_json() -> str:
    return json.dumps(lib_versions(), sort_keys=True)
