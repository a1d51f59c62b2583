"""Fakes for harness tests: a toy benchmark and a scripted backend (fakes over mocks).

The scripted backend answers deterministically from the prompt, so tests can predict every score, and
it can sleep per batch and count calls so kill/resume tests can see what was recomputed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

from ctxbench.benchmarks import BENCHMARKS
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
from ctxbench.models.base import Completion, GenConfig, Prompt


class ToyRecall(Benchmark):
    """'x = N' hidden in filler; the answer is N. Version and template are class attributes so tests
    can subclass to simulate a benchmark upgrade or a changed prompt."""

    name = "toy-recall"
    version = "1"
    family = "long-horizon"
    source = "generated"
    gen = GenSpec(max_new_tokens=8, stop=("\n",))
    template = "Filler text. x = {n}. More filler.\nQuestion: what is x?\nAnswer:"
    n_items = 24

    def data_status(self):
        return DataStatus(True, "generated")

    def load(self, ctx: LoadContext, limit=None):
        items = [Item(item_id=f"toy-{i:03d}", prompt=(text(self.template.format(n=100 + i) + " " * (i % 5)),),
                      answer=str(100 + i), meta={"group": f"g{i % 6}"}) for i in range(self.n_items)]
        return spread_subset(items, limit)

    def score(self, item, completion):
        m = re.search(r"-?\d+", completion)
        ext = m.group(0) if m else None
        ok = ext == item.answer
        return Score(ext, ok, float(ok), ext is not None)


if "toy-recall" not in BENCHMARKS:
    BENCHMARKS.add("toy-recall", ToyRecall)


@dataclass
class ScriptedBackend:
    """Answers the number after 'x =' for even numbers and 'no idea' for odd ones.

    `sleep_s` per generate call and an optional `log_path` (one line per computed prompt) let a
    kill/resume test see exactly which items each process computed."""

    identity: str = "scripted-v1"
    name: str = "scripted"
    max_context_tokens: int = 2048
    sleep_s: float = 0.0
    log_path: str | None = None

    def count_tokens(self, s: str) -> int:
        return max(1, len(s) // 4)

    def render(self, prompt: Prompt) -> str:
        return "".join(p["value"] for p in prompt.parts if p["type"] == "text") + prompt.prefill

    def _answer(self, prompt_text: str) -> str:
        n = int(re.search(r"x = (\d+)", prompt_text).group(1))
        return f" {n}\n" if n % 2 == 0 else " no idea"

    def generate(self, prompts, cfg: GenConfig):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        out = []
        for p in prompts:
            t = self._answer(self.render(p))
            for s in cfg.stop:
                if s in t:
                    t = t[: t.index(s)]
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(re.search(r"x = (\d+)", self.render(p)).group(1) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            out.append([Completion(t, 10, 2, "stop")])
        return out

    def score_continuations(self, prompt, continuations):
        want = self._answer(self.render(prompt)).strip()
        return [0.0 if c.strip() == want else -5.0 for c in continuations]


@dataclass
class ScriptedChatBackend:
    """A chat model for agent loops: each generate call returns the next scripted reply and records
    the Prompt it was given (history included), so a test can check the conversation it saw."""

    replies: list
    identity: str = "scripted-chat-v1"
    name: str = "scripted"
    max_context_tokens: int = 100_000

    def __post_init__(self):
        self.replies = list(self.replies)
        self.seen: list[Prompt] = []

    def count_tokens(self, s: str) -> int:
        return max(1, len(s) // 4)

    def render(self, prompt: Prompt) -> str:
        turns = [f"{m['role']}: {m['content']}" for m in prompt.history]
        turns.append("user: " + "".join(p["value"] for p in prompt.parts if p["type"] == "text"))
        return "\n\n".join(turns) + "\n\nassistant:" + prompt.prefill

    def generate(self, prompts, cfg: GenConfig):
        out = []
        for p in prompts:
            self.seen.append(p)
            if not self.replies:
                raise AssertionError("ScriptedChatBackend: script exhausted")
            out.append([Completion(self.replies.pop(0), 10, 5, "stop")] * cfg.n)
        return out

    def score_continuations(self, prompt, continuations):
        raise NotImplementedError("ScriptedChatBackend only chats")
