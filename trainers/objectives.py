"""The arms, as small objects: the ONLY thing that differs between them.

Each class implements one arm declared in trainers/arms.py (its name, role, colour: what the config,
specs, statistics and report read without loading torch); `register` refuses a class whose name is not
declared there, and the contract test checks that every declared arm has a class.

Every arm receives the same task batch and the same pair batch each optimizer step; an objective
decides what to do with the pairs:

| arm       | RL stream                                   | auxiliary loss                                |
| grpo      | task prompts                                | none (the pair batch is drawn and ignored)    |
| contextrl | task prompts                                | λ·mean(-log σ(clip(logit t+ - logit t-, ±c))) |
| da-rl     | task prompts + the pairs as A/B prompts     | none (0/1 reward on the generated letter)     |
|           | (in the task pool, or per optimizer step)   |                                               |
| da-sft    | task prompts, after an SFT stage on the     | none                                          |
|           | pairs as A/B answers                        |                                               |

The ContextRL term is a prompt-only forward (no sampling): next-token logits of the option letters at
the last prompt position, teacher-forced, added to the GRPO loss in the same optimizer step and
scaled so that it contributes exactly λ times the mean pair loss (SkyRL's normalisation).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.core.registry import Registry
from ctxbench.models.chat import TemplateConfig
from ctxbench.pairs.base import LETTERS, Pair, choice_parts, choice_prompt, pick_letter
from trainers.arms import ObjectiveConfig, arm_names
from trainers.data import DA_RL, RLPrompt, pair_prompt
from trainers.losses import context_selection_loss
from trainers.modeling import (
    autocast,
    ca_template,
    encode,
    last_logits,
    left_pad,
    letter_token_ids,
    pad_id,
    render,
)

PairDraw = tuple[Pair, bool]  # (pair, C+ is option A)


class Objective:
    name: ClassVar[str] = ""

    def __init__(self, cfg: ObjectiveConfig, template: TemplateConfig | None = None):
        self.cfg = cfg
        # the run's chat-template settings (TrainConfig.template): context-selection prompts are rendered
        # from them by the CA rule (ChoiceScorer, the DA-SFT stage); None = thinking off, family defaults
        self.template = template

    def fingerprint(self) -> dict:
        """What a resume must not change (the arm and the parameters it reads)."""
        return {"name": self.name}

    def rl_extra(self, draws: list[PairDraw]) -> list[RLPrompt]:
        """Extra RL prompts built from this step's pair batch."""
        return []

    def aux_loss(self, model, tok, draws: list[PairDraw], precision: str) -> tuple[torch.Tensor | None, dict]:
        """An extra loss (already weighted) for this optimizer step, plus float metrics."""
        return None, {}

    def before_rl(self, trainer) -> bool:
        """A stage run once before the RL loop; True when it changed the model."""
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


OBJECTIVES: Registry[type[Objective]] = Registry("objective")


def register(cls: type[Objective]) -> type[Objective]:
    if cls.name not in arm_names():
        raise CtxbenchError(f"objective class {cls.__name__} implements {cls.name!r}, which trainers/arms.py "
                            f"does not declare (declared: {', '.join(arm_names())})")
    OBJECTIVES.add(cls.name, cls)
    return cls


def make_objective(cfg: ObjectiveConfig, template: TemplateConfig | None = None) -> Objective:
    return OBJECTIVES.get(cfg.name)(cfg, template)


@register
class GRPO(Objective):
    name = "grpo"


class ChoiceScorer:
    """Letter-logit scores for A/B pair prompts: ContextRL's loss and train-time selection accuracy.

    The score of a letter is the largest next-token logit, at the last prompt position, among its
    single-token spellings (" A" and/or "A"), from one teacher-forced, prompt-only forward. The probe
    (ctxbench.pairs.probe) asks the same question but is scored by the eval harness, which takes each
    option's log-probability as a continuation (" A" after the rendered prompt): the same position and
    the same decision rule (ctxbench.pairs.base.pick_letter, which `picks` uses), a different set of
    tokens. tests/pairs/test_selection_vs_probe.py pins exactly how the two measurements relate.

    Rendering (SkyRL ct_dataset, EasyR1's choose-image loader): the CA rule of `template`
    (modeling.ca_template: the checkpoint's own chat template, thinking off, then the prefill: the
    pair's own `prefill` if it has one, else the template's CA prefill, e.g. Klear's "The correct option
    is"); the letter spellings are resolved after that prefill (modeling.letter_token_ids), so the
    logits read are those of the token that follows it. A verbatim pair (released data) is scored on its
    stored prompt and letter.

    `tok` is the policy's tokenizer, or a trainers.vision.VisionIO for a vision-language policy: then
    each prompt (two images for an image pair) goes through the processor and its images enter the
    same prompt-only forward."""

    def __init__(self, tok, template: TemplateConfig | None = None):
        from trainers.vision import VisionIO

        self.tok, self.template = tok, template
        self.io = tok if isinstance(tok, VisionIO) else None
        self._text_tok = self.io.tokenizer if self.io else tok
        self._owner = self.io.owner if self.io else tok  # whose checkpoint decides the template family
        self._letters: dict[str, dict[str, list[int]]] = {}
        self._cache: dict[tuple[str, bool], tuple] = {}

    def letters_after(self, prefill: str) -> dict[str, list[int]]:
        """The letters' single-token spellings after `prefill` (cached per prefill)."""
        if prefill not in self._letters:
            self._letters[prefill] = {L: letter_token_ids(self._text_tok, L, prefill) for L in LETTERS}
        return self._letters[prefill]

    def encode(self, pair: Pair, pos_first: bool) -> tuple:
        """(prompt ids, correct letter, letter ids after the prompt's prefill[, vision inputs for a VLM])."""
        key = (pair.pair_id, pos_first)
        if key not in self._cache:
            tpl = ca_template(self._owner, self.template, pair.prefill)
            letters = self.letters_after(tpl.prefix)
            if self.io is not None:
                parts, letter = choice_parts(pair, pos_first)
                ids, vision = self.io.encode(parts, "", tpl)
                self._cache[key] = (ids, letter, letters, vision)
            elif pair.has_parts:
                raise DataError(f"pair {pair.pair_id!r} has image contexts; the policy is a text-only model "
                                "(use a vision-language model, e.g. tiny-vlm)")
            else:
                text, letter = choice_prompt(pair, pos_first)
                self._cache[key] = (encode(self.tok, render(self.tok, text, "", tpl)), letter, letters)
        return self._cache[key]

    def letter_scores(self, model, draws: list[PairDraw], precision: str = "fp32") -> torch.Tensor:
        """[N, 2]: the score of A and of B (columns in LETTERS order) for each draw."""
        encoded = [self.encode(p, pf) for p, pf in draws]
        ids, mask = left_pad([e[0] for e in encoded], pad_id(self.tok))
        vision = None
        if self.io is not None:
            from trainers.vision import collate

            vision = collate([e[3] for e in encoded])
        with autocast(precision, model):
            logits = last_logits(model, ids, mask, vision).float()
        spellings = [e[2] for e in encoded]
        if all(s is spellings[0] for s in spellings):  # one prefill for the whole batch (the usual case)
            return torch.stack([logits[:, spellings[0][L]].max(dim=-1).values for L in LETTERS], dim=1)
        return torch.stack([torch.stack([logits[i, s[L]].max() for L in LETTERS]) for i, s in enumerate(spellings)])

    def margins(self, model, draws: list[PairDraw], precision: str = "fp32") -> torch.Tensor:
        """[N] score(correct letter) - score(wrong letter)."""
        scores = self.letter_scores(model, draws, precision)
        correct_is_a = torch.tensor([self.encode(p, pf)[1] == LETTERS[0] for p, pf in draws], device=scores.device)
        return torch.where(correct_is_a, scores[:, 0] - scores[:, 1], scores[:, 1] - scores[:, 0])

    @torch.no_grad()
    def picks(self, model, draws: list[PairDraw], precision: str = "fp32") -> list[str]:
        """The letter the policy picks for each draw (pick_letter on its letter scores)."""
        return [pick_letter(row) for row in self.letter_scores(model, draws, precision).tolist()]


@register
class ContextRL(Objective):
    name = "contextrl"

    def __init__(self, cfg: ObjectiveConfig, template: TemplateConfig | None = None):
        super().__init__(cfg, template)
        self._scorer: ChoiceScorer | None = None

    def fingerprint(self) -> dict:
        return {"name": self.name, "ca_coef": self.cfg.ca_coef, "margin_clip": self.cfg.margin_clip}

    def aux_loss(self, model, tok, draws, precision):
        if not draws:
            return None, {}
        if self._scorer is None or self._scorer.tok is not tok:
            self._scorer = ChoiceScorer(tok, self.template)
        margin = self._scorer.margins(model, draws, precision)
        loss, metrics = context_selection_loss(margin, self.cfg.margin_clip)
        return self.cfg.ca_coef * loss, metrics


@register
class DataAugRL(Objective):
    """The pairs as A/B RL prompts with a 0/1 reward. Under data.da_rl_mix = "pool" (the paper's dose)
    trainers.data.build_pools has already put them in the task pool, each drawn once an epoch, and this
    arm's pair pool is empty; under "per-step" each optimizer step's pair batch is appended here."""

    name = DA_RL

    def rl_extra(self, draws):
        return [pair_prompt(p, pf) for p, pf in draws]


@register
class DataAugSFT(Objective):
    name = "da-sft"

    def fingerprint(self) -> dict:
        c = self.cfg
        return {"name": self.name, "sft_epochs": c.sft_epochs, "sft_lr": c.sft_lr, "sft_batch_size": c.sft_batch_size}

    def before_rl(self, trainer) -> bool:
        from trainers.sft import pair_sft_examples, run_sft

        tok = getattr(trainer, "io", None) or trainer.tok  # a VLM's prompts go through its processor
        examples = pair_sft_examples(tok, trainer.pools.pairs, trainer.cfg.seed, self.template)
        metrics = run_sft(trainer.model, tok, examples, epochs=self.cfg.sft_epochs, lr=self.cfg.sft_lr,
                          batch_size=self.cfg.sft_batch_size, seed=trainer.cfg.seed,
                          precision=trainer.cfg.precision, grad_clip=trainer.cfg.optim.grad_clip,
                          desc="da-sft stage", progress=trainer.cfg.progress)
        trainer.record_stage_metrics("da_sft", metrics)
        return True
