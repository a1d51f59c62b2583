"""The multiple-choice VQA benchmarks of the paper, read from VLMEvalKit TSVs.

MMMU_DEV_VAL, MMMU_Pro_10c, VStarBench, MMStar, BLINK, ScienceQA_TEST (image subset) and
MME-RealWorld-Lite. Prompts are VLMEvalKit's `build_prompt` for each dataset class, so a model sees the
same text here and under VLMEvalKit:

- ImageMCQDataset (VStarBench, MMStar, BLINK, ScienceQA_TEST): all images, then
  "Hint: ..." (when the row has one), "Question: ...", "Options:" with "X. text" lines, and
  "Please select the correct answer from the options above. ".
- MMMUDataset (MMMU_DEV_VAL): the same text, cut at each `<image k>` tag with the k-th image placed there.
  Open questions (no option A) are graded as VLMEvalKit's `MMMU_preproc` does: the gold answer becomes
  option A against "Other Answers", so a reply is right when it states the gold text; a gold answer that
  is not a single letter on an option question counts as 'A' (VLMEvalKit's answer map for MMMU).
- MMMUProDataset (MMMU_Pro_10c): no hint, ten options A-J, "Answer directly with the option letter from
  the given choices. ", interleaved like MMMU.
- MMERealWorld (MME-RealWorld-Lite): question, "The choices are listed below:" and the five "(A) ..."
  lines from the `multi-choice options` column, then the official "Select the best answer ..."
  instruction.

Two verdicts per reply (benchmarks/base.py `verdicts`):
- official (the score of record): VLMEvalKit's own rules, quirks included (scoring/vlmeval_mcq.py):
  `can_infer` with its last-tokens rule, then, where VLMEvalKit's default pipeline would ask its GPT
  choice extractor, the judge hook when one is active ("official"), else the rule-only 'Z' of
  `exact_matching` ("official-rule"); MME-RealWorld's `extract_characters_regex`, which needs no judge.
- semantic (`score`, the RL reward): vqa_scoring.extract_option (VLMEvalKit's matching without the
  position rule, then \\boxed{} and explicit markers), and for MME-RealWorld the semantic variant of
  its regex (vqa_scoring.mmerealworld_letter). Where they differ: docs/official-scorers/mcq.md.

Version 2 (all seven): the official verdict is stored and is the score of record; the semantic reading
no longer takes "option A" in an explanation as the answer nor picks one letter of "A or C".
"""

from __future__ import annotations

from typing import ClassVar

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import GenSpec, Item, Score, VerdictMode
from ctxbench.benchmarks.official.vqa_base import VQATSVBenchmark, score_of
from ctxbench.benchmarks.official.vqa_tsv import (
    Row,
    TSVSource,
    images_then_text,
    interleave,
    literal_list,
    mcq_text,
    options_of,
    vlmeval_url,
)
from ctxbench.benchmarks.scoring.vlmeval_mcq import (
    image_mcq_pick,
    judge_pick,
    mmerealworld_pick,
    mmmu_preproc,
)
from ctxbench.benchmarks.scoring.vqa_scoring import active_judge, extract_option, mmerealworld_letter

IMAGE_MCQ_INSTRUCTION = "Please select the correct answer from the options above. \n"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
IMAGE_MCQ_SCORER = ("VLMEvalKit 0.0.20: vlmeval/dataset/image_mcq.py ImageMCQDataset.evaluate_heuristic "
                    "(dataset/utils/multiple_choice.py mcq_vanilla_eval, utils/matching_util.py can_infer; "
                    "GPT choice extractor via the judge hook, else exact_matching)")


def official_score(letter: str | None, gold: str) -> Score:
    """An official pick as a Score: 'Z' / '' / None is VLMEvalKit's "no answer" (always wrong)."""
    ok = bool(letter) and letter != "Z"
    return score_of(letter or None, ok and letter == gold, parse_ok=ok)


def _tsv(name: str, *files: str, url: str | None = None) -> TSVSource:
    files = files or (f"{name}.tsv",)
    return TSVSource(name, files, f"VLMEvalKit's {name} TSV, {url or vlmeval_url(files[0])} (VLMEvalKit "
                                  f"downloads it into $LMUData on first use; copy it there for offline runs)")


class MCQBenchmark(VQATSVBenchmark):
    """An ImageMCQDataset-style benchmark; subclasses set the TSV and the prompt variant."""

    version = "2"
    official_scorer = IMAGE_MCQ_SCORER

    instruction: ClassVar[str] = IMAGE_MCQ_INSTRUCTION
    letters: ClassVar[str] = LETTERS
    use_hint: ClassVar[bool] = True
    interleaved: ClassVar[bool] = False      # MMMU's <image k> tags
    mmmu_gold: ClassVar[bool] = False        # VLMEvalKit's MMMU rule: a non-letter gold answer counts as 'A'
    meta_cols: ClassVar[tuple[str, ...]] = ("category", "l2-category", "split")

    def prompt_text(self, row: Row, options: dict[str, str]) -> str:
        return mcq_text(row, options, self.instruction, hint=self.use_hint)

    def options(self, row: Row, where: str) -> dict[str, str]:
        return options_of(row, self.letters)

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        options = self.options(row, where)
        body = self.prompt_text(row, options)
        prompt = interleave(images, body) if self.interleaved else images_then_text(images, body)
        meta = {c: row.get(c) for c in self.meta_cols if row.get(c) is not None}
        meta["group"] = row.index
        gold = row["answer"].strip()
        if options:
            if gold not in options and self.mmmu_gold:
                meta["answer_raw"], gold = gold, "A"  # mcq_vanilla_eval's answer_map for MMMU datasets
            if gold not in options:
                from ctxbench.core.errors import DataError

                raise DataError(f"{where}: answer {gold!r} is not one of the options {', '.join(options)}")
            meta.update(options=options, gold=gold)
            return Item(item_id=row.index, prompt=prompt, answer=gold, choices=tuple(options), meta=meta)
        # an open question (MMMU): graded like VLMEvalKit's MMMU_preproc
        opts, gt = mmmu_preproc({}, gold)
        meta.update(options=opts, gold=gt, open=True)
        return Item(item_id=row.index, prompt=prompt, answer=gold, meta=meta)

    def rule_score(self, item: Item, completion: str) -> Score:
        ex = extract_option(completion, item.meta["options"])
        if ex.letter is None or ex.letter == "Z":
            return score_of(ex.letter, False, parse_ok=False)
        return score_of(ex.letter, ex.letter == item.meta["gold"])

    def score_official(self, item: Item, completion: str) -> tuple[Score, VerdictMode]:
        """ImageMCQDataset.evaluate_heuristic for one row (vlmeval_mcq.image_mcq_pick). Where `can_infer`
        fails, VLMEvalKit's default pipeline asks its GPT choice extractor: the active judge hook is
        asked and its reply read by `can_infer` again ("official"); with no judge the row is 'Z', as
        under `exact_matching` ("official-rule")."""
        options, gold = item.meta["options"], item.meta["gold"]
        pick = image_mcq_pick(completion, options)
        if not pick.needs_judge:
            return official_score(pick.letter, gold), "official"
        judge = active_judge()
        if judge is None:
            return official_score(pick.letter, gold), "official-rule"
        verdict = judge(self.judge_request(item, completion))
        return official_score(judge_pick(verdict.extracted, options), gold), "official"


@register
class MMMUDevVal(MCQBenchmark):
    """MMMU dev+validation (MMMUDataset; scored with MMMU_preproc). Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "MMMU_DEV_VAL"
    version = "2"
    tsv = _tsv("MMMU_DEV_VAL")
    interleaved = True
    mmmu_gold = True
    meta_cols = ("category", "l2-category", "split", "subfield", "topic_difficulty", "question_type")


@register
class MMMUPro10c(MCQBenchmark):
    """MMMU-Pro, ten options (MMMUProDataset, non-COT; scored with MMMU_preproc). Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "MMMU_Pro_10c"
    version = "2"
    tsv = _tsv("MMMU_Pro_10c")
    interleaved = True
    mmmu_gold = True
    use_hint = False
    letters = "ABCDEFGHIJ"
    instruction = "Answer directly with the option letter from the given choices. "
    meta_cols = ("category", "subject", "topic_difficulty", "split")


@register
class VStarBench(MCQBenchmark):
    """V* Bench (ImageMCQDataset). Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "VStarBench"
    version = "2"
    tsv = _tsv("VStarBench", url="https://huggingface.co/datasets/xjtupanda/VStar_Bench/resolve/main/VStarBench.tsv")


@register
class MMStar(MCQBenchmark):
    """MMStar (ImageMCQDataset). Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "MMStar"
    version = "2"
    tsv = _tsv("MMStar")
    meta_cols = ("category", "l2-category", "l2_category", "bench")


@register
class BLINK(MCQBenchmark):
    """BLINK (ImageMCQDataset; its GPT extractor uses build_prompt_blink). Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "BLINK"
    version = "2"
    tsv = _tsv("BLINK")
    meta_cols = ("category", "l2-category", "sub_task")


@register
class ScienceQATest(MCQBenchmark):
    """ScienceQA test split, image subset: VLMEvalKit skips rows without an image (skip_noimg).
    Versions: 2: official VLMEvalKit verdict stored as the score of record; semantic extract_choice fixes."""

    name = "ScienceQA_TEST"
    version = "2"
    tsv = _tsv("ScienceQA_TEST")
    meta_cols = ("category", "l2-category", "split", "subject", "grade", "topic")


MMERW_INSTRUCTION = ("Select the best answer to the above multiple-choice question based on the image. "
                     "Respond with only the letter (A, B, C, D, or E) of the correct option. \nThe best answer is:")


@register
class MMERealWorldLite(MCQBenchmark):
    """MME-RealWorld-Lite (MMERealWorld; its evaluate never asks a judge). Versions: 2: official
    verdict (extract_characters_regex, first capital A-E) stored as the score of record; semantic
    extract_choice fixes."""

    name = "MME-RealWorld-Lite"
    version = "2"
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/image_mcq.py MMERealWorld.evaluate "
                       "(dataset/utils/multiple_choice.py extract_characters_regex)")
    tsv = _tsv("MME-RealWorld-Lite", "MME-RealWorld-Lite.tsv", "mme_realworld_lite.tsv",
               url="https://huggingface.co/datasets/yifanzhang114/MME-RealWorld-Base64/resolve/main/"
                   "mme_realworld_lite.tsv")
    required = ("index", "question", "answer", "multi-choice options")
    letters = "ABCDE"
    gen = GenSpec(mode="generate", max_new_tokens=64)
    meta_cols = ("category", "l2-category")

    def options(self, row: Row, where: str) -> dict[str, str]:
        raw = row.get("multi-choice options", "")
        items = literal_list(raw, where) if raw.strip().startswith("[") else []
        if items:  # "(A) text" -> A: text  (VLMEvalKit takes option[4:])
            return {LETTERS[i]: s[4:] for i, s in enumerate(items)}
        return options_of(row, self.letters)

    def prompt_text(self, row: Row, options: dict[str, str]) -> str:
        raw = row.get("multi-choice options", "")
        if raw.strip().startswith("["):  # the official lines as they are: "(A) text"
            listing = "The choices are listed below:\n" + "\n".join(literal_list(raw, "multi-choice options"))
        else:  # already rendered (VLMEvalKit's generated MME-RealWorld.tsv)
            listing = raw
        return row["question"] + " " + listing + "\n" + MMERW_INSTRUCTION

    def rule_score(self, item: Item, completion: str) -> Score:
        sc = super().rule_score(item, completion)
        if sc.parse_ok:
            return sc
        letter = mmerealworld_letter(completion, "".join(item.meta["options"]))
        if letter is None:
            return sc
        return score_of(letter, letter == item.meta["gold"])

    def score_official(self, item: Item, completion: str) -> tuple[Score, VerdictMode]:
        """MMERealWorld.evaluate for one row (vlmeval_mcq.mmerealworld_pick); no judge is involved."""
        return official_score(mmerealworld_pick(completion), item.meta["gold"]), "official"


__all__ = ["IMAGE_MCQ_INSTRUCTION", "IMAGE_MCQ_SCORER", "MMERW_INSTRUCTION", "MCQBenchmark", "official_score"]
