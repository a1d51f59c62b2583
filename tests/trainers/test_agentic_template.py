"""The multi-turn trajectory's chat pieces (trainers/agentic.ChatPieces) are rendered through
ctxbench.models.chat with the run's template (issue 12, gap 2): thinking per family (Qwen3 thinks in RL,
as SkyRL's generator renders with the tokenizer's default template), off where asked, an override
file, a family opener for a template without the switch; and the trainer hands cfg.template to the
rollouts. On the tiny tokenizer with a Qwen3-style template written here; no sandbox needed."""

from __future__ import annotations

import copy

import pytest
from chat_templates import NO_SWITCH, QWEN3_LIKE

from ctxbench.models.chat import TemplateConfig
from trainers.agentic import ChatPieces, TrajectoryChat
from trainers.modeling import load_tokenizer

GEN = "<|im_start|>assistant\n"
OFF = "<think>\n\n</think>\n\n"


@pytest.fixture(scope="module")
def plain(tiny_ckpt):
    return load_tokenizer(tiny_ckpt)


def with_template(tok, template):
    t = copy.deepcopy(tok)
    t.chat_template = template
    return t


def text(tok, ids) -> str:
    return tok.decode(ids)


def test_thinking_follows_the_template_config(plain):
    tok = with_template(plain, QWEN3_LIKE)
    assert text(tok, ChatPieces(tok, TemplateConfig(family="qwen3")).gen_prompt) == GEN  # auto: Qwen3 thinks
    assert text(tok, ChatPieces(tok, TemplateConfig(thinking="on")).gen_prompt) == GEN
    off = ChatPieces(tok, TemplateConfig(thinking="off"))
    assert text(tok, off.gen_prompt) == GEN + OFF
    # no template given, or auto on a family ctxbench does not know: off, as the pieces always were
    assert ChatPieces(tok).gen_prompt == off.gen_prompt == ChatPieces(tok, TemplateConfig()).gen_prompt
    on = ChatPieces(tok, TemplateConfig(thinking="on"))
    # the history pieces do not depend on thinking
    assert on.prompt("S", "U") == off.prompt("S", "U")
    assert text(tok, on.prompt("S", "U")) == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
    assert text(tok, on.user("obs")) == "<|im_start|>user\nobs<|im_end|>\n"


def test_a_template_without_the_switch_gets_the_family_opener_and_prefix(plain):
    tok = with_template(plain, NO_SWITCH)
    assert text(tok, ChatPieces(tok, TemplateConfig(family="qwen3_vl")).gen_prompt) == GEN + "<think>\n"
    assert text(tok, ChatPieces(tok, TemplateConfig(thinking="off", prefix="Sure.")).gen_prompt) == GEN + "Sure."


def test_an_override_file_renders_the_pieces(plain, tmp_path):
    f = tmp_path / "t.jinja"
    f.write_text(QWEN3_LIKE)
    assert not getattr(plain, "chat_template", None)  # the tiny preset has none of its own
    pieces = ChatPieces(plain, TemplateConfig(thinking="off", override=str(f)))
    assert pieces.templated and text(plain, pieces.gen_prompt) == GEN + OFF
    transcript = ChatPieces(plain)  # without a template: the role-labelled transcript, as before
    assert not transcript.templated and text(plain, transcript.gen_prompt) == "assistant:"


class Scripted:
    def __init__(self, tok, reply):
        self.tok, self.reply = tok, reply

    def sample(self, pending, max_new, eos):
        ids = self.tok(self.reply, add_special_tokens=False)["input_ids"] + [eos]
        return ids, [0.0] * len(ids), [0.0] * len(ids)


def test_a_thinking_turn_in_the_trajectory(plain):
    tok = with_template(plain, QWEN3_LIKE)
    chat = TrajectoryChat(ChatPieces(tok, TemplateConfig(family="qwen3")), Scripted(tok, "<think>hm</think>ls"),
                          tok.eos_token_id, 64, 4096)
    assert chat([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]) == "<think>hm</think>ls"
    masked = [t for t, m in zip(chat.traj.ids, chat.traj.mask) if m == 0.0]
    assert text(tok, masked).startswith(GEN) and OFF not in text(tok, chat.traj.ids)  # no empty think block


def test_the_trainer_hands_its_template_to_the_rollouts(monkeypatch):
    from trainers import agentic
    from trainers.config import make_config

    seen = {}

    def fake(model, tok, prompts, group_size, r, generator, policy_factory=None, template=None):
        seen["template"] = template
        raise StopIteration

    monkeypatch.setattr(agentic, "run_trajectories", fake)
    cfg = make_config({"template": {"family": "qwen3", "system": "S"}})
    trainer = type("T", (), {"cfg": cfg, "io": None, "model": None, "tok": None, "pad": 0})()
    prompt = type("P", (), {"env": {"instance": {}}})()
    with pytest.raises(StopIteration):
        agentic.agentic_rollouts(trainer, [prompt], None)
    assert seen["template"] == cfg.template
