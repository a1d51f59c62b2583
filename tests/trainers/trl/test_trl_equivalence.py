"""The TRL subclass and the compact trainer compute the same loss and the same gradients on a fixed batch.

Both engines are given the same model, the same drawn prompts and pair batch (the TRL engine lays out
the compact trainer's own draw order), and the same completions (trl_fixed: a pure function of the
prompt, so no sampling), scored by the same benchmark. One optimizer step each, gradient clipping off;
the gradients are read just before the optimizer step. Tolerance 1e-5 (absolute, on losses and on every
gradient entry): the engines run different forwards (the compact trainer encodes each prompt once and
shares its KV cache over the group; TRL runs prompt + completion rows), equal up to float rounding.
"""

from __future__ import annotations

import pytest
from toy import BENCHES, base_cfg, toy_pairs
from trl_fixed import answers_by_text, compact_rollouts, trl_rollout_func

from ctxbench.pairs import save_pairs
from trainers import grpo
from trainers.trl.engine import TRLEngine

TOL = 1e-5
CASES = {
    "grpo": {"objective": {"name": "grpo"}},
    "contextrl": {"objective": {"name": "contextrl", "ca_coef": 0.5}},
    "contextrl-kl-seqmean": {"objective": {"name": "contextrl", "ca_coef": 0.5},
                             "loss": {"kl_coef": 0.05, "agg": "seq-mean-token-mean"}},
    "da-rl": {"objective": {"name": "da-rl"}},
}


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(16))


def compact_step(cfg, root, monkeypatch):
    monkeypatch.setattr(grpo, "make_rollouts", compact_rollouts())
    t = grpo.Trainer(cfg, root, BENCHES)
    t.setup("never")
    grads = {}
    t.opt.step = lambda *a, **k: grads.update({n: p.grad.detach().clone() for n, p in t.model.named_parameters()})
    return t.train_step(1), grads


def trl_step(cfg, root):
    from transformers import TrainerCallback

    engine = TRLEngine(cfg, root, BENCHES)
    engine.setup("never")  # lays out the data; the trainer is rebuilt below with the fixed rollouts
    engine.rollout_func = trl_rollout_func(answers_by_text(engine))
    engine._build_trainer()
    grads = {}

    class Capture(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kw):
            grads.update({n: p.grad.detach().clone() for n, p in engine.trainer.model.named_parameters()})

    engine.trainer.add_callback(Capture())
    res = engine.run()
    return res.metrics[0], grads


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_batch_loss_and_gradients_equal(case, pairs_path, tmp_path, monkeypatch):
    cfg = base_cfg(pairs_path, max_steps=1, optim={"lr": 1e-3, "grad_clip": 0.0}, **CASES[case])
    ours, g_ours = compact_step(cfg, tmp_path / "compact", monkeypatch)
    theirs, g_trl = trl_step(cfg, tmp_path / "trl")
    assert theirs["task_batch_hash"] == ours["task_batch_hash"]  # the same prompts were drawn
    assert 0.0 < ours["reward_mean"] < 1.0 and theirs["reward_mean"] == pytest.approx(ours["reward_mean"])
    assert theirs["pg_loss"] == pytest.approx(ours["pg_loss"], abs=TOL)
    if "aux_loss" in ours:
        assert theirs["aux_loss"] == pytest.approx(ours["aux_loss"], abs=TOL)
        assert theirs["ca_select_acc"] == pytest.approx(ours["ca_select_acc"])
    if "pair_reward_mean" in ours:
        assert theirs["pair_reward_mean"] == pytest.approx(ours["pair_reward_mean"])
    assert g_ours.keys() == g_trl.keys()
    worst = max(float((g_ours[k] - g_trl[k]).abs().max()) for k in g_ours)
    scale = max(float(g.abs().max()) for g in g_ours.values())
    assert scale > 1e-3 and worst < TOL, (worst, scale)  # on-policy the loss value is ~0; its gradient is not


def test_a_perturbed_batch_is_caught(pairs_path, tmp_path, monkeypatch):
    """The comparison can fail: ContextRL with another λ on the TRL side moves the gradients well past 1e-5."""
    cfg = base_cfg(pairs_path, max_steps=1, optim={"lr": 1e-3, "grad_clip": 0.0}, **CASES["contextrl"])
    other = base_cfg(pairs_path, max_steps=1, optim={"lr": 1e-3, "grad_clip": 0.0},
                     objective={"name": "contextrl", "ca_coef": 0.25})
    _, g_ours = compact_step(cfg, tmp_path / "compact", monkeypatch)
    _, g_trl = trl_step(other, tmp_path / "trl")
    assert max(float((g_ours[k] - g_trl[k]).abs().max()) for k in g_ours) > 100 * TOL
