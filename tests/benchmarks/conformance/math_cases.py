"""Golden (item, reply, official verdict) cases for MathVista_MINI, MathVerse_MINI, MathVision, PhyX and
OlympiadBench, derived by reading VLMEvalKit 0.0.20 (see ctxbench/benchmarks/scoring/vlmeval_math.py,
phyx.py and vlmeval_olympiad.py for the functions each rule comes from).

The rows are the fixture rows of tests/benchmarks/vqa_fixtures.py plus a few more in the same schema,
written here with the same helpers. A case is (item id, reply, official, mode, semantic, tag):
- official: the official verdict (correct or not);
- mode: "official" when the official pipeline decides without GPT (a successful rule prefetch; PhyX STR;
  OlympiadBench's MathJudger), "official-rule" where it would ask GPT and no judge is configured. Then
  ctxbench's stand-in extraction is graded by the official post_check;
- semantic: SAME when ctxbench's semantic verdict agrees, else the semantic verdict; None = not asserted
  (it depends on the letter extractor other modules own).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from vqa_fixtures import BLUE, GREEN, RED, b64_image, mathverse, mathvision, mathvista, olympiad, phyx

SAME = "same"
OFF, RULE = "official", "official-rule"


def _append(path: Path, rows: list[dict]) -> Path:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    pd.concat([df, pd.DataFrame(rows).astype(str).replace({"None": ""})]).to_csv(path, sep="\t", index=False)
    return path


def _mathvista_row(index, answer, answer_type, precision=None, choices=None, option=None, qtype="free_form"):
    return {"index": index, "question": f"Question {index}?", "answer": answer, "question_type": qtype,
            "answer_type": answer_type, "precision": precision, "choices": str(choices) if choices else None,
            "answer_option": option, "unit": None, "task": "math word problem", "skills": str(["arithmetic"]),
            "image": b64_image(GREEN, mark=index)}


def write_math_tsvs(folder: Path) -> dict[str, Path]:
    """The fixture TSVs with the extra rows below; one folder per benchmark."""
    out = {}
    out["MathVista_MINI"] = _append(mathvista(folder / "mathvista"), [
        _mathvista_row(5, "0", "integer"),
        _mathvista_row(6, "1.5", "float", precision=1),
        _mathvista_row(7, "decrease", "text", choices=["increase", "decrease", "stay the same"], option="B",
                       qtype="multi_choice"),
        _mathvista_row(8, "0.5", "float", precision=1),
    ])
    meta = "{'problem_version': 'Vision Intensive', 'subfield': 'Functions', 'subject': 'Algebra'}"
    out["MathVerse_MINI"] = _append(mathverse(folder / "mathverse"), [
        {"index": i, "question": f"Question {i}?", "answer": a, "question_for_eval": f"q{i}", "metadata": meta,
         "image": b64_image(RED, mark=i)} for i, a in ((3, "y=2x^2"), (4, "5"), (5, "(-2, 1]"))])
    out["MathVision"] = _append(mathvision(folder / "mathvision"), [
        {"index": i, "question": f"Question {i}?", "choices": c, "answer": a, "category": "algebra", "level": 3,
         "image": b64_image(BLUE, mark=i)}
        for i, c, a in ((3, "[]", "2\\sqrt{3}"), (4, "[]", "\\frac{1}{2}"), (5, "[]", "30"),
                        (7, str(["A", "B", "C", "D", "E"]), "E"), (8, "[]", "b"))])
    out["PhyX"] = phyx(folder / "phyx")
    oe = folder / "phyx_oe" / "PhyX_mini_OE.tsv"
    oe.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"index": i, "question": f"Question {i}?", "answer": a, "category": "Mechanics",
                   "image": b64_image(RED, mark=i)} for i, a in ((11, "12 m/s"), (12, "5"))]
                 ).to_csv(oe, sep="\t", index=False)
    out["PhyX_OE"] = oe
    rows = [(5, str(["$4.05 \\times 10^{3}$"]), "10", "Numerical"), (6, str(["$2 m g$"]), None, "Expression"),
            (7, str(["$0.5$"]), None, "Numerical"), (8, str(["$y=2x^2$"]), None, "Equation"),
            (9, str(["$(1, 2)$"]), None, "Tuple"), (10, str(["$[0, 1)$"]), None, "Interval"),
            (11, str(["$1.0$", "$2.0$"]), "0.1,0.2", "Numerical"), (12, str(["$0.25$"]), None, "Numerical")]
    out["OlympiadBench"] = _append(olympiad(folder / "olympiad"), [
        {"index": i, "question": f"Question {i}?", "final_answer": fa, "error": err, "unit": None, "answer_type": t,
         "is_multiple_answer": "," in fa, "source": "OE_MM_physics_en_COMP", "context": None,
         "subfield": "Mechanics", "image": b64_image(BLUE, mark=i)} for i, fa, err, t in rows])
    return out


MATHVISTA = [
    # item 1: multiple choice, options (A) 3/11 (B) 8/11 (C) 6/11 (D) 3/5, answer_option B
    ("1", "B", True, OFF, SAME, "bare letter: can_infer prefetch"),
    ("1", "(B) 8/11", True, OFF, SAME, "letter and option text"),
    ("1", "The correct answer is (B) 8/11.", True, OFF, SAME, "letter among the last four tokens"),
    ("1", "B. Looking closely at the figure, eight of the eleven parts are blue.", True, RULE, SAME,
     "position rule: the prefetch fails, GPT (stand-in) extracts B"),
    ("1", "8/11", True, OFF, SAME, "option text only: can_infer_text"),
    ("1", "3/11", False, OFF, SAME, "wrong option text"),
    ("1", "8/11 of the shape is blue", True, OFF, SAME, "option text inside a short reply"),
    ("1", "A", False, OFF, SAME, "wrong letter"),
    ("1", "Cannot determine the answer", False, OFF, SAME, "refusal: 'Z' is a successful prefetch, then wrong"),
    ("1", "I think it is B", True, OFF, SAME, "pronoun I is not an option"),
    ("1", "\\boxed{B}", True, OFF, SAME, "braces are separators"),
    ("1", "Answer: B\nThe blue part covers eight of the eleven equal sectors of the shape.", True, RULE, SAME,
     "marker then explanation: position rule, GPT's turn"),
    # item 2: integer 14
    ("2", "14", True, OFF, SAME, "int() of the whole reply"),
    ("2", " 14 \n", True, OFF, SAME, "int() ignores surrounding whitespace"),
    ("2", "+14", True, OFF, SAME, "int() accepts a sign"),
    ("2", "14.0", False, RULE, True, "int('14.0') fails: the integer is stated as a float"),
    ("2", "The missing number is 14.", True, RULE, SAME, "verbose: GPT extracts 14"),
    ("2", "It is 15.", False, RULE, SAME, "wrong number"),
    ("2", "\\boxed{14}", True, RULE, SAME, "boxed: not an int, GPT extracts it"),
    ("2", "fourteen", False, RULE, SAME, "a number word: nothing the rules extract"),
    # item 5: integer 0
    ("5", "0", True, RULE, SAME, "a prefetched 0 is falsy: GPT is asked even for an exact 0"),
    ("5", "1", False, RULE, SAME, "wrong"),
    # item 3: float 1.45, precision 2
    ("3", "1.45", True, OFF, SAME, "float() equal"),
    ("3", "1.450", True, OFF, SAME, "float() equal, trailing zero"),
    ("3", "Luca needs $1.45.", True, RULE, SAME, "verbose with a dollar sign"),
    ("3", "1.449", False, RULE, True, "floats compared exactly, not at precision (semantic rounds)"),
    ("3", "1.4500001", False, RULE, True, "exact float comparison"),
    ("3", "\\frac{29}{20}", True, RULE, SAME, "a fraction: GPT gives its decimal value"),
    # item 6: float 1.5, precision 1
    ("6", "1.50", True, OFF, SAME, "float() equal"),
    ("6", "1.5 cm", True, RULE, SAME, "a unit after the number"),
    # item 8: float 0.5, precision 1
    ("8", "1/2", True, RULE, SAME, "bare fraction (semantic bug: it read 2)"),
    ("8", "$\\frac{1}{2}$", True, RULE, SAME, "bare LaTeX fraction (semantic bug: it read 2)"),
    ("8", "The ratio is 1/2.", True, RULE, SAME, "fraction as the last number"),
    # item 4: list [2007, 2008]
    ("4", "[2007, 2008]", False, RULE, True, "list answers are never correct: str(None) is compared"),
    ("4", "The answer is [2007, 2008]", False, RULE, True, "list answer with a marker: still never correct"),
    # item 7: multiple choice, options increase / decrease / stay the same, answer_option B
    ("7", "decrease", True, OFF, SAME, "option text"),
    ("7", "It will decrease", True, OFF, SAME, "option text in a short reply"),
    ("7", "B", True, OFF, SAME, "letter"),
    ("7", "stay the same", False, OFF, SAME, "another option's text"),
]

MATHVERSE = [
    # item 1: options A:2 B:2√{3} C:√{3} D:2√{2}, answer C; GPT always extracts, so mode official-rule
    ("1", "C", True, RULE, SAME, "extraction equals the answer (post_check_score)"),
    ("1", "So BC = √3, the answer is C", True, RULE, SAME, "letter after a marker"),
    ("1", "B", False, RULE, SAME, "wrong letter"),
    ("1", "C:√{3}", True, RULE, SAME, "letter with its option text"),
    ("1", "The answer is (C).", True, RULE, SAME, "parenthesised letter"),
    ("1", "The answer is D.", False, RULE, SAME, "wrong letter after a marker"),
    # item 2: \frac{1}{4}
    ("2", "The shaded part is \\boxed{\\frac{1}{4}}.", True, RULE, SAME, "boxed, exactly the answer"),
    ("2", "0.25", True, RULE, SAME, "decimal: GPT's consistency judge (stand-in: math equality)"),
    ("2", "1/4", True, RULE, SAME, "bare fraction"),
    ("2", "\\frac{2}{8}", True, RULE, SAME, "unreduced fraction"),
    ("2", "\\boxed{0.3}", False, RULE, SAME, "wrong value"),
    ("2", "The answer is 1/3.", False, RULE, SAME, "wrong fraction"),
    # item 3: y=2x^2
    ("3", "y = 2x^2", True, RULE, SAME, "spacing differs from the answer"),
    ("3", "2x^2", True, RULE, SAME, "right-hand side only (semantic bug: it read the number 2)"),
    ("3", "\\boxed{y=2x^{2}}", True, RULE, SAME, "braced exponent"),
    ("3", "y = x^2", False, RULE, SAME, "wrong coefficient"),
    # item 4: 5
    ("4", "5", True, RULE, SAME, "exact"),
    ("4", "The answer is 5.", True, RULE, SAME, "after a marker"),
    ("4", "\\boxed{5}", True, RULE, SAME, "boxed"),
    ("4", "5 cm", True, RULE, SAME, "a real unit"),
    ("4", "5.0", True, RULE, SAME, "same value"),
    ("4", "5 g", False, RULE, SAME, "g is a quantity, not a unit (semantic bug: it read 5)"),
    ("4", "6", False, RULE, SAME, "wrong"),
    ("4", "", False, RULE, SAME, "empty reply"),
    # item 5: (-2, 1]
    ("5", "(-2, 1]", True, RULE, SAME, "exact interval"),
    ("5", "(-2, 1)", False, RULE, SAME, "open where closed (GPT's ICE example 1)"),
    ("5", "[-2, 1]", False, RULE, SAME, "closed where open"),
    ("5", "The answer is (-2, 1].", True, RULE, SAME, "interval after a marker"),
    ("5", "zq xv wk", False, RULE, SAME, "garbage"),
    ("5", "(-2, 2]", False, RULE, SAME, "wrong bound"),
]

MATHVISION = [
    # item 1: choices circle / square / star, answer B
    ("1", "B", True, OFF, SAME, "letter"),
    ("1", "square", True, OFF, SAME, "option text"),
    ("1", "square, so (B)", True, OFF, SAME, "text and letter"),
    ("1", "\\boxed{C}", False, OFF, SAME, "wrong boxed letter"),
    ("1", "B. The next shape in the sequence has four equal sides and four right angles.", True, RULE, SAME,
     "position rule fails the prefetch; GPT extracts B"),
    ("1", "I choose option B", True, OFF, SAME, "letter last"),
    ("1", "Z", False, OFF, SAME, "a Z token: prefetched 'Z', wrong"),
    ("1", "", False, RULE, SAME, "empty reply"),
    # item 7: choices are the letters A..E themselves, answer E
    ("7", "E", True, OFF, SAME, "letter"),
    ("7", "(E)", True, OFF, SAME, "parenthesised"),
    ("7", "D", False, OFF, SAME, "wrong letter"),
    ("7", "e", True, OFF, None, "lower-case e: can_infer_text matches the option text 'E'"),
    # item 2: 14
    ("2", "14", True, OFF, SAME, "equal strings"),
    ("2", "\\boxed{14}", True, OFF, SAME, "latex2sympy reads \\boxed{14} as 14"),
    ("2", "14.0", True, OFF, SAME, "Python eval: 14.0 == 14"),
    ("2", "The answer is 14.", True, RULE, SAME, "verbose: GPT extracts 14"),
    ("2", "7*2", True, OFF, SAME, "Python eval of arithmetic"),
    ("2", "12^2", True, OFF, False, "Python eval: ^ is XOR, 12 ^ 2 == 14"),
    ("2", "\\frac{28}{2}", True, OFF, SAME, "latex2sympy value"),
    ("2", "14 dots", True, RULE, SAME, "GPT drops the word after the number"),
    ("2", "15", False, RULE, SAME, "wrong: the prefetch fails, GPT extracts 15"),
    ("2", "a", True, OFF, False, "eval('a') finds is_equal's own local a = eval(gold)"),
    # item 3: 2\sqrt{3}
    ("3", "2\\sqrt{3}", True, OFF, SAME, "equal strings"),
    ("3", "\\sqrt{12}", False, RULE, True, "sqrt is undefined where is_equal evals latex2sympy's output"),
    ("3", "2 \\sqrt{3}", False, RULE, True, "a space: not equal strings, and sqrt does not eval"),
    ("3", "3.4641016", False, RULE, True, "decimal value: the gold's sqrt does not eval"),
    ("3", "\\boxed{2\\sqrt{3}}", True, RULE, SAME, "boxed: GPT extracts the same string"),
    # item 4: \frac{1}{2}
    ("4", "\\frac{1}{2}", True, OFF, SAME, "equal strings"),
    ("4", "0.5", True, OFF, SAME, "latex2sympy: 1/2 == 0.5"),
    ("4", "1/2", True, OFF, SAME, "latex2sympy: 1/2"),
    ("4", "\\dfrac{1}{2}", True, OFF, SAME, "dfrac"),
    ("4", "2/4", True, OFF, SAME, "unreduced"),
    ("4", "50\\%", False, RULE, True, "percent: latex2sympy fails"),
    # item 5: 30
    ("5", "30^\\circ", True, OFF, SAME, "latex2sympy drops ^\\circ"),
    ("5", "The angle is 30 degrees.", True, RULE, SAME, "GPT extracts 30"),
    ("5", "150", False, RULE, SAME, "wrong"),
    # item 8: free-form gold "b"
    ("8", "3", True, OFF, False, "eval('b') finds is_equal's own local b = latex2sympy(reply)"),
    ("8", "(b)", True, OFF, SAME, "latex2sympy reads (b) as b"),
]

PHYX = [
    # item 1: A 4.9 m/s^2; B 9.8 m/s^2; C 2.5 m/s^2; D 0 m/s^2 (gold A)
    ("1", "A", False, OFF, True, "bare letter: no answer word, no 'X:', no '**X'"),
    ("1", "(A)", False, OFF, True, "parenthesised letter"),
    ("1", "\\boxed{A}", False, OFF, True, "boxed letter"),
    ("1", "A. 4.9 m/s^2", False, OFF, True, "letter and option text"),
    ("1", "The answer is A", True, OFF, SAME, "answer word, then the letter"),
    ("1", "Answer: A", True, OFF, SAME, "Answer:"),
    ("1", "The correct option is A.", True, OFF, SAME, "correct ... A"),
    ("1", "g sin 30 = 4.9, so the correct answer is A", True, OFF, SAME, "marker at the end"),
    ("1", "The answer is clearly 4.9 m/s^2, which is A", True, OFF, SAME, "first capital A-D after the word"),
    ("1", "The answer is: Because g sin 30 = 4.9, it is A", False, OFF, True,
     "first capital A-D after the word is the B of 'Because'"),
    ("1", "ANSWER: A", False, OFF, True, "upper-case ANSWER is not one of the words"),
    ("1", "A: 4.9 m/s^2", True, OFF, SAME, "'A:'"),
    ("1", "**A**", True, OFF, SAME, "markdown bold"),
    ("1", "The correct answer is A: 4.9 m/s^2", True, OFF, SAME, "word, then 'A:'"),
    ("1", "Based on Newton's law the answer is A", True, OFF, SAME, "capital B before the word does not count"),
    ("1", "D: 0 m/s^2 is wrong, A: 4.9 m/s^2 is right", True, OFF, None, "last 'X:' is A"),
    ("1", "A: 4.9 m/s^2 is right, D: 0 m/s^2 is wrong", True, OFF, None, "last 'X:' is D, but 'A:' occurs"),
    ("1", "B", False, OFF, SAME, "wrong bare letter"),
    # item 2: A convex; B concave; C plane; D none (gold B)
    ("2", "**B** concave lens", True, OFF, SAME, "'**B'"),
    ("2", "Option: C", False, OFF, SAME, "wrong letter after a word"),
    ("2", "B", False, OFF, True, "bare letter"),
    ("2", "concave", False, OFF, True, "option text only"),
    ("2", "The image is formed by a concave lens, option B.", True, OFF, SAME, "option word then B"),
    ("2", "correct answer: B", True, OFF, SAME, "lower-case words"),
    ("2", "I think it's B", False, OFF, True, "no answer word"),
    ("2", "The Answer is B", True, OFF, SAME, "capitalised Answer"),
    ("2", "answer is b", False, OFF, None, "lower-case letter"),
    ("2", "Answer: A (B: concave)", True, OFF, None, "gold letter with a colon anywhere counts"),
    ("2", "Failed to obtain answer via API.", False, OFF, SAME, "API failure"),
    ("2", "", False, OFF, SAME, "empty reply"),
    ("2", "<think>Maybe A.</think>The answer is B", True, OFF, SAME, "think kept: no word inside it"),
    ("2", "<think>The answer is A? No.</think> B", False, OFF, True, "think kept: the word inside it reads A"),
    ("2", "A: convex is wrong", False, OFF, None, "last 'X:' is A"),
]

PHYX_OE = [  # PhyX_process_line, open-ended rows (gold 12 m/s; gold 5)
    ("11", "\\boxed{12}", False, OFF, True, "boxed number without the unit: no string match"),
    ("11", "The speed is 12 m/s.", True, OFF, SAME, "gold occurs in the reply"),
    ("11", "The final answer: 12 m/s", True, OFF, SAME, "final answer: marker"),
    ("11", "{'content': '12 m/s'}", True, OFF, None, "a dict reply: its content is read"),
    ("12", "It moves 15 m", True, OFF, False, "gold '5' occurs inside '15'"),
    ("12", "\\boxed{6}", False, OFF, SAME, "wrong"),
]

OLYMPIAD = [
    # item 1: ['$3.2$'], error 0.1
    ("1", "So the final answer is \\boxed{3.2}(m).", True, OFF, SAME, "boxed, equal"),
    ("1", "d = g t^2 / 2 = 3.14. So the final answer is \\boxed{3.14}(m).", True, OFF, SAME, "within the error"),
    ("1", "So the final answer is \\boxed{3.5}(m).", False, OFF, SAME, "outside the error"),
    ("1", "The ball falls 3.2 m.", False, OFF, SAME, "no marker, no box: the whole reply is compared"),
    ("1", "So the final answer is $3.2$ m.", True, OFF, SAME, "dollar part of the last line"),
    ("1", "So the final answer is \\boxed{3.2\\text{ m}}.", False, OFF, True, "unit inside the box"),
    ("1", "So the final answer is \\boxed{3.2}", True, OFF, SAME, "no unit"),
    ("1", "So the final answer is \\boxed{ 3.25 }(m)", True, OFF, SAME, "spaces kept, float() ignores them"),
    ("1", "So the final answer is \\boxed{320}(cm)", True, OFF, SAME, "percentage rule: 320/100"),
    ("1", "So the final answer is \\boxed{3.2}. So the final answer is \\boxed{9.8}.", False, OFF, SAME,
     "two boxes on the marker's line: two answers"),
    ("1", "So the final answer is \\boxed{9.8}.\nSo the final answer is \\boxed{3.2}.", True, OFF, SAME,
     "the last marker line"),
    ("1", "So the final answer is \\boxed{3.2", False, OFF, None, "unclosed box: preprocess raises"),
    ("1", "\\boxed{3.2}", True, OFF, SAME, "no marker: the box in the whole reply"),
    ("1", "", False, OFF, SAME, "empty reply"),
    # item 2: ['$1$', '$-2$']
    ("2", "So the final answer is \\boxed{1, -2}.", True, OFF, SAME, "both answers"),
    ("2", "So the final answer is \\boxed{-2, 1}.", True, OFF, SAME, "any order"),
    ("2", "So the final answer is \\boxed{1}, \\boxed{-2}.", True, OFF, SAME, "one box each"),
    ("2", "So the final answer is \\boxed{1}.", False, OFF, SAME, "one answer of two"),
    ("2", "So the final answer is \\boxed{x=1, x=-2}.", True, OFF, SAME, "right-hand sides"),
    # item 4: ['$\\sqrt{2 g h}$'] (str(list) doubles the backslash)
    ("4", "So the final answer is \\boxed{\\sqrt{2gh}}.", False, OFF, True, "doubled backslash in the gold"),
    ("4", "So the final answer is \\boxed{\\sqrt{2 g h}}.", False, OFF, True, "same string, gold still doubled"),
    ("4", "So the final answer is \\boxed{\\\\sqrt{2 g h}}.", True, OFF, False,
     "only doubled backslashes in the reply match"),
    # item 5: ['$4.05 \\times 10^{3}$'] (doubled), error 10
    ("5", "So the final answer is \\boxed{4050}", False, OFF, True, "LaTeX gold never parses"),
    ("5", "So the final answer is \\boxed{4.05 \\times 10^{3}}", False, OFF, True, "same LaTeX, gold doubled"),
    # item 6: ['$2 m g$']
    ("6", "So the final answer is \\boxed{2 m g}", True, OFF, SAME, "equal strings"),
    ("6", "So the final answer is \\boxed{2mg}", True, OFF, SAME, "same parse tree"),
    ("6", "So the final answer is \\boxed{2 g m}", False, OFF, True, "factors in another order: another tree"),
    ("6", "So the final answer is \\boxed{2\\cdot m\\cdot g}", False, OFF, True, "explicit products nest the other way"),
    ("6", "So the final answer is \\boxed{mg \\cdot 2}", False, OFF, None, "reordered"),
    # item 7: ['$0.5$']
    ("7", "So the final answer is \\boxed{\\frac{1}{2}}", False, OFF, True, "fraction vs decimal: removed sympy helper"),
    ("7", "So the final answer is \\boxed{0.50}", True, OFF, SAME, "float() equal"),
    ("7", "So the final answer is \\boxed{50\\%}", False, OFF, True, "% removed, the backslash stays"),
    ("7", "So the final answer is \\boxed{50%}", True, OFF, SAME, "% removed, then the percentage rule"),
    ("7", "So the final answer is \\boxed{1/2}", False, OFF, True, "1/2 parses to another tree than 0.5"),
    ("7", "So the final answer is 0.5", True, OFF, SAME, "no box, no dollars: the marker's text"),
    # item 8: ['$y=2x^2$']
    ("8", "So the final answer is \\boxed{2x^2}", True, OFF, SAME, "right-hand side (semantic bug: it read 2)"),
    ("8", "So the final answer is \\boxed{y = 2x^{2}}", True, OFF, SAME, "equation_equal"),
    ("8", "So the final answer is \\boxed{2x^2 = y}", True, OFF, SAME, "sides swapped: ratio -1"),
    ("8", "So the final answer is \\boxed{y = x^2}", False, OFF, SAME, "wrong"),
    # item 9: ['$(1, 2)$'] Tuple
    ("9", "So the final answer is \\boxed{(1, 2)}", True, OFF, SAME, "equal strings"),
    ("9", "So the final answer is \\boxed{(1,2)}", True, OFF, SAME, "compared bound by bound"),
    ("9", "So the final answer is \\boxed{(1, 2, 3)}", True, OFF, False, "zip ignores the extra bound"),
    # item 10: ['$[0, 1)$'] Interval
    ("10", "So the final answer is \\boxed{[0,1)}", True, OFF, SAME, "same interval"),
    ("10", "So the final answer is \\boxed{(0, 1)}", False, OFF, SAME, "other bracket"),
    ("10", "So the final answer is \\boxed{x \\in [0, 1)}", True, OFF, SAME, "'\\in ' keeps what follows"),
    # item 11: ['$1.0$', '$2.0$'], error "0.1,0.2"
    ("11", "So the final answer is \\boxed{1.05, 2.15}", True, OFF, SAME, "each within its error"),
    ("11", "So the final answer is \\boxed{2.15, 1.05}", False, OFF, True,
     "the precisions follow the reply's order, not the gold's"),
    # item 12: ['$0.25$']
    ("12", "So the final answer is \\boxed{25}", True, OFF, SAME, "percentage rule: 25/100"),
    ("12", "So the final answer is \\boxed{25\\%}", False, OFF, True, "the backslash of \\% stays"),
]

CASES = {"MathVista_MINI": MATHVISTA, "MathVerse_MINI": MATHVERSE, "MathVision": MATHVISION,
         "PhyX": PHYX + PHYX_OE, "OlympiadBench": OLYMPIAD}
