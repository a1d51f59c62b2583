"""The paper's eval protocol as data (ctxbench/eval/protocols/paper.toml): it loads, rejects unknown keys
and families, gives the released scripts' values, and the harness applies it (sampling, length,
template, reply post-processing, judge) while an eval without a protocol keeps its old settings."""

from __future__ import annotations

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import Item, LoadContext
from ctxbench.core.config import ConfigError
from ctxbench.eval.config import EvalConfig
from ctxbench.eval.harness import bench_template, describe_setup, gen_settings
from ctxbench.eval.protocol import load_protocol, think_answer
from ctxbench.models.options import RopeScaling

ITEM = Item(item_id="x", prompt=({"type": "text", "value": "q"},), answer="1")


def test_paper_values_per_benchmark_and_family():
    p = load_protocol("paper")
    lcb = p.entry("livecodebench-v6", "qwen3")
    assert (lcb.temperature, lcb.top_p, lcb.seed, lcb.max_new_tokens) == (0.6, 0.95, 381, 32768)
    assert lcb.template["prefix"] == "<think>\n" and "think step-by-step" in lcb.template["system"]
    lb = p.entry("longbench-v2", "qwen3")
    assert lb.rope_scaling == RopeScaling("yarn", 2.0, 65536, 131072) and lb.temperature == 0.1
    assert p.entry("niah-paper", "klear").judge == "gpt-4o"
    q25 = p.entry("MathVista_MINI", "qwen2_5_vl")
    assert q25.max_new_tokens == 2048 and q25.answer == "think-answer"
    assert q25.template["suffix"].startswith(" To answer this question, you need to think step by step.")
    q3 = p.entry("MathVerse_MINI", "qwen3_vl")
    assert (q3.temperature, q3.max_new_tokens, q3.template) == (0.0, 32768, {})
    sqa = p.entry("ScienceQA_TEST", "qwen3_vl")
    assert (sqa.temperature, sqa.top_p, sqa.top_k) == (0.6, 0.95, 20)
    assert p.entry("easy-vqa", "qwen3") is None  # not covered: the harness's defaults


def test_protocol_file_is_strict(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\n[benchmarks.niah.default]\ntemprature = 0.6\n')
    with pytest.raises(ConfigError, match="unknown config key 'temprature'"):
        load_protocol(str(bad))
    bad.write_text('name = "x"\n[benchmarks.niah.qwen4]\ntemperature = 0.6\n')
    with pytest.raises(ConfigError, match="unknown family 'qwen4'"):
        load_protocol(str(bad))
    bad.write_text('name = "x"\n[benchmarks.niah.default]\ntemplate = { thinkng = "on" }\n')
    with pytest.raises(ConfigError, match="thinkng"):
        load_protocol(str(bad))
    with pytest.raises(ConfigError, match="unknown eval protocol 'papr'.*paper"):
        EvalConfig(benchmarks=("niah",), protocol="papr")


def test_gen_settings_follow_the_protocol_and_keep_the_defaults_without_one():
    lcb = get_benchmark("livecodebench-v6")
    plain = EvalConfig(benchmarks=("livecodebench-v6",))
    _, g0 = gen_settings(lcb, plain, ITEM)
    assert (g0.temperature, g0.max_new_tokens) == (0.0, lcb.gen.max_new_tokens)
    proto = load_protocol("paper").entry("livecodebench-v6", "qwen3")
    cfg = EvalConfig(benchmarks=("livecodebench-v6",), protocol="paper")
    _, g = gen_settings(lcb, cfg, ITEM, proto)
    assert (g.temperature, g.top_p, g.seed, g.max_new_tokens) == (0.6, 0.95, 381, 32768)
    _, g2 = gen_settings(lcb, EvalConfig(benchmarks=("livecodebench-v6",), max_new_tokens=64), ITEM, proto)
    assert g2.max_new_tokens == 64  # an explicit eval length wins
    assert bench_template(plain, "livecodebench-v6", "qwen3", None) is None  # the backend's own rendering
    t = bench_template(cfg, "livecodebench-v6", "qwen3", proto)
    assert (t.thinking, t.prefix) == ("on", "<think>\n")
    assert bench_template(cfg, "probe", "klear", None).prefix == "The correct option is"  # CA rendering


def test_think_answer_is_vlmevalkits_postprocessing():
    assert think_answer("<think>a</think> so <answer> B </answer>") == "B"
    assert think_answer("reasoning</think>The answer is 3") == "The answer is 3"
    assert think_answer("<answer>Final Answer: 42</answer>") == "42"
    assert think_answer("x <answer>7") == "7"
    assert think_answer("plain") == "plain"


def test_describe_setup_rows():
    cfg = EvalConfig(model="hf:/models/Qwen3-8B", benchmarks=("livecodebench-v6", "longbench-v2", "niah-paper"),
                     protocol="paper")
    rows = {r["benchmark"]: r for r in describe_setup(cfg)}
    assert rows["livecodebench-v6"]["sampling"] == "T=0.6 top_p=0.95 seed=381"
    assert rows["livecodebench-v6"]["thinking"] == "on" and rows["livecodebench-v6"]["max_new_tokens"] == 32768
    assert rows["longbench-v2"]["rope"] == "yarn x2 to 131072"
    assert rows["niah-paper"]["judge"] == "gpt-4o (not configured: rule-based verdict)"


def test_niah_paper_grid_from_a_spec_has_150_cells():
    bench = get_benchmark("niah-paper")
    ctx = LoadContext(max_context_tokens=65536, count_tokens=lambda s: len(s) // 4)
    lengths, depths = bench.grid(ctx)
    assert (len(lengths), len(depths), lengths[0], lengths[-1]) == (15, 10, 1000, 32000)
    assert len(bench.cells(lengths, depths, None)) == 150
    small = LoadContext(max_context_tokens=4096, count_tokens=lambda s: len(s) // 4)
    assert bench.grid(small)[0] == [1000, 3214] and 32000 in bench.skipped
