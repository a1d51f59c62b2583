"""The `tiny` preset: a random-init Qwen2-style causal LM (~5M parameters) with a byte-level BPE
tokenizer trained locally on packaged text. Deterministic from a seed, saved as an ordinary
transformers checkpoint, so everything downstream (harness, trainers, lm-eval) treats it like any
`hf:PATH` model.

Shape: the ~5M-parameter model the bench/ comparisons with TRL and lm-eval run on (README.md,
Performance): vocab 8192, d=256, 4 layers, 4 heads / 2 KV heads, MLP 688, tied embeddings.

The tokenizer corpus is packaged text only (essays, HumanEval, the tau2 policies), all of it required:
a missing package is a clear error, never a quietly smaller corpus and so a different tokenizer. The
cache folder is named by the recipe version, the spec and a hash of the corpus, so different packaged
text builds a new checkpoint instead of reusing one trained on other text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ctxbench.core.atomic import publish_dir, temp_path
from ctxbench.core.hashing import stable_hash

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_VERSION = "1"  # bump when the tokenizer or architecture recipe changes (the corpus is hashed into the name)


@dataclass(frozen=True)
class TinySpec:
    vocab_size: int = 8192
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 688
    max_position_embeddings: int = 4096
    seed: int = 0


def tokenizer_corpus() -> list[str]:
    """Packaged text the tokenizer is trained on: essays (prose), HumanEval (code), tau2 airline and
    retail policies (tool-use text). Digits and punctuation are covered by the byte-level alphabet
    anyway. Raises DataError naming the package when any of it is not installed."""
    from ctxbench.sources import assets

    texts = [t for _, t in assets.essays()]
    texts += [p["prompt"] + p["canonical_solution"] for p in assets.humaneval_problems()]
    texts += [(assets.tau2_domain_dir(d) / "policy.md").read_text(encoding="utf-8") for d in ("airline", "retail")]
    return texts


def corpus_hash(texts: list[str]) -> str:
    """Short content hash of a tokenizer corpus, for cache names."""
    return stable_hash(texts, 8)


def train_tokenizer(vocab_size: int, texts: list[str]):
    """Byte-level BPE (GPT-2 style) trained in-process; returns a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.padding_side = "left"
    return fast


def staging_dir(out: Path) -> Path:
    """The sibling folder a build writes into: beside `out` (same filesystem, so `publish` is one
    atomic rename) and per process, so two builders racing for the same cache entry never mix files."""
    return temp_path(out)


def seeded_init(model_cls, cfg, seed: int):
    """`model_cls(cfg)` with weights drawn from `seed`, leaving the caller's torch RNG untouched
    (building a preset mid-run must not shift a training run's random stream)."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return model_cls(cfg)


def write_preset_marker(path: Path, preset: str, version: str, spec: dict) -> None:
    """`ctxbench_preset.json`: which recipe and version built the folder (not an identity file; the
    cache name already encodes both)."""
    (path / "ctxbench_preset.json").write_text(
        json.dumps({"preset": preset, "version": version, "spec": spec}, indent=1)
    )


def publish(tmp: Path, out: Path) -> Path:
    """Move a finished staging folder onto `out`, replacing an older build there."""
    if out.exists():
        import shutil

        shutil.rmtree(out)
    return publish_dir(tmp, out)


def save_build(out: Path, parts, preset: str, version: str, spec: dict) -> Path:
    """Save each of `parts` (model, tokenizer or processor, ...: anything with save_pretrained, in
    this order) into a staging folder, mark it with the recipe, and publish it onto `out`."""
    tmp = staging_dir(out)
    tmp.mkdir(parents=True, exist_ok=True)
    for part in parts:
        part.save_pretrained(tmp)
    write_preset_marker(tmp, preset, version, spec)
    return publish(tmp, out)


def ensure_built(name: str, build: Callable[[Path], object], cache: Path | None = None) -> Path:
    """`cache/name` (default: the ctxbench cache), running `build(path)` first when no finished
    checkpoint (config.json) is there yet."""
    from ctxbench.core.paths import cache_dir

    path = (cache or cache_dir()) / name
    if not (path / "config.json").exists():
        build(path)
    return path


def build_tiny(out_dir: str | os.PathLike, spec: TinySpec = TinySpec()) -> Path:
    """Train the tokenizer, init the model from `spec.seed`, save both to `out_dir` atomically."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = train_tokenizer(spec.vocab_size, tokenizer_corpus())
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.eos_token_id,
    )
    model = seeded_init(Qwen2ForCausalLM, cfg, spec.seed)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return save_build(Path(out_dir), (model, tok), "tiny", TINY_VERSION, asdict(spec))


def tiny_cache_name(spec: TinySpec = TinySpec()) -> str:
    """Recipe version, spec and corpus: a change to any of them names a new build."""
    return f"tiny-v{TINY_VERSION}-{stable_hash(asdict(spec), 8)}-c{corpus_hash(tokenizer_corpus())}"


def ensure_tiny(spec: TinySpec = TinySpec(), cache: Path | None = None) -> Path:
    """Path of the cached tiny checkpoint for `spec`, building it on first use."""
    return ensure_built(tiny_cache_name(spec), lambda path: build_tiny(path, spec), cache)
