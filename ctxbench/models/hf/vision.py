"""The transformers backend for vision-language checkpoints (LLaVA, Qwen2.5-VL, Qwen3-VL, ...).

Same interface as hf_backend.HFBackend (models.base.Backend); `load_backend` picks it when the
checkpoint's config describes a VLM. What differs from the text backend and why:

- Prompts go through the checkpoint's processor: the chat template renders image parts as the
  model's placeholder, and the processor expands each placeholder to the image's token count and
  computes pixel values (and, for Qwen-VL, grid sizes). So tokenization is the processor's, never
  a text-only re-encoding.
- Generation uses `model.generate`: position ids differ by family (Qwen-VL's 3-D rope positions are
  derived from the image grids inside the model), and generate already does each family right. The
  text backend's own loop (hf_decode) assumes 1-D positions. Greedy prompts are decoded in
  length-sorted batches; sampled prompts one at a time under a seed derived from (GenConfig.seed,
  rendered prompt), so a sample does not depend on which prompts share the call (as in HFBackend).
- Choice scoring runs every (context + option) row in one left-padded forward with the context's
  images and reads the option tokens' log-probs from the last positions only (`logits_to_keep`), so
  a 150k-token vocabulary never materialises logits for the image tokens. Continuation tokens follow
  lm-eval's split (trailing whitespace moves to the continuation; tokens are the tail of the whole).
- Image preprocessing must not need torchvision (it does not import beside the CPU torch build):
  `load_processor` falls back to an image-only processor with the PIL image processor when
  AutoProcessor cannot build the family's (torchvision-only) video processor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import Completion, GenConfig, Prompt
from ctxbench.models.chat import TemplateConfig
from ctxbench.models.hf.common import (
    apply_torch_options,
    progress_fn,
    row_seed,
    scaled_config,
    stop_and_pad_ids,
    window,
)
from ctxbench.models.multimodal import image_paths, lm_eval_split, placeholder_for, render_prompt
from ctxbench.models.options import BackendOptions, RopeScaling, torch_dtype
from ctxbench.models.presets.registry import ResolvedModel, resolve_model
from ctxbench.sources.images import load_image

# Families whose rope positions are 3-D (computed by the model from the image grids): never pass 1-D
# position ids to them.
MROPE_TYPES = {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "glm4v", "glm4v_moe"}


# ------------------------------------------------------------------ loading


def _image_only_processor(path: Path):
    """The family's processor assembled from its tokenizer, chat template and (PIL) image
    processor, with no video processor: what AutoProcessor would build, minus the part that needs
    torchvision."""
    import transformers
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.image_processing_auto import AutoImageProcessor
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    model_type = AutoConfig.from_pretrained(str(path)).model_type
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    base = getattr(transformers, name, None) if name else None
    if base is None:
        raise CtxbenchError(f"{path}: no processor class known for model_type {model_type!r}")

    class ImageOnly(base):  # type: ignore[misc, valid-type]
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument is None and "video" in argument_name:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    tok = AutoTokenizer.from_pretrained(str(path))
    template = getattr(tok, "chat_template", None)
    for f in ("chat_template.jinja", "chat_template.json"):
        if template is None and (path / f).exists():
            raw = (path / f).read_text()
            template = json.loads(raw)["chat_template"] if f.endswith(".json") else raw
    kwargs: dict[str, Any] = {}
    for attr in base.get_attributes():
        if attr == "tokenizer":
            kwargs[attr] = tok
        elif attr == "image_processor":
            kwargs[attr] = AutoImageProcessor.from_pretrained(str(path))
        else:
            kwargs[attr] = None
    return ImageOnly(chat_template=template, **kwargs)


def load_processor(path: str | Path):
    """AutoProcessor for the checkpoint, or the image-only equivalent when a sub-processor it needs
    cannot be built here (Qwen-VL video processors require torchvision)."""
    from transformers import AutoProcessor

    path = Path(path)
    try:
        proc = AutoProcessor.from_pretrained(str(path))
    except (ImportError, OSError, ValueError, TypeError, KeyError) as e:
        try:
            proc = _image_only_processor(path)
        except (ImportError, OSError, ValueError, TypeError, KeyError) as e2:
            raise CtxbenchError(f"{path}: could not build the image processor ({type(e).__name__}: {e}; "
                                f"image-only fallback: {type(e2).__name__}: {e2})") from None
    if getattr(proc, "image_processor", None) is None:
        raise CtxbenchError(f"{path}: the checkpoint's processor has no image processor; is this a VLM checkpoint?")
    return proc


def load_vlm(spec: str | ResolvedModel, *, dtype: str = "float32", device: str = "cpu",
             rope: RopeScaling | None = None):
    """(model in eval mode, processor, ResolvedModel) for a VLM checkpoint (trainers use this too)."""
    from transformers import AutoModelForImageTextToText
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    processor = load_processor(resolved.path)
    try:
        extra = {"config": scaled_config(resolved.path, rope)} if rope is not None else {}
        model = AutoModelForImageTextToText.from_pretrained(str(resolved.path), dtype=torch_dtype(dtype), **extra)
    except (OSError, ValueError, KeyError) as e:
        raise CtxbenchError(f"model {resolved.spec!r}: could not load {resolved.path}: {e}") from None
    tok = processor.tokenizer
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.to(device).eval()
    return model, processor, resolved


# ------------------------------------------------------------------ backend


class _StopOnStrings:
    """A StoppingCriteria: per row, whether a stop string appears in the decoded generated tail."""

    def __init__(self, tokenizer, stops: Sequence[str], prompt_len: int):
        self.tokenizer, self.stops, self.start = tokenizer, tuple(stops), prompt_len
        self.window = 4 * max(len(s) for s in stops) + 4

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        gen = input_ids[:, self.start:]
        tails = self.tokenizer.batch_decode(gen[:, -self.window:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in tails], device=input_ids.device)


class HFVLMBackend:
    name = "hf"

    def __init__(self, model, processor, *, identity: str, max_context: int, batch_size: int = 8,
                 progress: bool | Callable[[int], Any] | None = None, template: TemplateConfig | None = None):
        self.model = model.eval()
        self.template = template  # the rendering of prompts that name none (BackendOptions.template)
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.identity = identity
        self.max_context_tokens = int(max_context)
        self.batch_size = int(batch_size)
        self.progress = progress
        self.device = next(model.parameters()).device
        cfg = model.config
        self.model_type = getattr(cfg, "model_type", "")
        self.eos_ids, self.pad_id = stop_and_pad_ids(model, self.tokenizer)
        self.placeholder = placeholder_for(processor, self.tokenizer)
        self.chat = bool(getattr(processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None))

    @classmethod
    def load(cls, resolved: ResolvedModel, options: BackendOptions | None = None,
             progress: bool | Callable[[int], Any] | None = None) -> HFVLMBackend:
        options = options or BackendOptions()
        apply_torch_options(options)
        model, processor, resolved = load_vlm(resolved, dtype=options.dtype, device=options.device,
                                              rope=options.rope_scaling)
        return cls(model, processor, identity=resolved.identity, max_context=window(resolved, options.rope_scaling),
                   batch_size=options.batch_size, progress=progress, template=options.template)

    # ------------------------------------------------------------ text side

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: Prompt) -> str:
        owner = self.processor if getattr(self.processor, "chat_template", None) else self.tokenizer
        return render_prompt(owner, prompt.parts, prompt.prefill, getattr(prompt, "history", ()), self.placeholder,
                             prompt.template or self.template)

    def _encode(self, texts: Sequence[str], images: Sequence[Sequence[str]], padding_side: str = "left"):
        """Processor outputs for rows of (text, image paths), left-padded, on the model's device."""
        flat = [load_image(p) for row in images for p in row]
        self.tokenizer.padding_side = padding_side
        enc = self.processor(text=list(texts), images=flat or None, padding=True, return_tensors="pt",
                             add_special_tokens=not self.chat)
        n = int(enc["attention_mask"].sum(-1).max())
        if n > self.max_context_tokens:
            raise CtxbenchError(f"a prompt of {n} tokens (images expanded) exceeds the model window of "
                                f"{self.max_context_tokens} tokens; VLM prompts are not truncated")
        return {k: (v.to(self.device) if hasattr(v, "to") else v) for k, v in enc.items()}

    def _positions(self, enc) -> dict:
        """1-D position ids from the mask (left padding) for rope-1D families; 3-D ones compute theirs."""
        if self.model_type in MROPE_TYPES:
            return {}
        mask = enc["attention_mask"]
        return {"position_ids": (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)}

    # ------------------------------------------------------------ generation

    def _gen_config(self, cfg: GenConfig, n: int):
        from transformers import GenerationConfig

        sampled = cfg.temperature > 0
        return GenerationConfig(
            max_new_tokens=cfg.max_new_tokens, do_sample=sampled, num_return_sequences=n,
            temperature=cfg.temperature if sampled else None, top_p=cfg.top_p if sampled else None,
            top_k=cfg.top_k if sampled else None, pad_token_id=self.pad_id, eos_token_id=sorted(self.eos_ids),
        )

    @torch.inference_mode()
    def _run(self, texts, images, cfg: GenConfig, n: int) -> list[Completion]:
        from transformers import StoppingCriteriaList

        enc = self._encode(texts, images)
        width = enc["input_ids"].shape[1]
        stopping = StoppingCriteriaList([_StopOnStrings(self.tokenizer, cfg.stop, width)]) if cfg.stop else None
        out = self.model.generate(**enc, generation_config=self._gen_config(cfg, n), stopping_criteria=stopping)
        n_prompt = enc["attention_mask"].sum(-1).tolist()
        comps = []
        for r, row in enumerate(out[:, width:].tolist()):
            comps.append(self._completion(row, int(n_prompt[r // n]), cfg))
        return comps

    def _completion(self, row: list[int], n_prompt: int, cfg: GenConfig) -> Completion:
        cut = next((j for j, t in enumerate(row) if t in self.eos_ids), None)
        if cut is None:  # a row ended by a stop string is padded while the others finish
            while row and row[-1] == self.pad_id:
                row = row[:-1]
        tokens = row if cut is None else row[:cut]
        steps = len(row) if cut is None else cut + 1
        finish = "stop" if cut is not None else "length"
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        hit = min((k for k in (text.find(s) for s in cfg.stop) if k >= 0), default=-1)
        if hit >= 0:
            text, finish = text[:hit], "stop"
        elif cut is None and len(row) < cfg.max_new_tokens:
            finish = "stop"  # a stopping criterion ended the row
        return Completion(text=text, n_prompt_tokens=n_prompt, n_new_tokens=steps, finish_reason=finish)

    def generate(self, prompts: Sequence[Prompt], cfg: GenConfig) -> list[list[Completion]]:
        texts = [self.render(p) for p in prompts]
        images = [image_paths(p.parts) for p in prompts]
        results: list[list[Completion]] = [[] for _ in prompts]
        update, close = progress_fn(self.progress, len(prompts), "generate")
        try:
            if cfg.temperature > 0:
                for i in range(len(prompts)):
                    with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                        torch.manual_seed(row_seed(cfg.seed, texts[i], 0))
                        results[i] = self._run([texts[i]], [images[i]], cfg, cfg.n)
                    update(1)
                return results
            order = sorted(range(len(prompts)), key=lambda i: -(len(texts[i]) + 1000 * len(images[i])))
            for s in range(0, len(order), self.batch_size):
                batch = order[s:s + self.batch_size]
                comps = self._run([texts[i] for i in batch], [images[i] for i in batch], cfg, 1)
                for i, c in zip(batch, comps):
                    results[i] = [c] * cfg.n
                update(len(batch))
        finally:
            close()
        return results

    # ------------------------------------------------------------ scoring

    def score_continuations(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        return self.score_many([prompt], [continuations])[0]

    @torch.inference_mode()
    def score_many(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]) -> list[list[float]]:
        """Sum of log p(continuation | rendered prompt with its images) per continuation."""
        if len(prompts) != len(continuations):
            raise ValueError("score_many needs one continuation list per prompt")
        rows = []  # (prompt index, continuation index, text, images, n continuation tokens)
        for p, (prompt, conts) in enumerate(zip(prompts, continuations)):
            head, wholes, counts = lm_eval_split(self.tokenizer, self.render(prompt), list(conts), not self.chat)
            imgs = image_paths(prompt.parts)
            rows += [(p, k, head + w, imgs, n) for k, (w, n) in enumerate(zip(wholes, counts)) if n > 0]
        out = [[0.0] * len(c) for c in continuations]
        update, close = progress_fn(self.progress, len(prompts), "score")
        try:
            per = max(1, self.batch_size * 4)  # rows (options) scored together
            for s in range(0, len(rows), per):
                chunk = rows[s:s + per]
                enc = self._encode([r[2] for r in chunk], [r[3] for r in chunk])
                keep = max(r[4] for r in chunk) + 1
                logits = self.model(**enc, **self._positions(enc), logits_to_keep=keep).logits.float()
                logp = logits[:, -keep:-1].log_softmax(-1)  # position j predicts token j + 1
                ids = enc["input_ids"]
                for b, (p, k, _, _, n) in enumerate(chunk):
                    tgt = ids[b, -n:]
                    lp = logp[b, keep - 1 - n:].gather(-1, tgt[:, None])[:, 0]
                    out[p][k] = float(lp.double().sum())
            update(len(prompts))
        finally:
            close()
        return out

