"""What the transformers backends (text and vision) share: loading a checkpoint, per-row sampling
seeds, progress reporting, stop/pad ids and torch options.

Why one home: the text and the vision backend must seed, stop and report identically (a VLM's text-only
prompt must decode like the text backend's), and the trainers load policies the same way the
evaluation does. Nothing here imports torch at module import time.
"""

from __future__ import annotations

import hashlib
import sys

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.options import BackendOptions, RopeScaling, torch_dtype
from ctxbench.models.presets.registry import ResolvedModel, resolve_model


def scaled_config(path, rope: RopeScaling | None):
    """The checkpoint's config with `rope` applied (None: no config, from_pretrained reads its own).
    transformers 5 keeps rope settings in `rope_parameters` together with rope_theta, so the scaling is
    merged into what is there (dropping rope_theta would break the frequency computation); VLM configs
    get it on their text config, where the language model reads it."""
    if rope is None:
        return None
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(str(path))
    over = rope.config_overrides()
    for c in {id(cfg): cfg, id(cfg.get_text_config()): cfg.get_text_config()}.values():
        attr = "rope_parameters" if hasattr(c, "rope_parameters") else "rope_scaling"
        params = dict(getattr(c, attr, None) or {})
        theta = params.get("rope_theta", getattr(c, "rope_theta", None))
        params.update(over["rope_scaling"])
        if theta is not None:
            params["rope_theta"] = theta
        setattr(c, attr, params)
        c.max_position_embeddings = over["max_position_embeddings"]
    return cfg


def window(resolved: ResolvedModel, rope: RopeScaling | None) -> int:
    """The context window a loaded model runs at: the rope-scaled one when scaling is on."""
    return rope.max_position_embeddings if rope is not None else resolved.max_context


def load_model_and_tokenizer(spec: str | ResolvedModel, *, dtype: str = "float32", device: str = "cpu",
                             rope: RopeScaling | None = None):
    """(model in eval mode, tokenizer, ResolvedModel) for trainers and tools that need the raw objects."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the harness draws its own bars
    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    try:
        tok = AutoTokenizer.from_pretrained(str(resolved.path))
        extra = {"config": scaled_config(resolved.path, rope)} if rope is not None else {}
        model = AutoModelForCausalLM.from_pretrained(str(resolved.path), dtype=torch_dtype(dtype), **extra)
    except (OSError, ValueError, KeyError) as e:
        raise CtxbenchError(f"model {resolved.spec!r}: could not load {resolved.path}: {e}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.to(device).eval()
    return model, tok, resolved


def row_seed(seed: int, text: str, sample: int) -> int:
    h = hashlib.sha256(f"{seed}\x00{sample}\x00{text}".encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def progress_fn(progress, total: int, desc: str):
    """(update(n), close()) for progress=None/False, True (tqdm on stderr) or a callback."""
    if callable(progress):
        return progress, lambda: None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit="prompt", file=sys.stderr)
        return bar.update, bar.close
    return (lambda n: None), (lambda: None)


def stop_and_pad_ids(model, tokenizer) -> tuple[set[int], int]:
    """The ids that end a completion (the tokenizer's eos plus the generation config's, which may be a
    list: chat checkpoints stop at <|im_end|> and <|endoftext|> alike) and the pad id (the tokenizer's,
    else the smallest eos). Text and vision backends must stop on the same ids."""
    eos = {tokenizer.eos_token_id}
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    eos |= set(gen_eos) if isinstance(gen_eos, (list, tuple)) else {gen_eos}
    eos_ids = {int(e) for e in eos if e is not None}
    if not eos_ids:
        raise CtxbenchError("the tokenizer has no eos token; set tokenizer.eos_token before saving")
    pad = tokenizer.pad_token_id
    return eos_ids, int(pad if pad is not None else min(eos_ids))


def apply_torch_options(options: BackendOptions) -> None:
    """CPU thread count, and a clear error before any weights load when CUDA is asked for but absent."""
    import torch

    if options.threads:
        torch.set_num_threads(options.threads)
    if options.device.startswith("cuda") and not torch.cuda.is_available():
        raise CtxbenchError(f"device {options.device!r} asked for, but torch sees no CUDA device")


__all__ = ["apply_torch_options", "load_model_and_tokenizer", "progress_fn", "row_seed", "scaled_config",
           "stop_and_pad_ids", "window"]
