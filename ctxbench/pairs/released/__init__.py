"""Readers for the paper's released contrastive data, as pair sources (`ctxbench pairs import`).

Why: the paper's recipes train the context-selection loss on pre-rendered A/B prompts that ship with
its code and datasets, not on pairs built here. Reading them lets a spec train on the paper's own
auxiliary data (`[pairs] file = ...`) through the same store, trainers and baselines as built pairs.

One module per format, each matching the released loader's schema and filter:

    agentic  the SkyRL CT JSONL (ct_dataset.py): `prompt` (one user message holding the issue, the
             reference patch and both trajectories) and `correct_answer` (A or B)
    easyr1   the EasyR1 mixed dataset (verl/utils/dataset.py): the choose-image rows (two images, two
             `<image>` markers, answer A or B; "Output A or B directly." appended as the loader does)
             become image pairs; the other rows are the GRPO stream (easyr1-qa), only counted here

`importer` detects the format, writes the pairs like `pairs build` does and is what the ablation
runner calls for a spec's pairs file.
"""

from ctxbench.pairs.released.importer import (
    FORMATS,
    ImportResult,
    ReleasedPairsConfig,
    detect_format,
    import_pairs,
)

__all__ = ["FORMATS", "ImportResult", "ReleasedPairsConfig", "detect_format", "import_pairs"]
