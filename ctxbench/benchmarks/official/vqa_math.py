"""The math VQA benchmarks of the paper, read from VLMEvalKit TSVs: MathVista_MINI, MathVerse_MINI,
MathVision.

The prompt is VLMEvalKit's default for these classes: the image(s), then the `question` cell as it is
(the TSV's question already carries the hint, the choices and the answer-format request).

Grading. VLMEvalKit grades all three with an LLM judge after a rule-based prefetch; offline ctxbench
uses the rules below and, when one is registered and turned on, the judge hook (vqa_base).

- MathVista_MINI (columns question_type, answer_type, precision, choices, answer_option): multiple
  choice -> the option rules (vqa_scoring.extract_option) against `answer_option`; free form -> the final
  answer (\\boxed{}, "answer is", else the last number) read as the `answer_type`: integer -> equal
  integers; float -> equal after rounding both to `precision` decimals (MathVista's own normalisation);
  list -> element-wise; text -> normalised string equality.
- MathVerse_MINI: a single-letter gold answer is multiple choice, its options parsed from the question's
  "Choices:" lines; otherwise the final answer is compared with vqa_mathnorm.math_equal (numbers,
  fractions, LaTeX, expressions).
- MathVision (column `choices`): a non-empty choice list -> option letters; otherwise the first
  \\boxed{} (VLMEvalKit's `post_check`), else the final answer, equal to the gold answer as a string or
  within 1e-6 as a value (VLMEvalKit's `is_equal`).
"""

from __future__ import annotations

import re

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import GenSpec, Item, Score
from ctxbench.benchmarks.official.vqa_base import VQATSVBenchmark, score_of
from ctxbench.benchmarks.official.vqa_tsv import Row, TSVSource, images_then_text, literal_list, vlmeval_url
from ctxbench.benchmarks.scoring.extract import normalize_answer, numbers_in
from ctxbench.benchmarks.scoring.vqa_mathnorm import (
    _rhs,
    answer_or_last_number,
    final_answer,
    math_equal,
    normalize,
    to_number,
)
from ctxbench.benchmarks.scoring.vqa_scoring import boxed_contents, extract_option, prepare
from ctxbench.core.errors import DataError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MATH_GEN = GenSpec(mode="generate", max_new_tokens=1024)


def _tsv(name: str, *files: str) -> TSVSource:
    files = files or (f"{name}.tsv",)
    return TSVSource(name, files, f"VLMEvalKit's {name} TSV, {vlmeval_url(files[0])} (VLMEvalKit downloads it "
                                  f"into $LMUData on first use; copy it there for offline runs)")


def value_of(ans: str | None) -> float | None:
    """The number an extracted answer states: the whole answer ("3/4", "\\frac{1}{2}", "x = 12"), else
    the first number in it ("12 apples", "about 3.5 cm")."""
    if ans is None:
        return None
    v = to_number(_rhs(normalize(ans)))
    if v is None:
        nums = numbers_in(ans)
        v = float(nums[0]) if nums else None
    return v


def mcq_score(item: Item, completion: str) -> Score:
    ex = extract_option(completion, item.meta["options"])
    if ex.letter is None or ex.letter == "Z":
        return score_of(ex.letter, False, parse_ok=False)
    return score_of(ex.letter, ex.letter == item.meta["gold"])


def letter_item(row: Row, prompt: tuple, meta: dict, options: dict[str, str], gold: str) -> Item:
    """A multiple-choice item graded by letter (`mcq_score`): meta kind="mcq" with the options in
    letter order and the gold letter, which is also the item's answer."""
    options = dict(sorted(options.items()))
    meta.update(kind="mcq", options=options, gold=gold)
    return Item(item_id=row.index, prompt=prompt, answer=gold, choices=tuple(options), meta=meta)


def free_item(row: Row, prompt: tuple, meta: dict, gold: str) -> Item:
    """A free-answer item (meta kind="free"), graded by the benchmark's own answer comparison."""
    meta.update(kind="free")
    return Item(item_id=row.index, prompt=prompt, answer=gold, meta=meta)


def letter_options(found: dict[str, str], gold: str, blank: str) -> dict[str, str]:
    """The options of a row whose gold is a letter: those `found` in the row, else blank options
    lettered `blank`; the gold letter is always one of them, so the extractor can return it."""
    options = dict(found) or {c: "" for c in blank}
    options.setdefault(gold, "")
    return options


def _decimals(s: str) -> int:
    m = re.search(r"\.(\d+)", s)
    return len(m.group(1)) if m else 0


class MathBenchmark(VQATSVBenchmark):
    gen = MATH_GEN
    judge_scored = True

    def base_meta(self, row: Row, cols: tuple[str, ...]) -> dict:
        meta = {c: row.get(c) for c in cols if row.get(c) is not None}
        meta["group"] = row.index
        return meta


@register
class MathVistaMini(MathBenchmark):
    name = "MathVista_MINI"
    tsv = _tsv("MathVista_MINI")

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = self.base_meta(row, ("task", "skills", "category", "unit", "question_type", "answer_type"))
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        choices = literal_list(row.get("choices"), where)
        if row.get("question_type", "") == "multi_choice" and choices:
            options = {LETTERS[i]: c for i, c in enumerate(choices)}
            letter = (row.get("answer_option") or "").strip()
            if letter not in options:
                hits = [k for k, v in options.items() if v.strip() == gold]
                if not hits:
                    raise DataError(f"{where}: multi_choice answer {gold!r} is not among the choices")
                letter = hits[0]
            return letter_item(row, prompt, meta, options, letter)
        precision = row.get("precision")
        meta.update(kind=row.get("answer_type", "text"),
                    precision=int(float(precision)) if precision is not None else None)
        return Item(item_id=row.index, prompt=prompt, answer=gold, meta=meta)

    def rule_score(self, item: Item, completion: str) -> Score:
        kind = item.meta["kind"]
        if kind == "mcq":
            return mcq_score(item, completion)
        if kind in ("integer", "float"):
            ans = answer_or_last_number(completion)
        else:  # text / list: the stated answer, else the reply's last line
            lines = [ln.strip() for ln in prepare(completion).splitlines() if ln.strip()]
            ans = final_answer(completion) or (lines[-1] if lines else None)
        if ans is None:
            return score_of(None, False)
        if kind in ("integer", "float"):
            v, g = value_of(ans), to_number(item.answer)
            if v is None or g is None:
                return score_of(ans, False, parse_ok=v is not None)
            if kind == "integer":
                return score_of(ans, v == int(v) and int(v) == int(g))
            p = item.meta.get("precision")
            p = _decimals(item.answer) if p is None else p
            return score_of(ans, round(v, p) == round(g, p))
        if kind == "list":
            got, want = numbers_in(ans), numbers_in(item.answer)
            return score_of(ans, bool(want) and got == want)
        return score_of(ans, normalize_answer(normalize(ans)) == normalize_answer(normalize(item.answer)))


_CHOICE_LINE = re.compile(r"^\s*\(?([A-H])\)?\s*[:：.)]\s*(.*\S)\s*$")


def choices_in_question(question: str) -> dict[str, str]:
    """Options listed after a "Choices:" line ("A:2", "(B) 3", "C. 4"), in order."""
    m = re.search(r"choices\s*:?", question, re.IGNORECASE)
    if not m:
        return {}
    out: dict[str, str] = {}
    for line in question[m.end():].splitlines():
        lm = _CHOICE_LINE.match(line)
        if lm and lm.group(1) not in out:
            out[lm.group(1)] = lm.group(2)
    return out


@register
class MathVerseMini(MathBenchmark):
    name = "MathVerse_MINI"
    tsv = _tsv("MathVerse_MINI", "MathVerse_MINI.tsv", "MathVerse_MINIV.tsv")

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = self.base_meta(row, ("question_for_eval", "problem_version", "subfield", "question_type"))
        md = row.get("metadata")
        if md:
            for key in ("problem_version", "subfield", "subject"):
                mm = re.search(rf"['\"]{key}['\"]\s*:\s*['\"]([^'\"]*)['\"]", md)
                if mm and key not in meta:
                    meta[key] = mm.group(1)
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        if re.fullmatch(r"[A-H]", gold):
            options = letter_options(choices_in_question(row["question"]), gold, "ABCDE")
            return letter_item(row, prompt, meta, options, gold)
        return free_item(row, prompt, meta, gold)

    def rule_score(self, item: Item, completion: str) -> Score:
        if item.meta["kind"] == "mcq":
            return mcq_score(item, completion)
        ans = final_answer(completion)
        if ans is None:
            lines = [ln for ln in prepare(completion).splitlines() if ln.strip()]
            ans = lines[-1].strip() if lines else None
        if ans is None:
            return score_of(None, False)
        return score_of(ans, math_equal(ans, item.answer))


@register
class MathVision(MathBenchmark):
    name = "MathVision"
    tsv = _tsv("MathVision")

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = self.base_meta(row, ("category", "level", "subject"))
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        choices = literal_list(row.get("choices"), where)
        if choices:
            options = {LETTERS[i]: c for i, c in enumerate(choices)}
            if gold not in options:
                raise DataError(f"{where}: answer {gold!r} is not an option letter of {len(options)} choices")
            return letter_item(row, prompt, meta, options, gold)
        return free_item(row, prompt, meta, gold)

    def rule_score(self, item: Item, completion: str) -> Score:
        if item.meta["kind"] == "mcq":
            return mcq_score(item, completion)
        t = prepare(completion)
        boxed = boxed_contents(t)
        ans = boxed[0].strip() if boxed else answer_or_last_number(completion)
        if ans is None:
            return score_of(None, False)
        return score_of(ans, math_equal(ans, item.answer, abs_tol=1e-6))


__all__ = ["MathBenchmark", "choices_in_question", "free_item", "letter_item", "letter_options", "value_of"]
