"""The data budget as the paper sets it: equal-total arms train on the same number of instances (the
pair-free arm gets the pair slots as tasks), DA-RL's pairs sit in its task pool and each is drawn once
an epoch, and the multimodal spec's pools come out 38k QA + 7k pairs on a file of the released shape."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from toy import BENCHES, base_cfg, toy_pairs

from ctxbench.core.errors import DataError
from ctxbench.pairs import save_pairs
from trainers.data import build_pools

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pairs"))  # the released-format writers
ARMS = ("grpo", "contextrl", "da-rl", "da-sft")


def count(s: str) -> int:
    return max(1, len(s) // 4)


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(24))


def pools(pairs_path, arm, **data):
    cfg = base_cfg(pairs_path, objective={"name": arm}, data={"max_items_per_task": 0, **data})
    return build_pools(cfg, count, BENCHES)


def test_equal_total_arms_have_equal_instance_counts(pairs_path):
    budget = {"total_instances": 40, "pair_share": 0.25, "budget": "equal-total", "da_rl_mix": "pool"}
    got = {a: pools(pairs_path, a, **budget) for a in ARMS}
    d = {a: p.describe() for a, p in got.items()}
    assert {a: x["total_instances"] for a, x in d.items()} == dict.fromkeys(ARMS, 40)
    assert (d["grpo"]["tasks"], d["grpo"]["pairs"]) == (40, 0)                 # the 10 pair slots are tasks
    assert (d["contextrl"]["tasks"], d["contextrl"]["pairs"]) == (30, 10)
    assert (d["da-rl"]["tasks"], d["da-rl"]["pair_prompts"], d["da-rl"]["pairs"]) == (30, 10, 0)
    assert d["da-rl"]["pair_share"] == d["contextrl"]["pair_share"] == 0.25
    grpo_keys = {t.key for t in got["grpo"].tasks}
    assert {t.key for t in got["contextrl"].tasks} < grpo_keys and got["grpo"].repeated_tasks == 0
    # the shared budget is unchanged: every arm has the pair arms' pools (grpo draws and ignores the pairs)
    shared = pools(pairs_path, "grpo", total_instances=40, pair_share=0.25).describe()
    assert (shared["tasks"], shared["pairs"]) == (30, 10)


def test_equal_total_with_too_few_tasks_errors_or_repeats(pairs_path):
    few = {"max_items_per_task": 8, "budget": "equal-total"}  # 8 task items + 24 pairs: grpo would need 32
    for arm in ("grpo", "contextrl"):  # every arm checks it, so no arm of an ablation fails alone
        with pytest.raises(DataError, match=r"needs 32 task items \(8 \+ the 24 pair slots\), but only 8"):
            pools(pairs_path, arm, **few)
    p = pools(pairs_path, "grpo", **{**few, "budget": "equal-total-repeat"})
    assert len(p.tasks) == 32 and p.repeated_tasks == 24 and set(Counter(t.key for t in p.tasks).values()) == {4}
    assert p.describe()["repeated_tasks"] == 24 and len(pools(pairs_path, "contextrl", **few | {
        "budget": "equal-total-repeat"}).tasks) == 8


def test_da_rl_pool_sees_each_pair_once_per_epoch(pairs_path, tmp_path):
    from trainers.grpo import Trainer

    def drawn(mix):
        cfg = base_cfg(pairs_path, objective={"name": "da-rl"}, epochs=2,
                       data={"max_items_per_task": 0, "total_instances": 40, "pair_share": 0.25, "da_rl_mix": mix})
        tr = Trainer(cfg, tmp_path / mix, BENCHES)
        tr.setup(resume="never")
        per_epoch = []
        for _ in range(cfg.epochs):
            keys = Counter()
            for _ in range(tr.steps_per_epoch):
                tasks, pair_batches = tr.draw()
                extra = [p for k in range(cfg.ppo_mini_batches) for p in tr.objective.rl_extra(pair_batches[k])]
                keys.update(p.key.split(":")[1] for p in tasks + extra if p.kind == "pair")
            per_epoch.append(keys)
        return tr, per_epoch

    tr, epochs = drawn("pool")
    assert tr.steps_per_epoch == 10 and not tr.pools.pairs  # 30 tasks + 10 pair prompts, 4 prompts a step
    assert all(sorted(e.values()) == [1] * 10 for e in epochs)  # every pair once per epoch, no more
    _, heavy = drawn("per-step")  # the documented option: 4 pairs appended to each of the 7 steps
    assert sum(heavy[0].values()) == 28 and max(heavy[0].values()) > 1


def test_multimodal_spec_pools_on_the_released_shape(tmp_path, monkeypatch):
    """38 QA + 7 choose-image rows (the release's 38k + 7k, scaled down) through the spec's own [train]."""
    from released_fixtures import mixed_rows, write_mixed_parquet

    from ctxbench.ablation.spec import load_spec
    from ctxbench.core.config import deep_merge, load_config
    from ctxbench.pairs.released import ReleasedPairsConfig, import_pairs
    from trainers.config import make_config

    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ContextRL_Multimodal_Qwen2.5_VL"
    write_mixed_parquet(folder / "data" / "train-00000-of-00001.parquet", mixed_rows(38, 7))
    spec = load_spec(Path(__file__).resolve().parents[2] / "ablations" / "paper-multimodal.toml")
    rc = load_config(ReleasedPairsConfig, {**spec.pairs, "file": str(folder)})
    imported = import_pairs(rc, tmp_path / "runs", write_store=False)
    assert (imported.pairs.n_train, imported.n_grpo_rows) == (7, 38)
    got = {}
    for arm in ARMS:
        td = deep_merge(spec.train_dict(arm, 0), {"data": {"data_paths": {"easyr1-qa": str(folder)},
                                                           "pairs": str(imported.pairs.path)}})
        cfg = make_config(td)
        got[arm] = build_pools(cfg, count).describe()
    share = cfg.data.pair_share
    assert got["contextrl"]["tasks"] == 38 and got["contextrl"]["pairs"] == 7 == round(38 * share / (1 - share))
    assert got["contextrl"]["pair_share"] == pytest.approx(7 / 45) and got["da-sft"] == got["contextrl"]
    assert (got["grpo"]["tasks"], got["grpo"]["pairs"], got["grpo"]["repeated_tasks"]) == (45, 0, 7)
    assert (got["da-rl"]["tasks"], got["da-rl"]["pair_prompts"], got["da-rl"]["pairs"]) == (38, 7, 0)
    assert {a: g["total_instances"] for a, g in got.items()} == dict.fromkeys(ARMS, 45)
