"""Evaluation protocols as data: per benchmark and per model family, how the paper decoded and scored.

Why data: the released evaluation scripts (ContextAwareRL @4580269, Evaluation/) fix sampling, lengths,
templates, judges and YaRN per benchmark and per base model; written as a TOML file
(ctxbench/eval/protocols/paper.toml) they are one reviewable table that `ctxbench validate` prints and the
harness applies, instead of constants spread over benchmark modules. A protocol is selected by name
(`protocol = "paper"` in an `[eval]` table or an eval config) or by a path to such a file; with none,
the harness keeps its own behaviour (greedy, each benchmark's max_new_tokens, the eval's template).

File shape: `[benchmarks.NAME.default]` applies to every family, `[benchmarks.NAME.FAMILY]`
(ctxbench.models.chat families) is merged over it. Every entry is built as a `BenchProtocol` when the
file loads, so an unknown key or a bad value fails there, naming the file and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ctxbench.core.config import ConfigError, deep_merge, load_config, read_toml, to_dict
from ctxbench.core.errors import did_you_mean
from ctxbench.models.chat import FAMILIES, TemplateConfig
from ctxbench.models.options import RopeScaling

PROTOCOL_DIR = Path(__file__).with_name("protocols")


@dataclass(frozen=True)
class BenchProtocol:
    """How one benchmark is decoded and scored for one model family.

    source: the released file(s) the values come from (printed by `validate`).
    temperature / top_p / top_k / seed: sampling (temperature 0 = greedy); seed None = the eval's seed.
    max_new_tokens: the generation budget; None = the benchmark's own (an eval's max_new_tokens wins).
    template: TemplateConfig keys merged over the eval's template (thinking, system, suffix, prefix).
    answer: "think-answer" post-processes every reply as VLMEvalKit's inference.py does (keep what
        follows </think>, then the last <answer>...</answer>); the stored output is that, as VLMEvalKit's.
    judge: the LLM judge the paper's scorer asks ("" = none). The eval's `judge` (a registered judge
        name) is switched on for this benchmark; without one the rule-based verdict stands.
    rope_scaling: context extension the model is loaded with for this benchmark (LongBench v2: YaRN).
    note: what still differs from the paper for this entry (printed by `validate`, listed in the docs).
    """

    source: str = ""
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    max_new_tokens: int | None = None
    template: dict[str, Any] = field(default_factory=dict)
    answer: Literal["raw", "think-answer"] = "raw"
    judge: str = ""
    rope_scaling: RopeScaling | None = None
    note: str = ""

    def __post_init__(self):
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError("temperature >= 0, 0 < top_p <= 1 and top_k >= 0")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, not {self.max_new_tokens}")
        load_config(TemplateConfig, self.template)  # unknown template keys fail when the file loads

    def template_over(self, base: TemplateConfig) -> TemplateConfig:
        """`base` (the eval's template) with this entry's template keys on top."""
        return load_config(TemplateConfig, {**to_dict(base), **self.template})


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str = ""
    benchmarks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # name -> family -> keys

    def entry(self, benchmark: str, family: str) -> BenchProtocol | None:
        """The entry for `benchmark` under `family` (its default merged under the family's), or None
        when the protocol does not cover the benchmark."""
        rows = self.benchmarks.get(benchmark)
        if rows is None:
            return None
        return load_config(BenchProtocol, deep_merge(rows.get("default", {}), rows.get(family, {})))


def load_protocol(name_or_path: str) -> Protocol:
    """A protocol by name (a file under ctxbench/eval/protocols/) or by path, every entry checked."""
    return _load(str(name_or_path))


@lru_cache(maxsize=16)
def _load(name_or_path: str) -> Protocol:
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        known = protocol_names()
        if name_or_path not in known:
            raise ConfigError(f"unknown eval protocol {name_or_path!r}{did_you_mean(name_or_path, known)} "
                              f"(or give a path to a protocol TOML file)")
        path = PROTOCOL_DIR / f"{name_or_path}.toml"
    proto = load_config(Protocol, read_toml(path))
    families = ("default", *FAMILIES)
    for bench, rows in proto.benchmarks.items():
        for fam in rows:
            if fam not in families:
                raise ConfigError(f"{path}: benchmarks.{bench}: unknown family {fam!r}{did_you_mean(fam, families)}")
        for fam in families:
            try:
                proto.entry(bench, fam)
            except ConfigError as e:
                raise ConfigError(f"{path}: benchmarks.{bench}.{fam}: {e}") from None
    return proto


def protocol_names() -> list[str]:
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.toml"))


# ---------------------------------------------------------------------------------------------- answers



def think_answer(response: str) -> str:
    """VLMEvalKit inference.py's reply post-processing (the paper's fork, used for every model): drop
    everything up to the first </think>; then the last <answer>...</answer> (after "Final Answer:"
    when present); an unclosed <answer> keeps what follows it."""
    if "</think>" in response:
        response = response[response.find("</think>") + len("</think>"):]
    if "<answer>" in response and "</answer>" in response:
        start, end = response.rfind("<answer>"), response.rfind("</answer>")
        got = response[start + len("<answer>"):end].strip() if end > start else ""
        if "Final Answer:" in got:
            got = got.split("Final Answer:", 1)[1].strip()
        response = got
    if "<answer>" in response:
        response = response[response.find("<answer>") + len("<answer>"):].strip()
    return response


__all__ = ["PROTOCOL_DIR", "BenchProtocol", "Protocol", "load_protocol", "protocol_names", "think_answer"]
