"""The contrastive pair record, the A/B context-selection prompt, and JSONL IO.

One pair z = (Q, A, C+, C-) (the ContextRL paper, Xu et al., arXiv 2606.17053, §1.1): a query, the anchor answer, the
context that supports it and a minimally perturbed confounder that supports a different answer. Every
consumer formats a pair through `choice_prompt`, so the ContextRL loss, the DA-RL prompts, the DA-SFT
targets and the probe all ask exactly the same question. The letter the model should put next is
`correct_letter`; the trainer reads the next-token logits of the letter tokens (" A"/"A", " B"/"B",
the max over the single-token variants, as the paper code does); the probe, scored by the harness's
choice mode, reads the log-probabilities of the options as continuations. Both pick the letter with
the higher score, ties to A (`pick_letter`; the harness still has the same argmax inline), and
`score_choice` scores the picked letter.

A pair may also carry its A/B prompt verbatim (`prompt`, with the correct `letter`): the paper's
released contrastive data (ctxbench.pairs.released) is pre-rendered, one user message holding the
issue, the reference patch and both trajectories, or a choose-image problem with two `<image>`
markers. Such a prompt is used as it is, in its authored option order (the paper's files fix it), by
every consumer of `choice_prompt`/`choice_parts`; its contexts live inside the prompt. `prefill` is
text put after the assistant header before the letter (the released Klear recipe: "The correct option
is"); "" means none, and the per-model default belongs to the chat-template settings.

A context is text (trajectory pairs) or a tuple of message parts (`{"type": "image", "value": PATH}`
and text parts; image pairs). Text pairs render exactly as before; pairs with part contexts render
as parts ("Image A: <image> Image B: <image> ... Which image supports this answer?") that the VLM
paths feed through the model's processor.

No torch here: pairs are plain data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ctxbench.core.atomic import atomic_file
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.sources.datafiles import iter_jsonl

LETTERS = ("A", "B")
# The multimodal loader of the paper appends exactly this sentence to choose-image prompts.
CHOICE_INSTRUCTION = "Output A or B directly."
_FIELDS = ("pair_id", "domain", "split", "source", "query", "answer", "ctx_pos", "ctx_neg")
_CTX = ("ctx_pos", "ctx_neg")
_VERBATIM = ("prompt", "letter", "prefill")   # optional; written and hashed only when set
Part = dict              # {"type": "text" | "image", "value": str}
Context = Any            # str (text) or tuple[Part, ...] (message parts)


@dataclass(frozen=True)
class Pair:
    """One contrastive instance. `ctx_pos` supports `answer`; `ctx_neg` supports a different one.

    split:  "train" | "test" (held-out pairs measure context-selection accuracy).
    source: where the pair came from (builder name + source item), for provenance and drill-down.
    meta:   JSON-serialisable extras (the confounder's answer, the edit that was made ...).
    ctx_pos/ctx_neg: text, or a tuple of message parts (image pairs).
    prompt/letter: the A/B prompt verbatim (text or parts) and its correct letter; None = rendered
      from (query, answer, ctx_pos, ctx_neg) by `choice_prompt`.
    prefill: assistant text before the letter ("" = none).
    """

    pair_id: str
    domain: str
    split: str
    source: str
    query: str
    answer: str
    ctx_pos: Context
    ctx_neg: Context
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    prompt: Context | None = None
    letter: str = ""
    prefill: str = ""

    def __post_init__(self):
        if (self.prompt is None) != (self.letter == ""):
            raise ValueError(f"pair {self.pair_id!r}: a verbatim prompt needs its letter and a letter needs a prompt")
        if self.prompt is not None and self.letter not in LETTERS:
            raise ValueError(f"pair {self.pair_id!r}: letter must be A or B, not {self.letter!r}")

    @property
    def verbatim(self) -> bool:
        """True when the A/B prompt is stored as authored (released data) rather than rendered here."""
        return self.prompt is not None

    @property
    def has_parts(self) -> bool:
        """True when a context is message parts (an image pair) rather than text."""
        return not (isinstance(self.ctx_pos, str) and isinstance(self.ctx_neg, str)
                    and (self.prompt is None or isinstance(self.prompt, str)))

    @property
    def image_paths(self) -> list[str]:
        """Paths of the image parts of both contexts (C+ first)."""
        return [p["value"] for c in (self.ctx_pos, self.ctx_neg) if not isinstance(c, str)
                for p in c if p.get("type") == "image"]


def _text(value: str) -> Part:
    return {"type": "text", "value": value}


def _merge_text(parts: list[Part]) -> tuple[Part, ...]:
    """Adjacent text parts joined into one (the processors see one text run between images)."""
    out: list[Part] = []
    for p in parts:
        if p["type"] == "text" and out and out[-1]["type"] == "text":
            out[-1] = _text(out[-1]["value"] + p["value"])
        elif p["type"] != "text" or p["value"]:
            out.append(dict(p))
    return tuple(out)


def _as_parts(ctx: Context) -> tuple[Part, ...]:
    return (_text(ctx),) if isinstance(ctx, str) else tuple(ctx)


def choice_prompt(pair: Pair, pos_first: bool) -> tuple[Any, str]:
    """The A/B prompt (a single user message) and the letter of the supporting context.

    `pos_first` puts C+ as option A; callers randomise it per pair to remove position bias. The prompt
    ends with the instruction so that, after the chat template (or directly, for template-less
    models), the next token is the letter. Text pairs give a string; pairs whose contexts are message
    parts give a tuple of parts (see `choice_parts`). A verbatim pair gives its own prompt and letter
    whatever `pos_first` says (the option order is authored in the data).
    """
    if pair.verbatim and isinstance(pair.prompt, str):
        return pair.prompt, pair.letter
    if pair.has_parts:
        return choice_parts(pair, pos_first)
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


def choice_parts(pair: Pair, pos_first: bool) -> tuple[tuple[Part, ...], str]:
    """The A/B prompt as message parts, for any pair (a text pair gives one text part, identical to
    `choice_prompt`'s string). With image contexts the options read "Image A: <image>" (the paper's
    choose-image prompt has one image placeholder per option); mixed contexts read "Context A: ...".
    """
    if pair.verbatim:
        return _as_parts(pair.prompt), pair.letter
    letter = "A" if pos_first else "B"
    if not pair.has_parts:
        return (_text(choice_prompt(pair, pos_first)[0]),), letter
    first, second = (pair.ctx_pos, pair.ctx_neg) if pos_first else (pair.ctx_neg, pair.ctx_pos)
    all_images = all(p.get("type") == "image" for c in (first, second) for p in _as_parts(c))
    noun = "Image" if all_images else "Context"
    parts = [_text(f"Question: {pair.query}\nAnswer: {pair.answer}\n"
                   f"Which {noun.lower()} supports this answer?\n{noun} A: "), *_as_parts(first),
             _text(f"\n{noun} B: "), *_as_parts(second), _text(f"\n{CHOICE_INSTRUCTION}")]
    return _merge_text(parts), letter


def context_key(ctx: Context) -> Any:
    """A machine-independent form of a context for hashing: image parts by content hash, not path."""
    if isinstance(ctx, str):
        return ctx
    from ctxbench.sources.images import image_key

    return [{"type": "image", "value": image_key(p["value"])} if p.get("type") == "image" else p for p in ctx]


def pick_letter(scores, letters=LETTERS) -> str:
    """The option a model picks from one score per letter (aligned with `letters`): the highest score; a
    tie goes to the earlier letter. The decision rule of context selection, on any per-letter score: the
    trainer's ChoiceScorer.picks applies it to last-position letter logits, and the harness's choice
    scoring (the probe's default mode) applies the same argmax to the options' continuation
    log-probabilities (tests/pairs/test_selection_vs_probe.py pins the two)."""
    scores = list(scores)
    if len(scores) != len(letters):
        raise ValueError(f"expected one score per letter {tuple(letters)}, got {len(scores)}")
    return letters[max(range(len(scores)), key=lambda i: scores[i])]


def score_choice(completion: str, correct_letter: str):
    """0/1 score of an A/B answer: the DA-RL reward, the probe's score of the picked (or generated) letter."""
    from ctxbench.benchmarks.base import Score
    from ctxbench.benchmarks.scoring.extract import extract_choice

    got = extract_choice(completion, "AB")
    ok = got == correct_letter
    return Score(got, ok, float(ok), got is not None)


def pair_fingerprint(pairs: Iterable[Pair]) -> str:
    """Content hash of a pair list (order-sensitive): goes into the trainer's data fingerprint."""
    return stable_hash([{**{k: (context_key(getattr(p, k)) if k in _CTX else getattr(p, k)) for k in _FIELDS},
                         **_verbatim_fields(p, context_key)} for p in pairs])


def _verbatim_fields(p: Pair, ctx=lambda c: c) -> dict:
    """The optional verbatim fields that are set (none for a rendered pair: its files and hashes stay as
    they were before these fields existed)."""
    out: dict[str, Any] = {}
    if p.prompt is not None:
        out["prompt"], out["letter"] = ctx(p.prompt), p.letter
    if p.prefill:
        out["prefill"] = p.prefill
    return out


def save_pairs(path: str | os.PathLike, pairs: Iterable[Pair]) -> Path:
    """Write pairs as JSONL atomically (core.atomic: unique temporary name, fsync, rename, fsync the folder)."""
    path = Path(path)
    with atomic_file(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(_row(p), ensure_ascii=False, sort_keys=True) + "\n" for p in pairs)
    return path


def _row(p: Pair) -> dict:
    return {**{k: v for k, v in asdict(p).items() if k not in _VERBATIM}, **_verbatim_fields(p)}


def load_pairs(path: str | os.PathLike) -> list[Pair]:
    """Read a pairs JSONL file. Malformed lines, missing fields and duplicate ids are DataErrors that
    name the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"pairs file not found: {path} (build one with the pair builder, or fix the path)")
    out: list[Pair] = []
    seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        missing = [k for k in _FIELDS if k not in row]
        if missing:
            raise DataError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        unknown = set(row) - set(_FIELDS) - {"meta", *_VERBATIM}
        if unknown:
            raise DataError(f"{path}:{lineno}: unknown field(s) {', '.join(sorted(unknown))}")
        bad = [k for k in _FIELDS if k not in _CTX and not isinstance(row[k], str)]
        if bad:
            raise DataError(f"{path}:{lineno}: field(s) {', '.join(bad)} must be strings")
        for k in _CTX:
            row[k] = _load_context(row[k], f"{path}:{lineno}: {k}", path.parent)
        extra = _load_verbatim(row, f"{path}:{lineno}", path.parent)
        if "prompt" not in extra and row["ctx_pos"] == row["ctx_neg"]:  # a verbatim prompt holds its contexts
            raise DataError(f"{path}:{lineno}: pair {row['pair_id']!r} has identical contexts")
        if row["pair_id"] in seen:
            pid = row["pair_id"]
            raise DataError(f"{path}:{lineno}: duplicate pair_id {pid!r} (first on line {seen[pid]})")
        seen[row["pair_id"]] = lineno
        meta = row.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError(f"{path}:{lineno}: meta must be an object")
        out.append(Pair(**{k: row[k] for k in _FIELDS}, meta=meta, **extra))
    return out


def _load_verbatim(row: dict, where: str, base: Path) -> dict:
    """The optional verbatim fields of a stored row, checked: a prompt (text or parts) with letter A|B,
    a string prefill."""
    out: dict[str, Any] = {}
    if ("prompt" in row) != ("letter" in row):
        raise DataError(f"{where}: a verbatim prompt needs its letter and a letter needs a prompt")
    if "prompt" in row:
        if row["letter"] not in LETTERS:
            raise DataError(f"{where}: letter must be A or B, got {row['letter']!r}")
        out["prompt"], out["letter"] = _load_context(row["prompt"], f"{where}: prompt", base), row["letter"]
    if "prefill" in row:
        if not isinstance(row["prefill"], str):
            raise DataError(f"{where}: prefill must be a string")
        out["prefill"] = row["prefill"]
    return out


def _image_path(value: str, where: str, base: Path) -> str:
    """An image part's file, confined: inside the image store (where builders put images) or inside the
    pairs file's folder (a relative path is read from there). Anything else (an absolute path elsewhere,
    '../../etc/passwd') is refused before anything opens it: a pairs file is data, not a file browser."""
    from ctxbench.sources.images import image_dir

    p = Path(value)
    resolved = (p if p.is_absolute() else base / p).resolve()
    roots = (image_dir().resolve(), base.resolve())
    if not any(resolved.is_relative_to(r) for r in roots):
        raise DataError(f"{where}: image path {value!r} is outside the image store ({roots[0]}) and the pairs "
                        f"file's folder ({roots[1]}); refusing to open it")
    return str(resolved)


def _load_context(value: Any, where: str, base: Path | None = None) -> Context:
    """A stored context: a string, or a non-empty list of {"type": "text"|"image", "value": str}; image
    paths are confined (see _image_path) when `base`, the pairs file's folder, is given."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise DataError(f"{where} must be a string or a non-empty list of message parts")
    for i, p in enumerate(value):
        if not (isinstance(p, dict) and set(p) == {"type", "value"} and p["type"] in ("text", "image")
                and isinstance(p["value"], str)):
            raise DataError(f'{where}[{i}]: expected {{"type": "text"|"image", "value": str}}, got {p!r}')
    if base is None:
        return tuple(dict(p) for p in value)
    return tuple({"type": "image", "value": _image_path(p["value"], f"{where}[{i}]", base)} if p["type"] == "image"
                 else dict(p) for i, p in enumerate(value))
