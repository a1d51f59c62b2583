"""When the contrastive pair batch is drawn (TrainConfig.pair_draw).

- "per-update" (SkyRL's ct_trainer, the agentic recipe): a fresh batch for every optimizer step.
- "per-rollout-step" (EasyR1's ray_trainer.fit draws one choose-image batch per global step and
  dp_actor.update_policy re-applies it inside every PPO mini-batch; the multimodal recipe): one batch per
  rollout step, the CA loss computed on the same pairs at each optimizer step, the pair stream advancing
  by one batch per step; pair-derived RL prompts (DA-RL) take each drawn pair once, spread over the
  mini-batches.
Either way every arm draws identically, so GRPO (which ignores the pairs) does not depend on it.
"""

from __future__ import annotations

import pytest
from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs, weights

from ctxbench.pairs import save_pairs
from trainers import train
from trainers.config import make_config
from trainers.grpo import Trainer


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(24))


def _cfg(pairs_path, draw: str, **over):
    return base_cfg(pairs_path, pair_draw=draw, ppo_mini_batches=2, pair_batch_size=4, **over)


def _trainer(pairs_path, tmp_path, draw, **over):
    t = Trainer(_cfg(pairs_path, draw, **over), tmp_path, BENCHES)
    t.setup("never")
    return t


def _ids(batch):
    return [p.pair_id for p, _ in batch]


def test_per_update_draws_a_fresh_batch_for_each_optimizer_step(pairs_path, tmp_path):
    t = _trainer(pairs_path, tmp_path, "per-update")
    _, batches = t.draw()
    assert len(batches) == 2 and not set(_ids(batches[0])) & set(_ids(batches[1]))
    assert t.pair_stream.pos == 8
    assert t.rl_pair_batches(batches) == batches


def test_per_rollout_step_reuses_one_batch_and_spreads_it_over_the_rl_mini_batches(pairs_path, tmp_path):
    t = _trainer(pairs_path, tmp_path, "per-rollout-step")
    _, batches = t.draw()
    assert len(batches) == 2 and batches[0] is batches[1] and len(batches[0]) == 4
    assert t.pair_stream.pos == 4  # one batch per rollout step: the pairs last twice as many steps
    spread = t.rl_pair_batches(batches)
    assert [len(b) for b in spread] == [2, 2] and spread[0] + spread[1] == batches[0]


@pytest.mark.parametrize("draw", ["per-update", "per-rollout-step"])
def test_a_step_applies_the_ca_loss_and_rolls_out_pairs_as_the_draw_says(pairs_path, tmp_path, draw):
    seen: dict[str, list] = {"aux": [], "rl": []}
    for arm, key in (("contextrl", "aux"), ("da-rl", "rl")):
        t = _trainer(pairs_path, tmp_path / arm, draw, objective={"name": arm})
        hook = "aux_loss" if key == "aux" else "rl_extra"
        real = getattr(t.objective, hook)

        def spy(*args, _real=real, _key=key, _draws_at=2 if key == "aux" else 0):
            seen[_key].append(_ids(args[_draws_at]))
            return _real(*args)

        setattr(t.objective, hook, spy)
        t.train_step(1)
    aux, rl = seen["aux"], seen["rl"]
    assert len(aux) == len(rl) == 2 and all(len(x) for x in aux)
    if draw == "per-update":
        assert not set(aux[0]) & set(aux[1]) and rl == aux  # both arms drew the same batches
    else:
        assert aux[0] == aux[1]  # EasyR1: the same pairs in both optimizer steps
        assert sorted(rl[0] + rl[1]) == sorted(aux[0]) and not set(rl[0]) & set(rl[1])


def test_the_draw_changes_contextrl_and_nothing_for_grpo(pairs_path, tmp_path):
    res = {}
    for draw in ("per-update", "per-rollout-step"):
        for arm in ("grpo", "contextrl"):
            cfg = _cfg(pairs_path, draw, objective={"name": arm}, max_steps=2, run_name=f"{arm}-{draw}")
            res[arm, draw] = train(cfg, tmp_path, benchmarks=BENCHES)
    wa, wb = weights(res["grpo", "per-update"].ckpt_dir), weights(res["grpo", "per-rollout-step"].ckpt_dir)
    assert all((wa[k] == wb[k]).all() for k in wa), "the pair draw must not touch an arm that ignores pairs"
    ctx = [res["contextrl", d].ckpt_dir for d in ("per-update", "per-rollout-step")]
    assert max_weight_diff(*ctx) > 0


def test_the_recipes_set_it_and_a_bad_value_is_refused():
    assert make_config({"recipe": "paper-agentic"}).pair_draw == "per-update"
    assert make_config({"recipe": "paper-agentic-klear"}).pair_draw == "per-update"
    assert make_config({"recipe": "paper-multimodal"}).pair_draw == "per-rollout-step"
    assert make_config({"recipe": "paper-multimodal-qwen3vl"}).pair_draw == "per-rollout-step"
    assert make_config({"recipe": "tiny"}).pair_draw == "per-update"
    from ctxbench.core.config import ConfigError

    with pytest.raises(ConfigError, match="pair_draw"):
        make_config({"pair_draw": "per-epoch"})
