"""Contrastive context pairs (query, answer, supporting context, confounder context).

`base` holds the record type, the A/B prompt shared by the trainers and the context probe, and JSONL
IO. Builders that produce pairs live in sibling modules.
"""

from ctxbench.pairs.base import (
    CHOICE_INSTRUCTION,
    LETTERS,
    Pair,
    choice_parts,
    choice_prompt,
    context_key,
    load_pairs,
    pair_fingerprint,
    save_pairs,
    score_choice,
)

__all__ = [
    "CHOICE_INSTRUCTION", "LETTERS", "Pair", "choice_parts", "choice_prompt", "context_key", "load_pairs",
    "pair_fingerprint", "save_pairs", "score_choice",
]
