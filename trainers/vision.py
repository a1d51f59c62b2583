"""The trainers' vision path: prompts with image parts through the checkpoint's processor.

Why a separate module: the text path (modeling.encode/render) must stay bit-identical, and a VLM
prompt is not just token ids. For a vision-language checkpoint (tiny-vlm, hf:PATH Qwen2.5-VL /
Qwen3-VL ...) every prompt is rendered exactly as the eval backend renders it
(ctxbench.models.hf.vision: the processor's chat template, image parts as the model's placeholder),
then the processor expands each placeholder to the image's tokens and computes pixel values (and, for
Qwen-VL, grid sizes). A prompt is then (token ids, vision inputs); everything downstream — shared-
prefix log-probs, the rollout decode loop, the ContextRL letter logits, SFT — works on the ids as
before and hands the vision inputs to the one forward that sees the prompt.

Positions: LLaVA-style models use 1-D positions, identical to the text path. Qwen-VL families use
3-D (mrope) positions for the prompt, computed here with the model's own `get_rope_index`; the tokens
after the prompt continue from the largest prompt position + 1 with plain 2-D positions (the text
model expands them to the three axes, which are equal for text).

Two recipe options live here too (TrainConfig.vision, set by the paper's multimodal recipes as in
EasyR1's released config): `cap_pixels` resizes every image into the recipe's pixel bounds before the
processor sees it, and `freeze_vision_tower` stops gradients into the vision encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ctxbench.models.multimodal import placeholder_for

Vision = dict  # processor outputs other than ids/mask for one prompt: pixel_values [, image_grid_thw]
VISION_KEYS = ("pixel_values", "image_grid_thw")


def is_vlm_path(path: str | Path) -> bool:
    from ctxbench.models.multimodal import is_vlm_checkpoint

    return is_vlm_checkpoint(path)


class VisionIO:
    """Renders and encodes message parts for one VLM checkpoint; the trainers' stand-in for a
    tokenizer wherever prompts are encoded (`.tokenizer` is the text tokenizer: letters, decoding)."""

    def __init__(self, processor, min_pixels: int = 0, max_pixels: int = 0):
        self.processor = processor
        self.min_pixels, self.max_pixels = min_pixels, max_pixels  # cap_pixels bounds; 0 = none
        self.tokenizer = processor.tokenizer
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.chat = bool(getattr(processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None))
        # the eval side's rule, so train-time and eval-time prompts render identically
        self.placeholder = placeholder_for(processor, processor.tokenizer)
        # whose chat template renders (and whose checkpoint decides the template family)
        self.owner = processor if getattr(processor, "chat_template", None) else self.tokenizer

    @classmethod
    def load(cls, path: str | Path, min_pixels: int = 0, max_pixels: int = 0) -> VisionIO:
        from ctxbench.models.hf.vision import load_processor

        return cls(load_processor(path), min_pixels, max_pixels)

    def render(self, parts: Sequence[dict], prefill: str = "", template=None) -> str:
        """As modeling.render for a VLM: `template` is TrainConfig.template (None: thinking off, as
        always), or a context-selection prompt's rendering (modeling.ca_template: the original template,
        thinking off, the CA prefill; EasyR1 builds its choose-image processor with
        override_chat_template=None)."""
        from ctxbench.models.chat import TemplateConfig
        from ctxbench.models.multimodal import render_prompt

        tpl = template if template is not None else TemplateConfig(thinking="off")
        return render_prompt(self.owner, list(parts), prefill, (), self.placeholder, tpl)

    def encode(self, parts: Sequence[dict], prefill: str = "", template=None) -> tuple[list[int], Vision | None]:
        """(token ids with image placeholders expanded, vision inputs or None without images); the
        prompt rendered by `render(parts, prefill, template)`."""
        from ctxbench.models.multimodal import image_paths
        from ctxbench.sources.images import load_image

        images = [cap_pixels(load_image(p), self.min_pixels, self.max_pixels) for p in image_paths(parts)]
        enc = self.processor(text=[self.render(parts, prefill, template)], images=images or None,
                             return_tensors="pt", add_special_tokens=not self.chat)
        vision = {k: enc[k] for k in VISION_KEYS if k in enc} if images else None
        return enc["input_ids"][0].tolist(), vision

    def count_tokens(self, text: str, template=None) -> int:
        return len(self.encode(({"type": "text", "value": text},), "", template)[0])

    @property
    def pad_token_id(self):
        return self.tokenizer.pad_token_id

    @property
    def eos_token_id(self):
        return self.tokenizer.eos_token_id

    def save_pretrained(self, path: str | Path) -> None:
        """The processor next to the weights, so the checkpoint loads as `hf:PATH` for eval. The
        image-only processors ctxbench.models.hf.vision assembles (no torchvision video processor) cannot
        save themselves; their components are saved instead, and load_processor assembles them again."""
        p = self.processor
        if all(getattr(p, a, None) is not None for a in p.get_attributes()):
            p.save_pretrained(str(path))
            return
        self.tokenizer._processor_class = None  # not the assembled class's name: AutoProcessor must not look for it
        self.tokenizer.save_pretrained(str(path))
        p.image_processor.save_pretrained(str(path))


def cap_pixels(img, min_pixels: int = 0, max_pixels: int = 0):
    """The image resized into [min_pixels, max_pixels] pixels (width x height) as EasyR1's
    `verl/utils/dataset.process_image` does before its processor sees it: scale both sides by
    sqrt(bound / pixels), truncated to int, PIL's default filter; the max bound first, then the min.
    0 = no bound. Why here and not in the processor: the processor's own smart-resize (Qwen-VL's
    28-pixel grid) then runs on the same input as in the released training code. One difference: the
    image store hands over RGB images, EasyR1 converts to RGB after resizing; only palette ("P") images
    differ (PIL resizes those with NEAREST, RGB with BICUBIC)."""
    import math

    for bound, outside in ((max_pixels, lambda n: n > max_pixels), (min_pixels, lambda n: n < min_pixels)):
        n = img.width * img.height
        if bound and outside(n):
            f = math.sqrt(bound / n)
            img = img.resize((int(img.width * f), int(img.height * f)))
    return img


# The module holding the vision encoder, per family (the first one a model has is frozen): Qwen2/2.5/3-VL
# `visual` (its patch merger included: EasyR1 freezes `model.visual` whole), LLaVA-style `vision_tower`
# (the projector is a separate module and stays trainable), Idefics/SmolVLM-style `vision_model`.
TOWER_NAMES = ("visual", "vision_tower", "vision_model")


def freeze_vision_tower(model) -> int:
    """Stop gradients into the vision encoder (EasyR1 `freeze_vision_tower`); returns how many
    parameters it froze. A vision-language model without a known tower is an error naming the ones
    looked for: a silent no-op would train what the recipe says is frozen."""
    from ctxbench.core.errors import CtxbenchError

    for owner in (getattr(model, "model", None), model):
        for name in TOWER_NAMES:
            tower = getattr(owner, name, None) if owner is not None else None
            if isinstance(tower, torch.nn.Module):
                tower.requires_grad_(False)
                return sum(p.numel() for p in tower.parameters())
    raise CtxbenchError(f"vision.freeze_tower: {type(model).__name__} has no vision tower under any of "
                        f"{', '.join(TOWER_NAMES)} (set vision.freeze_tower = false)")


def collate(visions: Sequence[Vision | None]) -> Vision:
    """Vision inputs of several prompts, in row order (the model scatters image features into the
    image tokens in the same row-major order). Prompts without images contribute nothing."""
    present = [v for v in visions if v]
    if not present:
        return {}
    return {k: torch.cat([v[k] for v in present], 0) for k in present[0]}


def is_mrope(model) -> bool:
    from ctxbench.models.hf.vision import MROPE_TYPES

    return getattr(model.config, "model_type", "") in MROPE_TYPES


def prompt_positions(model, ids: torch.Tensor, mask: torch.Tensor, vision: Vision
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(position ids for the left-padded prompts, [N, 1] position of the first token after each)."""
    if is_mrope(model):
        image_id = getattr(model.config, "image_token_id", None)
        mm = (ids == image_id).int() if image_id is not None else torch.zeros_like(ids, dtype=torch.int)
        pos, _ = model.model.get_rope_index(ids, mm, image_grid_thw=vision.get("image_grid_thw"),
                                            attention_mask=mask)
        return pos, pos.amax(dim=(0, 2)).unsqueeze(1).cpu() + 1
    return (mask.cumsum(1) - 1).clamp(min=0), mask.sum(1, keepdim=True)


__all__ = ["TOWER_NAMES", "VISION_KEYS", "VisionIO", "cap_pixels", "collate", "freeze_vision_tower",
           "is_mrope", "is_vlm_path", "prompt_positions"]
