"""Where the compact trainer computes (issue 12, gap 3): bf16 autocast runs on the model's own device
type (it used to pick "cuda" whenever CUDA was available, which leaves a CPU model in fp32), and
TrainConfig.device (auto | cpu | cuda) says where the policy and the reference model live. On the CPU:
CUDA's availability is faked where the rule depends on it; nothing is allocated on a GPU."""

from __future__ import annotations

import pytest
import torch

from ctxbench.core.config import ConfigError
from trainers.config import config_fingerprint, make_config
from trainers.modeling import autocast, device_type, load_policy, resolve_device


@pytest.fixture(scope="module")
def policy(tiny_ckpt):
    return load_policy(tiny_ckpt)


def test_bf16_autocast_is_on_for_a_cpu_model_even_where_cuda_is_available(policy, monkeypatch):
    model, tok = policy
    ids = torch.tensor([tok("Note: x = 3.")["input_ids"]])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU box whose policy is on the CPU
    with autocast("bf16", model):
        assert torch.is_autocast_enabled("cpu")
        assert model(input_ids=ids).logits.dtype == torch.bfloat16
    with autocast("fp32", model):
        assert not torch.is_autocast_enabled("cpu")
        assert model(input_ids=ids).logits.dtype == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_device_type_of_models_devices_and_names(policy):
    assert device_type(policy[0]) == "cpu" and device_type(None) == "cpu"
    assert device_type(torch.device("cuda", 1)) == "cuda" and device_type("cuda:0") == "cuda"


def test_the_device_option_resolves(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cpu") == torch.device("cpu")


def test_the_device_option_is_checked_and_operational():
    assert make_config({}).device == "auto"
    with pytest.raises(ConfigError, match="device"):
        make_config({"device": "gpu"})
    # the same run may resume on another machine: the device is not part of the run's identity
    assert config_fingerprint(make_config({"device": "cpu"})) == config_fingerprint(make_config({}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_a_cuda_run_without_cuda_fails_before_anything_loads(tmp_path):
    from trainers.grpo import Trainer

    t = Trainer(make_config({"device": "cuda", "warmup": {"enabled": False}}), tmp_path)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        t.setup(resume="never")
    assert not (tmp_path / "train").exists()


def test_the_trainer_puts_the_policy_and_reference_on_the_resolved_device(tmp_path):
    from toy import BENCHES, base_cfg, toy_pairs

    from ctxbench.pairs import save_pairs
    from trainers.grpo import Trainer

    pairs = save_pairs(tmp_path / "pairs.jsonl", toy_pairs(8))
    cfg = base_cfg(pairs, objective={"name": "contextrl"}, max_steps=1, device="cpu", loss={"kl_coef": 0.01})
    t = Trainer(cfg, tmp_path / "runs", BENCHES)
    t.setup(resume="never")
    assert t.device == torch.device("cpu") and device_type(t.model) == "cpu" and device_type(t.ref) == "cpu"
    m = t.train_step(1)  # the step's tensors meet the model on its device
    assert m["grad_norm"] > 0 and "kl" in m and "aux_loss" in m
