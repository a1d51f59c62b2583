"""The trainer's data side: the task pool, the pair pool, the data budget, and two resumable streams.

Both streams are pure functions of (seed, stream name, epoch, position): an epoch is a permutation
drawn from a generator seeded by those numbers, so a stream's whole state is two integers. That is
what makes resume exact and, under the "shared" budget, what makes every arm see the same RL batches:
the trainer draws one task batch and one pair batch every optimizer step in every arm, whether or not
the arm uses the pairs. The paper's budget ("equal-total", DA-RL "pool") instead gives every arm the
same number of instances: the pair-free arm takes the pair slots as extra tasks, and DA-RL's pairs are
prompts of its task pool (`build_pools`, trainers.config.DataConfig).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ctxbench.benchmarks.base import Benchmark, Item, LoadContext, Score, split_of, spread_subset
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.envs.swe.tasks import resolve_data_path
from ctxbench.pairs.base import Pair, choice_parts, choice_prompt, load_pairs, pair_fingerprint, score_choice
from trainers.arms import get_arm
from trainers.config import TrainConfig

DA_RL = "da-rl"   # the arm whose pairs are RL prompts (trainers.objectives.DataAugRL.name)


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
    env: dict | None = None       # an agentic (SWE) task: {"instance", "repos"}; its rollout is trainers/agentic.py

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


def swe_env(bench: Benchmark, item: Item, data_path: str | None) -> dict:
    """What an agentic rollout of a SWE item needs beyond its prompt: the full instance row (tests,
    test_patch, base commit) and the folder of checkouts (ctxbench.envs.swe.tasks.repos_dir)."""
    from ctxbench.envs.swe.tasks import repos_dir

    path = str(bench.SRC.locate(resolve_data_path(data_path)))
    return {"instance": _instances(bench.name, path)[item.item_id], "repos": str(repos_dir(path))}


@lru_cache(maxsize=8)
def _instances(bench_name: str, path: str) -> dict[str, dict]:
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.official.swe_bench import read_instances

    return {r["instance_id"]: r for r in read_instances(Path(path), get_benchmark(bench_name).SRC)}


def pair_prompt(pair: Pair, pos_first: bool) -> RLPrompt:
    """A pair as an A/B RL prompt with a 0/1 reward (the DA-RL baseline); image pairs keep their
    parts (two images, "Image A: <image> Image B: <image> ...")."""
    key = f"pair:{pair.pair_id}:{'pos-first' if pos_first else 'neg-first'}"
    if pair.has_parts:
        parts, letter = choice_parts(pair, pos_first)
        text = "".join(p["value"] for p in parts if p["type"] == "text")
        return RLPrompt(key=key, text=text, prefill=pair.prefill, stop=(), kind="pair",
                        scorer=lambda c, L=letter: score_choice(c, L), answer=letter, parts=parts)
    text, letter = choice_prompt(pair, pos_first)
    # the key names the option order too: it keys the trainer's token cache
    return RLPrompt(key=key, text=text, prefill=pair.prefill, stop=(), kind="pair",
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
    """tasks: the RL pool (task prompts, plus DA-RL's pair prompts under da_rl_mix "pool"); pairs: the
    pair pool drawn every optimizer step (empty for an arm whose pair slots became tasks or prompts)."""

    tasks: list[RLPrompt]
    pairs: list[Pair]
    skipped_long: int
    fingerprint: str
    repeated_tasks: int = 0       # equal-total-repeat: task slots filled by a second copy of a task

    def describe(self) -> dict:
        pair_prompts = sum(t.kind == "pair" for t in self.tasks)
        total = len(self.tasks) + len(self.pairs)
        return {"tasks": len(self.tasks) - pair_prompts, "pair_prompts": pair_prompts, "pairs": len(self.pairs),
                "total_instances": total, "pair_share": ((len(self.pairs) + pair_prompts) / total) if total else 0.0,
                "repeated_tasks": self.repeated_tasks, "skipped_long_prompts": self.skipped_long}


def load_task_items(cfg: TrainConfig, count_tokens: Callable[[str], int],
                    benchmarks: dict[str, Benchmark] | None = None) -> list[tuple[Benchmark, Item]]:
    """Train-split items of every configured task, in a deterministic order."""
    from ctxbench.benchmarks import get_benchmark

    out = []
    for name in cfg.data.tasks:
        bench = (benchmarks or {}).get(name) or get_benchmark(name)
        ctx = LoadContext(max_context_tokens=cfg.rollout.max_prompt_tokens, count_tokens=count_tokens,
                          data_path=resolve_data_path(cfg.data.data_paths.get(name)))
        items = [it for it in bench.load(ctx) if cfg.data.task_split == "all" or split_of(it) == "train"]
        if cfg.data.max_items_per_task:
            items = spread_subset(items, cfg.data.max_items_per_task)
        if not items:
            raise DataError(f"task {name!r} has no {'' if cfg.data.task_split == 'all' else 'train-split '}items")
        out.extend((bench, it) for it in items)
    return out


def build_pools(cfg: TrainConfig, count_tokens: Callable[[str], int],
                benchmarks: dict[str, Benchmark] | None = None) -> DataPools:
    """Apply the data budget: which task items and pairs this arm may use (DataConfig: the same pools for
    every arm under "shared"; the same total instance count under "equal-total")."""
    if not cfg.data.tasks:
        raise DataError("data.tasks is empty: name at least one benchmark to train on")
    tasks, skipped = [], 0
    for bench, item in load_task_items(cfg, count_tokens, benchmarks):
        p = task_prompt(bench, item, cfg.data.reward)
        if item.meta.get("agentic"):
            p = replace(p, env=swe_env(bench, item, cfg.data.data_paths.get(bench.name)))
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
    n_tasks, n_pairs = budget_counts(cfg, len(tasks), len(pairs))
    repeated = 0
    if cfg.data.budget == "shared":
        tasks = _spread(tasks, n_tasks)
    else:  # equal-total: the pair-free arm's pool holds the pair arms' pool (a spread subset of it)
        tasks, repeated = _equal_total_tasks(cfg, tasks, n_tasks, n_pairs)
    keeps_pairs = cfg.data.budget == "shared" or get_arm(cfg.objective.name).uses_pairs
    pairs = _spread(pairs, n_pairs) if keeps_pairs else []
    if cfg.objective.name == DA_RL and cfg.data.da_rl_mix == "pool":  # each pair once per task epoch
        tasks = tasks + [pair_prompt(p, pos_first_for(cfg.seed, 0, p.pair_id)) for p in pairs]
        pairs = []
    if not tasks:
        raise DataError("no task items left after the data budget and the prompt-length filter")
    fp = {"tasks": [t.key for t in tasks], "prompts": stable_hash([t.text + t.prefill for t in tasks]),
          "pairs": pair_fingerprint(pairs)}
    if any(t.has_images for t in tasks):  # images by content (text-only pools hash exactly as before)
        fp["images"] = stable_hash([t.image_keys() for t in tasks])
    fp = stable_hash(fp)
    return DataPools(tasks, pairs, skipped, fp, repeated)


def budget_counts(cfg: TrainConfig, n_tasks_available: int, n_pairs_available: int) -> tuple[int, int]:
    """(task items, pairs) of an arm that uses the pairs, from total_instances and pair_share."""
    share = cfg.data.pair_share
    if cfg.data.total_instances:
        n_pairs = round(cfg.data.total_instances * share) if n_pairs_available else 0
        n_tasks = cfg.data.total_instances - n_pairs
    elif share and n_pairs_available:  # every task item, plus pairs making up `share` of the total
        n_tasks, n_pairs = n_tasks_available, round(n_tasks_available * share / (1 - share))
    else:
        n_tasks, n_pairs = n_tasks_available, n_pairs_available
    if n_tasks_available < n_tasks or n_pairs_available < n_pairs:
        raise DataError(
            f"data budget (total_instances={cfg.data.total_instances}, pair_share={share}) needs {n_tasks} task "
            f"items and {n_pairs} pairs, but only {n_tasks_available} and {n_pairs_available} are available; lower "
            "data.total_instances / data.pair_share or build more pairs"
        )
    return n_tasks, n_pairs


def _spread(xs: list, n: int) -> list:
    """n evenly spread elements of xs, in order (each at most once when n <= len(xs), else repeated)."""
    return [xs[int(i * len(xs) / n)] for i in range(n)] if n else []


def _equal_total_tasks(cfg: TrainConfig, tasks: list[RLPrompt], n_tasks: int, n_pairs: int) -> tuple[list, int]:
    """The task pool under an equal-total budget and how many of its slots repeat a task. Every arm checks
    the same requirement (n_tasks + n_pairs task items), so no arm of an ablation fails alone."""
    need = n_tasks + n_pairs
    short = max(0, need - len(tasks))
    if short and cfg.data.budget == "equal-total":
        raise DataError(
            f"data.budget = 'equal-total': the arm without pairs needs {need} task items ({n_tasks} + the "
            f"{n_pairs} pair slots), but only {len(tasks)} are available; add task data, lower "
            "data.total_instances, or use budget 'equal-total-repeat' (repeats fill the gap) or 'shared'"
        )
    full = _spread(tasks, need - short)
    if get_arm(cfg.objective.name).uses_pairs:
        return _spread(full, n_tasks), 0
    return full + _spread(full, short), short


def sft_examples_from_tasks(cfg: TrainConfig, count_tokens, benchmarks=None) -> list[RLPrompt]:
    """Warm-up SFT data: the configured tasks' train items (prompt, reference answer)."""
    items = [task_prompt(b, it) for b, it in load_task_items(cfg, count_tokens, benchmarks)]
    if cfg.warmup.max_items:
        items = items[: cfg.warmup.max_items]
    return items
