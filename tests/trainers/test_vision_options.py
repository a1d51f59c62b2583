"""The multimodal recipe's vision options (TrainConfig.vision), as EasyR1's released training code has them.

- Pixel caps: Training/EasyR1/examples/config.yaml sets min_pixels 784 / max_pixels 1,003,520, applied by
  verl/utils/dataset.process_image before the processor: if w*h > max, both sides scale by
  sqrt(max / (w*h)) and are truncated to int; then the same for min. Checked by hand, then through the
  trainers' VisionIO on tiny-vlm and a tiny Qwen2.5-VL (where the cap changes the number of image tokens).
- Tower freezing: config.yaml `freeze_vision_tower: true` (fsdp_workers: model.model.visual.requires_grad_
  (False)). One ContextRL step on tiny-vlm with the tower frozen leaves every vision-tower weight as it was
  and moves the projector and the language model; Qwen-VL's `visual` is frozen whole (merger included).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from test_vlm_objectives import BENCHES, cfg_for, image_pairs, weights

from ctxbench.core.errors import CtxbenchError
from ctxbench.pairs import save_pairs
from ctxbench.sources.images import put_image
from trainers import train
from trainers.config import make_config
from trainers.vision import VisionIO, cap_pixels, freeze_vision_tower

MIN, MAX = 784, 1003520


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("vlm-pairs") / "pairs.jsonl", image_pairs(8))


@pytest.fixture(scope="module")
def tiny_vlm():
    from ctxbench.models.presets.tiny_vlm import ensure_tiny_vlm

    return ensure_tiny_vlm()


def test_cap_pixels_is_easyr1_process_image_by_hand():
    big = cap_pixels(Image.new("RGB", (2000, 1000)), MIN, MAX)
    # sqrt(1003520 / 2e6) = 0.708350...: 2000 -> 1416.70 -> 1416, 1000 -> 708.35 -> 708
    assert big.size == (1416, 708) and 1416 * 708 <= MAX
    small = cap_pixels(Image.new("RGB", (20, 10)), MIN, MAX)
    # sqrt(784 / 200) = 1.979898...: 20 -> 39.598 -> 39, 10 -> 19.799 -> 19, i.e. 741 < 784 pixels:
    # EasyR1's int truncation, kept
    assert small.size == (39, 19)
    inside = Image.new("RGB", (500, 400))
    assert cap_pixels(inside, MIN, MAX) is inside and cap_pixels(big, 0, 0) is big


def _noise_image(w: int, h: int, seed: int = 0) -> str:
    return put_image(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_vision_io_applies_the_caps_on_tiny_vlm(tiny_vlm):
    parts = ({"type": "image", "value": _noise_image(300, 300)}, {"type": "text", "value": "what is shown?"})
    plain = VisionIO.load(tiny_vlm)
    capped = VisionIO.load(tiny_vlm, max_pixels=32 * 32)
    ids_p, vis_p = plain.encode(parts)
    ids_c, vis_c = capped.encode(parts)
    assert ids_p == ids_c  # LLaVA's processor resizes to its fixed 64 x 64: same tokens ...
    small = cap_pixels(Image.open(parts[0]["value"]).convert("RGB"), 0, 32 * 32)
    want = plain.processor.image_processor(images=[small], return_tensors="pt")["pixel_values"]
    assert torch.equal(vis_c["pixel_values"], want)  # ... but from the capped 32 x 32 image
    assert not torch.equal(vis_c["pixel_values"], vis_p["pixel_values"])


def test_the_caps_change_qwen_vl_image_tokens(tmp_path):
    from ctxbench.models.presets.tiny_vlm import build_tiny_qwen_vl

    path = build_tiny_qwen_vl(tmp_path / "tiny-qwen2_5_vl", "qwen2_5_vl")
    parts = ({"type": "image", "value": _noise_image(112, 112)}, {"type": "text", "value": "what is shown?"})
    _, plain = VisionIO.load(path).encode(parts)
    _, capped = VisionIO.load(path, max_pixels=56 * 56).encode(parts)
    # 112 x 112 is an 8 x 8 grid of 14-pixel patches; capped to 56 x 56 it is 4 x 4
    assert plain["image_grid_thw"].tolist() == [[1, 8, 8]]
    assert capped["image_grid_thw"].tolist() == [[1, 4, 4]]


def test_a_frozen_tower_does_not_move_and_the_rest_does(tiny_vlm, pairs_path, tmp_path):
    cfg = cfg_for(tiny_vlm, pairs_path, objective={"name": "contextrl", "ca_coef": 1.0},
                  loss={"eps_low": 0.0, "eps_high": 0.0},
                  vision={"freeze_tower": True, "min_pixels": MIN, "max_pixels": MAX})
    before, after = weights(tiny_vlm), weights(train(cfg, tmp_path, benchmarks=BENCHES).ckpt_dir)
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    tower = {k for k in before if "vision_tower" in k}
    assert tower and not tower & moved
    assert any("multi_modal_projector" in k for k in moved) and any("language_model" in k for k in moved)


def test_qwen_vl_visual_is_frozen_whole_and_a_vlm_without_a_tower_is_an_error(tmp_path):
    from ctxbench.models.presets.tiny_vlm import build_tiny_qwen_vl
    from trainers.modeling import load_model

    model = load_model(build_tiny_qwen_vl(tmp_path / "q", "qwen2_5_vl"))
    n = freeze_vision_tower(model)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert n == sum(p.numel() for p in model.model.visual.parameters()) > 0
    assert frozen == {name for name, _ in model.named_parameters() if name.startswith("model.visual.")}
    assert any(".merger." in name for name in frozen)
    with pytest.raises(CtxbenchError, match="no vision tower"):
        freeze_vision_tower(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_the_multimodal_recipes_set_them_and_bad_bounds_are_refused():
    from ctxbench.core.config import ConfigError

    for recipe in ("paper-multimodal", "paper-multimodal-qwen3vl"):
        v = make_config({"recipe": recipe}).vision
        assert (v.freeze_tower, v.min_pixels, v.max_pixels) == (True, MIN, MAX)
    for recipe in ("tiny", "paper-agentic", "paper-agentic-klear"):
        v = make_config({"recipe": recipe}).vision
        assert (v.freeze_tower, v.min_pixels, v.max_pixels) == (False, 0, 0)
    with pytest.raises(ConfigError, match="min_pixels"):
        make_config({"vision": {"min_pixels": 2000, "max_pixels": 1000}})
    with pytest.raises(ConfigError, match="freeze_towr"):
        make_config({"vision": {"freeze_towr": True}})
