"""ablations/embedded-vqa.toml: the multimodal ablation validates strictly and wires image pairs,
tiny-vlm, the warm-up, four arms and the embedded-vqa suite + image probe into one job graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbench.ablation.runner import build_jobs
from ctxbench.ablation.spec import load_spec
from ctxbench.core.config import ConfigError
from ctxbench.pairs.domains import pairs_config
from ctxbench.pairs.image.build import ImagePairsConfig

SPEC = Path(__file__).resolve().parents[2] / "ablations" / "embedded-vqa.toml"


def test_spec_validates_and_resolves_image_pairs_and_tiny_vlm():
    from trainers.config import make_config

    spec = load_spec(SPEC)
    assert spec.model == "tiny-vlm" and set(spec.arms) == {"grpo", "contextrl", "da-rl", "da-sft"}
    assert spec.eval.suite == "embedded-vqa" and spec.eval.probe
    assert isinstance(pairs_config(spec.pairs), ImagePairsConfig)
    for quick in (False, True):
        cfgs = {a: make_config(spec.train_dict(a, 0, quick)) for a in spec.arms}
        assert {c.model for c in cfgs.values()} == {"tiny-vlm"}
        assert {c.objective.name for c in cfgs.values()} == set(spec.arms)
        same = {repr((c.data, c.rollout, c.warmup, c.max_steps)) for c in cfgs.values()}
        assert len(same) == 1  # arms differ by their objective only
        assert all(c.warmup.enabled and c.data.pair_share == 0.15 for c in cfgs.values())
    assert make_config(spec.train_dict("grpo", 0, True)).max_steps < make_config(spec.train_dict("grpo", 0)).max_steps


def test_quick_job_graph_is_pairs_warmup_four_arms_and_five_scorings():
    spec = load_spec(SPEC)
    jobs, handles = build_jobs(spec, quick=True)
    assert len(jobs) == 5
    assert handles["pairs"].inputs["pairs"]["domain"] == "image" and handles["warmup"] is not None
    assert sorted(handles["train"]) == sorted((a, 0) for a in spec.arms)
    assert len(handles["eval"]) == 5  # base + four arms
    assert all(handles["pairs"] in j.deps and handles["warmup"] in j.deps for j in handles["train"].values())


def test_a_misspelt_image_pairs_key_fails_validation(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.read_text().replace("scenes_per_family", "scenes_per_famly"))
    with pytest.raises(ConfigError, match="scenes_per_family"):
        load_spec(bad)
