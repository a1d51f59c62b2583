"""Every objective on vision-language policies, through the same shared loop as text.

A toy colour-VQA task (one generated image per item) and toy image pairs (two images of different
colours: "which image supports: the shape is red?") drive tiny-vlm (LLaVA-style) and a tiny
random-init Qwen2.5-VL (3-D rope positions). Checked: prompts are rendered and encoded exactly as the
eval backend does; the shared-prefix log-probs equal a plain full forward with the images; one
ContextRL step (the choose-image prompt with two images) updates the weights; λ = 0 equals GRPO bit
for bit; DA-RL and DA-SFT run on the same image pairs; a text-only policy refuses image data.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, Score, image, spread_subset, text
from ctxbench.core.errors import CtxbenchError
from ctxbench.pairs import Pair, choice_parts, save_pairs
from ctxbench.sources.images import put_image
from trainers import train
from trainers.config import make_config

COLOURS = {"red": (220, 30, 30), "green": (40, 170, 60), "blue": (30, 60, 220), "yellow": (235, 210, 30)}


def square(colour: str, seed: int) -> str:
    rng = np.random.default_rng(seed)
    a = np.full((64, 64, 3), 235, np.uint8)
    x, y = (int(v) for v in rng.integers(12, 40, 2))
    r = int(rng.integers(6, 12))
    a[y:y + r, x:x + r] = COLOURS[colour]
    return put_image(a)


class ToyColour(Benchmark):
    name = "toy-colour"
    version = "1"
    family = "train"
    source = "generated"
    gen = GenSpec(max_new_tokens=3)

    def data_status(self):
        return DataStatus(True, "generated")

    def load(self, ctx, limit=None):
        rng = random.Random(3)
        items = []
        for i in range(40):
            c = rng.choice(sorted(COLOURS))
            items.append(Item(f"c{i:03d}", (image(square(c, i)), text("what color is the square?")), c))
        return spread_subset(items, limit)

    def score(self, item, completion):
        got = next((w for w in completion.split() if w in COLOURS), None)
        return Score(got, got == item.answer, float(got == item.answer), got is not None)


BENCHES = {"toy-colour": ToyColour()}


def image_pairs(n: int) -> list[Pair]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        a, b = rng.sample(sorted(COLOURS), 2)
        out.append(Pair(f"ip{i}", "image", "train", f"toy/{i}", "what color is the square?", a,
                        (image(square(a, 100 + i)),), (image(square(b, 100 + i)),), {"neg_answer": b}))
    return out


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("vlm-pairs") / "pairs.jsonl", image_pairs(12))


@pytest.fixture(scope="module")
def tiny_vlm():
    from ctxbench.models.presets.tiny_vlm import ensure_tiny_vlm

    return ensure_tiny_vlm()


@pytest.fixture(scope="module")
def qwen25(tmp_path_factory):
    from ctxbench.models.presets.tiny_vlm import build_tiny_qwen_vl

    return build_tiny_qwen_vl(tmp_path_factory.mktemp("qwen") / "tiny-qwen2_5_vl", "qwen2_5_vl")


def cfg_for(model_path, pairs_path, **over):
    from ctxbench.core.config import deep_merge

    data = {
        "model": f"hf:{model_path}",
        "data": {"tasks": ["toy-colour"], "pairs": str(pairs_path), "max_items_per_task": 8},
        "rollout": {"group_size": 2, "max_new_tokens": 3, "max_prompt_tokens": 1024},
        "optim": {"lr": 1e-3}, "warmup": {"enabled": False},
        "objective": {"ca_coef": 0.5, "sft_epochs": 1, "sft_batch_size": 4, "sft_lr": 1e-3},
        "prompts_per_step": 2, "pair_batch_size": 2, "micro_batch_size": 8, "max_steps": 1,
        "threads": 1, "progress": False,
    }
    return make_config(deep_merge(data, over))


def weights(ckpt):
    from safetensors.torch import load_file

    return load_file(str(ckpt) + "/model.safetensors")


def _max_diff(a, b) -> float:
    wa, wb = weights(a), weights(b)
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


# ------------------------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("which", ["tiny_vlm", "qwen25"])
def test_prompts_encode_like_the_eval_backend_and_logprobs_match_a_full_forward(which, request):
    from ctxbench.models.base import Prompt
    from ctxbench.models.hf.vision import HFVLMBackend
    from trainers.modeling import completion_logprobs, left_pad, load_model, right_pad
    from trainers.vision import VisionIO, collate, is_mrope

    path = request.getfixturevalue(which)
    model, io = load_model(path).eval(), VisionIO.load(path)
    backend = HFVLMBackend(model, io.processor, identity="x", max_context=4096)
    pairs = image_pairs(3)
    prompts = [choice_parts(pairs[0], True)[0], choice_parts(pairs[1], False)[0], ToyColour().load(None)[0].prompt]
    for parts in prompts:
        assert io.render(parts) == backend.render(Prompt(tuple(parts)))
    enc = [io.encode(p) for p in prompts]
    assert [v["pixel_values"].shape[0] > 0 for _, v in enc] == [True] * 3
    if which == "tiny_vlm":  # 65 image tokens per image (64 patches + CLS)
        image_id = model.config.image_token_id
        assert [ids.count(image_id) for ids, _ in enc] == [130, 130, 65]
    assert is_mrope(model) == (which == "qwen25")
    comp = [[5, 6, 7], [8, 9], [10, 11, 12]]
    pids, pmask = left_pad([e[0] for e in enc], io.pad_token_id)
    cids, _ = right_pad(comp, io.pad_token_id)
    with torch.no_grad():
        fast, _ = completion_logprobs(model, pids, pmask, torch.arange(3), cids, vision=[e[1] for e in enc])
        image_id = model.config.image_token_id
        for r, ((ids, vis), c) in enumerate(zip(enc, comp)):  # one row at a time, whole sequence, no padding
            full = torch.tensor([ids + c])  # the model derives its own (3-D for Qwen) positions here
            logits = model(input_ids=full, attention_mask=torch.ones_like(full),
                           mm_token_type_ids=(full == image_id).int(), **vis).logits[0]
            ref = logits[len(ids) - 1:-1].log_softmax(-1).gather(-1, torch.tensor(c)[:, None])[:, 0]
            assert torch.allclose(fast[r, :len(c)], ref, atol=2e-4), (which, r, fast[r], ref)
    if which == "tiny_vlm":  # the images matter: the same prompt with its two images swapped scores otherwise
        from trainers.modeling import last_logits

        ids = torch.tensor([enc[0][0]])
        a = collate([enc[0][1]])
        with torch.no_grad():
            la = last_logits(model, ids, torch.ones_like(ids), a)
            lb = last_logits(model, ids, torch.ones_like(ids), {"pixel_values": a["pixel_values"].flip(0)})
        assert not torch.allclose(la, lb)


# ------------------------------------------------------------------------------------------ objectives


def test_contextrl_step_on_tiny_vlm_updates_weights_and_lambda0_equals_grpo(tiny_vlm, pairs_path, tmp_path):
    runs = {name: train(cfg_for(tiny_vlm, pairs_path, objective=obj, max_steps=2), tmp_path, benchmarks=BENCHES)
            for name, obj in {"grpo": {"name": "grpo"}, "ctx0": {"name": "contextrl", "ca_coef": 0.0},
                              "ctx": {"name": "contextrl"}}.items()}
    w0, w1 = weights(runs["grpo"].ckpt_dir), weights(runs["ctx0"].ckpt_dir)
    assert all((w0[k] == w1[k]).all() for k in w0), "contextrl(λ=0) must equal grpo bit for bit on a VLM too"
    assert [m["task_batch_hash"] for m in runs["grpo"].metrics] == [m["task_batch_hash"] for m in runs["ctx"].metrics]
    m = runs["ctx"].metrics[-1]
    assert {"ca_select_acc", "ca_hard_frac", "aux_loss"} <= set(m)
    assert _max_diff(runs["grpo"].ckpt_dir, runs["ctx"].ckpt_dir) > 0  # the two-image loss moved the weights
    # the checkpoint is a VLM checkpoint the eval backend loads (processor saved with it)
    from ctxbench.models.hf.vision import load_vlm

    model, proc, _ = load_vlm(f"hf:{runs['ctx'].ckpt_dir}")
    assert proc.image_processor is not None and type(model).__name__ == "LlavaForConditionalGeneration"


def test_one_contextrl_step_changes_tiny_vlm_weights_from_the_start(tiny_vlm, pairs_path, tmp_path):
    res = train(cfg_for(tiny_vlm, pairs_path, objective={"name": "contextrl", "ca_coef": 1.0},
                        loss={"eps_low": 0.0, "eps_high": 0.0}), tmp_path, benchmarks=BENCHES)
    before = weights(tiny_vlm)
    after = weights(res.ckpt_dir)
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("vision" in k for k in moved) and any("language_model" in k or "lm_head" in k for k in moved)


def test_da_rl_and_da_sft_run_on_image_pairs(tiny_vlm, pairs_path, tmp_path):
    rl = train(cfg_for(tiny_vlm, pairs_path, objective={"name": "da-rl"}), tmp_path, benchmarks=BENCHES)
    assert "pair_reward_mean" in rl.metrics[-1]
    sft = train(cfg_for(tiny_vlm, pairs_path, objective={"name": "da-sft"}), tmp_path, benchmarks=BENCHES)
    step0 = sft.run_dir / "checkpoints" / "step-0000000"
    assert step0.exists() and _max_diff(tiny_vlm, step0) > 0  # the SFT stage on A/B image prompts trained


def test_contextrl_step_on_tiny_qwen25_vl(qwen25, pairs_path, tmp_path):
    res = train(cfg_for(qwen25, pairs_path, objective={"name": "contextrl", "ca_coef": 1.0}), tmp_path,
                benchmarks=BENCHES)
    assert "ca_select_acc" in res.metrics[-1]
    assert _max_diff(qwen25, res.ckpt_dir) > 0
    from ctxbench.models.hf.vision import load_vlm

    model, proc, _ = load_vlm(f"hf:{res.ckpt_dir}")  # saved with its (image-only) processor components
    assert proc.image_processor is not None and model.config.model_type == "qwen2_5_vl"


def test_a_text_only_policy_refuses_image_data(tiny_ckpt, pairs_path, tmp_path):
    with pytest.raises(CtxbenchError, match="text-only"):
        train(cfg_for(tiny_ckpt, pairs_path, objective={"name": "contextrl"}), tmp_path, benchmarks=BENCHES)
