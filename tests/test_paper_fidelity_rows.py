"""Rows of docs/paper-fidelity.md that no other test pinned: each test here checks one setting against
the paper's released code (github.com/sijial430/ContextAwareRL; SkyRL @e8fc363, EasyR1 @06a8428 /
a09c865, Evaluation/ @4580269), with the released value written out so a change in ctxbench fails here.

Why a separate file: these are the cross-cutting "is it still the paper's value" checks (the CA forward,
the recipes' hyper-parameters, the eval protocol's numbers, the SWE eval agent); the behaviour of each
component is tested next to it.
"""

from __future__ import annotations

import pytest
import torch

from ctxbench.pairs.base import LETTERS, Pair, choice_prompt


@pytest.fixture(scope="module")
def policy(tiny_ckpt):
    from trainers.modeling import load_policy

    torch.manual_seed(0)
    return load_policy(tiny_ckpt)


def _pairs() -> list[Pair]:
    """Two text pairs whose prompts differ in length, so the batch is left-padded."""
    return [Pair(pair_id="p0", domain="toy", split="train", source="t", query="what is x?", answer="3",
                 ctx_pos="x = 3.", ctx_neg="x = 4."),
            Pair(pair_id="p1", domain="toy", split="train", source="t", query="what does the long note say y is?",
                 answer="7", ctx_pos="a long note: y = 7, then more words here.", ctx_neg="y = 1.")]


def _draws():
    return [(p, pf) for p in _pairs() for pf in (True, False)]


def _reference_margins(model, tok, draws) -> torch.Tensor:
    """SkyRL's r (ct_policy_worker): each prompt alone, no padding, full forward, log_softmax at the last
    position, max of the log-probs over " A"/"A" (and " B"/"B"), correct minus wrong."""
    from trainers.modeling import encode, letter_token_ids, render

    ids = {L: letter_token_ids(tok, L) for L in LETTERS}
    out = []
    with torch.no_grad():
        for pair, pos_first in draws:
            text, letter = choice_prompt(pair, pos_first)
            x = torch.tensor([encode(tok, render(tok, text))])
            logp = torch.log_softmax(model(input_ids=x).logits[0, -1].float(), -1)
            score = {L: logp[ids[L]].max() for L in LETTERS}
            wrong = "B" if letter == "A" else "A"
            out.append(score[letter] - score[wrong])
    return torch.stack(out)


def test_ca_margin_is_the_prompt_only_last_position_letter_log_prob_difference(policy):
    """Audit 1a-1c: a left-padded prompt-only batch gives, per pair, SkyRL's log p(correct) - log p(wrong)
    at the next-token position (the logit difference ctxbench takes equals it: one normaliser)."""
    from trainers.objectives import ChoiceScorer

    model, tok = policy
    draws = _draws()
    with torch.no_grad():
        got = ChoiceScorer(tok).margins(model, draws)
    assert torch.allclose(got, _reference_margins(model, tok, draws), atol=1e-4)


def test_contextrl_aux_loss_is_lambda_times_the_mean_clipped_pair_loss(policy):
    """Audit 1a/1d/1e: λ·mean(-logsigmoid(clamp(r, -c, c))), the term SkyRL and EasyR1 add per step (c = 0.5
    here so that the tiny policy's margins, about ±0.5, are clipped in some rows and not in others)."""
    from trainers.arms import ObjectiveConfig
    from trainers.objectives import ContextRL

    model, tok = policy
    draws = _draws()
    aux, metrics = ContextRL(ObjectiveConfig(name="contextrl", ca_coef=0.001, margin_clip=0.5)).aux_loss(
        model, tok, draws, "fp32")
    r = _reference_margins(model, tok, draws)
    want = 0.001 * -torch.nn.functional.logsigmoid(r.clamp(-0.5, 0.5)).mean()
    assert float(aux.detach()) == pytest.approx(float(want), rel=1e-4)
    assert metrics["ca_select_acc"] == pytest.approx(float((r > 0).float().mean()))


def test_the_policy_is_loaded_in_train_mode(policy):
    """Audit 1h: both codebases compute the RL and CA losses with model.train()."""
    model, _ = policy
    assert model.training and all(m.training for m in model.modules())


# Audit 2b/2d/2f/2g/2h and §2's lengths/epochs: (SkyRL run_mini_swe_qwen3_8b.sh / run_mini_swe_agentforge8B.sh
# + ppo_base_config.yaml; EasyR1 examples/config.yaml + qwen_V2_5.sh / qwen_V3.sh, ActorConfig defaults)
_AGENTIC = {"rollout.group_size": 8, "rollout.temperature": 1.0, "rollout.top_p": 1.0, "rollout.top_k": 0,
            "rollout.max_new_tokens": 4096, "rollout.max_prompt_tokens": 4096,
            "loss.eps_low": 0.2, "loss.eps_high": 0.28, "loss.clip_ratio_c": 10.0, "loss.kl_coef": 5e-4,
            "loss.adv_scale": "group", "optim.lr": 2e-6, "optim.weight_decay": 0.01, "optim.grad_clip": 1.0,
            "optim.schedule": "constant", "optim.warmup_steps": 0, "prompts_per_step": 16, "ppo_mini_batches": 2,
            "micro_batch_size": 1, "pair_batch_size": 8, "epochs": 3, "objective.margin_clip": 5.0}
_MULTIMODAL = {"rollout.group_size": 8, "rollout.temperature": 1.0, "rollout.top_p": 1.0, "rollout.top_k": 0,
               "rollout.max_new_tokens": 4096, "rollout.max_prompt_tokens": 16384,
               "loss.eps_low": 0.2, "loss.eps_high": 0.3, "loss.clip_ratio_c": 3.0, "loss.kl_coef": 1e-2,
               "loss.adv_scale": "group", "optim.lr": 1e-6, "optim.weight_decay": 1e-2, "optim.grad_clip": 1.0,
               "optim.schedule": "constant", "optim.warmup_steps": 0, "prompts_per_step": 256,
               "ppo_mini_batches": 4, "micro_batch_size": 1, "pair_batch_size": 32, "epochs": 3,
               "objective.margin_clip": 5.0}
RELEASED = {
    "paper-agentic": _AGENTIC,
    "paper-agentic-klear": {**_AGENTIC, "rollout.max_prompt_tokens": 8192, "epochs": 2},
    "paper-multimodal": _MULTIMODAL,
    "paper-multimodal-qwen3vl": _MULTIMODAL,
}


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


@pytest.mark.parametrize("recipe", sorted(RELEASED))
def test_paper_recipes_carry_the_released_scripts_hyperparameters(recipe):
    from trainers.config import make_config

    cfg = make_config({"recipe": recipe})
    got = {k: _get(cfg, k) for k in RELEASED[recipe]}
    assert got == RELEASED[recipe]


# Audit §6: (benchmark, family) -> (temperature, top_p, top_k, seed, max_new_tokens), from the released
# eval scripts (Evaluation/ @4580269): livecode/eval.py + eval.sh, LongBench/pred.py (--cot), niah/eval.sh,
# VLMEval/eval_qwen25.sh (Qwen2VLChat, THINK=true), eval_qwen3.sh (vLLM), lmms-eval/eval_qwen25.sh (8192,
# greedy), eval_qwen3.sh (T 0.6, top_p 0.95, top_k 20, 32768).
_VLMEVAL = ("MathVerse_MINI", "MathVision", "MMMU_DEV_VAL", "MMMU_Pro_10c", "MMStar", "BLINK")
_LMMS = ("ScienceQA_TEST", "MME-RealWorld-Lite", "OlympiadBench", "PhyX")
PROTOCOL = {
    ("livecodebench-v6", "qwen3"): (0.6, 0.95, 0, 381, 32768),
    ("livecodebench-v6", "klear"): (0.6, 0.95, 0, 381, 32768),
    ("longbench-v2", "qwen3"): (0.1, 1.0, 0, None, 16384),
    ("niah-paper", "qwen3"): (0.0, 1.0, 0, None, 300),
    ("swe-bench-verified", "qwen3"): (0.6, 0.95, 0, None, None),
    ("MathVista_MINI", "qwen2_5_vl"): (0.0, 1.0, 0, None, 2048),
    ("MathVista_MINI", "qwen3_vl"): (0.6, 0.95, 20, None, 32768),
    ("VStarBench", "qwen2_5_vl"): (0.0, 1.0, 0, None, 2048),
    ("VStarBench", "qwen3_vl"): (0.6, 0.95, 20, None, 32768),
    **{(b, "qwen2_5_vl"): (0.0, 1.0, 0, None, 2048) for b in _VLMEVAL},
    **{(b, "qwen3_vl"): (0.0, 1.0, 0, None, 32768) for b in _VLMEVAL},
    **{(b, "qwen2_5_vl"): (0.0, 1.0, 0, None, 8192) for b in _LMMS},
    **{(b, "qwen3_vl"): (0.6, 0.95, 20, None, 32768) for b in _LMMS},
}
THINK_SUFFIX = ("To answer this question, you need to think step by step. Provide your thinking process in "
                "<think></think>. Provide your final answer in <answer></answer>")


@pytest.mark.parametrize(("bench", "family"), sorted(PROTOCOL))
def test_paper_protocol_entries_are_the_released_eval_scripts(bench, family):
    from ctxbench.eval.protocol import load_protocol

    e = load_protocol("paper").entry(bench, family)
    assert (e.temperature, e.top_p, e.top_k, e.seed, e.max_new_tokens) == PROTOCOL[bench, family]
    if family == "qwen2_5_vl":  # VLMEvalKit THINK=true / lmms-eval thinking=true: the ours.jinja suffix
        assert THINK_SUFFIX in e.template["suffix"]
        assert e.answer == ("raw" if bench in _LMMS else "think-answer")


def test_swe_eval_agent_settings_are_the_papers_mini_swe_agent_config():
    """swebench_klear.yaml + inference_swe_verified.slurm: step_limit 125, 60 s per command, T 0.6,
    top_p 0.95; the agent loop's own per-turn budget 4,096 (the training generator's)."""
    from ctxbench.eval.swe import SweRunConfig

    c = SweRunConfig(data="", repos="")
    assert (c.step_limit, c.command_timeout_s, c.temperature, c.top_p, c.max_new_tokens) == (125, 60.0, 0.6, 0.95, 4096)


class _PatchingBackend:
    """A backend that answers the agent like a model that knows the fix: it applies the instance's
    reference patch in its first turn and submits in its second (generated task set only)."""

    identity = "fidelity-scripted"
    max_context_tokens = 1 << 20

    def __init__(self, instances: dict):
        self.instances = instances
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def render(self, prompt) -> str:
        return "\n".join(m["content"] for m in prompt.messages(prompt.parts[0]["value"]))

    def generate(self, prompts, gen):
        from types import SimpleNamespace

        from ctxbench.envs.swe.agent import SUBMIT_COMMAND

        self.calls += 1
        text = self.render(prompts[0])
        inst = next(r for r in self.instances.values() if r["problem_statement"] in text)
        if any(m["role"] == "assistant" for m in prompts[0].history):
            reply = f"THOUGHT: done.\n\n```bash\n{SUBMIT_COMMAND}\n```"
        else:
            reply = f"THOUGHT: fix it.\n\n```bash\ngit apply <<'PATCH'\n{inst['patch']}PATCH\n```"
        return [[SimpleNamespace(text=reply)]]


@pytest.mark.skipif(not __import__("ctxbench.envs.shell").envs.shell.available()[0],
                    reason="shell sandbox unavailable here")
def test_run_ablation_scores_swe_bench_with_the_agent_loop(tmp_path):
    """Audit §6 SWE-bench: inside run-ablation SWE-bench is the multi-turn agent loop (agentic_eval), and
    a correct patch is resolved (the local verdict on a generated task set)."""
    import json

    from ctxbench.envs.swe.tasks import generated_task_set
    from ctxbench.eval.swe import agentic_eval

    folder = generated_task_set("swe-micro")
    insts = {r["instance_id"]: r for r in map(json.loads, (folder / "instances.jsonl").read_text().splitlines())}
    backend = _PatchingBackend(insts)
    out = agentic_eval("tiny", ["swe-bench-lite"], {"swe-bench-lite": "generated:swe-micro"}, tmp_path,
                       split="all", limit=1, backend=backend, progress=False)
    assert out["acc"] == {"swe-bench-lite": 1.0} and backend.calls == 2  # two turns: the fix, then submit


def test_da_sft_targets_are_the_correct_letter_then_eos(policy):
    """Audit 4b: DA-SFT is cross-entropy on the correct option letter of each pair's A/B prompt."""
    from trainers.data import pos_first_for
    from trainers.sft import pair_sft_examples

    _, tok = policy
    pairs = _pairs()
    for pair, (prompt_ids, target) in zip(pairs, pair_sft_examples(tok, pairs, seed=0)):
        letter = choice_prompt(pair, pos_first_for(0, 0, pair.pair_id))[1]
        assert prompt_ids and target[-1] == tok.eos_token_id and tok.decode(target[:-1]).strip() == letter


def test_swe_agent_texts_are_the_released_swebench_klear_yaml():
    """Audit §6 SWE-bench: the system and instance templates are the released config's (rendered by Jinja:
    4-space block indent removed, one trailing newline dropped), not a paraphrase; a few of its lines."""
    from ctxbench.envs.swe.templates import INSTANCE_TEMPLATE, SUBMIT_COMMAND, SYSTEM_TEMPLATE

    assert SYSTEM_TEMPLATE.startswith("You are a helpful assistant that can interact multiple times with a computer "
                                      "shell to solve programming tasks.\nYour response must contain exactly ONE bash")
    assert SYSTEM_TEMPLATE.endswith("\n\nFailure to follow these rules will cause your response to be rejected.")
    assert INSTANCE_TEMPLATE.startswith("<pr_description>\nConsider the following PR description:\n{task}\n"
                                        "</pr_description>\n\n<instructions>\n# Task Instructions\n")
    assert "- MODIFY: Regular source code files in /testbed (this is the working directory" in INSTANCE_TEMPLATE
    assert INSTANCE_TEMPLATE.endswith("in any way on this task after submitting.\n</instructions>")
    assert SUBMIT_COMMAND in INSTANCE_TEMPLATE and "steps_remaining" not in INSTANCE_TEMPLATE
