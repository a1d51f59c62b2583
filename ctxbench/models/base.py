"""The one model interface the harness, the probe and the trainers' evaluation use.

A backend turns prompts (message parts + optional assistant prefill) into completions, and scores
candidate continuations by log-probability without generating (multiple choice, the context probe).
Backends: `hf` (transformers, CPU/GPU; ctxbench.models.hf.text) and `vllm` (GPU only;
ctxbench.models.vllm), chosen by `ctxbench.models.load_backend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from ctxbench.models.chat import TemplateConfig

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Prompt:
    """A prompt: the current user turn's message parts, plus text the assistant turn starts with.

    `history` is the conversation before that turn, as {"role": "system"|"user"|"assistant",
    "content": str} messages: empty for the single-turn benchmarks, filled by multi-turn agents (the
    SWE agent loop) so a backend renders the whole conversation through the model's chat template
    instead of a flattened transcript.

    `template`: how this prompt is rendered (thinking, override, system, suffix, prefix;
    ctxbench.models.chat); None uses the backend's. Per prompt, because one evaluation scores several
    benchmarks whose protocols render differently on the same loaded model.
    """

    parts: tuple[dict, ...]
    prefill: str = ""
    history: tuple[dict, ...] = ()
    template: TemplateConfig | None = None

    def __post_init__(self):
        for i, m in enumerate(self.history):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise ValueError(f"Prompt.history[{i}] must be {{'role': one of {ROLES}, 'content': str}}, got {m!r}")

    @classmethod
    def of(cls, text: str, prefill: str = "") -> "Prompt":
        return cls(({"type": "text", "value": text},), prefill)

    @classmethod
    def chat(cls, messages: Sequence[dict], prefill: str = "") -> Prompt:
        """A prompt from a whole conversation that ends with a user turn (the turn to answer)."""
        if not messages or messages[-1].get("role") != "user":
            raise ValueError("Prompt.chat needs a conversation ending with a user message")
        return cls(({"type": "text", "value": messages[-1]["content"]},), prefill,
                   tuple({"role": m["role"], "content": m["content"]} for m in messages[:-1]))

    def messages(self, user_text: str) -> list[dict]:
        """The conversation to render: the history, then this turn's user text."""
        return [dict(m) for m in self.history] + [{"role": "user", "content": user_text}]


@dataclass(frozen=True)
class GenConfig:
    """Decoding parameters. temperature == 0 means greedy. Part of every result key."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    n: int = 1          # completions per prompt (GRPO groups)
    seed: int = 0

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.n < 1:
            raise ValueError("n must be >= 1")


@dataclass(frozen=True)
class Completion:
    text: str
    n_prompt_tokens: int
    n_new_tokens: int
    finish_reason: str  # "stop" (stop string or eos) | "length"


@runtime_checkable
class Backend(Protocol):
    name: str                # "hf" | "vllm"
    identity: str            # checkpoint identity: sha of weights+tokenizer files, or preset@seed
    max_context_tokens: int  # the model's window

    def count_tokens(self, text: str) -> int: ...

    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model (chat template applied when the tokenizer has one)."""
        ...

    def generate(self, prompts: Sequence[Prompt], cfg: GenConfig) -> list[list[Completion]]:
        """`cfg.n` completions per prompt, in input order. Stop strings are cut from the text."""
        ...

    def score_continuations(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each continuation after the rendered prompt."""
        ...
