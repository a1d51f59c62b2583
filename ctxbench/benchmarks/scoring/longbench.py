"""LongBench v2's official answer rule, as THUDM/LongBench `pred.py` applies it (`extract_answer` and
the `judge` line of `get_pred`), kept apart from ctxbench's semantic reading in scoring/extract.py.

Why a module of its own: the official verdict must reproduce pred.py exactly, surprises included, and
the semantic extractors are tuned by other benchmarks. Read from THUDM/LongBench @2e00731, pred.py:
`response = output.strip()`, then `extract_answer(response)`: every '*' removed, then the first
"The correct answer is (X)" with X in A-D, else the first "The correct answer is X", case-sensitive;
no <think> handling (the completion is searched whole, reasoning included); `judge = pred == answer`.
Consequences (docs/official-scorers/long-horizon.md): a bare "D", "Answer: D", "The answer is (D)",
"the correct answer is (D)", "The correct answer is: D" and "(d)" are all None; "The correct answer is
Actually (C)" is A (the second pattern takes the first capital after "is "); an answer stated only
inside <think> counts, and so does the first one stated there when the final answer differs.
"""

from __future__ import annotations

import re

_PAREN = re.compile(r"The correct answer is \(([A-D])\)")
_BARE = re.compile(r"The correct answer is ([A-D])")


def extract_answer_official(output: str | None) -> str | None:
    """pred.py's prediction for one model output: 'A'-'D' or None."""
    response = (output or "").strip().replace("*", "")
    m = _PAREN.search(response) or _BARE.search(response)
    return m.group(1) if m else None


__all__ = ["extract_answer_official"]
