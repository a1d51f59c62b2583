"""Multi-turn prompts: Prompt.history rendered through the chat template (what the SWE agent loop
sends every turn), the plain-text transcript without one, and single-turn rendering unchanged."""

from __future__ import annotations

import copy

import pytest
from chat_templates import QWEN3_LIKE

from ctxbench.models.base import Prompt
from ctxbench.models.hf.text import render_with

CONV = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ls?"},
        {"role": "assistant", "content": "```bash\nls\n```"}, {"role": "user", "content": "<output>a.py</output>"}]


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from ctxbench.models.presets.registry import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("tiny").path)


def test_chat_template_renders_the_whole_conversation(tok):
    chat = copy.deepcopy(tok)
    chat.chat_template = QWEN3_LIKE
    p = Prompt.chat(CONV)
    assert p.parts == ({"type": "text", "value": "<output>a.py</output>"},) and len(p.history) == 3
    assert render_with(chat, p) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nls?<|im_end|>\n"
        "<|im_start|>assistant\n```bash\nls\n```<|im_end|>\n<|im_start|>user\n<output>a.py</output><|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n")
    # no history: exactly the single-turn rendering as before
    assert render_with(chat, Prompt.of("hi", prefill="A:")) == \
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA:"


def test_plain_text_transcript_without_a_template(tok):
    assert not getattr(tok, "chat_template", None)
    assert render_with(tok, Prompt.of("Question?", prefill=" A:")) == "Question? A:"
    assert render_with(tok, Prompt.chat(CONV)) == (
        "system: Be brief.\n\nuser: ls?\n\nassistant: ```bash\nls\n```\n\nuser: <output>a.py</output>\n\nassistant:")


def test_bad_conversations_are_refused():
    with pytest.raises(ValueError, match="ending with a user message"):
        Prompt.chat(CONV[:3])
    with pytest.raises(ValueError, match=r"history\[0\] must be"):
        Prompt.of("x").__class__(({"type": "text", "value": "x"},), "", ({"role": "tool", "content": "x"},))
