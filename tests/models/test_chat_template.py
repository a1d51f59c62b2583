"""Chat-template control (ctxbench.models.chat): thinking on/off/auto, a template override file, the
system/suffix/prefix of a protocol, the CA rendering with its prefill, on the tiny tokenizer with a
Qwen3-style template written here; and the same rendering from the trainers' render and the VLM path."""

from __future__ import annotations

import copy
import json

import pytest
from chat_templates import NO_SWITCH, QWEN3_LIKE

from ctxbench.core.config import ConfigError, load_config
from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import Prompt
from ctxbench.models.chat import TemplateConfig, detect_family, family_of_path, family_of_spec
from ctxbench.models.hf.text import render_with
from ctxbench.models.multimodal import render_prompt

HEAD = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from ctxbench.models.presets.registry import resolve_model

    t = AutoTokenizer.from_pretrained(resolve_model("tiny").path)
    t.chat_template = QWEN3_LIKE
    return t


def test_thinking_off_on_and_the_default(tok):
    p = Prompt.of("Q?")
    assert render_with(tok, p, TemplateConfig(thinking="off")) == HEAD + "<think>\n\n</think>\n\n"
    assert render_with(tok, p, TemplateConfig(thinking="on")) == HEAD
    # auto on a family ctxbench does not know (the tiny preset) is off: the rendering it always had
    assert render_with(tok, p) == render_with(tok, p, TemplateConfig(thinking="off"))
    # auto on Qwen3 is the paper's thinking-on
    assert render_with(tok, p, TemplateConfig(family="qwen3")) == HEAD
    # the prompt's own template wins over the backend's
    own = Prompt(({"type": "text", "value": "Q?"},), template=TemplateConfig(thinking="on"))
    assert render_with(tok, own, TemplateConfig(thinking="off")) == HEAD


def test_override_file_replaces_the_checkpoint_template(tok, tmp_path):
    f = tmp_path / "t.jinja"
    f.write_text("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}[assistant]{% endif %}")
    assert render_with(tok, Prompt.of("Q?"), TemplateConfig(override=str(f))) == "[user] Q?\n[assistant]"
    j = tmp_path / "chat_template.json"
    j.write_text(json.dumps({"chat_template": f.read_text()}))
    assert render_with(tok, Prompt.of("Q?"), TemplateConfig(override=str(j))) == "[user] Q?\n[assistant]"
    bad = tmp_path / "x.jinja"
    bad.write_text("no template here")
    with pytest.raises(CtxbenchError, match="not a Jinja chat template"):
        render_with(tok, Prompt.of("Q?"), TemplateConfig(override=str(bad)))
    with pytest.raises(CtxbenchError, match="cannot read"):
        render_with(tok, Prompt.of("Q?"), TemplateConfig(override=str(tmp_path / "missing.jinja")))


def test_system_suffix_prefix_and_item_prefill(tok):
    tpl = TemplateConfig(thinking="on", system="Be careful.", suffix=" Think.", prefix="<think>\n")
    out = render_with(tok, Prompt.of("Q?", prefill="The answer is"), tpl)
    assert out == ("<|im_start|>system\nBe careful.<|im_end|>\n<|im_start|>user\nQ? Think.<|im_end|>\n"
                   "<|im_start|>assistant\n<think>\nThe answer is")


def test_ca_rendering_is_thinking_off_with_the_family_prefill(tok):
    rl = TemplateConfig(thinking="on", system="S", suffix=" X")
    ca = rl.for_ca("klear")
    assert (ca.thinking, ca.system, ca.suffix, ca.prefix) == ("off", "", "", "The correct option is")
    assert render_with(tok, Prompt.of("Q?"), ca) == HEAD + "<think>\n\n</think>\n\nThe correct option is"
    assert TemplateConfig().for_ca("qwen3").prefix == ""                      # Qwen3-8B: empty prefill
    assert TemplateConfig(ca_prefill=" Answer: ").for_ca("qwen3").prefix == "Answer:"  # stripped, as SkyRL


def test_trainers_render_uses_the_same_rule(tok):
    from trainers.modeling import render

    assert render(tok, "Q?") == HEAD + "<think>\n\n</think>\n\n"  # no template given: as the trainers always did
    assert render(tok, "Q?", template=TemplateConfig(thinking="on")) == HEAD
    klear = TemplateConfig(thinking="on", family="klear")
    assert render(tok, "Q?", template=klear, ca=True) == HEAD + "<think>\n\n</think>\n\nThe correct option is"


def test_on_without_a_switch_uses_the_family_opener_or_fails(tok):
    t = copy.deepcopy(tok)
    t.chat_template = NO_SWITCH
    assert render_with(t, Prompt.of("Q?"), TemplateConfig(family="qwen3_vl")) == HEAD + "<think>\n"
    assert render_with(t, Prompt.of("Q?"), TemplateConfig(thinking="off", family="qwen3_vl")) == HEAD
    with pytest.raises(CtxbenchError, match="no enable_thinking switch"):
        render_with(t, Prompt.of("Q?"), TemplateConfig(thinking="on"))


def test_vlm_path_renders_with_the_same_config(tok):
    parts = ({"type": "image", "value": "/x.png"}, {"type": "text", "value": "What?"})
    tpl = TemplateConfig(thinking="off", suffix=" Think.")
    # the tiny tokenizer as the template owner: image parts become content lists the template joins
    t = copy.deepcopy(tok)
    t.chat_template = ("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<img>"
                       "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"
                       "{% if add_generation_prompt %}|A|{% endif %}")
    assert render_prompt(t, parts, "Sure", template=tpl) == "<img>What? Think.|A|Sure"
    no_chat = copy.deepcopy(tok)
    no_chat.chat_template = None
    assert render_prompt(no_chat, parts, "", placeholder="<image>", template=tpl) == "<image>\nWhat? Think."


def test_families_and_strict_config(tmp_path):
    assert detect_family("qwen3") == "qwen3" and detect_family("qwen3_vl") == "qwen3_vl"
    assert detect_family("qwen2_5_vl") == "qwen2_5_vl" and detect_family("llama") == "other"
    assert detect_family("qwen3", "Klear-AgentForge-8B-SFT") == "klear"
    assert family_of_spec("hf:/models/Qwen2.5-VL-7B-Instruct") == "qwen2_5_vl"  # by name: not on this machine
    assert family_of_spec("tiny") == "other"
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    assert family_of_path(tmp_path / "ck") == "qwen3_vl"
    with pytest.raises(ConfigError, match="unknown config key 'thinkin'"):
        load_config(TemplateConfig, {"thinkin": "on"})
    with pytest.raises(ConfigError, match="not allowed"):
        load_config(TemplateConfig, {"thinking": "yes"})
