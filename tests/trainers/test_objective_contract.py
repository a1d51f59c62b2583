"""The objective contract, over every declared arm (trainers/arms.py) and for one more added by the guide.

Each arm has a class in trainers/objectives.py, builds from a config, is accepted by config validation,
by an ablation spec (as an arm and as a variant's objective) and by `ctxbench train --objective`, has its
place and its own colour in the report, and trains one step on the toy setup. The last test proves the
"two files" claim of docs/adding-an-objective.md: it applies the guide's own code blocks to a copy of
trainers/arms.py and trainers/objectives.py (nothing else changes) and runs the same checks on the new arm
in a fresh interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from objective_checks import check_arm
from toy import toy_pairs

from ctxbench.pairs import save_pairs
from trainers.arms import arm_names, baseline, get_arm, method, report_order, with_role

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "adding-an-objective.md"


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(8))


@pytest.mark.parametrize("name", arm_names())
def test_every_declared_arm_keeps_the_contract(name, pairs_path, tmp_path):
    metrics = check_arm(name, pairs_path, tmp_path)
    if get_arm(name).role == "method":
        assert "ca_select_acc" in metrics  # the report's selection-accuracy curve


def test_the_registry_is_consistent():
    from trainers.objectives import OBJECTIVES

    assert set(OBJECTIVES.names()) == set(arm_names())  # every declared arm has a class and vice versa
    assert report_order()[0] == baseline() and report_order()[-1] == method()
    assert with_role("data-augmentation") == ("da-rl", "da-sft")  # declaration order: the attribution's order
    colors = [get_arm(n).color.lower() for n in arm_names()]
    assert len(set(colors)) == len(colors) and "#7f7f7f" not in colors  # grey is the starting checkpoint's


def test_reading_the_registry_loads_no_torch():
    code = ("import sys; import trainers.arms, trainers.config, ctxbench.report.figures, ctxbench.ablation.spec; "
            "from ctxbench.report.data import arm_order; arm_order(trainers.arms.arm_names()); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def guide_blocks() -> dict[str, str]:
    """The guide's code blocks that start with `# in trainers/<file>.py`, by file."""
    out: dict[str, str] = {}
    for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL):
        m = re.match(r"# in (trainers/\w+\.py)\n", block)
        if m:
            out[m.group(1)] = out.get(m.group(1), "") + "\n\n" + block
    return out


def test_the_guide_adds_a_fifth_objective_by_editing_two_files(tmp_path, pairs_path):
    blocks = guide_blocks()
    assert sorted(blocks) == ["trainers/arms.py", "trainers/objectives.py"]
    shutil.copytree(REPO / "trainers", tmp_path / "trainers", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, code in blocks.items():
        with open(tmp_path / rel, "a", encoding="utf-8") as f:
            f.write(code)
    script = f"""
import trainers
from objective_checks import check_arm
from trainers.arms import arm_names, data_augmentation, get_arm
assert trainers.__file__.startswith({str(tmp_path)!r}), trainers.__file__
new = [n for n in arm_names() if n not in {list(arm_names())!r}]
assert len(new) == 1, new
assert get_arm(new[0]).role == "objective" and new[0] not in data_augmentation()
metrics = check_arm(new[0], {str(pairs_path)!r}, {str(tmp_path / "runs")!r})
assert "ca_loss" in metrics and "ca_select_acc" in metrics, sorted(metrics)
print("NEW", new[0])
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO / "tests" / "trainers"), str(REPO)])
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NEW contextrl-hinge" in proc.stdout


def test_an_undeclared_class_is_refused():
    from ctxbench.core.errors import CtxbenchError
    from trainers.objectives import Objective, register

    class Nameless(Objective):
        name = "not-declared"

    with pytest.raises(CtxbenchError, match="does not declare"):
        register(Nameless)
