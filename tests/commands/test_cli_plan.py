"""`ctxbench plan`: seeds x items needed per benchmark, from a pilot ablation's variance components.

What could break and is checked, on the synthetic ablation store (tests/ablation_fixture.py): the plan
prints its assumptions and a seeds -> items table per benchmark; its MDE at the pilot's own design is
the MDE compare_arms reports for that pilot (one model, two uses); more seeds never need more items and
a bigger effect never needs more; a one-seed pilot says its seed variance is assumed; a run id resolves
to its ablation; unknown names and arms are errors that list the valid ones.
"""

from __future__ import annotations

import re

import pytest
from ablation_fixture import make_store
from cli_fixture import cli

from ctxbench.report.data import load_ablation
from ctxbench.stats import power
from ctxbench.stats.arms import compare_arms
from ctxbench.stats.panel import normalise, panel
from ctxbench.store.read import connect_readonly


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan") / "runs"
    make_store(root, scenario="objective", published=False, train_steps=2)
    return root


def _table(out: str, bench: str) -> dict[int, str]:
    block = out.split(f"\n{bench}: pilot ")[1].split("\n\n")[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s+(\d+)\s{3}(.+)$", block, re.MULTILINE)}


def test_plan_prints_assumptions_and_a_table_per_benchmark(store):
    rc, out, err = cli("--root", str(store), "plan", "--effect", "0.02")
    assert rc == 0, err
    assert out.startswith("plan from the latest ablation, 'abl-test': contextrl - grpo, effect +0.02")
    assert "assumptions:" in out and "Satterthwaite df" in out
    for bench in ("long-mcq", "niah", "trace-qa", "probe"):
        assert f"\n{bench}: pilot " in out
        rows = _table(out, bench)
        assert set(rows) == {2, 3, 4, 5, 8, 10, 20}
        assert all(v.startswith("unreachable") or re.match(r"[\d,]+", v) for v in rows.values())
    assert "fewest seeds per arm that can reach it" in out


def test_plan_mde_at_the_pilot_design_is_the_reports(store):
    con = connect_readonly(store)
    try:
        data = load_ablation(con, "abl-test")
    finally:
        con.close()
    task = data.task_items
    row = compare_arms(task, "grpo", "contextrl", n_boot=10, n_perm=10).set_index("benchmark").loc["niah"]
    p = panel(normalise(task), "niah", ["grpo", "contextrl"])
    c = power.components(p, "grpo", "contextrl")
    assert all(v > 0 for v in c.seed.values()) and c.interaction > 0  # nothing floored: the two must agree
    assert power.plan_mde(c, 3, p.n_items) == pytest.approx(row["mde"], rel=1e-9)
    assert c.delta == pytest.approx(row["delta"])


def _items(out: str, bench: str, seeds) -> list[float]:
    rows = _table(out, bench)
    return [float("inf") if rows[s].startswith("unreachable") else int(rows[s].split()[0].replace(",", ""))
            for s in seeds]


def test_more_seeds_or_a_bigger_effect_never_need_more_items(store):
    seeds = (3, 5, 10, 40)
    rc, out, err = cli("--root", str(store), "plan", "--effect", "0.3", "--seeds", "3,5,10,40")
    assert rc == 0, err
    items = _items(out, "trace-qa", seeds)
    assert items == sorted(items, reverse=True) and items[0] < float("inf")
    rc, out2, _ = cli("--root", str(store), "plan", "--effect", "0.5", "--seeds", "3,5,10,40")
    assert all(b <= a for a, b in zip(items, _items(out2, "trace-qa", seeds)))
    rc, out3, _ = cli("--root", str(store), "plan", "--effect", "0.3", "--seeds", "3,5,10,40", "--family", "12")
    assert "alpha 0.05 / 12 (Holm's first step over 12 rows)" in out3
    assert all(b >= a for a, b in zip(items, _items(out3, "trace-qa", seeds)))


def test_one_seed_pilot_says_the_seed_variance_is_assumed(tmp_path):
    root = tmp_path / "runs"
    make_store(root, name="pilot", seeds=(0,), n_items=20, base=False, published=False, train_steps=2)
    rc, out, err = cli("--root", str(root), "plan", "--from", "pilot", "--effect", "0.1", "--seeds", "1,3")
    assert rc == 0, err
    assert "n/a: one seed in the pilot; assumed 0, i.e. none: an optimistic plan" in out
    assert "no test: one seed does not estimate seed variance" in out
    rc, out, err = cli("--root", str(root), "plan", "--from", "pilot", "--effect", "0.1", "--seed-sd", "0.03")
    assert rc == 0 and "assumed 0.03)" in out


def test_run_id_resolves_and_bad_names_are_errors(store):
    rc, out, err = cli("--root", str(store), "plan", "--from", "eval-abl-test-grpo-0", "--effect", "0.05")
    assert rc == 0, err
    assert out.startswith("plan from ablation 'abl-test' (of run 'eval-abl-test-grpo-0')")
    rc, _out, err = cli("--root", str(store), "plan", "--from", "abl-tset", "--effect", "0.05")
    assert rc == 2 and "did you mean 'abl-test'" in err
    rc, _out, err = cli("--root", str(store), "plan", "--arm", "contextrll", "--effect", "0.05")
    assert rc == 2 and "did you mean 'contextrl'" in err
    rc, _out, err = cli("--root", str(store), "plan", "--effect", "0.05", "--seeds", "two")
    assert rc == 2 and "--seeds 'two'" in err
