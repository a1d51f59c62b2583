"""ablations/paper-multimodal.toml: the paper's multimodal recipe validates here with the paper's
hyper-parameters resolved, wires the easyr1-qa pool, image pairs and the twelve VQA benchmarks into one
job graph, and run-ablation refuses it on a machine without a GPU (or without the official data)
before any job runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbench.ablation.runner import build_jobs, check_requirements
from ctxbench.ablation.spec import load_spec
from ctxbench.benchmarks import SUITES
from ctxbench.cli import main
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.config import load_config
from ctxbench.pairs.released import ReleasedPairsConfig

SPEC = Path(__file__).resolve().parents[2] / "ablations" / "paper-multimodal.toml"


def test_spec_validates_with_the_paper_hyperparameters():
    from trainers.config import make_config

    spec = load_spec(SPEC)
    assert spec.model == "hf:/models/Qwen2.5-VL-7B-Instruct" and spec.baseline == "grpo"
    assert spec.arms == ("grpo", "contextrl", "da-rl", "da-sft") and set(spec.requires) == {"gpu", "official-data"}
    cfgs = {a: make_config(spec.train_dict(a, 0)) for a in spec.arms}
    assert {c.objective.name for c in cfgs.values()} == set(spec.arms)
    assert len({repr((c.data, c.rollout, c.loss, c.optim, c.prompts_per_step)) for c in cfgs.values()}) == 1
    c = cfgs["contextrl"]
    assert c.recipe == "paper-multimodal" and c.model == spec.model and not c.warmup.enabled
    assert (c.objective.ca_coef, c.objective.margin_clip, c.pair_batch_size) == (0.005, 5.0, 32)
    assert (c.optim.lr, c.optim.weight_decay, c.loss.kl_coef, c.loss.eps_low, c.loss.eps_high) == (1e-6, 1e-2, 1e-2, 0.2, 0.3)
    assert (c.rollout.group_size, c.rollout.max_prompt_tokens, c.rollout.max_new_tokens) == (8, 16384, 4096)
    assert (c.prompts_per_step, c.ppo_mini_batches, c.epochs, c.precision) == (256, 4, 3, "bf16")
    assert c.data.tasks == ("easyr1-qa",) and c.data.pair_share == pytest.approx(7000 / 45000)
    assert c.data.total_instances == 0 and c.data.data_paths["easyr1-qa"].endswith("ContextRL_Multimodal_Qwen2.5_VL")
    pc = load_config(ReleasedPairsConfig, spec.pairs)  # the released choose-image rows of the same dataset
    assert pc.format == "easyr1" and pc.file == c.data.data_paths["easyr1-qa"] and pc.heldout_frac == 0.0
    assert (c.data.task_split, c.data.budget, c.data.da_rl_mix) == ("all", "equal-total-repeat", "pool")
    ev = spec.eval
    assert ev.suite == "paper-vqa" and ev.split == "all" and ev.probe and ev.probe_limit == 400
    assert sorted(ev.data) == sorted(SUITES["paper-vqa"])  # every benchmark has its data folder


def test_job_graph_is_pairs_four_arms_and_five_scorings():
    spec = load_spec(SPEC)
    jobs, handles = build_jobs(spec)
    assert handles["warmup"] is None and handles["pairs"].inputs["pairs"]["format"] == "easyr1"
    assert sorted(handles["train"]) == sorted((a, 0) for a in spec.arms)
    assert len(jobs) == len(handles["eval"]) == 5  # base + four arms
    assert all(j.deps == [handles["pairs"]] for j in handles["train"].values())


def test_validate_command_accepts_it(capsys):
    assert main(["validate", str(SPEC)]) == 0
    assert "ok      " in capsys.readouterr().out


def test_run_ablation_refuses_without_a_gpu(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc = main(["--root", str(tmp_path / "runs"), "run-ablation", str(SPEC), "--quiet", "--no-report"])
    err = capsys.readouterr().err
    assert rc == 2 and "'paper-multimodal' needs a GPU" in err and "validates here but cannot run" in err
    assert not (tmp_path / "runs" / "jobs").exists() and not (tmp_path / "runs" / "pairs").exists()


def test_with_a_gpu_it_still_needs_the_official_data(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.chdir(tmp_path)  # the spec's data paths are relative: nothing here
    with pytest.raises(CtxbenchError, match=r"needs official data files that are missing: .*"
                                            r"easyr1-qa: data/ContextRL_Multimodal_Qwen2.5_VL"):
        check_requirements(load_spec(SPEC))
    (tmp_path / "data" / "ContextRL_Multimodal_Qwen2.5_VL").mkdir(parents=True)
    (tmp_path / "data" / "LMUData").mkdir()
    check_requirements(load_spec(SPEC))  # everything present: no complaint
