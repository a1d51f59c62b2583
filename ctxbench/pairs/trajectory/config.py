"""How to build trajectory pairs (`[pairs]` with domain = "trajectory", the default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TrajectoryPairsConfig:
    """How to build contrastive pairs. Token counts use `tokenizer` ("" = len(text)//4, else a model
    preset or hf:PATH whose tokenizer.json counts) unless the builder is given count_tokens."""

    domain: Literal["trajectory"] = "trajectory"
    max_pairs: int = 1000                 # total cap (sources taken round-robin, so the cap keeps variety)
    max_per_source: int = 8               # pairs per source program / task
    heldout_frac: float = 0.3             # share of sources held out (the probe's pairs)
    max_prompt_tokens: int = 900          # the A/B prompt (both contexts) must fit; tiny window is 2048
    max_length_gap: float = 0.10          # reject when the contexts' token counts differ by more
    humaneval_limit: int | None = None    # first N HumanEval problems (None: all 164; 0: none)
    tau2_domains: tuple[str, ...] = ("airline", "retail")
    inputs_per_problem: int = 3           # official inputs (shortest traces first) each mutant runs on
    mutants_per_problem: int = 16         # one-point mutants traced per problem
    tokenizer: str = ""
    seed: int = 0

    def __post_init__(self):
        if self.max_pairs < 1 or self.max_per_source < 1:
            raise ValueError("max_pairs and max_per_source must be >= 1")
        if not 0.0 < self.heldout_frac < 1.0:
            raise ValueError("heldout_frac must be between 0 and 1 (exclusive)")
        if self.max_prompt_tokens < 64:
            raise ValueError("max_prompt_tokens must be >= 64")
        if not 0.0 <= self.max_length_gap <= 1.0:
            raise ValueError("max_length_gap is a fraction between 0 and 1")
        bad = [d for d in self.tau2_domains if d not in ("airline", "retail")]
        if bad:
            raise ValueError(f"unknown tau2_domains {bad}; valid: airline, retail")
        if self.inputs_per_problem < 1 or self.mutants_per_problem < 0:
            raise ValueError("inputs_per_problem must be >= 1 and mutants_per_problem >= 0")


__all__ = ["TrajectoryPairsConfig"]
