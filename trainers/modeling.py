"""Model-side computations the trainers share: loading, prompt rendering, and log-probabilities
computed only where they are needed.

Why this is fast on CPU (README.md, Performance: a GRPO step 3.7x faster than TRL's): the LM head
(8192 x 256 for the tiny preset, 40% of its parameters) runs only on completion positions, and a GRPO
group's G rollouts share one prompt, so the prompt is encoded once per group and its KV cache is
indexed out to the G rollouts. Gradients flow through the shared cache into the prompt computation, so
the result equals a full forward over every (prompt + completion) row up to float rounding, for a
fraction of the FLOPs.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from trainers.losses import token_entropy, token_logprobs

# ------------------------------------------------------------------------------------------ loading


def resolve_model_path(spec: str) -> tuple[Path, str]:
    """(checkpoint folder, content identity) for a model spec (`tiny`, `smollm2-135m`, `hf:PATH`)."""
    from ctxbench.models.presets.registry import resolve_model

    rm = resolve_model(spec)
    return Path(rm.path), rm.identity


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def load_model(path: str | Path):
    """A causal LM with fp32 weights, in train mode (the tiny preset has no dropout either way); an
    image-text-to-text model for a vision-language checkpoint (trainers.vision)."""
    from trainers.vision import is_vlm_path

    if is_vlm_path(path):
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=torch.float32)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.train()
    return model


def load_policy(path: str | Path):
    """(model, tokenizer) from a transformers checkpoint folder."""
    return load_model(path), load_tokenizer(path)


def autocast(precision: str, where=None):
    """bf16 autocast for forwards (fp32 master weights and optimizer); a no-op for fp32.

    The autocast device type is that of `where` (a model, a torch.device or a device string; None:
    "cpu", where the compact trainer's tensors live by default), never "is CUDA available": autocast
    only changes the ops of its own device type, so a CPU model under a CUDA autocast runs in fp32."""
    if precision == "bf16":
        return torch.autocast(device_type(where), dtype=torch.bfloat16)
    return contextlib.nullcontext()


def device_type(where=None) -> str:
    """"cpu" / "cuda" ... of a model (its parameters' device), a torch.device or a device string."""
    if where is None:
        return "cpu"
    if isinstance(where, (str, torch.device)):
        return torch.device(where).type
    return model_device(where).type


def resolve_device(option: str) -> torch.device:
    """TrainConfig.device: "auto" (the GPU when CUDA is available, else the CPU), "cpu" or "cuda"
    (an error when CUDA is not available: a run that asked for the GPU must not silently train on the
    CPU)."""
    if option == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if option == "cuda" and not torch.cuda.is_available():
        from ctxbench.core.errors import ConfigError

        raise ConfigError("device = 'cuda', but CUDA is not available on this machine (use 'auto' or 'cpu')")
    if option not in ("cpu", "cuda"):
        from ctxbench.core.errors import ConfigError

        raise ConfigError(f"device must be one of auto, cpu, cuda; got {option!r}")
    return torch.device(option)


def model_device(model) -> torch.device:
    return next(model.parameters()).device


# ------------------------------------------------------------------------------------ tokenization


def pad_id(tok) -> int:
    return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def render(tok, user_text: str, prefill: str = "", template=None, ca: bool = False) -> str:
    """The exact text a prompt becomes, identical to the eval harness's HF backend (the chat template
    when the tokenizer has one, else the raw text; then the assistant prefill), so the trained policy
    sees at train time exactly what it is scored on.

    template: the recipe's `TrainConfig.template` (ctxbench.models.chat.TemplateConfig); None keeps the
    rendering the trainers always used (thinking off). ca: a context-selection prompt, rendered by the
    CA rule (`ca_template`; `prefill` is then the pair's own prefill, "" for none)."""
    from ctxbench.models.base import Prompt
    from ctxbench.models.chat import TemplateConfig
    from ctxbench.models.hf.text import render_with

    if ca:
        return render_with(tok, Prompt.of(user_text), ca_template(tok, template, prefill))
    tpl = template if template is not None else TemplateConfig(thinking="off")
    return render_with(tok, Prompt.of(user_text, prefill), tpl)


def ca_template(owner, template=None, prefill: str = ""):
    """The rendering of a context-selection (CA) prompt, as both released codebases do it (SkyRL
    ct_dataset, EasyR1's choose-image loader): `template.for_ca` (the checkpoint's own chat template,
    thinking off, no system/suffix/override) whose assistant prefix is the CA prefill: the pair's own
    `prefill` when it has one, else the template's (the family's, e.g. Klear's "The correct option is",
    unless template.ca_prefill is set). Right-stripped, as SkyRL does, so that " A" adds one token after
    it; the letter spellings are resolved after exactly this text (`letter_token_ids(tok, L, .prefix)`).
    `owner`: the tokenizer, or a VisionIO's template owner, whose checkpoint decides the family."""
    from dataclasses import replace

    from ctxbench.models.chat import TemplateConfig, family_of_owner

    tpl = (template if template is not None else TemplateConfig(thinking="off")).for_ca(family_of_owner(owner))
    return replace(tpl, prefix=prefill.rstrip()) if prefill else tpl


def encode(tok, text: str) -> list[int]:
    """Token ids of rendered text (special tokens come from the template, never added twice)."""
    return tok(text, add_special_tokens=not getattr(tok, "chat_template", None))["input_ids"]


def left_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids [N, L] and attention mask [N, L] (long)."""
    n, L = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((n, L), pad, dtype=torch.long)
    mask = torch.zeros((n, L), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, L - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, L - len(s):] = 1
    return ids, mask


def right_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [N, T] and a float mask [N, T]."""
    n, T = len(seqs), max(1, max(len(s) for s in seqs))
    ids = torch.full((n, T), pad, dtype=torch.long)
    mask = torch.zeros((n, T), dtype=torch.float32)
    for i, s in enumerate(seqs):
        if s:
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1.0
    return ids, mask


def letter_token_ids(tok, letter: str, prefill: str = "") -> list[int]:
    """Single-token spellings of an option letter after `prefill` (" A" and/or "A"); the margin takes
    their max. SkyRL's ct_dataset.resolve_letter_tokens: a spelling counts when `prefill.rstrip()` +
    spelling tokenizes to exactly one token more than the prefill alone (the last one is the letter's).
    With no prefill that is " A" / "A" on their own; after "The correct option is" usually only " A"."""
    base = prefill.rstrip()
    n = len(tok(base, add_special_tokens=False)["input_ids"]) if base else 0
    ids = []
    for variant in (f" {letter}", letter):
        enc = tok(base + variant, add_special_tokens=False)["input_ids"]
        if len(enc) == n + 1 and enc[-1] not in ids:
            ids.append(enc[-1])
    if not ids:
        after = f" after the prefill {base!r}" if base else ""
        raise ValueError(f"the tokenizer has no single token for option letter {letter!r}{after}")
    return ids


# ---------------------------------------------------------------------------------------- forwards


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(1) - 1).clamp(min=0)


def _trim_left(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop leading columns that are padding in every row."""
    used = mask.any(0).nonzero()
    start = int(used[0]) if used.numel() else mask.shape[1] - 1
    return ids[:, start:], mask[:, start:]


def encode_prompts(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor):
    """Run left-padded prompts once: (DynamicCache over the prompt, next-token logits [N, V])."""
    from transformers import DynamicCache

    dev = model_device(model)
    ids, mask = _trim_left(prompt_ids, prompt_mask)
    cache = DynamicCache(config=model.config)
    out = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=_positions(mask).to(dev),
                past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.past_key_values, out.logits[:, -1], mask


def encode_prompts_mm(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, vision: dict):
    """encode_prompts for a vision-language model: the prompts' images (collated vision inputs, see
    trainers.vision) enter this one forward. Returns (cache, next-token logits [N, V], mask, [N, 1]
    position of the first token after each prompt)."""
    from transformers import DynamicCache

    from trainers.vision import prompt_positions

    dev = model_device(model)
    ids, mask = _trim_left(prompt_ids, prompt_mask)
    pos, nxt = prompt_positions(model, ids, mask, vision)
    cache = DynamicCache(config=model.config)
    out = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                past_key_values=cache, use_cache=True, logits_to_keep=1, **_on(vision, dev))
    return out.past_key_values, out.logits[:, -1], mask, nxt


def _on(vision: dict, dev) -> dict:
    return {k: v.to(dev) for k, v in vision.items()}


def last_logits(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, vision: dict | None = None
                ) -> torch.Tensor:
    """Next-token logits after each left-padded prompt, [N, V] (the LM head runs on one position).
    `vision`: the prompts' collated vision inputs (VLMs; trainers.vision), else the text path."""
    dev = model_device(model)
    ids, mask = _trim_left(prompt_ids, prompt_mask)
    if vision is not None:
        from trainers.vision import prompt_positions

        pos, _ = prompt_positions(model, ids, mask, vision)
        out = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                    use_cache=False, logits_to_keep=1, **_on(vision, dev))
        return out.logits[:, -1]
    out = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=_positions(mask).to(dev),
                use_cache=False, logits_to_keep=1)
    return out.logits[:, -1]


def completion_logprobs(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, group: torch.Tensor,
                        completion_ids: torch.Tensor, with_entropy: bool = False,
                        vision: list | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log pi(completion token | prompt, earlier completion tokens) for each row, [B, T].

    prompt_ids/prompt_mask: [P, L] left-padded prompts; group: [B] index of each row's prompt;
    completion_ids: [B, T]. Each distinct prompt is encoded once and its cache shared by its rows.
    vision: per prompt (P entries), its vision inputs or None (VLMs; trainers.vision).
    """
    dev = model_device(model)
    uniq, inv = torch.unique(group, return_inverse=True)
    nxt = None
    if vision is not None:
        from trainers.vision import collate

        cache, first_logits, pmask, nxt = encode_prompts_mm(model, prompt_ids[uniq], prompt_mask[uniq],
                                                            collate([vision[i] for i in uniq.tolist()]))
    else:
        cache, first_logits, pmask = encode_prompts(model, prompt_ids[uniq], prompt_mask[uniq])
    B, T = completion_ids.shape
    first = first_logits[inv.to(dev)].unsqueeze(1)  # logits predicting completion token 0
    if T > 1:
        cache.batch_select_indices(inv.to(dev))
        rows_mask = pmask[inv]
        am = torch.cat([rows_mask, torch.ones(B, T - 1, dtype=rows_mask.dtype)], 1)
        start = rows_mask.sum(1, keepdim=True) if nxt is None else nxt[inv]
        pos = start + torch.arange(T - 1)[None]
        out = model(input_ids=completion_ids[:, :-1].to(dev), attention_mask=am.to(dev), position_ids=pos.to(dev),
                    past_key_values=cache, use_cache=True)
        logits = torch.cat([first, out.logits], 1)
    else:
        logits = first
    tokens = completion_ids.to(dev)
    logp = token_logprobs(logits, tokens)
    ent = token_entropy(logits) if with_entropy else None
    return logp, ent


@dataclass
class Encoded:
    """Prompts and completions as tensors, in the layout the forwards above take."""

    prompt_ids: torch.Tensor       # [P, L] left-padded
    prompt_mask: torch.Tensor      # [P, L]
    group: torch.Tensor            # [B] row -> prompt
    completion_ids: torch.Tensor   # [B, T] right-padded
    completion_mask: torch.Tensor  # [B, T] float
    vision: list | None = None     # per prompt: vision inputs or None (VLMs); None: text model

    def rows(self, idx: torch.Tensor) -> Encoded:
        """A subset of rows (prompts kept whole; the forwards pick the prompts they need)."""
        T = int(self.completion_mask[idx].sum(1).max().clamp(min=1))
        return Encoded(self.prompt_ids, self.prompt_mask, self.group[idx], self.completion_ids[idx, :T],
                       self.completion_mask[idx, :T], self.vision)
