"""The paper's multimodal contrastive data: the choose-image rows of EasyR1's mixed dataset, as pairs.

The released file (xupy21/ContextRL_Multimodal_Qwen2.5_VL, read by Training/EasyR1/verl/utils/dataset.py)
holds both streams: rows with at most one image are QA rows for GRPO (the easyr1-qa benchmark reads
them), rows with more than one image and the answer "A" or "B" are choose-image rows for the
context-selection loss. The split, the row checks and the image reading are easyr1_qa's (one reader of
the format); this module turns each choose-image row into a verbatim image pair:

    prompt   the problem with "\\nOutput A or B directly." appended (the loader's choose_image branch,
             which skips the reasoning-format template), cut at its two `<image>` markers into parts
    letter   the row's answer; image 1 is option A, image 2 option B (the order of the markers)
    ctx_pos  the image the answer names; ctx_neg the other one

Images come as bytes or as paths inside the data folder (a path outside it is refused) and are put in
the content-addressed image store, so the pairs file refers to the store only.
"""

from __future__ import annotations

from pathlib import Path

from ctxbench.benchmarks.base import image, text
from ctxbench.benchmarks.official import easyr1_qa as e1
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import CHOICE_INSTRUCTION, Pair
from ctxbench.pairs.common import split_for

FORMAT = "easyr1"


def looks_like(row: dict) -> bool:
    """A first row of this format (used to detect the format of a .jsonl file)."""
    return "answer" in row and any(k in row for k in e1.PROMPT_KEYS)


def choose_image_parts(problem: str, paths: list[str]) -> tuple[dict, ...]:
    """The released loader's choose-image message: problem + "\\nOutput A or B directly.", split at `<image>`."""
    parts: list[dict] = []
    for i, piece in enumerate(f"{problem}\n{CHOICE_INSTRUCTION}".split("<image>")):
        if i:
            parts.append(image(paths[i - 1]))
        if piece:
            parts.append(text(piece))
    return tuple(parts)


def read_easyr1(path: str | Path, heldout_frac: float = 0.0, prefill: str = "") -> tuple[list[Pair], int]:
    """(the choose-image rows as pairs, the number of QA rows) of an EasyR1 file or dataset folder."""
    files = e1.data_files(Path(path))
    rows = e1.read_rows(files)
    chosen = [r for r in rows if r.kind == "choose-image"]
    paths = e1.store_images(files, chosen)
    out: list[Pair] = []
    seen: dict[str, int] = {}
    for r in chosen:
        stored = paths[(r.file, r.pos)]
        base = "e1ci-" + stable_hash({"problem": r.problem, "answer": r.answer, "images": r.digests}, 12)
        seen[base] = seen.get(base, 0) + 1
        pos, neg = (stored[0], stored[1]) if r.answer == "A" else (stored[1], stored[0])
        out.append(Pair(pair_id=base if seen[base] == 1 else f"{base}-{seen[base]}", domain="image",
                        split=split_for(base, heldout_frac), source=f"{FORMAT}:{r.where.rsplit('/', 1)[-1]}",
                        query=r.problem, answer="", ctx_pos=(image(pos),), ctx_neg=(image(neg),),
                        meta={"format": FORMAT, "row": r.where.rsplit("/", 1)[-1]},
                        prompt=choose_image_parts(r.problem, stored), letter=r.answer, prefill=prefill))
    return out, sum(r.kind == "qa" for r in rows)


__all__ = ["FORMAT", "choose_image_parts", "looks_like", "read_easyr1"]
