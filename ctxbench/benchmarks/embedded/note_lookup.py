"""`note-lookup`: read one value out of a short list of notes; the default ablation's learnable task.

Why: the long-horizon benchmarks (trace-qa, tool-trace, ...) are what ctxbench is about, but a
random-init 5M-parameter model cannot learn them in the few CPU minutes the default ablation has, so
its trained arms would score exactly what the base model scores. This task keeps the same skill in
miniature (find the one line of the context that decides the answer, ignore the distractors) with a
format short enough (~30 tokens) that the tiny model learns it in minutes: after a light warm-up SFT
it answers with *some* value from the notes, and RL has to teach it to pick the right one.

    Notes:
    k = 3
    x = 8
    q = 1
    m = 6
    What is q?
    Answer:                                  -> "1"

Items are generated from a fixed seed (stable ids and split). Each item is its own source group, so
`split_of` holds out ~30% of them; names within an item are distinct, values are digits and may repeat.
Scoring: the first digit of the reply (after an optional "Answer:"); reward and metric are the same.
"""

from __future__ import annotations

import random
import re

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score, spread_subset, text

VERSION = "1"
N_ITEMS = 2000
N_NOTES = 4
NAMES = tuple("abcdefghjkmnpqrstuvwxyz")
_DIGIT = re.compile(r"\d")


def make_items(n: int = N_ITEMS, n_notes: int = N_NOTES, seed: int = 20260) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        names = rng.sample(NAMES, n_notes)
        values = [str(rng.randrange(10)) for _ in names]
        ask = rng.randrange(n_notes)
        notes = "\n".join(f"{k} = {v}" for k, v in zip(names, values))
        prompt = f"Notes:\n{notes}\nWhat is {names[ask]}?\nAnswer:"
        items.append(Item(item_id=f"nl{i:05d}", prompt=(text(prompt),), answer=values[ask],
                          meta={"asked": names[ask], "position": ask, "n_notes": n_notes}))
    return items


@register
class NoteLookup(Benchmark):
    """Which value does the named note hold? (see the module docstring)."""

    name = "note-lookup"
    version = VERSION
    family = "long-horizon"
    source = "generated"
    gen = GenSpec(mode="generate", max_new_tokens=4, stop=("\n",))

    def data_status(self) -> DataStatus:
        return DataStatus(True, f"generated: {N_ITEMS} items, {N_NOTES} notes each (seeded)")

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        return spread_subset(make_items(), limit)

    def score(self, item: Item, completion: str) -> Score:
        body = completion.split("Answer:", 1)[1] if "Answer:" in completion else completion
        m = _DIGIT.search(body)
        if m is None:
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False)
        ok = m.group(0) == item.answer
        return Score(extracted=m.group(0), correct=ok, score=1.0 if ok else 0.0, parse_ok=True)


@register
class NoteRecall(NoteLookup):
    """`note-recall`: the one-note case ("Notes:\nk = 3\nWhat is k?\nAnswer:" -> "3"), the default
    ablation's trained task. Why a second task: on the default's 2-core budget the `micro` model learns to
    recall a stated value by RL (from ~0.2 after the warm-up to ~0.9 on a dev split in 300 GRPO steps),
    while picking the asked note out of several (note-lookup) does not move in that budget, so an ablation
    on note-lookup would show no learning at all. Same scoring; its own seed, so no item is shared."""

    name = "note-recall"

    def data_status(self) -> DataStatus:
        return DataStatus(True, f"generated: {N_ITEMS} items, 1 note each (seeded)")

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        return spread_subset(make_items(n_notes=1, seed=20261), limit)


__all__ = ["VERSION", "NoteLookup", "NoteRecall", "make_items"]
