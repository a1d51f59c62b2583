"""The contrastive pair record, the A/B context-selection prompt, and JSONL IO.

One pair z = (Q, A, C+, C-) (reference/contextrl-method.md §1.1): a query, the anchor answer, the
context that supports it and a minimally perturbed confounder that supports a different answer. Every
consumer formats a pair through `choice_prompt`, so the ContextRL loss, the DA-RL prompts, the DA-SFT
targets and the probe all ask exactly the same question. The letter the model should put next is
`correct_letter`; the trainer reads the next-token logits of the letter tokens (" A"/"A", " B"/"B",
the max over the single-token variants, as the paper code does).

No torch here: pairs are plain data.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DataError
from ..hashing import stable_hash

LETTERS = ("A", "B")
# The multimodal loader of the paper appends exactly this sentence to choose-image prompts.
CHOICE_INSTRUCTION = "Output A or B directly."
_FIELDS = ("pair_id", "domain", "split", "source", "query", "answer", "ctx_pos", "ctx_neg")


@dataclass(frozen=True)
class Pair:
    """One contrastive instance. `ctx_pos` supports `answer`; `ctx_neg` supports a different one.

    split:  "train" | "test" (held-out pairs measure context-selection accuracy).
    source: where the pair came from (builder name + source item), for provenance and drill-down.
    meta:   JSON-serialisable extras (the confounder's answer, the edit that was made ...).
    """

    pair_id: str
    domain: str
    split: str
    source: str
    query: str
    answer: str
    ctx_pos: str
    ctx_neg: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def choice_prompt(pair: Pair, pos_first: bool) -> tuple[str, str]:
    """The A/B prompt text (a single user message) and the letter of the supporting context.

    `pos_first` puts C+ as option A; callers randomise it per pair to remove position bias. The text
    ends with the instruction so that, after the chat template (or directly, for template-less
    models), the next token is the letter.
    """
    first, second = (pair.ctx_pos, pair.ctx_neg) if pos_first else (pair.ctx_neg, pair.ctx_pos)
    text = (
        f"Question: {pair.query}\n"
        f"Answer: {pair.answer}\n"
        "Which context supports this answer?\n"
        f"Context A:\n{first}\n"
        f"Context B:\n{second}\n"
        f"{CHOICE_INSTRUCTION}"
    )
    return text, ("A" if pos_first else "B")


def score_choice(completion: str, correct_letter: str):
    """0/1 score of a generated A/B answer (the DA-RL reward and the probe's generate mode)."""
    from ..benchmarks.base import Score
    from ..benchmarks.extract import extract_choice

    got = extract_choice(completion, "AB")
    ok = got == correct_letter
    return Score(got, ok, float(ok), got is not None)


def pair_fingerprint(pairs: Iterable[Pair]) -> str:
    """Content hash of a pair list (order-sensitive): goes into the trainer's data fingerprint."""
    return stable_hash([{k: getattr(p, k) for k in _FIELDS} for p in pairs])


def save_pairs(path: str | os.PathLike, pairs: Iterable[Pair]) -> Path:
    """Write pairs as JSONL atomically (tmp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_pairs(path: str | os.PathLike) -> list[Pair]:
    """Read a pairs JSONL file. Malformed lines, missing fields and duplicate ids are DataErrors that
    name the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"pairs file not found: {path} (build one with the pair builder, or fix the path)")
    out: list[Pair] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in _FIELDS if k not in row]
            if missing:
                raise DataError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            unknown = set(row) - set(_FIELDS) - {"meta"}
            if unknown:
                raise DataError(f"{path}:{lineno}: unknown field(s) {', '.join(sorted(unknown))}")
            bad = [k for k in _FIELDS if not isinstance(row[k], str)]
            if bad:
                raise DataError(f"{path}:{lineno}: field(s) {', '.join(bad)} must be strings")
            if row["ctx_pos"] == row["ctx_neg"]:
                raise DataError(f"{path}:{lineno}: pair {row['pair_id']!r} has identical contexts")
            if row["pair_id"] in seen:
                raise DataError(
                    f"{path}:{lineno}: duplicate pair_id {row['pair_id']!r} (first on line {seen[row['pair_id']]})"
                )
            seen[row["pair_id"]] = lineno
            meta = row.get("meta") or {}
            if not isinstance(meta, dict):
                raise DataError(f"{path}:{lineno}: meta must be an object")
            out.append(Pair(**{k: row[k] for k in _FIELDS}, meta=meta))
    return out
