"""`easyr1-qa`: an EasyR1 / verl multimodal RL dataset as a task pool (the paper's GRPO stream).

Why: the paper's multimodal runs train Qwen2.5-VL on 38k single-image QA rows plus 7k choose-image
rows, released together in EasyR1's dataset format (xupy21/ContextRL_Multimodal_Qwen2.5_VL, 45k rows:
rows with at most one image feed GRPO, rows with two images and an A/B answer feed the context-selection
loss). Reading that format directly lets `ablations/paper-multimodal.toml`
train on the released rows through the same loop, reward and store as every other task.

The format (EasyR1's RLHFDataset with ContextRL's config: prompt_key `problem`, answer_key `answer`,
image_key `images`), one row per problem, in .parquet (a file, or a folder of shards) or .jsonl:

    problem  the question; each `<image>` marks where the next image goes (`prompt` is accepted too)
    answer   the reference answer: a number, an expression, an option letter, a word or phrase
    images   a list of images: {"bytes": ..., "path": ...} (the HF Image feature in Parquet), raw bytes,
             or a path inside the data file's folder (relative to it; a path outside is refused); absent or
             empty for a text-only row

Which rows (EasyR1's dataset.py filters, `row_kind`): a row with at most one image is a "regular" QA row
(the GRPO stream); a row with more than one image and the answer exactly "A" or "B" is a choose-image
(context-selection) row, read as a contrastive pair by ctxbench.pairs.released.easyr1 (`ctxbench pairs
import`). A row that is neither (several images, another answer) is an error naming its file and row:
EasyR1 drops such rows from both loaders silently, which would shrink the budget unnoticed. This
adapter keeps the QA rows and counts the choose-image rows it leaves to the pair reader
(`last_skipped`). The prompt is the
problem cut at its `<image>` markers (images first when it has none) plus the reasoning-format
instruction the paper's Qwen2.5-VL template adds (think, then answer inside <answer></answer>).

Ids and splits: an item id hashes the problem, the answer and the images' bytes (identical rows get
`-2`, `-3` ...), so it survives re-sharding and re-ordering. `meta["group"]` is the image (its bytes'
hash; the problem text for a text-only row), so questions about one image never straddle train/test.

Scoring (also the RL reward) follows the paper's math reward (examples/reward_function/math.py in the
ContextRL code), with ctxbench's own math comparison in place of mathruler:
  1. the answer read from the reply: the last <answer>...</answer>, else the last \\boxed{...}, else the
     text after the last </think>; none of them: no answer (parse_ok False);
  2. correct when it equals the reference as math (vqa_mathnorm.math_equal: numbers, fractions, LaTeX,
     sympy-equal expressions), or the reference is one option letter and the answer starts with that
     letter as a token ("B", "(B) 12", "B. the second"), or both agree after lower-casing and dropping
     punctuation, or both have >= 3 words and > 10 characters and one contains the other.
Deviations, on purpose: the letter rule needs a token boundary (the original also accepts "Apple" for
"A"), and `Score.score` is the 0/1 accuracy. The paper's reward adds 0.1 for a `</think>` in the
reply (0.9 accuracy + 0.1 format); ctxbench keeps reward and metric one number, so that bonus is left
out (the format instruction stays in the prompt).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score, image, text
from ctxbench.benchmarks.official.source import OfficialSource
from ctxbench.benchmarks.official.vqa_tsv import spread, store_image_bytes
from ctxbench.benchmarks.scoring.vqa_mathnorm import math_equal
from ctxbench.benchmarks.scoring.vqa_scoring import boxed_contents
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import sha256_hex, stable_hash
from ctxbench.sources.datafiles import iter_jsonl

SOURCE = OfficialSource(
    bench="easyr1-qa",
    expected=("an EasyR1/verl RL dataset: a .parquet or .jsonl file with columns problem, answer, images "
              "(e.g. ContextRL_Multimodal_Qwen2.5_VL's train parquet), or a folder holding its shards"),
    obtain=("https://huggingface.co/datasets/xupy21/ContextRL_Multimodal_Qwen2.5_VL, e.g. `huggingface-cli download "
            "xupy21/ContextRL_Multimodal_Qwen2.5_VL --repo-type dataset --local-dir DIR` and pass DIR"),
)
PROMPT_KEYS = ("problem", "prompt")
DATA_SUFFIXES = (".parquet", ".jsonl")
# The paper's Qwen2.5-VL format template asks for reasoning in <think> and the answer in <answer>.
FORMAT_INSTRUCTION = ("Think the problem through step by step inside <think> </think> tags, then give only the "
                      "final answer inside <answer> </answer> tags.")


@dataclass
class Row:
    """One data row, before its images are stored: where it is, its text and its images' digests."""

    where: str           # "FILE:row N" (1-based), for error messages and provenance
    file: int            # index into the file list
    pos: int             # 0-based row position within its file
    problem: str
    answer: str
    digests: list[str]   # sha256 of each image's bytes (= its key in the image store)
    kind: str = "qa"     # "qa" | "choose-image" (row_kind)


# --------------------------------------------------------------------------------------------- reading


def data_files(path: Path) -> list[Path]:
    """The data file itself, or a folder's .parquet/.jsonl files (only those named *train* when some
    are, as Hugging Face shards are: data/train-00000-of-00002.parquet)."""
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise DataError(f"{path}: unsupported file type {path.suffix!r} (expected .parquet or .jsonl). "
                            f"{SOURCE.hint()}")
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
    train = [p for p in files if "train" in p.name.lower()]
    if not files:
        raise DataError(f"{path}: folder has no .parquet or .jsonl file. {SOURCE.hint()}")
    return train or files


def _records(f: Path) -> Iterator[tuple[int, dict]]:
    """(0-based position, row dict) of one file, streamed (Parquet in batches, JSONL line by line)."""
    if f.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(f)
        except Exception as e:  # noqa: BLE001  (pyarrow raises several types for a corrupt file)
            raise DataError(f"{f}: unreadable Parquet: {e}") from None
        pos = 0
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield pos, row
                pos += 1
        return
    for pos, (_, row) in enumerate(iter_jsonl(f)):
        yield pos, row


def image_bytes(ref: Any, folder: Path, where: str) -> bytes:
    """The bytes of one entry of `images` (see module docstring)."""
    if isinstance(ref, dict):
        if ref.get("bytes") is not None:
            ref = ref["bytes"]
            if isinstance(ref, str):
                try:
                    return base64.b64decode(ref, validate=True)
                except (binascii.Error, ValueError):
                    raise DataError(f"{where}: images[].bytes is a string but not base64") from None
        elif ref.get("path"):
            ref = ref["path"]
        else:
            raise DataError(f"{where}: an images entry has neither bytes nor path")
    if isinstance(ref, (bytes, bytearray)):
        return bytes(ref)
    if isinstance(ref, str):
        p = Path(ref)
        p = (p if p.is_absolute() else folder / p).resolve()
        if not p.is_relative_to(folder.resolve()):
            raise DataError(f"{where}: image path {ref!r} is outside the data file's folder ({folder}); refusing "
                            "to open it")
        if not p.is_file():
            raise DataError(f"{where}: image file {ref!r} not found (looked at {p})")
        return p.read_bytes()
    raise DataError(f"{where}: an images entry must be {{bytes, path}}, bytes or a path, not {type(ref).__name__}")


def _image_list(row: dict, where: str) -> list:
    imgs = row.get("images")
    if imgs is None:
        return []
    if isinstance(imgs, (dict, str, bytes)):
        imgs = [imgs]
    if not isinstance(imgs, list):
        raise DataError(f"{where}: images must be a list, got {type(imgs).__name__}")
    return imgs


def read_rows(files: list[Path]) -> list[Row]:
    """Every row of every file, strictly: prompt and answer present, images readable (hashed, not yet
    stored). A row whose `<image>` markers do not match its image count is an error, as in EasyR1."""
    out: list[Row] = []
    for fi, f in enumerate(files):
        for pos, row in _records(f):
            where = f"{f}:row {pos + 1}"
            key = next((k for k in PROMPT_KEYS if k in row), None)
            if key is None or "answer" not in row:
                need = [c for c in ("problem", "answer") if c not in row and not (c == "problem" and key)]
                raise DataError(f"{where}: missing column(s) {', '.join(need)} (has {', '.join(sorted(row))}). "
                                f"{SOURCE.hint()}")
            problem, answer = row[key], row["answer"]
            if not isinstance(problem, str) or not problem.strip():
                raise DataError(f"{where}: {key} must be a non-empty string")
            if answer is None or isinstance(answer, (list, dict)) or not str(answer).strip():
                raise DataError(f"{where}: answer must be a non-empty string or number, got {answer!r}")
            digests = [sha256_hex(image_bytes(r, f.parent, where)) for r in _image_list(row, where)]
            marks = problem.count("<image>")
            if marks and marks != len(digests):
                raise DataError(f"{where}: {key} has {marks} <image> marker(s) but the row has {len(digests)} image(s)")
            kind = row_kind(len(digests), answer, where)
            if kind == "choose-image" and (len(digests) != 2 or marks != 2):
                raise DataError(f"{where}: a choose-image row needs exactly 2 images and 2 <image> markers, "
                                f"got {len(digests)} and {marks}")
            out.append(Row(where, fi, pos, problem, _gold(answer), digests, kind))
    if not out:
        raise DataError(f"{', '.join(map(str, files))}: no rows")
    return out


def row_kind(n_images: int, answer: Any, where: str) -> str:
    """EasyR1's split of one mixed file: "qa" (at most one image: data_type "regular") or "choose-image"
    (more than one image and the answer exactly "A" or "B"); anything else is an error."""
    if n_images <= 1:
        return "qa"
    if answer in ("A", "B"):
        return "choose-image"
    raise DataError(f"{where}: {n_images} images but answer {answer!r}: neither a QA row (at most one image) nor a "
                    "choose-image row (several images, answer exactly A or B)")


def _gold(answer: Any) -> str:
    """The reference as text; a reference written as \\boxed{X} (some EasyR1 sets do) is X."""
    s = str(answer).strip()
    boxed = boxed_contents(s)
    if len(boxed) == 1 and s.startswith("\\boxed") and s.endswith("}"):
        s = boxed[0].strip()
    return s


def store_images(files: list[Path], rows: list[Row]) -> dict[tuple[int, int], list[str]]:
    """Stored image paths of the given rows: a second pass over their files puts only those images in
    the content-addressed store (a --limit run does not copy the whole dataset)."""
    wanted: dict[int, set[int]] = {}
    for r in rows:
        if r.digests:
            wanted.setdefault(r.file, set()).add(r.pos)
    out: dict[tuple[int, int], list[str]] = {}
    for fi, positions in wanted.items():
        f = files[fi]
        for pos, row in _records(f):
            if pos not in positions:
                continue
            where = f"{f}:row {pos + 1}"
            out[(fi, pos)] = [store_image_bytes(image_bytes(x, f.parent, where), where) for x in _image_list(row, where)]
            positions.discard(pos)
            if not positions:
                break
    for r in rows:
        got = out.get((r.file, r.pos), [])
        if [Path(p).stem for p in got] != r.digests:
            raise DataError(f"{r.where}: images changed between the two reads (file modified while loading?)")
    return out


# --------------------------------------------------------------------------------------------- prompt


def prompt_parts(problem: str, paths: list[str]) -> tuple[dict, ...]:
    """The problem cut at its `<image>` markers (EasyR1's _build_messages), images first when it has
    none, then the format instruction."""
    body = f"{problem.rstrip()}\n\n{FORMAT_INSTRUCTION}"
    pieces = body.split("<image>")
    if len(pieces) == 1:
        return tuple(image(p) for p in paths) + (text(body),)
    parts: list[dict] = []
    for i, piece in enumerate(pieces):
        if i:
            parts.append(image(paths[i - 1]))
        if piece:
            parts.append(text(piece))
    return tuple(parts)


# --------------------------------------------------------------------------------------------- scoring

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def reply_answer(completion: str | None) -> str | None:
    """The answer a reply gives, by the paper reward's priority (module docstring, rule 1)."""
    t = re.sub(r"\s*(<|>|/)\s*", r"\1", completion or "")  # "< answer >" -> "<answer>" (as the paper does)
    found = _ANSWER.findall(t)
    if found:
        ans = found[-1]
    else:
        boxed = boxed_contents(t)
        if boxed:
            ans = boxed[-1]
        elif "</think>" in t:
            ans = t[t.rfind("</think>") + len("</think>"):]
        else:
            return None
    ans = ans.strip().strip("$").strip()
    ans = re.sub(r"[.。;,]+$", "", ans).strip()
    return ans or None


def _words(s: str) -> str:
    """Lower case, punctuation dropped except decimal points, minus signs and percent, spaces collapsed."""
    s = re.sub(r"(?<!\d)[^\w\s.-]|[^\w\s%-](?!\d)", " ", s.lower().strip())
    return re.sub(r"\s+", " ", s).strip()


def answer_correct(pred: str | None, gold: str) -> bool:
    """Rule 2 of the module docstring."""
    if not pred:
        return False
    if math_equal(pred, gold):
        return True
    g = gold.strip()
    if len(g) == 1 and g.isalpha() and re.match(rf"\(?{re.escape(g)}\)?(?:$|[\s.:)\-])", pred.strip()):
        return True
    p, gw = _words(pred), _words(gold)
    if not p:
        return False
    if p == gw:
        return True
    return (len(p.split()) >= 3 and len(gw.split()) >= 3 and len(p) > 10 and len(gw) > 10
            and (gw in p or p in gw))


# --------------------------------------------------------------------------------------------- benchmark


@register
class EasyR1QA(Benchmark):
    name = "easyr1-qa"
    version = "1"
    family = "train"
    source = "official-file"
    gen: ClassVar[GenSpec] = GenSpec(mode="generate", max_new_tokens=4096)  # the paper's max_response_length

    def __init__(self):
        self.last_skipped = 0   # choose-image rows left to the pair reader by the last load

    def data_status(self) -> DataStatus:
        return SOURCE.status()

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        files = data_files(SOURCE.locate(ctx.data_path))
        rows = read_rows(files)
        keep = [r for r in rows if r.kind == "qa"]
        self.last_skipped = len(rows) - len(keep)
        if not keep:
            raise DataError(f"{files[0]}: no single-image QA rows ({len(rows)} rows, all choose-image rows: "
                            f"`ctxbench pairs import` reads those). {SOURCE.hint()}")
        seen: dict[str, int] = {}
        ids = []
        for r in keep:
            base = "e1-" + stable_hash({"problem": r.problem, "answer": r.answer, "images": r.digests}, 12)
            seen[base] = seen.get(base, 0) + 1
            ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
        chosen = spread(list(zip(ids, keep)), limit)
        paths = store_images(files, [r for _, r in chosen])
        items = []
        for item_id, r in chosen:
            group = "img-" + r.digests[0][:16] if r.digests else "txt-" + sha256_hex(r.problem)[:16]
            items.append(Item(
                item_id=item_id, prompt=prompt_parts(r.problem, paths.get((r.file, r.pos), [])), answer=r.answer,
                meta={"group": group, "source": r.where.rsplit("/", 1)[-1], "n_images": len(r.digests)},
            ))
        return items

    def score(self, item: Item, completion: str) -> Score:
        got = reply_answer(completion)
        ok = answer_correct(got, item.answer)
        return Score(extracted=got, correct=ok, score=1.0 if ok else 0.0, parse_ok=got is not None)


__all__ = [
    "FORMAT_INSTRUCTION",
    "SOURCE",
    "EasyR1QA",
    "answer_correct",
    "data_files",
    "prompt_parts",
    "read_rows",
    "reply_answer",
    "row_kind",
    "store_images",
]
