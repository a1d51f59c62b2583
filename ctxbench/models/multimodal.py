"""Message parts -> what vision-language models and their processors expect. No torch here.

ctxbench prompts are lists of parts (`{"type": "text"|"image", "value": ...}`, the VLMEvalKit
convention; image values are paths in the content-addressed store, ctxbench.sources.images). transformers
chat templates want content lists (`{"type": "image"}` / `{"type": "text", "text": ...}`) and the
images passed separately in the same order; vLLM wants the rendered text plus
`multi_modal_data={"image": [PIL images]}`. Both mappings live here so the hf and vllm backends
render a prompt identically, and so the vLLM side is testable on a machine without vLLM.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.chat import TemplateConfig, add_suffix_to_parts, apply_chat, family_of_owner, with_system

# model_type values of the image-text-to-text families ctxbench drives through their processors.
VLM_MODEL_TYPES = {
    "llava", "llava_next", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe",
    "idefics3", "smolvlm", "gemma3", "mllama", "paligemma", "internvl", "mistral3",
}


def is_vlm_config(cfg: dict) -> bool:
    """A checkpoint config that describes a vision-language model (a vision tower + a text model)."""
    return cfg.get("model_type") in VLM_MODEL_TYPES or (
        isinstance(cfg.get("vision_config"), dict) and isinstance(cfg.get("text_config"), dict)
    )


def is_vlm_checkpoint(path: str | Path) -> bool:
    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return is_vlm_config(cfg)


def image_paths(parts: Sequence[dict]) -> list[str]:
    """The image part values of a prompt, in order."""
    return [str(p["value"]) for p in parts if p.get("type") == "image"]


def check_parts(parts: Sequence[dict]) -> None:
    for i, p in enumerate(parts):
        if p.get("type") not in ("text", "image"):
            raise CtxbenchError(f"message part {i} has type {p.get('type')!r}; only 'text' and 'image' are supported")


def content_list(parts: Sequence[dict]) -> list[dict]:
    """Parts -> a transformers chat-template content list (images as placeholders, order kept)."""
    check_parts(parts)
    return [{"type": "image"} if p["type"] == "image" else {"type": "text", "text": str(p["value"])}
            for p in parts]


def chat_messages(parts: Sequence[dict], history: Sequence[dict] = ()) -> list[dict]:
    """The conversation a chat template renders: text-only history turns, then this user turn."""
    return [{"role": m["role"], "content": m["content"]} for m in history] + \
        [{"role": "user", "content": content_list(parts)}]


def plain_render(parts: Sequence[dict], placeholder: str, history: Sequence[dict] = ()) -> str:
    """Without a chat template: text parts as they are, each image as the model's placeholder on
    its own line (the LLaVA-1.5 convention "<image>\\nQuestion")."""
    check_parts(parts)
    body = "".join(placeholder + "\n" if p["type"] == "image" else str(p["value"]) for p in parts)
    if history:
        return "".join(f"{m['role']}: {m['content']}\n\n" for m in history) + f"user: {body}\n\nassistant:"
    return body


def placeholder_for(processor, tokenizer) -> str:
    """What an image part becomes without a chat template: the processor's image token, wrapped in
    the vision start/end tokens for families that use them (Qwen-VL)."""
    token = getattr(processor, "image_token", None) or "<image>"
    start, end = getattr(processor, "vision_start_token", None), getattr(processor, "vision_end_token", None)
    if start is None and "<|vision_start|>" in tokenizer.get_vocab():
        start, end = "<|vision_start|>", "<|vision_end|>"
    return f"{start}{token}{end}" if start and end else token


def render_prompt(template_owner: Any, parts: Sequence[dict], prefill: str = "",
                  history: Sequence[dict] = (), placeholder: str = "<image>",
                  template: TemplateConfig | None = None) -> str:
    """The exact text fed to the model: the processor's (or tokenizer's) chat template when it has
    one (generation prompt on, thinking and the rest as `template` says, ctxbench.models.chat; its
    default is the family's, "off" for families ctxbench does not know), else the plain rendering;
    then the template's assistant prefix and the prefill. Image placeholders are unexpanded; the
    processor expands them."""
    tpl = (template or TemplateConfig()).for_family(family_of_owner(template_owner))
    parts = add_suffix_to_parts(parts, tpl.suffix)
    history = with_system([dict(m) for m in history], tpl.system)
    text = apply_chat(template_owner, chat_messages(parts, history), tpl)
    if text is None:
        text = plain_render(parts, placeholder, history)
    return text + tpl.prefix + prefill


def lm_eval_split(tokenizer, context: str, continuations: Sequence[str], add_special_tokens: bool = False):
    """lm-eval's context/continuation split for a rendered prompt: (context without its trailing
    whitespace, whitespace + continuation texts, continuation token counts = tokens of the whole beyond
    the context's). Counts are taken on the text with image placeholders unexpanded; expansion only
    happens inside the context, so the continuation is the same many tokens at the end of the
    expanded sequence."""
    head = context.rstrip()
    moved = context[len(head):]
    wholes = [moved + c for c in continuations]
    ids = tokenizer([head] + [head + w for w in wholes], add_special_tokens=add_special_tokens)["input_ids"]
    return head, wholes, [len(x) - len(ids[0]) for x in ids[1:]]


# ------------------------------------------------------------------ vLLM request mapping


def vllm_prompt(rendered: str, images: Sequence[Any]) -> dict:
    """One vLLM prompt: the rendered text, plus the images when there are any (in part order)."""
    req: dict = {"prompt": rendered}
    if images:
        req["multi_modal_data"] = {"image": list(images) if len(images) > 1 else images[0]}
    return req


def vllm_limit_mm(max_images: int) -> dict:
    """LLM(limit_mm_per_prompt=...) for image prompts (vLLM allows one image per prompt by default)."""
    return {"image": int(max_images)}


def vllm_scoring_requests(contexts: Sequence[str], continuations: Sequence[Sequence[str]],
                          images: Sequence[Sequence[Any]], n_cont_tokens: Sequence[Sequence[int]]):
    """Prompts (rendered context + continuation, with the context's images) for every non-empty
    continuation, and for each (prompt index, continuation index, continuation token count). vLLM
    expands image placeholders itself, so where a continuation starts is read back from the end of
    the returned prompt token ids: start = len(prompt_token_ids) - n_tokens."""
    reqs, where = [], []
    for p, (ctx, conts) in enumerate(zip(contexts, continuations)):
        for k, cont in enumerate(conts):
            n = n_cont_tokens[p][k]
            if n > 0:
                reqs.append(vllm_prompt(ctx + cont, images[p]))
                where.append((p, k, n))
    return reqs, where
