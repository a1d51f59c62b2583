"""TrainConfig.template reaches every place the compact trainers render a prompt (issue 12, gap 1 and 6):
the RL prompts and their token counts (Trainer.prompt_ids / count_tokens), the context-selection prompts
of the ContextRL loss (ChoiceScorer: the CA rule, thinking off, the pair's prefill or the template's, the
letter read after it, as SkyRL's ct_dataset does), the DA-SFT examples (the same CA rendering; verbatim
released pairs by their stored prompt, letter and prefill) and the warm-up. On the tiny tokenizer with a
Qwen3-style template written here; and, without that template (the tiny preset as the embedded default
runs it), the bytes every path produced before templates existed.
"""

from __future__ import annotations

import copy

import pytest
from chat_templates import QWEN3_LIKE
from toy import toy_pairs

from ctxbench.models.chat import TemplateConfig
from ctxbench.pairs.base import Pair, choice_prompt
from trainers.config import make_config
from trainers.data import RLPrompt, pair_prompt
from trainers.grpo import Trainer
from trainers.modeling import encode, letter_token_ids, load_tokenizer, render
from trainers.objectives import ChoiceScorer, make_objective
from trainers.sft import make_example, pair_sft_examples

HEAD = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"
OFF = "<think>\n\n</think>\n\n"
KLEAR = "The correct option is"


@pytest.fixture(scope="module")
def plain(tiny_ckpt):
    return load_tokenizer(tiny_ckpt)  # the tiny preset: no chat template


@pytest.fixture(scope="module")
def qwen(plain):
    t = copy.deepcopy(plain)
    t.chat_template = QWEN3_LIKE
    return t


def trainer(tok, tmp_path, **cfg) -> Trainer:
    """A Trainer with only its tokenizer set up (what prompt_ids / count_tokens read)."""
    t = Trainer(make_config({"warmup": {"enabled": False}, **cfg}), tmp_path)
    t.tok, t.io = tok, None
    return t


def prompt(text: str = "Q?", prefill: str = "") -> RLPrompt:
    return RLPrompt(key=f"k:{text}:{prefill}", text=text, prefill=prefill, stop=(), kind="task",
                    scorer=lambda c: None, answer="")


def verbatim(prefill: str = "", letter: str = "B") -> Pair:
    return Pair(pair_id=f"v-{prefill}-{letter}", domain="trajectory", split="train", source="released", query="",
                answer="", ctx_pos="", ctx_neg="", prompt="Q?", letter=letter, prefill=prefill)


# ------------------------------------------------------------------------------------------ RL prompts


def test_rl_prompts_and_token_counts_render_with_the_recipe_template(qwen, tmp_path):
    on = trainer(qwen, tmp_path, template={"family": "qwen3"})  # auto on Qwen3: thinking on (SkyRL)
    off = trainer(qwen, tmp_path, template={"thinking": "off"})
    sysd = trainer(qwen, tmp_path, template={"thinking": "on", "system": "S.", "prefix": "<think>\n"})
    assert qwen.decode(on.prompt_ids(prompt())) == HEAD
    assert qwen.decode(off.prompt_ids(prompt())) == HEAD + OFF
    assert qwen.decode(sysd.prompt_ids(prompt(prefill="So"))) == \
        "<|im_start|>system\nS.<|im_end|>\n" + HEAD + "<think>\nSo"
    for t in (on, off, sysd):  # the pool's length filter counts what prompt_ids feeds the policy
        assert t.count_tokens("Q?") == len(t.prompt_ids(prompt()))
    assert on.count_tokens("Q?") < off.count_tokens("Q?")


def test_the_embedded_default_renders_the_bytes_it_always_did(plain, qwen, tmp_path):
    t = trainer(plain, tmp_path)  # the tiny preset, default template: raw text + prefill, special tokens on
    p = prompt("Note: x = 3.\nWhat is x?\nAnswer:", " The")
    assert t.prompt_ids(p) == plain(p.text + p.prefill)["input_ids"]
    assert t.count_tokens(p.text) == len(plain(p.text)["input_ids"])
    # a chat model of a family ctxbench does not know (SmolLM2 ...): thinking off, as the trainers always did
    assert qwen.decode(trainer(qwen, tmp_path).prompt_ids(prompt())) == HEAD + OFF


def test_da_rl_pair_prompts_are_rl_prompts_rendered_with_the_recipe_template(qwen, tmp_path):
    t = trainer(qwen, tmp_path, template={"family": "qwen3"})
    rl = pair_prompt(verbatim(KLEAR), True)
    assert qwen.decode(t.prompt_ids(rl)) == HEAD + KLEAR  # thinking as in RL, the pair's prefill kept


# ------------------------------------------------------------------------------ context-selection prompts


def test_ca_prompts_use_the_ca_rule_and_read_the_letter_after_the_prefill(qwen):
    klear = TemplateConfig(thinking="on", family="klear", system="S.", suffix=" X")  # RL settings, ignored
    scorer = ChoiceScorer(qwen, klear)
    ids, letter, letters = scorer.encode(verbatim(), True)
    assert qwen.decode(ids) == HEAD + OFF + KLEAR and letter == "B"  # thinking off, the family's prefill
    # the letter spellings are resolved after the prefill (SkyRL resolve_letter_tokens): each one, put
    # after the prompt's ids, reads as the prompt followed by that letter
    for L in "AB":
        assert letters[L] == letter_token_ids(qwen, L, KLEAR)
        assert {qwen.decode(ids + [i]) for i in letters[L]} <= {HEAD + OFF + KLEAR + f" {L}", HEAD + OFF + KLEAR + L}
    # the pair's own prefill wins over the template's (right-stripped, as SkyRL strips it)
    ids, _, letters = scorer.encode(verbatim("Answer: "), True)
    assert qwen.decode(ids) == HEAD + OFF + "Answer:" and letters == scorer.letters_after("Answer:")
    # Qwen3-8B: the empty prefill, the letter straight after the (thinking-off) header
    ids, _, letters = ChoiceScorer(qwen, TemplateConfig(family="qwen3")).encode(verbatim(), True)
    assert qwen.decode(ids) == HEAD + OFF and letters == {L: letter_token_ids(qwen, L) for L in "AB"}


def test_letter_spellings_depend_on_the_prefill_as_in_skyrl(plain):
    # the tiny vocabulary merges "AA" and "AB": after a prefill ending in "A" only " A" / " B" add one token
    assert letter_token_ids(plain, "A") == [plain.convert_tokens_to_ids("ĠA"), plain.convert_tokens_to_ids("A")]
    assert letter_token_ids(plain, "A", "A") == [plain.convert_tokens_to_ids("ĠA")]
    assert letter_token_ids(plain, "B", "A ") == [plain.convert_tokens_to_ids("ĠB")]  # the prefill right-stripped


def test_contextrl_gets_the_run_template_and_the_embedded_ca_prompt_is_unchanged(plain):
    cfg = make_config({"objective": {"name": "contextrl"}, "template": {"family": "klear"}})
    obj = make_objective(cfg.objective, cfg.template)
    assert obj.template == cfg.template
    pair = toy_pairs(1)[0]
    text, letter = choice_prompt(pair, True)
    ids, got, letters = ChoiceScorer(plain, make_config({}).template).encode(pair, True)
    assert ids == encode(plain, text) == plain(text)["input_ids"] and got == letter  # no template: raw text
    assert letters == {L: letter_token_ids(plain, L) for L in "AB"}


def test_mixed_prefills_in_one_batch_read_each_rows_own_letters(qwen):
    import torch

    scorer = ChoiceScorer(qwen, TemplateConfig(family="qwen3"))
    draws = [(verbatim(), True), (verbatim(KLEAR, "A"), True)]

    class Logits(torch.nn.Module):  # a stand-in policy whose next-token logits are their token ids
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.config = None

        def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False, logits_to_keep=1):
            n = len(qwen)
            logits = torch.arange(n, dtype=torch.float32).expand(input_ids.shape[0], 1, n) + self.w
            return type("Out", (), {"logits": logits})()

    scores = scorer.letter_scores(Logits(), draws)
    for row, (pair, _) in enumerate(draws):
        want = scorer.letters_after(KLEAR if pair.prefill else "")
        assert scores[row].tolist() == [float(max(want["A"])), float(max(want["B"]))]


# ---------------------------------------------------------------------------------------------- DA-SFT


def test_da_sft_examples_are_the_ca_prompts_with_the_letter_after_the_prefill(qwen):
    tpl = TemplateConfig(thinking="on", family="klear")
    pair = verbatim()
    (ids, target), = pair_sft_examples(qwen, [pair], seed=0, template=tpl)
    assert ids == ChoiceScorer(qwen, tpl).encode(pair, True)[0]  # the prompt the ContextRL loss scores
    assert target == qwen(" B", add_special_tokens=False)["input_ids"] + [qwen.eos_token_id]
    assert target[0] in letter_token_ids(qwen, "B", KLEAR)
    # a verbatim pair keeps its authored option order and letter whatever the seed's A/B draw says
    for seed in range(4):
        (ids2, t2), = pair_sft_examples(qwen, [verbatim("Pick:", "A")], seed=seed, template=tpl)
        assert qwen.decode(ids2) == HEAD + OFF + "Pick:" and t2[0] in letter_token_ids(qwen, "A", "Pick:")
    # no prefill: the bare letter straight after the assistant header, as before
    (_, t3), = pair_sft_examples(qwen, [verbatim()], seed=0, template=TemplateConfig(family="qwen3"))
    assert t3 == qwen("B", add_special_tokens=False)["input_ids"] + [qwen.eos_token_id]


def test_embedded_da_sft_and_warmup_examples_are_byte_identical(plain):
    pair = toy_pairs(1)[0]
    (ids, target), = pair_sft_examples(plain, [pair], seed=3, template=make_config({}).template)
    from trainers.data import pos_first_for

    text, letter = choice_prompt(pair, pos_first_for(3, 0, pair.pair_id))
    assert ids == plain(text)["input_ids"]
    assert target == plain(" " + letter, add_special_tokens=False)["input_ids"] + [plain.eos_token_id]
    ids, target = make_example(plain, "What is x?\nAnswer:", "", "7", (), make_config({}).template)
    assert ids == plain("What is x?\nAnswer:")["input_ids"]
    assert target == plain(" 7", add_special_tokens=False)["input_ids"] + [plain.eos_token_id]


def test_warmup_examples_render_with_the_recipe_template(qwen):
    on = TemplateConfig(family="qwen3")
    ids, target = make_example(qwen, "Q?", "", "7", (), on)
    assert qwen.decode(ids) == HEAD and target == qwen("7", add_special_tokens=False)["input_ids"] + [qwen.eos_token_id]
    assert ids == encode(qwen, render(qwen, "Q?", "", on))


def test_the_warmup_key_names_the_template_only_when_it_is_set():
    from trainers.sft import warmup_key

    default, same, qwen3 = make_config({}), make_config({"template": {}}), make_config({"template": {"family": "qwen3"}})
    assert warmup_key(default, "m", "d") == warmup_key(same, "m", "d")
    assert warmup_key(default, "m", "d") != warmup_key(qwen3, "m", "d")
