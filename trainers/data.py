"""The trainer's data side: the task pool, the pair pool, the data budget, and two resumable streams.

Both streams are pure functions of (seed, stream name, epoch, position): an epoch is a permutation
drawn from a generator seeded by those numbers, so a stream's whole state is two integers. That is
what makes resume exact and what makes every arm see the same RL batches: the trainer draws one task
batch and one pair batch every optimizer step in every arm, whether or not the arm uses the pairs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ctxbench.benchmarks.base import Benchmark, Item, LoadContext, Score, split_of, spread_subset
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.pairs.base import Pair, choice_parts, choice_prompt, load_pairs, pair_fingerprint, score_choice
from trainers.arms import get_arm
from trainers.config import TrainConfig


@dataclass(frozen=True)
class RLPrompt:
    """One prompt of the RL stream: what to render and how to score a completion of it."""

    key: str                      # benchmark@version/item_id, or pair:<pair_id>:<option order>
    text: str                     # user message text
    prefill: str
    stop: tuple[str, ...]
    kind: str                     # "task" | "pair"
    scorer: Callable[[str], Score]
    answer: str                   # reference answer (warm-up SFT target)
    parts: tuple = ()             # message parts when the prompt has images (VLMs); () = `text` alone

    @property
    def has_images(self) -> bool:
        return any(p["type"] == "image" for p in self.parts)

    def image_keys(self) -> list[str]:
        from ctxbench.sources.images import image_key

        return [image_key(p["value"]) for p in self.parts if p["type"] == "image"]


def reward_fn(bench: Benchmark, item: Item, reward: str = "semantic") -> Callable[[str], Score]:
    """The one reward function of a run (data.reward): the semantic verdict, or the official scorer's."""
    if reward == "semantic":
        return lambda c: bench.score(item, c)
    if not bench.official_scorer:
        raise DataError(f"data.reward = 'official', but {bench.name!r} has no official scorer; use 'semantic'")
    return lambda c: bench.verdicts(item, c).record


def task_prompt(bench: Benchmark, item: Item, reward: str = "semantic") -> RLPrompt:
    """A benchmark item as an RL prompt. Items with image parts keep them (`parts`); only a
    vision-language policy can take those (the trainer checks)."""
    parts = tuple(item.prompt) if any(p["type"] != "text" for p in item.prompt) else ()
    return RLPrompt(key=f"{bench.key}/{item.item_id}", text=item.prompt_text(), prefill=item.prefill,
                    stop=tuple(bench.gen.stop), kind="task", scorer=reward_fn(bench, item, reward),
                    answer=item.answer, parts=parts)


def pair_prompt(pair: Pair, pos_first: bool) -> RLPrompt:
    """A pair as an A/B RL prompt with a 0/1 reward (the DA-RL baseline); image pairs keep their
    parts (two images, "Image A: <image> Image B: <image> ...")."""
    key = f"pair:{pair.pair_id}:{'pos-first' if pos_first else 'neg-first'}"
    if pair.has_parts:
        parts, letter = choice_parts(pair, pos_first)
        text = "".join(p["value"] for p in parts if p["type"] == "text")
        return RLPrompt(key=key, text=text, prefill="", stop=(), kind="pair",
                        scorer=lambda c, L=letter: score_choice(c, L), answer=letter, parts=parts)
    text, letter = choice_prompt(pair, pos_first)
    # the key names the option order too: it keys the trainer's token cache
    return RLPrompt(key=key, text=text, prefill="", stop=(), kind="pair",
                    scorer=lambda c, L=letter: score_choice(c, L), answer=letter)


def pos_first_for(seed: int, epoch: int, pair_id: str) -> bool:
    """Whether C+ is option A when this pair is drawn in this epoch: a stable hash, no global RNG."""
    return bool(int(stable_hash(["ab-order", seed, epoch, pair_id], 8), 16) & 1)


class Stream:
    """An endless, epoch-shuffled stream of indices into a pool of `n` things.

    take(k) returns the next k indices of the current epoch's permutation; when fewer than k remain
    the rest of the epoch is skipped (drop-last), unless the pool is smaller than k, in which case the
    draw wraps into the next epoch.
    """

    def __init__(self, n: int, seed: int, name: str):
        self.n, self.seed, self.name = n, seed, name
        self.epoch, self.pos = 0, 0
        self._perm_epoch, self._perm = -1, np.arange(0)

    def _order(self, epoch: int) -> np.ndarray:
        if epoch != self._perm_epoch:
            rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode()), epoch])
            self._perm, self._perm_epoch = rng.permutation(self.n), epoch
        return self._perm

    def take(self, k: int) -> list[tuple[int, int]]:
        """Next k (index, epoch) pairs."""
        if self.n == 0 or k == 0:
            return []
        out: list[tuple[int, int]] = []
        if self.n >= k and self.pos + k > self.n:
            self.epoch, self.pos = self.epoch + 1, 0
        while len(out) < k:
            if self.pos >= self.n:
                self.epoch, self.pos = self.epoch + 1, 0
            take = min(k - len(out), self.n - self.pos)
            order = self._order(self.epoch)
            out.extend((int(i), self.epoch) for i in order[self.pos:self.pos + take])
            self.pos += take
        return out

    def state_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "seed": self.seed, "epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        for k in ("name", "n", "seed"):
            if state[k] != getattr(self, k):
                raise DataError(f"stream {self.name!r}: saved {k}={state[k]!r} but this run has {getattr(self, k)!r}")
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])


@dataclass
class DataPools:
    tasks: list[RLPrompt]
    pairs: list[Pair]
    skipped_long: int
    fingerprint: str

    def describe(self) -> dict:
        total = len(self.tasks) + len(self.pairs)
        return {"tasks": len(self.tasks), "pairs": len(self.pairs), "total_instances": total,
                "pair_share": (len(self.pairs) / total) if total else 0.0, "skipped_long_prompts": self.skipped_long}


def load_task_items(cfg: TrainConfig, count_tokens: Callable[[str], int],
                    benchmarks: dict[str, Benchmark] | None = None) -> list[tuple[Benchmark, Item]]:
    """Train-split items of every configured task, in a deterministic order."""
    from ctxbench.benchmarks import get_benchmark

    out = []
    for name in cfg.data.tasks:
        bench = (benchmarks or {}).get(name) or get_benchmark(name)
        ctx = LoadContext(max_context_tokens=cfg.rollout.max_prompt_tokens, count_tokens=count_tokens,
                          data_path=cfg.data.data_paths.get(name))
        items = [it for it in bench.load(ctx) if split_of(it) == "train"]
        if cfg.data.max_items_per_task:
            items = spread_subset(items, cfg.data.max_items_per_task)
        if not items:
            raise DataError(f"task {name!r} has no train-split items")
        out.extend((bench, it) for it in items)
    return out


def build_pools(cfg: TrainConfig, count_tokens: Callable[[str], int],
                benchmarks: dict[str, Benchmark] | None = None) -> DataPools:
    """Apply the data budget: how many task items and pairs this run may use (same for every arm)."""
    if not cfg.data.tasks:
        raise DataError("data.tasks is empty: name at least one benchmark to train on")
    tasks, skipped = [], 0
    for bench, item in load_task_items(cfg, count_tokens, benchmarks):
        p = task_prompt(bench, item, cfg.data.reward)
        if count_tokens(p.text + p.prefill) > cfg.rollout.max_prompt_tokens:
            skipped += 1
            continue
        tasks.append(p)
    pairs: list[Pair] = []
    if cfg.data.pairs:
        pairs = [p for p in load_pairs(cfg.data.pairs) if p.split == cfg.data.pair_split]
        if not pairs:
            raise DataError(f"{cfg.data.pairs}: no pairs with split {cfg.data.pair_split!r}")
    elif get_arm(cfg.objective.name).uses_pairs:
        raise DataError(f"objective {cfg.objective.name!r} needs contrastive pairs: set data.pairs to a pairs JSONL")
    share = cfg.data.pair_share
    if cfg.data.total_instances:
        n_pairs = round(cfg.data.total_instances * share) if pairs else 0
        n_tasks = cfg.data.total_instances - n_pairs
    elif share and pairs:  # every task item, plus pairs making up `share` of the total
        n_tasks, n_pairs = len(tasks), round(len(tasks) * share / (1 - share))
    else:
        n_tasks, n_pairs = len(tasks), len(pairs)
    if len(tasks) < n_tasks or len(pairs) < n_pairs:
        raise DataError(
            f"data budget (total_instances={cfg.data.total_instances}, pair_share={share}) needs {n_tasks} task "
            f"items and {n_pairs} pairs, but only {len(tasks)} and {len(pairs)} are available; lower "
            "data.total_instances / data.pair_share or build more pairs"
        )
    tasks = [tasks[int(i * len(tasks) / n_tasks)] for i in range(n_tasks)] if n_tasks else []
    pairs = [pairs[int(i * len(pairs) / n_pairs)] for i in range(n_pairs)] if n_pairs else []
    if not tasks:
        raise DataError("no task items left after the data budget and the prompt-length filter")
    fp = {"tasks": [t.key for t in tasks], "prompts": stable_hash([t.text + t.prefill for t in tasks]),
          "pairs": pair_fingerprint(pairs)}
    if any(t.has_images for t in tasks):  # images by content (text-only pools hash exactly as before)
        fp["images"] = stable_hash([t.image_keys() for t in tasks])
    fp = stable_hash(fp)
    return DataPools(tasks, pairs, skipped, fp)


def sft_examples_from_tasks(cfg: TrainConfig, count_tokens, benchmarks=None) -> list[RLPrompt]:
    """Warm-up SFT data: the configured tasks' train items (prompt, reference answer)."""
    items = [task_prompt(b, it) for b, it in load_task_items(cfg, count_tokens, benchmarks)]
    if cfg.warmup.max_items:
        items = items[: cfg.warmup.max_items]
    return items
