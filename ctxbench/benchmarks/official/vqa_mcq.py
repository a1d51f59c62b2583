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
  instruction; graded by the option rules and then the official regex (vqa_scoring.mmerealworld_letter).

Grading: vqa_scoring.extract_option (VLMEvalKit's exact matching, then \\boxed{} and explicit markers).
"""

from __future__ import annotations

from typing import ClassVar

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import GenSpec, Item, Score
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
from ctxbench.benchmarks.scoring.vqa_scoring import extract_option, mmerealworld_letter

IMAGE_MCQ_INSTRUCTION = "Please select the correct answer from the options above. \n"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _tsv(name: str, *files: str, url: str | None = None) -> TSVSource:
    files = files or (f"{name}.tsv",)
    return TSVSource(name, files, f"VLMEvalKit's {name} TSV, {url or vlmeval_url(files[0])} (VLMEvalKit "
                                  f"downloads it into $LMUData on first use; copy it there for offline runs)")


class MCQBenchmark(VQATSVBenchmark):
    """An ImageMCQDataset-style benchmark; subclasses set the TSV and the prompt variant."""

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
        meta.update(options={"A": gold, "B": "Other Answers"}, gold="A", open=True)
        return Item(item_id=row.index, prompt=prompt, answer=gold, meta=meta)

    def rule_score(self, item: Item, completion: str) -> Score:
        ex = extract_option(completion, item.meta["options"])
        if ex.letter is None or ex.letter == "Z":
            return score_of(ex.letter, False, parse_ok=False)
        return score_of(ex.letter, ex.letter == item.meta["gold"])


@register
class MMMUDevVal(MCQBenchmark):
    name = "MMMU_DEV_VAL"
    tsv = _tsv("MMMU_DEV_VAL")
    interleaved = True
    mmmu_gold = True
    meta_cols = ("category", "l2-category", "split", "subfield", "topic_difficulty", "question_type")


@register
class MMMUPro10c(MCQBenchmark):
    name = "MMMU_Pro_10c"
    tsv = _tsv("MMMU_Pro_10c")
    interleaved = True
    mmmu_gold = True
    use_hint = False
    letters = "ABCDEFGHIJ"
    instruction = "Answer directly with the option letter from the given choices. "
    meta_cols = ("category", "subject", "topic_difficulty", "split")


@register
class VStarBench(MCQBenchmark):
    name = "VStarBench"
    tsv = _tsv("VStarBench", url="https://huggingface.co/datasets/xjtupanda/VStar_Bench/resolve/main/VStarBench.tsv")


@register
class MMStar(MCQBenchmark):
    name = "MMStar"
    tsv = _tsv("MMStar")
    meta_cols = ("category", "l2-category", "l2_category", "bench")


@register
class BLINK(MCQBenchmark):
    name = "BLINK"
    tsv = _tsv("BLINK")
    meta_cols = ("category", "l2-category", "sub_task")


@register
class ScienceQATest(MCQBenchmark):
    """ScienceQA test split, image subset: VLMEvalKit skips rows without an image (skip_noimg)."""

    name = "ScienceQA_TEST"
    tsv = _tsv("ScienceQA_TEST")
    meta_cols = ("category", "l2-category", "split", "subject", "grade", "topic")


MMERW_INSTRUCTION = ("Select the best answer to the above multiple-choice question based on the image. "
                     "Respond with only the letter (A, B, C, D, or E) of the correct option. \nThe best answer is:")


@register
class MMERealWorldLite(MCQBenchmark):
    name = "MME-RealWorld-Lite"
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


__all__ = ["IMAGE_MCQ_INSTRUCTION", "MMERW_INSTRUCTION", "MCQBenchmark"]
