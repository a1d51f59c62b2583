"""Where the user's copy of an official benchmark file lives, and what to say when it is missing.

Why: the real benchmarks (LongBench v2, LiveCodeBench, SWE-bench) are not redistributable with
ctxbench and are never downloaded at run time. Each adapter declares the file it expects and how to
obtain it; the path comes from `--data PATH` (LoadContext.data_path) or an environment variable
`CTXBENCH_DATA_<NAME>` (name upper-cased, '-' -> '_'). Every adapter then fails the same way, before
any model loads, with a message that names the expected file and where to get it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ctxbench.benchmarks.base import DataStatus
from ctxbench.core.errors import DataError


def env_var_for(name: str) -> str:
    """'swe-bench-verified' -> 'CTXBENCH_DATA_SWE_BENCH_VERIFIED'."""
    return "CTXBENCH_DATA_" + "".join(c if c.isalnum() else "_" for c in name).upper()


@dataclass(frozen=True)
class OfficialSource:
    bench: str      # benchmark name
    expected: str   # what the path should point at, e.g. "data.json (or a folder containing it)"
    obtain: str     # how to get it: URL / HF dataset id and file name

    @property
    def env_var(self) -> str:
        return env_var_for(self.bench)

    def hint(self) -> str:
        return (f"{self.bench} reads the official data, {self.expected}; pass --data PATH or set "
                f"{self.env_var}=PATH. Obtain it: {self.obtain}")

    def configured(self, data_path: str | os.PathLike | None = None) -> Path | None:
        p = data_path or os.environ.get(self.env_var)
        return Path(p).expanduser() if p else None

    def locate(self, data_path: str | os.PathLike | None = None) -> Path:
        """The configured path, checked to exist; DataError naming the file and how to obtain it."""
        p = self.configured(data_path)
        if p is None:
            raise DataError(f"no data for {self.bench}: {self.hint()}")
        if not p.exists():
            raise DataError(f"{p}: not found ({self.bench}). {self.hint()}")
        return p

    def status(self, data_path: str | os.PathLike | None = None) -> DataStatus:
        p = self.configured(data_path)
        if p is None:
            return DataStatus(False, f"not configured: {self.hint()}", "not configured")
        if not p.exists():
            return DataStatus(False, f"{p} does not exist. {self.hint()}", f"{p} does not exist")
        return DataStatus(True, f"official file: {p}")


def find_in_dir(path: Path, names: tuple[str, ...], source: OfficialSource) -> Path:
    """`path` itself if it is a file, else the first of `names` inside the folder."""
    if path.is_file():
        return path
    for n in names:
        if (path / n).is_file():
            return path / n
    raise DataError(f"{path}: folder has none of {', '.join(names)}. {source.hint()}")
