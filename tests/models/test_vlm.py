"""VLM backends: the tiny-vlm preset, the transformers VLM backend on tiny random-init LLaVA,
Qwen2.5-VL and Qwen3-VL checkpoints (no download), one harness eval batch on Qwen2.5-VL, and the
vLLM multimodal request mapping (checked without vLLM)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ctxbench.core.errors import CtxbenchError
from ctxbench.models import multimodal
from ctxbench.models.base import GenConfig, Prompt
from ctxbench.models.loader import load_backend
from ctxbench.models.options import BackendOptions
from ctxbench.models.presets.registry import ResolvedModel, checkpoint_identity
from ctxbench.models.presets.tiny_vlm import TinyVLMSpec, build_tiny_qwen_vl, build_tiny_vlm, ensure_tiny_vlm
from ctxbench.sources.images import put_image


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These models are tiny: one thread avoids OpenMP spin-waiting on a shared 2-core box (10x+)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_vlm():
    return ensure_tiny_vlm()


@pytest.fixture(scope="module")
def qwen25(tmp_path_factory):
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("q25") / "ckpt", "qwen2_5_vl")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [put_image(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in ((64, 64), (120, 90), (300, 451))]


@pytest.fixture(scope="module")
def prompts(images):
    return [
        Prompt(({"type": "image", "value": images[0]}, {"type": "text", "value": "What color is the shape?"})),
        Prompt(({"type": "text", "value": "Compare:"}, {"type": "image", "value": images[1]},
                {"type": "image", "value": images[2]}, {"type": "text", "value": "Which is left?"}), prefill="Answer:"),
        Prompt(({"type": "text", "value": "A text-only question"},)),
    ]


CONTS = [[" A", " B", " C"], [" red", " green"], [" yes", " no", " maybe"]]


def _backend(path: Path, batch_size: int = 4):
    resolved = ResolvedModel(spec=f"hf:{path}", path=path, identity=checkpoint_identity(path), kind="hf",
                             max_context=2048)
    return load_backend(resolved, batch_size=batch_size)


def _naive_score(be, prompt: Prompt, cont: str) -> float:
    """Reference: one unpadded forward over (rendered prompt + continuation), full logits."""
    head, wholes, counts = multimodal.lm_eval_split(be.tokenizer, be.render(prompt), [cont], not be.chat)
    enc = be._encode([head + wholes[0]], [multimodal.image_paths(prompt.parts)])
    with torch.no_grad():
        logp = be.model(**enc).logits[0].float().log_softmax(-1)
    ids, n = enc["input_ids"][0], counts[0]
    return sum(float(logp[len(ids) - n - 1 + j, ids[len(ids) - n + j]]) for j in range(n))


def _check_backend(be, prompts):
    """Greedy generation is batch-independent; sampling is seeded per prompt; batched option scores
    equal unpadded full forwards."""
    greedy = be.generate(prompts, GenConfig(max_new_tokens=5, n=2))
    assert [len(c) for c in greedy] == [2, 2, 2] and all(c[0] == c[1] for c in greedy)
    assert [c[0].text for c in be.generate(prompts[::-1], GenConfig(max_new_tokens=5))][::-1] == \
        [c[0].text for c in greedy]
    assert greedy[0][0].n_prompt_tokens > greedy[2][0].n_prompt_tokens  # image tokens are counted
    cfg = GenConfig(max_new_tokens=5, temperature=1.0, n=2, seed=3)
    sampled = be.generate(prompts[:2], cfg)
    assert [c.text for c in be.generate(prompts[1:2], cfg)[0]] == [c.text for c in sampled[1]]
    scores = be.score_many(prompts, CONTS)
    assert [len(s) for s in scores] == [3, 2, 3] and all(x < 0 for s in scores for x in s)
    assert scores[1] == pytest.approx(be.score_continuations(prompts[1], CONTS[1]), abs=1e-4)
    assert scores[0][1] == pytest.approx(_naive_score(be, prompts[0], CONTS[0][1]), abs=1e-3)
    assert scores[1][0] == pytest.approx(_naive_score(be, prompts[1], CONTS[1][0]), abs=1e-3)


# ------------------------------------------------------------------------------------ tiny-vlm

def test_tiny_vlm_builds_deterministically_as_a_llava_checkpoint(tiny_vlm, tmp_path):
    again = build_tiny_vlm(tmp_path / "again")
    assert checkpoint_identity(again) == checkpoint_identity(tiny_vlm)
    assert (again / "model.safetensors").read_bytes() == (tiny_vlm / "model.safetensors").read_bytes()
    other = build_tiny_vlm(tmp_path / "seed1", TinyVLMSpec(seed=1))
    assert checkpoint_identity(other) != checkpoint_identity(tiny_vlm)
    cfg = json.loads((tiny_vlm / "config.json").read_text())
    assert cfg["model_type"] == "llava" and cfg["image_seq_length"] == TinyVLMSpec().image_tokens == 65
    assert multimodal.is_vlm_checkpoint(tiny_vlm) and json.loads((tiny_vlm / "ctxbench_preset.json").read_text())["preset"] == "tiny-vlm"


def test_tiny_vlm_generates_scores_and_renders(tiny_vlm, prompts):
    from ctxbench.models.hf.vision import HFVLMBackend

    be = load_backend("tiny-vlm", batch_size=2)
    assert isinstance(be, HFVLMBackend) and be.identity == checkpoint_identity(tiny_vlm)
    text = be.render(prompts[1])
    assert text == ("<|im_start|>user\nCompare:<image>\n<image>\nWhich is left?<|im_end|>\n"
                    "<|im_start|>assistant\nAnswer:")
    assert be.count_tokens("what color is the shape?") <= 8  # the tokenizer knows the VQA wording
    _check_backend(be, prompts)
    # The image reaches the model: another image changes the option scores.
    other = Prompt(({"type": "image", "value": prompts[1].parts[1]["value"]},) + prompts[0].parts[1:])
    assert be.score_continuations(other, CONTS[0]) != pytest.approx(be.score_many(prompts[:1], CONTS[:1])[0])
    full = be.generate(prompts[:1], GenConfig(max_new_tokens=6))[0][0].text
    if len(full) >= 2:  # a stop string from the middle of the greedy text cuts it there
        stop = full[len(full) // 2]
        cut = be.generate(prompts[:1], GenConfig(max_new_tokens=6, stop=(stop,)))[0][0]
        assert (cut.text, cut.finish_reason) == (full[:full.index(stop)], "stop")


def test_plain_rendering_without_a_template_and_errors():
    parts = ({"type": "image", "value": "/x.png"}, {"type": "text", "value": "Q?"})
    assert multimodal.plain_render(parts, "<image>") == "<image>\nQ?"
    hist = ({"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"})
    assert multimodal.plain_render(parts, "<image>", hist) == "user: hi\n\nassistant: hello\n\nuser: <image>\nQ?\n\nassistant:"
    assert multimodal.chat_messages(parts, hist)[-1] == {
        "role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}
    with pytest.raises(CtxbenchError, match="only 'text' and 'image'"):
        multimodal.content_list(({"type": "video", "value": "v.mp4"},))
    assert multimodal.is_vlm_config({"model_type": "qwen2_5_vl"})
    assert multimodal.is_vlm_config({"model_type": "x", "vision_config": {}, "text_config": {}})
    assert not multimodal.is_vlm_config({"model_type": "qwen2"})


# ------------------------------------------------------------------------------------ real families

def test_qwen2_5_vl_backend_and_one_harness_eval_batch(qwen25, prompts, root):
    """A random-init Qwen2.5-VL (3-D rope, window attention, its own processor) through the backend
    and then one eval batch of the embedded VQA suite through the harness: generate + choice scoring,
    rows in DuckDB."""
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval
    from ctxbench.models.hf.vision import HFVLMBackend
    from ctxbench.store.read import connect_readonly

    be = _backend(qwen25)
    assert isinstance(be, HFVLMBackend) and be.model.config.model_type == "qwen2_5_vl"
    assert "<|vision_start|><|image_pad|><|vision_end|>" in be.render(prompts[0])
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - torchvision absent or broken: the image-only processor is used
        assert getattr(be.processor, "video_processor", None) is None
    _check_backend(be, prompts)
    cfg = EvalConfig(model=f"hf:{qwen25}", benchmarks=("detail-vqa", "chart-qa"), limit=4, batch_size=4)
    report = run_eval(cfg, root, backend=be, progress=False)
    assert [(r.benchmark, r.n, r.n_errors) for r in report.results] == [("detail-vqa", 4, 0), ("chart-qa", 4, 0)]
    con = connect_readonly(root)
    rows = con.execute("SELECT benchmark, output, error FROM samples ORDER BY benchmark").fetchall()
    items = con.execute("SELECT prompt_json FROM items").fetchall()
    assert len(rows) == 8 and all(e is None for _, _, e in rows)
    assert {o for b, o, _ in rows if b == "detail-vqa"} <= {"A", "B", "C", "D"}  # choice scoring
    assert all(json.loads(p)["parts"][0]["type"] == "image" for (p,) in items)


def test_qwen3_vl_backend(tmp_path, prompts):
    be = _backend(build_tiny_qwen_vl(tmp_path / "q3", "qwen3_vl"))
    assert be.model.config.model_type == "qwen3_vl"
    _check_backend(be, prompts)


def test_a_prompt_longer_than_the_window_is_an_error(qwen25, prompts):
    be = _backend(qwen25)
    be.max_context_tokens = 20
    with pytest.raises(CtxbenchError, match="exceeds the model window"):
        be.generate(prompts[1:2], GenConfig(max_new_tokens=2))


# ------------------------------------------------------------------------------------ vLLM mapping

def test_vllm_multimodal_requests_without_vllm(qwen25, tiny_vlm):
    from ctxbench.models.vllm import continuation_logprob, llm_kwargs

    assert multimodal.vllm_prompt("p", []) == {"prompt": "p"}
    assert multimodal.vllm_prompt("p", ["I1"]) == {"prompt": "p", "multi_modal_data": {"image": "I1"}}
    assert multimodal.vllm_prompt("p", ["I1", "I2"]) == {"prompt": "p", "multi_modal_data": {"image": ["I1", "I2"]}}
    reqs, where = multimodal.vllm_scoring_requests(["c0", "c1"], [[" A", ""], [" x"]], [["I"], []], [[1, 0], [2]])
    assert reqs == [{"prompt": "c0 A", "multi_modal_data": {"image": "I"}}, {"prompt": "c1 x"}]
    assert where == [(0, 0, 1), (1, 0, 2)]
    # vLLM returns the expanded prompt ids; the continuation is their last n tokens.
    ids = [5, 9, 9, 9, 7, 3, 4]
    lps = [None] + [{t: -0.5 * (j + 1)} for j, t in enumerate(ids[1:], start=1)]
    assert continuation_logprob(lps, ids, len(ids) - 2) == pytest.approx(-3.0 - 3.5)
    r = ResolvedModel(spec="x", path=qwen25, identity="0" * 16, kind="hf", max_context=4096)
    assert llm_kwargs(r, BackendOptions())["limit_mm_per_prompt"] == {"image": 4}
    text = ResolvedModel(spec="x", path=Path("/nonexistent"), identity="0" * 16, kind="hf", max_context=4096)
    assert "limit_mm_per_prompt" not in llm_kwargs(text, BackendOptions())
    # Continuation token counts taken on unexpanded text equal those of the processor's expanded rows.
    from ctxbench.models.hf.vision import load_processor

    proc = load_processor(tiny_vlm)
    head, wholes, counts = multimodal.lm_eval_split(proc.tokenizer, "<image>\nQ?\n", [" blue", " teal"])
    assert head == "<image>\nQ?" and wholes == ["\n blue", "\n teal"]
    assert counts == [len(proc.tokenizer(head + w, add_special_tokens=False)["input_ids"]) -
                      len(proc.tokenizer(head, add_special_tokens=False)["input_ids"]) for w in wholes]
