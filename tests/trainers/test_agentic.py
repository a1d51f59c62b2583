"""Multi-turn agentic rollouts (trainers/agentic.py) on the generated SWE task set: the trajectory's
token layout and loss mask, the reward of a correct and a wrong patch, and a GRPO loss whose gradient
reaches the policy's own tokens only."""

from __future__ import annotations

import pytest
import torch

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.envs.swe.tasks import resolve_data_path
from trainers.agentic import encode_trajectories, run_trajectories
from trainers.config import make_config
from trainers.data import RLPrompt, swe_env, task_prompt
from trainers.losses import aggregate, clipped_policy_loss
from trainers.modeling import completion_logprobs, load_model, load_tokenizer, resolve_model_path

pytestmark = pytest.mark.skipif(not __import__("ctxbench.envs.shell").envs.shell.available()[0],
                                reason="shell sandbox unavailable here")
DATA = "generated:swe-micro"
FIX = "THOUGHT: fix it.\n\n```bash\nsed -i 's/a - b/a + b/' calc.py\n```"
BREAK = "THOUGHT: fix it.\n\n```bash\nsed -i 's/a - b/a * b/' calc.py\n```"
LOOK = "THOUGHT: look.\n\n```bash\ncat calc.py\n```"
SUBMIT = "THOUGHT: done.\n\n```bash\necho MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached\n```"


@pytest.fixture(scope="module")
def tiny():
    path, _ = resolve_model_path("tiny")
    return load_model(path).eval(), load_tokenizer(path)


def swe_prompt(iid: str = "gen__calc-1") -> RLPrompt:
    bench = get_benchmark("swe-bench-lite")
    item = next(it for it in bench.load(LoadContext(data_path=resolve_data_path(DATA))) if it.item_id == iid)
    p = task_prompt(bench, item)
    return RLPrompt(**{**p.__dict__, "env": swe_env(bench, item, DATA)})


class Scripted:
    """A policy that 'samples' the tokens of scripted replies (then EOS), recording what it emitted."""

    def __init__(self, tok, replies):
        self.tok, self.replies, self.emitted = tok, list(replies), []

    def sample(self, pending, max_new, eos):
        ids = self.tok(self.replies.pop(0), add_special_tokens=False)["input_ids"][: max_new - 1] + [eos]
        self.emitted.append(ids)
        return ids, [-0.5] * len(ids), [1.0] * len(ids)


def rollout_cfg(**kw):
    return make_config({"rollout": {"group_size": 2, "max_turns": 4, "max_new_tokens": 256, "max_input_tokens": 3500,
                                    "swe_reward": "local", **kw}}).rollout


def test_scripted_trajectory_mask_covers_exactly_the_policy_tokens_and_reward(tiny):
    _model, tok = tiny
    scripts = [[LOOK, FIX, SUBMIT], [BREAK, SUBMIT]]
    policies = [Scripted(tok, s) for s in scripts]
    it = iter(policies)
    trajs, rewards, metrics = run_trajectories(None, tok, [swe_prompt()], 2, rollout_cfg(),
                                               torch.Generator(), policy_factory=lambda: next(it))
    assert rewards == [1.0, 0.0]  # the correct patch resolves the instance, the wrong one does not
    assert metrics["swe_reward_local"] == 1.0 and metrics["swe_submitted"] == 1.0 and metrics["swe_turns"] == 2.5
    for traj, pol in zip(trajs, policies):
        policy_ids = [t for i, t in enumerate(traj.ids) if traj.mask[i] == 1.0]
        assert policy_ids == [t for turn in pol.emitted for t in turn]  # exactly the policy's tokens, in order
        obs = tok.decode([t for i, t in enumerate(traj.ids) if traj.mask[i] == 0.0])
        assert "<returncode>0</returncode>" in obs and "REMINDER: You have" in obs and "user:" in obs
        assert all(traj.logps[i] == -0.5 for i in range(len(traj.ids)) if traj.mask[i])
        assert all(traj.logps[i] == 0.0 for i in range(len(traj.ids)) if not traj.mask[i])
    assert "def add(a, b):" in tok.decode(trajs[0].ids)  # the first observation: `cat calc.py`
    assert "Consider the following PR description:\nadd(2, 3) returns -1" in tok.decode(trajs[0].prompt)


def test_tiny_policy_trajectories_and_a_grpo_loss_that_ignores_observations(tiny):
    model, tok = tiny
    gen = torch.Generator().manual_seed(0)
    trajs, rewards, metrics = run_trajectories(model, tok, [swe_prompt()], 2, rollout_cfg(max_turns=2, max_new_tokens=12),
                                               gen)
    assert len(trajs) == 2 and rewards == [0.0, 0.0] and metrics["swe_turns"] == 2.0  # a format error each turn
    enc, ent = encode_trajectories(trajs, 2, tok.eos_token_id)
    mask = enc.completion_mask
    assert mask.sum() == 2 * 2 * 12 and ((ent > 0) <= (mask > 0)).all()  # 12 policy tokens per turn, no EOS
    logp, _ = completion_logprobs(model, enc.prompt_ids, enc.prompt_mask, enc.group, enc.completion_ids)
    recorded = torch.tensor([t.logps for t in trajs])
    assert torch.allclose(logp.detach()[mask > 0], recorded[mask > 0], atol=1e-4)  # the sampled log-probs
    logp = logp.detach().requires_grad_(True)
    loss, _ = clipped_policy_loss(logp, logp.detach(), torch.tensor([1.0, -1.0]), 0.2, 0.28, 10.0)
    aggregate(loss, mask, "seq-mean-token-mean").backward()
    assert (logp.grad[mask == 0] == 0).all() and (logp.grad[mask > 0] != 0).all()
    # the full chain: the parameters' gradient does not change when an observation token's log-prob is perturbed
    obs_pos = (mask[0] == 0).nonzero()[-1].item()

    def grads(shift: float):
        model.zero_grad()
        lp, _ = completion_logprobs(model, enc.prompt_ids, enc.prompt_mask, enc.group, enc.completion_ids)
        lp = lp + shift * torch.nn.functional.one_hot(torch.tensor(obs_pos), lp.shape[1])[None].float()
        tok_loss, _ = clipped_policy_loss(lp, lp.detach(), torch.tensor([1.0, -1.0]), 0.2, 0.28, 10.0)
        aggregate(tok_loss, mask, "token-mean").backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    g0, g1 = grads(0.0), grads(3.0)
    assert g0.abs().sum() > 0 and torch.equal(g0, g1)


def test_train_step_runs_the_agent_loop(tmp_path):
    from trainers.grpo import Trainer

    cfg = make_config({"recipe": "tiny", "model": "tiny", "warmup": {"enabled": False}, "max_steps": 1,
                       "prompts_per_step": 1, "progress": False,
                       "data": {"tasks": ["swe-bench-lite"], "data_paths": {"swe-bench-lite": DATA},
                                "max_items_per_task": 1},
                       "rollout": {"group_size": 2, "max_turns": 2, "max_new_tokens": 8, "max_input_tokens": 3500,
                                   "max_prompt_tokens": 4096, "swe_reward": "local"}})
    t = Trainer(cfg, tmp_path)
    t.setup(resume="never")
    assert all(p.env is not None and p.env["instance"]["test_patch"] for p in t.pools.tasks)
    m = t.train_step(1)
    assert m["swe_turns"] == 2.0 and m["swe_reward_local"] == 1.0 and m["reward_mean"] == 0.0
    assert m["completion_len"] == 16.0  # the loss mask: the policy's 2 x 8 tokens, not the observations


def test_paper_agentic_recipe_has_the_papers_rollout_limits():
    """run_mini_swe_qwen3_8b.sh: generator.max_turns 35, max_generate_length 4096, max_input_length 28672;
    the training swebench.yaml: a 180 s command timeout."""
    for recipe in ("paper-agentic", "paper-agentic-klear"):
        r = make_config({"recipe": recipe}).rollout
        assert (r.max_turns, r.max_new_tokens, r.max_input_tokens, r.command_timeout_s, r.swe_reward) == \
            (35, 4096, 28672, 180.0, "auto")
