"""What every objective must satisfy (the contract of docs/adding-an-objective.md), as one function.

It lives apart from the test file so that test_objective_contract.py can run the same checks in a fresh
interpreter on a copy of trainers/ with the guide's fifth objective added.
"""

from __future__ import annotations

import argparse
import os
from unittest import mock


def check_arm(name: str, pairs_path, root) -> dict:
    """Run every check on the declared arm `name`; returns the metrics of its one training step."""
    from toy import BENCHES, base_cfg

    from ctxbench.ablation.spec import AblationSpec
    from ctxbench.commands.train import add_parser, check_objective
    from ctxbench.core.config import load_config
    from ctxbench.core.errors import ConfigError
    from ctxbench.report.data import arm_order
    from ctxbench.report.figures import arm_color
    from trainers import train
    from trainers.arms import arm_names, baseline, get_arm, report_order
    from trainers.config import make_config
    from trainers.objectives import OBJECTIVES, Objective, make_objective

    # a class implements it, built from a config
    assert name in OBJECTIVES
    obj = make_objective(make_config({"objective": {"name": name}}).objective)
    assert isinstance(obj, Objective) and obj.name == name and obj.fingerprint()["name"] == name
    # config validation knows it (and suggests it for a typo), and so does `ctxbench train`
    try:
        make_config({"objective": {"name": name[:-1]}})
    except ConfigError as e:
        assert f"did you mean {name!r}" in str(e) and all(n in str(e) for n in arm_names()), str(e)
    else:
        raise AssertionError(f"a misspelt objective {name[:-1]!r} was accepted")
    check_objective(name)
    sub = argparse.ArgumentParser().add_subparsers()
    add_parser(sub)
    with mock.patch.dict(os.environ, {"COLUMNS": "400"}):  # no line wrap (argparse breaks lines at hyphens)
        assert name in sub.choices["train"].format_help()
    # an ablation spec takes it as an arm and as a variant's objective
    arms = list(dict.fromkeys([baseline(), name]))
    spec = load_config(AblationSpec, {"name": "contract", "arms": [*arms, "variant"], "seeds": [0],
                                      "variants": {"variant": {"objective": name}}})
    for a in spec.arms:
        assert make_config(spec.train_dict(a, 0)).objective.name == spec.objective_of(a)
    assert spec.objective_of("variant") == name
    # the report orders it and colours it as declared
    order = arm_order(["zz-variant", *reversed(arm_names()), "base"])
    assert order == ["base", *report_order(), "zz-variant"]
    assert arm_color(name) == get_arm(name).color
    # one training step on the toy setup
    res = train(base_cfg(pairs_path, objective={"name": name}, max_steps=1, run_name=f"contract-{name}"), root,
                benchmarks=BENCHES)
    assert res.final_step == 1 and "reward_mean" in res.metrics[-1]
    return res.metrics[-1]
