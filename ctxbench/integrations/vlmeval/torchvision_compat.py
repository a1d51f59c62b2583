"""Let VLMEvalKit import on a CPU-only torch where torchvision's C++ extension cannot load.

Why this exists: `import vlmeval` imports its whole model zoo and dataset list, and dozens of those
modules import torchvision at module level (transforms, mostly). PyPI has no CPU build of torchvision;
the wheel there (0.28.0 for torch 2.13.0) links its ops library `_C.so` against CUDA torch
(`libtorch_cuda.so`, `libc10_cuda.so`), so beside the CPU torch wheel the library does not load.
torchvision tolerates that (its ops then raise "Couldn't load custom C++ ops" when called) except at
two lines: `_meta_registrations.py` registers fake kernels for `torchvision::nms` and
`torchvision::qnms` without checking that the extension loaded, and `import torchvision` dies with
"operator torchvision::nms does not exist".

`prepare()` checks whether the extension loads here; only where it does not, it declares those two
operators' schemas (as torchvision's C++ library declares them) with no kernel behind them, so
torchvision's Python modules import. Nothing on VLMEvalKit's image-MCQ path or in ctxbench's vision
backend calls a torchvision C++ op (box NMS, RoI align, video/JPEG decoding); a call would fail with
an error (torchvision's "Couldn't load custom C++ ops") rather than compute anything. On a GPU box
with a matching CUDA torch the extension loads and this does nothing. The mode ("native",
"python-only" or "absent") is in the runner's result, beside the vlmeval version.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# The two schemas as torchvision 0.28.0's `_C.so` declares them (the strings in the library).
SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_LIBRARY = None  # the torch.library.Library holding the declarations; kept alive for the process


def _extension_path() -> Path | None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("_C*.so")) + sorted(folder.glob("_C*.pyd"))
    return found[0] if found else None


def prepare() -> str:
    """Make `import torchvision` work on this torch; returns how it will load: 'absent' (not installed),
    'native' (its C++ ops load) or 'python-only' (they cannot; the two unguarded schemas declared).
    Must run before torchvision is first imported."""
    global _LIBRARY
    if importlib.util.find_spec("torchvision") is None:
        return "absent"
    import torch

    ext = _extension_path()
    if ext is not None:
        try:
            torch.ops.load_library(str(ext))  # what torchvision.extension does; loading twice is a no-op
            return "native"
        except (OSError, RuntimeError):
            pass
    if _LIBRARY is None:
        lib = torch.library.Library("torchvision", "DEF")
        for schema in SCHEMAS:
            lib.define(schema)
        _LIBRARY = lib
    return "python-only"


__all__ = ["SCHEMAS", "prepare"]
