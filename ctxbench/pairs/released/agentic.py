"""The paper's agentic contrastive data: SkyRL's choose-trajectory (CT) JSONL, read as verbatim pairs.

The schema and filter of the released ChooseTrajectoryDataset (Training/SkyRL/examples/train/
mini_swe_agent/ct_dataset.py): one JSON object a line, `prompt` the single user message (issue,
reference patch, the two trajectories and the instruction, all authored in the data) and
`correct_answer` whose stripped string is "A" or "B". The prompt is used verbatim as the A/B prompt,
in its authored option order; the trainer applies the chat template and the pair's `prefill` after it.

Differences, on purpose: a row with another answer or without a prompt is an error naming the file
and line (the released loader drops it silently, which would change the pair count unnoticed); the
released loader's 32,768-token overlong filter is left to the trainer's prompt budget.
"""

from __future__ import annotations

from pathlib import Path

from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import LETTERS, Pair
from ctxbench.pairs.common import split_for
from ctxbench.sources.datafiles import iter_jsonl

FORMAT = "contextrl-agentic"
PROMPT_KEY, ANSWER_KEY = "prompt", "correct_answer"


def looks_like(row: dict) -> bool:
    """A first row of this format (used to detect the format of a .jsonl file)."""
    return PROMPT_KEY in row and ANSWER_KEY in row


def read_agentic(path: str | Path, heldout_frac: float = 0.0, prefill: str = "") -> list[Pair]:
    """Every row of a CT JSONL file as a verbatim text pair (split by the prompt's hash)."""
    path = Path(path)
    out: list[Pair] = []
    seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        prompt = row.get(PROMPT_KEY)
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"{where}: {PROMPT_KEY!r} must be a non-empty string (one user message); a ContextRL "
                            f"agentic CT row has {PROMPT_KEY} and {ANSWER_KEY}, got {', '.join(sorted(row))}")
        letter = str(row.get(ANSWER_KEY, "")).strip()
        if letter not in LETTERS:
            raise DataError(f"{where}: {ANSWER_KEY} must be A or B, got {row.get(ANSWER_KEY)!r}")
        base = "ct-" + stable_hash([prompt, letter], 12)
        seen[base] = seen.get(base, 0) + 1
        pid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        out.append(Pair(pair_id=pid, domain="trajectory", split=split_for(base, heldout_frac),
                        source=f"{FORMAT}:{path.name}:{lineno}", query="", answer="", ctx_pos="", ctx_neg="",
                        meta={"format": FORMAT, "line": lineno}, prompt=prompt, letter=letter, prefill=prefill))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


__all__ = ["FORMAT", "looks_like", "read_agentic"]
