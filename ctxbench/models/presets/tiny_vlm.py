"""The `tiny-vlm` preset, and tiny random-init builds of the real VLM architectures.

No vision-language model or CLIP-style encoder ships its weights in a registry package (the CLIP,
MobileCLIP and SmolVLM packages on PyPI all download them at run time), so the offline vision model is
built here, like `tiny`:

- `tiny-vlm`: LLaVA-style. A random-init CLIP ViT (64 px, patch 8, d=128, 2 layers; 64 patches + CLS
  = 65 image tokens), a 2-layer MLP projector and a tiny Llama (d=256, 4 layers), with a byte-level BPE
  tokenizer trained locally on the `tiny` corpus plus the easy-VQA questions and an `<image>` token.
  Deterministic from a seed, saved once as an ordinary transformers checkpoint (model + LlavaProcessor
  + a ChatML chat template that renders image parts), so the harness, trainers and vLLM treat it like
  any `hf:PATH` VLM. About 5.5M parameters (a training step on 8 images: ~0.15 s on 2 CPU cores).
  The image processor is the PIL one (torchvision does not import beside this torch build), resizing
  to 64x64 without a centre crop so an object near an image corner is not cropped away.
- `build_tiny_qwen_vl`: the same idea with Qwen2.5-VL / Qwen3-VL configs at toy sizes, so the real
  architectures (mrope, window attention, deepstack, their processors) are exercised on CPU in tests.
  Their processors are saved as components (tokenizer + chat template, image processor); the video
  processor needs torchvision and is left out (ctxbench.models.hf.vision.load_processor assembles an
  image-only processor when AutoProcessor cannot build one here).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ctxbench.core.hashing import stable_hash
from ctxbench.models.presets.tiny import corpus_hash, ensure_built, save_build, seeded_init, tokenizer_corpus

TINY_VLM_VERSION = "1"  # bump when the tokenizer, processor or architecture recipe changes (the corpus is hashed)
IMAGE_TOKEN = "<image>"
TINY_VLM_MAX_CONTEXT = 2048

# ChatML, with image parts rendered as the model's placeholder (HF content-list convention: parts are
# {"type": "image"} / {"type": "text", "text": ...}). The placeholder is a format field.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}__IMAGE__{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIAL = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


@dataclass(frozen=True)
class TinyVLMSpec:
    vocab_size: int = 8192
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 688
    max_position_embeddings: int = TINY_VLM_MAX_CONTEXT
    image_size: int = 64
    patch_size: int = 8
    vision_hidden_size: int = 128
    vision_layers: int = 2
    vision_heads: int = 4
    vision_intermediate_size: int = 512
    seed: int = 0

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + 1  # patches + CLS ("full" feature strategy)


def vqa_corpus() -> list[str]:
    """Text a VQA tokenizer should know: the easy-VQA questions and answers (packaged) and the
    wording of the embedded VQA suite (colours, positions, chart and geometry words). easy-vqa is a
    required dependency: without it this is an error, not a different tokenizer."""
    from ctxbench.core.errors import DataError

    try:
        import easy_vqa
    except ImportError:
        raise DataError("the tiny-vlm tokenizer corpus needs the easy-VQA questions: "
                        "pip install easy-vqa==1.0") from None
    texts: list[str] = []
    for get in (easy_vqa.get_train_questions, easy_vqa.get_test_questions):
        qs, answers, _ = get()
        texts.append("\n".join(sorted(set(qs))))
        texts.append(" ".join(sorted(set(answers))))
    texts.append(
        "Question: Answer with a single word. Answer with the option's letter from the given choices "
        "directly. Options: (A) (B) (C) (D) red green blue yellow orange purple white black gray teal "
        "brown top-left top-right bottom-left bottom-right top left right bottom center chart bar line "
        "value highest lowest greater less difference year category triangle rectangle circle square "
        "angle degrees length side perimeter area radius diameter hypotenuse parallel perpendicular "
        "neither segment longer shorter equal The answer is 0 1 2 3 4 5 6 7 8 9 10 100 45 90 180 360"
    )
    return texts


def train_vlm_tokenizer(vocab_size: int, extra_special: list[str]):
    """The `tiny` byte-level BPE recipe on the tiny corpus + VQA text, plus image special tokens."""
    from ctxbench.models.presets.tiny import train_tokenizer

    tok = train_tokenizer(vocab_size - len(extra_special), tokenizer_corpus() + vqa_corpus())
    tok.add_tokens(extra_special, special_tokens=True)
    return tok


def build_tiny_vlm(out_dir: str | os.PathLike, spec: TinyVLMSpec = TinyVLMSpec()) -> Path:
    """Train the tokenizer, init the LLaVA model from `spec.seed`, save model + processor atomically."""
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tok = train_vlm_tokenizer(spec.vocab_size, [IMAGE_TOKEN])
    tok.eos_token = "<|im_end|>"  # end of the assistant turn in the ChatML template
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    endoftext = tok.convert_tokens_to_ids("<|endoftext|>")
    vision = CLIPVisionConfig(
        image_size=spec.image_size, patch_size=spec.patch_size, hidden_size=spec.vision_hidden_size,
        intermediate_size=spec.vision_intermediate_size, num_hidden_layers=spec.vision_layers,
        num_attention_heads=spec.vision_heads,
    )
    text_cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads, max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        bos_token_id=endoftext,
    )
    cfg = LlavaConfig(
        vision_config=vision, text_config=text_cfg, image_token_id=image_id, image_seq_length=spec.image_tokens,
        vision_feature_select_strategy="full", vision_feature_layer=-1, tie_word_embeddings=True,
    )
    model = seeded_init(LlavaForConditionalGeneration, cfg, spec.seed)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = [tok.eos_token_id, endoftext]
    image_processor = CLIPImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size}, do_center_crop=False,
        crop_size={"height": spec.image_size, "width": spec.image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=spec.patch_size,
        vision_feature_select_strategy="full", num_additional_image_tokens=1, image_token=IMAGE_TOKEN,
        chat_template=CHATML_TEMPLATE.replace("__IMAGE__", IMAGE_TOKEN + "\n"),
    )
    return save_build(Path(out_dir), (model, processor), "tiny-vlm", TINY_VLM_VERSION, asdict(spec))


def tiny_vlm_cache_name(spec: TinyVLMSpec = TinyVLMSpec()) -> str:
    """Recipe version, spec and tokenizer corpus: a change to any of them names a new build."""
    return (f"tiny-vlm-v{TINY_VLM_VERSION}-{stable_hash(asdict(spec), 8)}"
            f"-c{corpus_hash(tokenizer_corpus() + vqa_corpus())}")


def ensure_tiny_vlm(spec: TinyVLMSpec = TinyVLMSpec(), cache: Path | None = None) -> Path:
    """Path of the cached tiny-vlm checkpoint for `spec`, building it on first use."""
    return ensure_built(tiny_vlm_cache_name(spec), lambda path: build_tiny_vlm(path, spec), cache)


# ------------------------------------------------------------------ real architectures, toy sizes


def build_tiny_qwen_vl(out_dir: str | os.PathLike, family: str = "qwen2_5_vl", seed: int = 0,
                       vocab_size: int = 2048) -> Path:
    """A random-init Qwen2.5-VL (`family="qwen2_5_vl"`) or Qwen3-VL (`"qwen3_vl"`) of ~1M parameters
    with a locally trained tokenizer and the family's image processor (PIL backend), saved as a
    checkpoint that `hf:PATH` loads. Images are kept small (4-16 merged patches) so a CPU forward is
    milliseconds. Nothing is downloaded."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if family not in ("qwen2_5_vl", "qwen3_vl"):
        raise ValueError(f"family must be 'qwen2_5_vl' or 'qwen3_vl', got {family!r}")
    tok = train_vlm_tokenizer(vocab_size, QWEN_SPECIAL)
    tok.eos_token = "<|im_end|>"
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL + ["<|im_end|>", "<|endoftext|>"]}
    tok.chat_template = CHATML_TEMPLATE.replace("__IMAGE__", "<|vision_start|><|image_pad|><|vision_end|>")
    patch = 14 if family == "qwen2_5_vl" else 16
    unit = patch * 2  # one merged 2x2 patch
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=unit * unit * 4, max_pixels=unit * unit * 16, patch_size=patch, merge_size=2,
        temporal_patch_size=2,
    )
    text = {"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
            "bos_token_id": ids["<|endoftext|>"], "tie_word_embeddings": True}
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
              "patch_size": patch, "spatial_merge_size": 2, "temporal_patch_size": 2}
    common = {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
              "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
              "tie_word_embeddings": True}
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model

        vision.update(window_size=2 * unit, fullatt_block_indexes=[1])
    else:
        from transformers import Qwen3VLConfig as Config
        from transformers import Qwen3VLForConditionalGeneration as Model

        text.update(head_dim=16)
        vision.update(num_position_embeddings=64, deepstack_visual_indexes=[0])
    cfg = Config(text_config=text, vision_config=vision, **common)
    model = seeded_init(Model, cfg, seed)
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    return save_build(Path(out_dir), (model, tok, image_processor), f"tiny-{family}", TINY_VLM_VERSION,
                      {"family": family, "seed": seed, "vocab_size": vocab_size})
