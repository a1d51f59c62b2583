"""Chat-template control: how a turn becomes model text, the one home for thinking, template overrides,
system prompts, reasoning suffixes and assistant prefills.

Why one home: the paper renders prompts differently per model family and per use, and ctxbench renders
them in four places (the hf text backend, vLLM, the VLM path, the trainers). If each place chose for
itself, a policy could be trained on one rendering and scored on another. Every renderer calls
`apply_chat` with a `TemplateConfig`, so a `[template]` table in a recipe or an `[eval]` table decides
the same thing everywhere.

What the paper does (docs/eval-protocol.md; the released SkyRL/EasyR1/Evaluation code):
- Qwen3 / Klear (SkyRL): RL rollouts and evaluation use the tokenizer's default template (thinking on;
  LiveCodeBench also prefills "<think>\\n"); the context-selection (CA) prompt is rendered with
  `enable_thinking=False` plus a prefill ("" for Qwen3-8B, "The correct option is" for Klear).
- Qwen3-VL (EasyR1): RL and evaluation use the Thinking chat template; the CA prompt uses the
  model's original non-thinking template.
- Qwen2.5-VL: no thinking mode; the reasoning suffix (a protocol setting, ctxbench/eval/protocols) asks for
  <think>/<answer>.
`thinking = "auto"` picks that per family (`FAMILIES`); families ctxbench does not know (the tiny preset,
SmolLM2, LLaVA) resolve to "off", which is the rendering ctxbench always used.

"on" for a template without an `enable_thinking` switch: the family's thinking opener ("<think>\\n" for
Qwen3-VL, what its Thinking template emits after the assistant header) is appended, so Qwen3-VL-Instruct
renders like Qwen3-VL-Thinking for a single turn without shipping that template; `override` names the
real template file where one is wanted (multi-turn history is rendered by it exactly).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ctxbench.core.errors import CtxbenchError

Thinking = Literal["auto", "on", "off"]
Family = Literal["auto", "qwen3", "klear", "qwen3_vl", "qwen2_5_vl", "other"]


@dataclass(frozen=True)
class FamilyDefaults:
    """The paper's template choices for one model family."""

    thinking: bool       # what thinking = "auto" resolves to (RL prompts and evaluation)
    opener: str = ""     # text a thinking turn starts with when the template has no enable_thinking switch
    ca_prefill: str = ""  # assistant prefill of the context-selection prompt (SkyRL ct_dataset)


FAMILIES: dict[str, FamilyDefaults] = {
    "qwen3": FamilyDefaults(thinking=True),                                  # SkyRL run_mini_swe_qwen3_8b.sh
    "klear": FamilyDefaults(thinking=True, ca_prefill="The correct option is"),  # run_mini_swe_agentforge8B.sh
    "qwen3_vl": FamilyDefaults(thinking=True, opener="<think>\n"),           # EasyR1 qwen_V3.sh, Thinking template
    "qwen2_5_vl": FamilyDefaults(thinking=False),                            # EasyR1 qwen_V2_5.sh, ours.jinja
    "other": FamilyDefaults(thinking=False),                                 # ctxbench's own presets: unchanged
}


@dataclass(frozen=True)
class TemplateConfig:
    """How a prompt is rendered (a `[template]` table of a training config, or of an `[eval]` table).

    thinking: "auto" (the family's paper default, `FAMILIES`), "on" or "off".
    override: a Jinja chat-template file used instead of the checkpoint's (e.g. Qwen3-VL's Thinking
        template, as EasyR1's `override_chat_template`); "" keeps the checkpoint's.
    system: a system message put before the conversation when it has none (LiveCodeBench's).
    suffix: text appended to the user turn's last text part (Qwen2.5-VL's reasoning suffix).
    prefix: text the assistant turn starts with, before the item's own prefill (LiveCodeBench's "<think>\\n").
    ca_prefill: the context-selection prompt's assistant prefill; None = the family's ("" or Klear's).
    family: "auto" detects it from the checkpoint (config.json model_type, "klear" in its name).
    """

    thinking: Thinking = "auto"
    override: str = ""
    system: str = ""
    suffix: str = ""
    prefix: str = ""
    ca_prefill: str | None = None
    family: Family = "auto"

    def for_family(self, family: str) -> TemplateConfig:
        """This config with `family` and `thinking` resolved (idempotent)."""
        fam = self.family if self.family != "auto" else family
        if fam not in FAMILIES:
            fam = "other"
        thinking = self.thinking
        if thinking == "auto":
            thinking = "on" if FAMILIES[fam].thinking else "off"
        return replace(self, family=fam, thinking=thinking)

    def for_ca(self, family: str) -> TemplateConfig:
        """The context-selection rendering: the checkpoint's own template with thinking off, no system,
        suffix or override, and the CA prefill (both released codebases render CA prompts this way)."""
        fam = self.for_family(family).family
        prefill = FAMILIES[fam].ca_prefill if self.ca_prefill is None else self.ca_prefill
        return TemplateConfig(thinking="off", family=fam, prefix=prefill.strip(), ca_prefill=self.ca_prefill)


# ---------------------------------------------------------------------------------------------- families


def detect_family(model_type: str, name: str = "") -> str:
    """The template family of a checkpoint from its config's model_type and its folder/repo name (the
    name alone when there is no config yet: `validate` on a spec whose model is not on this machine)."""
    low = name.lower()
    if "klear" in low:
        return "klear"
    if model_type:
        return {"qwen3": "qwen3", "qwen3_moe": "qwen3", "qwen3_vl": "qwen3_vl", "qwen3_vl_moe": "qwen3_vl",
                "qwen2_5_vl": "qwen2_5_vl"}.get(model_type, "other")
    for needle, fam in (("qwen3-vl", "qwen3_vl"), ("qwen3_vl", "qwen3_vl"), ("qwen2.5-vl", "qwen2_5_vl"),
                        ("qwen2_5_vl", "qwen2_5_vl"), ("qwen3", "qwen3")):
        if needle in low:
            return fam
    return "other"


def family_of_spec(model: str) -> str:
    """The family of a model spec: `hf:PATH` by its folder (config.json when present), presets "other"."""
    return family_of_path(model[3:]) if model.startswith("hf:") else "other"


def family_of_path(path: str | Path | None) -> str:
    """detect_family for a checkpoint folder (no config.json there: "other")."""
    return _family_of(str(path)) if path else "other"


@lru_cache(maxsize=256)
def _family_of(path: str) -> str:
    p = Path(path)
    try:
        cfg = json.loads((p / "config.json").read_text())
    except (OSError, ValueError):
        return detect_family("", p.name)
    return detect_family(str(cfg.get("model_type", "")), f"{p.name} {cfg.get('_name_or_path', '')}")


def family_of_owner(owner: Any) -> str:
    """detect_family for a tokenizer or processor (its `name_or_path` folder)."""
    tok = getattr(owner, "tokenizer", owner)
    return family_of_path(getattr(tok, "name_or_path", None) or getattr(owner, "name_or_path", None))


# ---------------------------------------------------------------------------------------------- rendering


def override_text(path: str) -> str:
    """The Jinja text of a template override file (.jinja, or a chat_template.json as HF writes it)."""
    p = Path(path)
    try:
        raw = p.read_text()
    except OSError as e:
        raise CtxbenchError(f"template.override: cannot read {path!r} ({e.strerror or e})") from None
    if p.suffix == ".json":
        try:
            raw = json.loads(raw)["chat_template"]
        except (ValueError, KeyError, TypeError):
            raise CtxbenchError(f"template.override: {path!r} is JSON without a 'chat_template' string") from None
    if "{%" not in raw and "{{" not in raw:
        raise CtxbenchError(f"template.override: {path!r} is not a Jinja chat template (no {{% or {{{{)")
    return raw


def with_system(messages: list[dict], system: str) -> list[dict]:
    if system and not (messages and messages[0].get("role") == "system"):
        return [{"role": "system", "content": system}] + messages
    return messages


def add_suffix_to_parts(parts: Sequence[dict], suffix: str) -> list[dict]:
    """Message parts with `suffix` appended to the last text part (VLMEvalKit's THINK suffix rule)."""
    out = [dict(p) for p in parts]
    if not suffix:
        return out
    for p in reversed(out):
        if p.get("type") == "text":
            p["value"] = str(p["value"]) + suffix
            return out
    return out + [{"type": "text", "value": suffix}]


def apply_chat(owner: Any, messages: list[dict], tpl: TemplateConfig) -> str | None:
    """The chat template's text for `messages` with the generation prompt on, rendered as `tpl` says
    (resolve it with `for_family` first); None when neither `tpl.override` nor `owner` has a template.
    `enable_thinking` is passed only to templates that read it (processors warn about unknown kwargs;
    for the others it changes nothing). Thinking on a template without the switch appends the family's
    opener; on a family without one it is an error, since nothing would turn thinking on."""
    template = override_text(tpl.override) if tpl.override else getattr(owner, "chat_template", None)
    if not template:
        return None
    on = tpl.thinking == "on"
    switch = "enable_thinking" in str(template)
    kw: dict[str, Any] = {"enable_thinking": on} if switch else {}
    if tpl.override:
        kw["chat_template"] = template
    text = owner.apply_chat_template(with_system(messages, tpl.system), tokenize=False,
                                     add_generation_prompt=True, **kw)
    if on and not switch and not tpl.override:
        opener = FAMILIES.get(tpl.family, FAMILIES["other"]).opener
        if not opener and tpl.family == "other":
            raise CtxbenchError("template.thinking = 'on', but this chat template has no enable_thinking switch "
                                "and the model family has no known thinking opener; give template.override "
                                "(a thinking template) or template.prefix")
        if opener and not text.endswith(opener):
            text += opener
    return text


__all__ = ["FAMILIES", "FamilyDefaults", "TemplateConfig", "add_suffix_to_parts", "apply_chat", "detect_family",
           "family_of_owner", "family_of_path", "family_of_spec", "override_text", "with_system"]
