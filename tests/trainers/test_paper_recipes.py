"""One recipe and one spec per paper model, each with its model's λ (the CA coefficient).

The released scripts: Qwen3-8B run_mini_swe_qwen3_8b.sh choose_trajectory_coef=0.001; Klear-AgentForge-8B
run_mini_swe_agentforge8B.sh 0.01, the paper 0.005 (ctxbench uses the paper's, the script's is the spec
variant `contextrl-script-lambda`); Qwen2.5-VL-7B qwen_V2_5.sh choose_image_coef=0.005; Qwen3-VL-8B
qwen_V3.sh 0.001. Every ablations/paper-*.toml must validate and carry its model's λ.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbench.ablation.spec import load_spec
from ctxbench.cli import main
from ctxbench.core.config import deep_merge
from trainers.config import RECIPES, make_config

ABLATIONS = Path(__file__).resolve().parents[2] / "ablations"
PAPER_SPECS = sorted(ABLATIONS.glob("paper-*.toml"))
LAMBDA = {"Qwen3-8B": 0.001, "Klear-AgentForge-8B": 0.005, "Qwen2.5-VL-7B": 0.005, "Qwen3-VL-8B": 0.001}


def _model_of(spec) -> str:
    hits = [name for name in LAMBDA if name in spec.model]
    assert len(hits) == 1, f"{spec.name}: model {spec.model!r} is not one of the paper's {list(LAMBDA)}"
    return hits[0]


@pytest.mark.parametrize("path", PAPER_SPECS, ids=[p.stem for p in PAPER_SPECS])
def test_every_paper_spec_validates_and_carries_its_models_lambda(path, capsys):
    spec = load_spec(path)
    cfgs = {arm: make_config(spec.train_dict(arm, spec.seeds[0])) for arm in spec.arms}
    ctx = cfgs["contextrl"]
    assert ctx.objective.ca_coef == LAMBDA[_model_of(spec)] and ctx.objective.margin_clip == 5.0
    assert ctx.recipe == spec.name and ctx.model == spec.model and not ctx.warmup.enabled
    shared = {repr((c.loss, c.optim, c.rollout, c.vision, c.precision, c.pair_draw)) for c in cfgs.values()}
    assert len(shared) == 1  # the arms differ in the objective alone
    assert main(["validate", str(path)]) == 0 and "ok " in capsys.readouterr().out


def test_there_is_a_spec_for_each_of_the_four_paper_models():
    assert sorted(_model_of(load_spec(p)) for p in PAPER_SPECS) == sorted(LAMBDA)


def test_klear_is_the_qwen3_recipe_with_its_scripts_differences():
    qwen3, klear = (make_config({"recipe": r}) for r in ("paper-agentic", "paper-agentic-klear"))
    assert (klear.rollout.max_prompt_tokens, klear.epochs, klear.objective.ca_coef) == (8192, 2, 0.005)
    assert (qwen3.rollout.max_prompt_tokens, qwen3.epochs, qwen3.objective.ca_coef) == (4096, 3, 0.001)
    same = make_config({"recipe": "paper-agentic-klear", "rollout": {"max_prompt_tokens": 4096}, "epochs": 3,
                        "objective": {"ca_coef": 0.001}})
    assert same.loss == qwen3.loss and same.optim == qwen3.optim and same.rollout == qwen3.rollout
    batches = (same.prompts_per_step, same.ppo_mini_batches, same.pair_batch_size, same.micro_batch_size)
    assert batches == (16, 2, 8, 1)


def test_klears_released_script_lambda_is_a_variant_of_its_spec():
    spec = load_spec(ABLATIONS / "paper-agentic-klear.toml")
    assert "contextrl-script-lambda" not in spec.arms  # documented, not trained by default
    script = make_config(spec.train_dict("contextrl-script-lambda", 0))
    paper = make_config(spec.train_dict("contextrl", 0))
    assert (script.objective.name, script.objective.ca_coef) == ("contextrl", 0.01)
    assert paper.objective.ca_coef == 0.005
    assert script.loss == paper.loss and script.rollout == paper.rollout and script.epochs == paper.epochs
    # and it is an arm a user can add
    assert load_spec_with_arm(spec, "contextrl-script-lambda")


def load_spec_with_arm(spec, arm: str) -> bool:
    from ctxbench.ablation.spec import AblationSpec, check_spec
    from ctxbench.core.config import load_config, to_dict

    d = to_dict(spec)
    d["arms"] = [*d["arms"], arm]
    check_spec(load_config(AblationSpec, d))
    return True


def test_qwen3vl_is_the_qwen25vl_recipe_with_lambda_0001():
    assert RECIPES["paper-multimodal-qwen3vl"] == deep_merge(RECIPES["paper-multimodal"],
                                                             {"objective": {"ca_coef": 0.001}})
