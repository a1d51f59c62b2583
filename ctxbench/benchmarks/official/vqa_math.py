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
  \\boxed{}, else the final answer, equal to the gold answer as a string or within 1e-6 as a value.

Those rules are the `semantic` verdict (`score`). The `official` verdict (`score_official`, the score of
record) is VLMEvalKit 0.0.20's, bugs included (scoring/vlmeval_math.py; every known quirk is listed in
docs/official-scorers/math.md): the rule prefetch on the raw reply, then, when it fails, the judge
hook's extraction (mode "official") or, with no judge configured, a rule stand-in for GPT's extraction
(mode "official-rule"): `standin_extract`, ctxbench's own reading of the stated answer (the option
letter, the number as written, the final answer text). VLMEvalKit's `post_check` then grades it.

Versions: 2 = official verdicts added; semantic: bare fractions ("1/2", "\\frac{1}{2}") are read whole,
a trailing symbol is no longer a unit ("2.5 g", "2x^2").
"""

from __future__ import annotations

import re

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import GenSpec, Item, Score
from ctxbench.benchmarks.official.vqa_base import VQATSVBenchmark, score_of
from ctxbench.benchmarks.official.vqa_tsv import Row, TSVSource, images_then_text, literal_list, vlmeval_url
from ctxbench.benchmarks.scoring.extract import normalize_answer, numbers_in
from ctxbench.benchmarks.scoring.vlmeval_math import (
    mathv_post_check,
    mathverse_exact,
    mathvista_post_check,
)
from ctxbench.benchmarks.scoring.vqa_mathnorm import (
    _rhs,
    answer_or_last_number,
    final_answer,
    latex_to_expr,
    math_equal,
    normalize,
    number_before_unit,
    to_number,
)
from ctxbench.benchmarks.scoring.vqa_scoring import (
    JudgeVerdict,
    active_judge,
    boxed_contents,
    extract_option,
    prepare,
)
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


def ask_judge(bench, item: Item, completion: str | None) -> JudgeVerdict | None:
    """The judge hook's verdict when a judge is configured (official mode asks it where VLMEvalKit asks
    GPT), else None. The request is the benchmark's own `judge_request`, as in semantic mode."""
    judge = active_judge()
    return None if judge is None else judge(bench.judge_request(item, completion))


def standin_letter(item: Item, completion: str | None) -> str:
    """What GPT's extraction is taken to be for a multiple-choice reply without a judge: the option
    letter ctxbench reads (empty when none)."""
    ex = extract_option(completion, item.meta.get("options") or {})
    return ex.letter if ex.letter and ex.letter != "Z" else ""


def standin_number(completion: str | None, answer_type: str | None, precision: int | None) -> str:
    """GPT's extraction stand-in for a numeric answer: the stated number as written ("12.0" stays
    "12.0"; int()/float() then judge it as the official post_check does); a fraction or LaTeX value
    in the answer type's form (an integer, or `precision` decimals)."""
    ans = answer_or_last_number(completion)
    if ans is None:
        return ""
    plain = ans.strip().strip("$").strip()
    try:
        float(plain)
        return plain
    except ValueError:
        pass
    v = value_of(ans)
    if v is None:
        return plain
    if answer_type == "integer":
        return str(int(v)) if float(v).is_integer() else repr(v)
    return f"{v:.{precision}f}" if precision is not None else repr(v)


def standin_answer(ans: str | None) -> str:
    """GPT's extraction stand-in for a free-form answer: the answer as stated, a unit or word after a
    number dropped ("14 dots" -> "14", "30°" -> "30"; the ICE examples extract bare numbers)."""
    if ans is None:
        return ""
    num = number_before_unit(ans)
    if num is None and re.fullmatch(r"\s*\$?\s*-?[\d.,]+\s*(?:°|\^\s*\{?\\circ\}?)\s*\$?\s*", ans):
        num = normalize(ans)
    return num.strip() if num is not None else ans.strip()


def official_score(extracted, correct: bool) -> Score:
    shown = None if extracted is None or str(extracted) == "" else str(extracted)
    return score_of(shown, correct, parse_ok=shown is not None)


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
    """MathVista testmini. Official: VLMEvalKit 0.0.20 mathvista.post_check after MathVista_auxeval's
    prefetch (list answers are never correct; floats are compared exactly).
    Changelog: 2 = official verdict; semantic fraction and unit fixes."""

    name = "MathVista_MINI"
    version = "2"
    tsv = _tsv("MathVista_MINI")
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/utils/mathvista.py post_check "
                       "(MathVista_auxeval prefetch; GPT extraction through the judge hook)")

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = self.base_meta(row, ("task", "skills", "category", "unit", "question_type", "answer_type",
                                    "answer_option"))
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        meta["answer_raw"] = row["answer"]
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

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        m = item.meta
        qtype = m.get("question_type") or ("multi_choice" if m.get("kind") == "mcq" else "free_form")
        option = m.get("answer_option") if "answer_raw" in m else m.get("gold")  # meta stored before version 2
        args = (qtype, m.get("answer_type"), m.get("answer_raw", item.answer), option, m.get("options") or {})
        res = mathvista_post_check(*args, completion or "", prefetch=True)
        mode = "official"
        if not res:
            verdict = ask_judge(self, item, completion)
            if verdict is not None:
                res = verdict.extracted or ""
            else:
                mode = "official-rule"
                res = (standin_letter(item, completion) if qtype == "multi_choice" else
                       standin_number(completion, m.get("answer_type"), m.get("precision"))
                       if m.get("answer_type") in ("integer", "float") else
                       (final_answer(completion) or ""))
        return official_score(res, mathvista_post_check(*args, res)), mode


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
    """MathVerse testmini (Vision Intensive). Official: VLMEvalKit 0.0.20 mathverse.py: GPT extraction
    (MathVerse_auxeval_extract), exact equality with the gold answer (post_check_score), else GPT's
    consistency judgement (MathVerse_auxeval_score). Without a judge both GPT steps are stood in by
    ctxbench's rules (the letter or final answer; math_equal for consistency): mode "official-rule".
    Changelog: 2 = official verdict; semantic fraction and unit fixes."""

    name = "MathVerse_MINI"
    version = "2"
    tsv = _tsv("MathVerse_MINI", "MathVerse_MINI.tsv", "MathVerse_MINIV.tsv")
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/utils/mathverse.py post_check_score "
                       "(GPT extraction and consistency judge through the judge hook)")

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
        meta["answer_raw"] = row["answer"]
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

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        gold = item.meta.get("answer_raw", item.answer)
        verdict = ask_judge(self, item, completion)
        if verdict is not None:
            extract = verdict.extracted or ""
        elif item.meta["kind"] == "mcq":
            extract = standin_letter(item, completion)
        else:
            extract = self.rule_score(item, completion).extracted or ""
        if mathverse_exact(gold, extract):
            return official_score(extract, True), "official" if verdict is not None else "official-rule"
        if verdict is not None and verdict.correct is not None:
            return official_score(extract, bool(verdict.correct)), "official"
        if not extract:
            return official_score(None, False), "official" if verdict is not None else "official-rule"
        ok = extract == item.answer if item.meta["kind"] == "mcq" else math_equal(extract, item.answer)
        return official_score(extract, ok), "official-rule"


@register
class MathVision(MathBenchmark):
    """MATH-Vision. Official: VLMEvalKit 0.0.20 mathv.post_check / is_equal after MATH_V_auxeval's
    prefetch (`\\sqrt{12}` vs `2\\sqrt{3}` fails: sqrt is undefined where is_equal evals).
    Changelog: 2 = official verdict; semantic fraction and unit fixes."""

    name = "MathVision"
    version = "2"
    tsv = _tsv("MathVision")
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/utils/mathv.py post_check / is_equal "
                       "(MATH_V_auxeval prefetch; GPT extraction through the judge hook)")

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = self.base_meta(row, ("category", "level", "subject"))
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        meta["answer_raw"] = row["answer"]
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
        bare = t.strip("$ .")
        if boxed:
            ans = boxed[0].strip()
        elif final_answer(completion) is None and len(bare) <= 40 and latex_to_expr(bare) is not None:
            ans = bare  # the whole reply is one expression: "x+1", "(b)", "2\\sqrt{3}"
        else:
            ans = answer_or_last_number(completion)
        if ans is None:
            return score_of(None, False)
        return score_of(ans, math_equal(ans, item.answer, abs_tol=1e-6))

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        choices = item.meta.get("options") if item.meta["kind"] == "mcq" else None
        gold = item.meta.get("answer_raw", item.answer)
        res = mathv_post_check(choices, gold, completion or "", prefetch=True)
        mode = "official"
        if not res:
            verdict = ask_judge(self, item, completion)
            if verdict is not None:
                res = verdict.extracted or ""
            else:
                mode = "official-rule"
                res = (standin_letter(item, completion) if choices
                       else standin_answer(self.rule_score(item, completion).extracted))
        return official_score(res, mathv_post_check(choices, gold, res)), mode


__all__ = ["MathBenchmark", "ask_judge", "choices_in_question", "free_item", "letter_item", "letter_options",
           "official_score", "standin_letter", "standin_number", "value_of"]
