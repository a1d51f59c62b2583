"""The science VQA benchmarks of the paper, read from VLMEvalKit TSVs: PhyX and OlympiadBench (physics).

PhyX. The paper ran `phyx_mc`, the 3,000-question multiple-choice test set; VLMEvalKit names its TSV
PhyX_MC.tsv (PhyX_mini_MC.tsv is the 1,000-question testmini, accepted when the full file is absent and
recorded in each item's meta). Prompt: the image, then the `question` cell (it already lists the options
and the answer format). Grading: the option rules (vqa_scoring.extract_option), then PhyX's own
rule-based ('STR') extraction (vqa_scoring.phyx_mc_letter); VLMEvalKit's LLM mode goes through the judge
hook when one is on. An open-ended PhyX TSV (gold not a letter) is graded by final answer, value
(units ignored) or PhyX's string rule: gold equal to, or contained in, the reply.

OlympiadBench. The paper's column is `OE_MM_physics_en_COMP` (open-ended, multimodal, physics, English,
competition): VLMEvalKit's OlympiadBench TSV filtered on its `source` column. Prompt: VLMEvalKit's
OlympiadBench build_prompt (text first: the official English instruction with the answer type, the
"So the final answer is \\boxed{answer}." request and the unit note; then context + question; then the
images). Grading follows VLMEvalKit's rule-based MathJudger (no judge by default there either): the
text after the last "So the final answer is", every \\boxed{} in it joined by commas (else the $...$
parts of its last line, else all of it), compared with `final_answer` by vqa_mathnorm.math_equal with the
row's `error` column as absolute tolerance (default 1e-8), percentage variants (x/100, x, x*100),
multiple answers in any order.

Those rules are the `semantic` verdict (`score`). The `official` verdict (`score_official`, the score of
record, mode "official": neither official scorer asks a judge) is VLMEvalKit 0.0.20's, bugs included:
PhyX's STR mode (scoring/phyx.py) and OlympiadBench's MathJudger (scoring/vlmeval_olympiad.py) run on
the raw reply; docs/official-scorers/math.md lists every known quirk.

Versions: 2 = official verdicts added; semantic: a trailing symbol is no longer read as a unit ("2.5 g",
"2.5 t^2" are not 2.5).
"""

from __future__ import annotations

import re

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import GenSpec, Item, Score
from ctxbench.benchmarks.official.vqa_base import VQATSVBenchmark, score_of
from ctxbench.benchmarks.official.vqa_math import (
    choices_in_question,
    free_item,
    letter_item,
    letter_options,
    mcq_score,
    official_score,
)
from ctxbench.benchmarks.official.vqa_tsv import (
    Row,
    TSVSource,
    images_then_text,
    literal_list,
    present,
    vlmeval_url,
)
from ctxbench.benchmarks.scoring import phyx as phyx_str
from ctxbench.benchmarks.scoring.vlmeval_olympiad import official_verdict as olympiad_official
from ctxbench.benchmarks.scoring.vqa_mathnorm import final_answer, math_equal, normalize
from ctxbench.benchmarks.scoring.vqa_scoring import boxed_contents, phyx_mc_letter, prepare
from ctxbench.core.errors import DataError

SCIENCE_GEN = GenSpec(mode="generate", max_new_tokens=1024)
PHYX_URL = "https://huggingface.co/datasets/Cloudriver/PhyX/resolve/main/data_tsv_vlmevalkit/PhyX_MC.tsv"


def phyx_options(row: Row) -> dict[str, str]:
    """PhyX's `options` cell (`A:"x", B:"y"`), else the question's "A: x" lines."""
    cell = row.get("options")
    if cell:
        found = re.findall(r"([A-H])\s*:\s*\"(.*?)\"(?=\s*,\s*[A-H]\s*:|\s*$)", cell, re.DOTALL)
        if found:
            return dict(found)
    return choices_in_question("Choices:\n" + row["question"])


@register
class PhyX(VQATSVBenchmark):
    """PhyX multiple choice. Official: VLMEvalKit 0.0.20 PhyX.evaluate, valid_type "STR"
    (PhyX_process_line_MC; PhyX_process_line for open-ended rows): a bare "B", "(A)" or \\boxed{C} is
    wrong there. Changelog: 2 = official verdict; semantic unit fix (open-ended rows)."""

    name = "PhyX"
    version = "2"
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/utils/phyx.py PhyX_process_line_MC / "
                       "PhyX_process_line (PhyX.evaluate, valid_type STR)")
    tsv = TSVSource("PhyX", ("PhyX_MC.tsv", "PhyX_mini_MC.tsv"),
                    f"the PhyX authors' VLMEvalKit TSV, {PHYX_URL} (or PhyX_mini_MC.tsv, the testmini subset)")
    gen = SCIENCE_GEN
    judge_scored = True

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        meta = {c: row.get(c) for c in ("category", "subfield", "reasoning_type") if row.get(c) is not None}
        meta.update(group=row.index, file=where.split(":")[0].rsplit("/", 1)[-1])
        prompt = images_then_text(images, row["question"])
        gold = row["answer"].strip()
        meta["answer_raw"] = row["answer"]
        if re.fullmatch(r"[A-H]", gold):
            return letter_item(row, prompt, meta, letter_options(phyx_options(row), gold, "ABCD"), gold)
        return free_item(row, prompt, meta, gold)

    def rule_score(self, item: Item, completion: str) -> Score:
        if item.meta["kind"] == "mcq":
            sc = mcq_score(item, completion)
            if sc.parse_ok:
                return sc
            letter = phyx_mc_letter(prepare(completion))
            return sc if letter is None else score_of(letter, letter == item.meta["gold"])
        pred = prepare(completion)
        ans = final_answer(completion)
        if ans is None:
            m = re.search(r"\b(?:final\s+answer|correct\s+answer)\b[^:：]*[:：]\s*(.*?)(?=\n\n\n|\Z)", pred,
                          re.IGNORECASE | re.DOTALL)
            ans = m.group(1).strip() if m else None
        gold = item.answer
        ok = (ans is not None and (ans.strip().lower() == gold.strip().lower() or math_equal(ans, gold, rel_tol=1e-3))) \
            or pred.lower() == gold.strip().lower() or _contains(pred, gold)
        return score_of(ans if ans is not None else (pred or None), ok, parse_ok=ans is not None or ok)

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        gold = item.meta.get("answer_raw", item.answer)
        rule = phyx_str.mc_verdict if item.meta["kind"] == "mcq" else phyx_str.oe_verdict
        extracted, ok = rule(completion, gold)
        return official_score(extracted, ok), "official"


def _contains(reply: str, gold: str) -> bool:
    """PhyX's "gold in reply" rule, as whole tokens: gold "5" is not in "15 m" (the official rule says it is)."""
    g = gold.strip()
    return bool(g) and re.search(rf"(?<![\w.]){re.escape(g)}(?![\w]|\.\d)", reply) is not None


# ------------------------------------------------------------------------------------------- OlympiadBench

PHYSICS_SOURCE = "OE_MM_physics_en_COMP"
_ANSWER_TYPE_TEXT = {"Numerical": "a numerical value", "Expression": "an expression", "Equation": "an equation",
                     "Interval": "an interval"}


def _truthy(v: str | None) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def _single_type(t: str) -> str:
    t = t.split("-")[0]
    for k, v in _ANSWER_TYPE_TEXT.items():
        if k in t:
            return v
    raise DataError(f"unknown OlympiadBench answer_type {t!r}")


def answer_type_text(answer_type: str | None, multiple: bool) -> str:
    """OlympiadBench's English answer-type sentence (empty for Tuple / Need_human_evaluate types)."""
    if not answer_type or "Need_human_evaluate" in answer_type or "Tuple" in answer_type:
        return ""
    if not multiple:
        return f"The answer of The problem should be {_single_type(answer_type)}. "
    types = [_single_type(t) for t in answer_type.split(",")]
    if len(set(types)) == 1:
        return f"The problem has multiple answers, each of them should be {types[0]}. "
    return f"The problem has multiple answers, with the answers in order being {', '.join(types)}. "


def olympiad_prompt(row: Row) -> str:
    multiple = _truthy(row.get("is_multiple_answer"))
    boxed = "\\boxed{multiple answers connected with commas}" if multiple else "\\boxed{answer}"
    unit_text = ""
    if row.get("unit"):
        boxed += "(unit)"
        unit_text = ", note that the unit of the answer should not be included in \\boxed{}"
    head = ("The following is an open-ended problem from an International Physics competition. "
            f"{answer_type_text(row.get('answer_type'), multiple)}Please calculate the answer according to the "
            "given requirements and the information provided. Please use LaTeX format to represent the variables "
            "and formulas used in the solution process and results. Please end your solution with \"So the final "
            f"answer is {boxed}.\" and give the result explicitly{unit_text}.")
    body = row["question"]
    if row.get("context"):
        body = row["context"] + "\n" + body
    return head + "\n" + body


def olympiad_extract(prediction: str | None) -> str | None:
    """What MathJudger compares: after the last "So the final answer is", the \\boxed{} contents joined
    by commas, else the $...$ parts of the last line, else the text itself."""
    t = prepare(prediction)
    if not t:
        return None
    found = re.findall(r"So the final answer is (.*)", t)
    if found:
        t = found[-1].strip()
    boxed = boxed_contents(t)
    if boxed:
        out = ",".join(b.strip() for b in boxed)
    else:
        last = t.strip().split("\n")[-1]
        dollars = re.findall(r"\$(.*?)\$", last)
        out = ",".join(dollars) if dollars else t
    out = out.replace("\\%", "%").replace("\\approx", "=").replace("\\simeq", "=").replace("\\sim", "=")
    if "\\in " in out:
        out = out.split("\\in ", 1)[1]
    out = out.strip("\n$,.:;^_=+`!@#%&*~，。 ")
    return out or None


def _precisions(cell: str | None) -> float | list[float | None] | None:
    if not present(cell):
        return None
    parts = [p.strip() for p in str(cell).split(",")]
    vals = [float(p) if p else 1e-8 for p in parts]
    return vals if len(vals) > 1 else vals[0]


@register
class OlympiadBench(VQATSVBenchmark):
    """OlympiadBench, OE_MM_physics_en_COMP. Official: VLMEvalKit 0.0.20 OlympiadBench.evaluate with
    MathJudger (no API judge by default): `final_answer[2:-2]` of the raw cell, and only identical parse
    trees count as equal expressions (a removed sympy helper). Changelog: 2 = official verdict;
    semantic unit fix ("2.5 g" is not 2.5)."""

    name = "OlympiadBench"
    version = "2"
    official_scorer = ("VLMEvalKit 0.0.20: vlmeval/dataset/image_vqa.py OlympiadBench.evaluate "
                       "(vlmeval/dataset/utils/olympiadbench.py extract_answer, MathJudger.judge)")
    tsv = TSVSource("OlympiadBench", ("OlympiadBench_EN.tsv", "OlympiadBench.tsv"),
                    f"VLMEvalKit's OlympiadBench TSV, {vlmeval_url('OlympiadBench_EN.tsv')} or "
                    f"{vlmeval_url('OlympiadBench.tsv')} (the {PHYSICS_SOURCE} rows are used)")
    required = ("index", "question", "final_answer", "source")
    gen = SCIENCE_GEN

    def keep(self, row: Row) -> bool:
        return row.get("source") == PHYSICS_SOURCE

    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        answers = literal_list(row["final_answer"], where) if row["final_answer"].strip().startswith("[") \
            else [row["final_answer"]]
        gold = ",".join(a.strip().strip("$").strip() for a in answers)
        if not gold:
            raise DataError(f"{where}: empty final_answer")
        prompt = (({"type": "text", "value": olympiad_prompt(row)},)
                  + tuple({"type": "image", "value": p} for p in images))
        try:
            tol = _precisions(row.get("error"))
        except ValueError:
            raise DataError(f"{where}: error column {row.get('error')!r} is not a number list") from None
        meta = {c: row.get(c) for c in ("subfield", "answer_type", "unit", "source") if row.get(c) is not None}
        meta.update(group=row.index, tolerance=tol, multiple=_truthy(row.get("is_multiple_answer")),
                    final_answer_cell=row["final_answer"], error_cell=row.get("error"))
        return Item(item_id=row.index, prompt=prompt, answer=gold, meta=meta)

    def rule_score(self, item: Item, completion: str) -> Score:
        ans = olympiad_extract(completion)
        if ans is None:
            return score_of(None, False)
        tol = item.meta.get("tolerance")
        tol = 1e-8 if tol is None else tol
        return score_of(ans, math_equal(normalize(ans), item.answer, abs_tol=tol, percent=True))

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        m = item.meta
        compared, ok = olympiad_official(completion, m.get("final_answer_cell", str([item.answer])),
                                         m.get("error_cell"), m.get("answer_type"))
        return official_score(compared if (completion or "").strip() else None, ok), "official"


__all__ = ["PHYSICS_SOURCE", "answer_type_text", "olympiad_extract", "olympiad_prompt", "phyx_options"]
