"""RULER's NIAH metric (NVIDIA/RULER @c3f5e3b), the deterministic reference for ctxbench's `niah`.

Why RULER and not needlehaystack: ctxbench's needle is RULER's ("The special magic number for X is
N"), and needlehaystack's own scorer is an LLM judge that cannot run offline. Read, not copied:
scripts/eval/evaluate.py `postprocess_pred` (strip; every character in \\x00-\\x1f becomes a newline;
strip) and scripts/eval/synthetic/constants.py `string_match_all` (per item, the fraction of the
references that occur in the prediction as a case-insensitive substring; the task score is the mean
x 100). A substring test accepts "48239170", "-4823917" and "4823917th" for 4823917 and rejects
"4,823,917"; nothing is stripped, so a number inside <think> counts.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f]")


def postprocess_pred(pred: str | None) -> str:
    """RULER's cleaning of a raw prediction."""
    return _CONTROL.sub("\n", (pred or "").strip()).strip()


def string_match_all(pred: str, refs: list[str] | tuple[str, ...]) -> float:
    """One item's score in [0, 1]: how many of `refs` occur in `pred` (case-insensitive), over len(refs)."""
    if not refs:
        raise ValueError("string_match_all: no references")
    low = pred.lower()
    return sum(1.0 for r in refs if r.lower() in low) / len(refs)


__all__ = ["postprocess_pred", "string_match_all"]
