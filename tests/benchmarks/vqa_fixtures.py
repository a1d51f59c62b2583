"""Tiny TSVs in VLMEvalKit's official schema for the twelve paper VQA benchmarks (a few rows each).

Written with pandas `to_csv(sep="\\t")`, as VLMEvalKit writes its own TSVs; images are small PIL drawings
base64-encoded (PNG or JPEG), a list literal for multi-image rows, or another row's index (VLMEvalKit's
image reuse). Each builder returns the file it wrote; `GOLD` lists, per benchmark, (index, a correct
reply, a wrong reply) triples the adapter tests score.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw


def b64_image(color: tuple[int, int, int], size: int = 24, fmt: str = "PNG", mark: int = 0) -> str:
    im = Image.new("RGB", (size, size), color)
    ImageDraw.Draw(im).rectangle([mark % size, 2, mark % size + 3, 6], fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)


def _write(folder: Path, file: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def mmstar(folder: Path) -> Path:
    rows = [
        {"index": 0, "question": "What colour is the square?", "A": "red", "B": "green", "C": "blue", "D": "black", "answer": "A",
             "category": "coarse perception", "l2_category": "color", "image": b64_image(RED)},
        {"index": 1, "question": "Which colour dominates?", "A": "red", "B": "green", "C": "blue", "D": "white", "answer": "B",
             "category": "fine-grained perception", "l2_category": "color", "image": b64_image(GREEN, fmt="JPEG")},
        {"index": 2, "question": "Is this the same picture as item 0?", "A": "yes", "B": "no", "C": "maybe", "D": "unknown",
             "answer": "A", "category": "coarse perception", "l2_category": "identity", "image": "0"},
    ]
    return _write(folder, "MMStar.tsv", rows)


def vstar(folder: Path) -> Path:
    rows = [
        {"index": 101, "question": "Is the flag to the left or right of the dog?", "A": "left", "B": "right", "answer": "B",
             "category": "relative_position", "image": b64_image(BLUE, 40)},
        {"index": 102, "question": "What is the colour of the cup?", "A": "red", "B": "green", "C": "blue", "D": "white",
             "answer": "C", "category": "direct_attributes", "image": b64_image(RED, 40, mark=5)},
    ]
    return _write(folder, "VStarBench.tsv", rows)


def blink(folder: Path) -> Path:
    two = str([b64_image(RED), b64_image(BLUE)])
    rows = [
        {"index": "val_Jigsaw_1", "question": "Which image fills the gap?", "A": "the first", "B": "the second", "answer": "B",
             "category": "Jigsaw", "image": two, "image_path": str(["val_Jigsaw_1_1.jpg", "val_Jigsaw_1_2.jpg"])},
        {"index": "val_Counting_2", "question": "How many squares are there?", "A": "1", "B": "2", "C": "3", "D": "4",
             "answer": "A", "category": "Counting", "image": b64_image(GREEN), "image_path": "val_Counting_2.jpg"},
    ]
    return _write(folder, "BLINK.tsv", rows)


def scienceqa(folder: Path) -> Path:
    rows = [
        {"index": 1, "question": "Which animal is shown?", "hint": "The picture was taken at a farm.", "A": "cow",
             "B": "shark", "answer": "A", "category": "biology", "split": "test", "image": b64_image(GREEN)},
        {"index": 2, "question": "Which is a metal?", "hint": None, "A": "wood", "B": "iron", "C": "glass", "answer": "B",
             "category": "chemistry", "split": "test", "image": None},  # no image: not in the image subset
        {"index": 3, "question": "Which direction is north on the map?", "hint": None, "A": "up", "B": "down", "C": "left",
             "answer": "A", "category": "geography", "split": "test", "image": b64_image(BLUE)},
    ]
    return _write(folder, "ScienceQA_TEST.tsv", rows)


def mmmu(folder: Path) -> Path:
    rows = [
        {"index": 1, "id": "validation_Art_1", "question": "Compare <image 1> and <image 2>. Which is darker?",
             "A": "the first", "B": "the second", "C": "equal", "D": None, "answer": "B", "category": "Art", "split": "validation",
             "image": str([b64_image(GREEN), b64_image(BLUE)]),
             "image_path": str(["validation_Art_1_1.png", "validation_Art_1_2.png"])},
        {"index": 2, "id": "dev_Math_2", "question": "<image 1> What is the value of x?", "A": None, "B": None, "C": None,
             "D": None, "answer": "42", "category": "Math", "split": "dev", "image": b64_image(RED),
             "image_path": "dev_Math_2.png"},
        {"index": 3, "id": "validation_Bio_3", "question": "Which organelle is shown?", "A": "nucleus",
             "B": "<image 1>", "C": "ribosome", "D": "membrane", "answer": "A", "category": "Biology", "split": "validation",
             "image": b64_image(RED, mark=9), "image_path": "validation_Bio_3.png"},
    ]
    return _write(folder, "MMMU_DEV_VAL.tsv", rows)


def mmmu_pro(folder: Path) -> Path:
    opts = {c: f"option {c.lower()}" for c in "ABCDEFGHIJ"}
    rows = [
        dict(index=7, id="test_Physics_7", question="Which option is correct? <image 1>", **opts, answer="J",
             category="Physics", image=b64_image(BLUE)),
        dict(index=8, id="test_Art_8", question="Pick the style.", **opts, answer="C", category="Art",
             image=b64_image(GREEN, mark=3)),
    ]
    return _write(folder, "MMMU_Pro_10c.tsv", rows)


def mme_realworld(folder: Path) -> Path:
    rows = [
        dict(index=1001, question="What is the colour of the car?",
             **{"multi-choice options": str(["(A) red", "(B) green", "(C) blue", "(D) black",
                                             "(E) The image does not feature the car."])},
             answer="C", category="Perception/Monitoring", **{"l2-category": "color"}, image=b64_image(BLUE, 64)),
        dict(index=1002, question="How many lanes are visible?",
             **{"multi-choice options": str(["(A) 1", "(B) 2", "(C) 3", "(D) 4", "(E) 5"])},
             answer="D", category="Reasoning/Autonomous_Driving", **{"l2-category": "count"},
             image=b64_image(GREEN, 64)),
    ]
    return _write(folder, "mme_realworld_lite.tsv", rows)


def mathvista(folder: Path) -> Path:
    rows = [
        {"index": 1, "question": "Hint: answer with the option letter.\nQuestion: What fraction is blue?\n"
                               "Choices:\n(A) 3/11\n(B) 8/11\n(C) 6/11\n(D) 3/5",
             "answer": "8/11", "question_type": "multi_choice", "answer_type": "text", "precision": None,
             "choices": str(["3/11", "8/11", "6/11", "3/5"]), "answer_option": "B", "unit": None, "task": "math word problem",
             "skills": str(["arithmetic reasoning"]), "image": b64_image(BLUE)},
        {"index": 2, "question": "Hint: integer answer.\nQuestion: Which number is missing?", "answer": "14",
             "question_type": "free_form", "answer_type": "integer", "precision": None, "choices": None, "answer_option": None,
             "unit": None, "task": "figure question answering", "skills": str(["logical reasoning"]), "image": b64_image(RED)},
        {"index": 3, "question": "Hint: two decimal places.\nQuestion: How much money does Luca need?", "answer": "1.45",
             "question_type": "free_form", "answer_type": "float", "precision": 2, "choices": None, "answer_option": None,
             "unit": "$", "task": "math word problem", "skills": str(["arithmetic reasoning"]), "image": b64_image(GREEN)},
        {"index": 4, "question": "Hint: a Python list.\nQuestion: Between which two years is the peak?",
             "answer": "[2007, 2008]", "question_type": "free_form", "answer_type": "list", "precision": None, "choices": None,
             "answer_option": None, "unit": None, "task": "figure question answering", "skills": str(["statistical reasoning"]),
             "image": b64_image(RED, mark=7)},
    ]
    return _write(folder, "MathVista_MINI.tsv", rows)


def mathverse(folder: Path) -> Path:
    meta = "{'problem_version': 'Vision Intensive', 'subfield': 'Length', 'subject': 'Plane Geometry'}"
    rows = [
        {"index": 1, "question": "As shown in the figure, find BC.\nChoices:\nA:2\nB:2√{3}\nC:√{3}\nD:2√{2}",
             "answer": "C", "question_for_eval": "find BC", "metadata": meta, "image": b64_image(BLUE)},
        {"index": 2, "question": "What fraction of the circle is shaded?", "answer": "\\frac{1}{4}",
             "question_for_eval": "fraction shaded", "metadata": meta.replace("Length", "Area"), "image": b64_image(GREEN)},
    ]
    return _write(folder, "MathVerse_MINIV.tsv", rows)


def mathvision(folder: Path) -> Path:
    rows = [
        {"index": 1, "question": "Which shape comes next? <image1>", "choices": str(["circle", "square", "star"]),
             "answer": "B", "category": "logic", "level": 2, "image": b64_image(RED)},
        {"index": 2, "question": "How many dots are hidden?", "choices": "[]", "answer": "14", "category": "counting",
             "level": 1, "image": b64_image(GREEN)},
    ]
    return _write(folder, "MathVision.tsv", rows)


def phyx(folder: Path) -> Path:
    rows = [
        {"index": 1, "question": "A block slides down a frictionless incline. What is its acceleration?\n"
                               "A: 4.9 m/s^2\nB: 9.8 m/s^2\nC: 2.5 m/s^2\nD: 0 m/s^2",
             "options": 'A:"4.9 m/s^2", B:"9.8 m/s^2", C:"2.5 m/s^2", D:"0 m/s^2"', "answer": "A", "category": "Mechanics",
             "subfield": "Kinematics", "image": b64_image(BLUE)},
        {"index": 2, "question": "Which lens forms the image?\nA: convex\nB: concave\nC: plane\nD: none",
             "options": 'A:"convex", B:"concave", C:"plane", D:"none"', "answer": "B", "category": "Optics",
             "subfield": "Geometrical Optics", "image": b64_image(RED)},
    ]
    return _write(folder, "PhyX_mini_MC.tsv", rows)


def olympiad(folder: Path) -> Path:
    rows = [
        {"index": 1, "question": "A ball falls for 0.8 s from rest. How far does it fall?", "final_answer": str(["$3.2$"]),
             "error": "0.1", "unit": "m", "answer_type": "Numerical", "is_multiple_answer": False, "source": "OE_MM_physics_en_COMP",
             "context": None, "subfield": "Mechanics", "image": b64_image(BLUE)},
        {"index": 2, "question": "Find both roots of the motion equation.", "final_answer": str(["$1$", "$-2$"]),
             "error": None, "unit": None, "answer_type": "Numerical", "is_multiple_answer": True, "source": "OE_MM_physics_en_COMP",
             "context": "A particle moves on a line.", "subfield": "Kinematics",
             "image": str([b64_image(GREEN), b64_image(RED)])},
        {"index": 3, "question": "Compute the sum.", "final_answer": str(["$5$"]), "error": None, "unit": None,
             "answer_type": "Numerical", "is_multiple_answer": False, "source": "OE_MM_maths_en_COMP", "context": None,
             "subfield": "Algebra", "image": b64_image(RED)},
        {"index": 4, "question": "Give the speed as an expression.", "final_answer": str(["$\\sqrt{2 g h}$"]),
             "error": None, "unit": None, "answer_type": "Expression", "is_multiple_answer": False,
             "source": "OE_MM_physics_en_COMP", "context": None, "subfield": "Energy", "image": "1"},
    ]
    return _write(folder, "OlympiadBench.tsv", rows)


BUILDERS = {
    "MMStar": mmstar, "VStarBench": vstar, "BLINK": blink, "ScienceQA_TEST": scienceqa, "MMMU_DEV_VAL": mmmu,
    "MMMU_Pro_10c": mmmu_pro, "MME-RealWorld-Lite": mme_realworld, "MathVista_MINI": mathvista,
    "MathVerse_MINI": mathverse, "MathVision": mathvision, "PhyX": phyx, "OlympiadBench": olympiad,
}

# benchmark -> (expected item ids in file order, [(index, correct reply, wrong reply), ...])
GOLD: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {
    "MMStar": (["0", "1", "2"], [("0", "The answer is A.", "(C) blue"), ("1", "B", "red"),
                                 ("2", "A. yes", "I think the answer is (B).")]),
    "VStarBench": (["101", "102"], [("101", "(B) right", "A"), ("102", "blue", "The answer is D")]),
    "BLINK": (["val_Jigsaw_1", "val_Counting_2"], [("val_Jigsaw_1", "(B)", "(A)"), ("val_Counting_2", "A", "C")]),
    "ScienceQA_TEST": (["1", "3"], [("1", "A", "B. shark"), ("3", "The correct answer is A.", "left")]),
    "MMMU_DEV_VAL": (["1", "2", "3"], [("1", "B", "A"), ("2", "The value of x is 42", "x is 41"),
                                       ("3", "Answer: A", "C")]),
    "MMMU_Pro_10c": (["7", "8"], [("7", "J", "I"), ("8", "<think>A or C?</think>C", "B")]),
    "MME-RealWorld-Lite": (["1001", "1002"], [("1001", "C", "(A)"), ("1002", "<answer>D</answer>", "E")]),
    "MathVista_MINI": (["1", "2", "3", "4"], [("1", "The correct answer is (B) 8/11.", "A"),
                                              ("2", "The missing number is 14.", "It is 15."),
                                              ("3", "Luca needs $1.45.", "He needs 1.5 dollars."),
                                              ("4", "The answer is [2007, 2008]", "The answer is [2008, 2009]")]),
    "MathVerse_MINI": (["1", "2"], [("1", "So BC = √3, the answer is C", "B"),
                                    ("2", "The shaded part is \\boxed{\\frac{1}{4}}.", "\\boxed{0.3}")]),
    "MathVision": (["1", "2"], [("1", "square, so (B)", "\\boxed{C}"), ("2", "\\boxed{14}", "\\boxed{13}")]),
    "PhyX": (["1", "2"], [("1", "g sin 30 = 4.9, so the correct answer is A", "B"),
                          ("2", "**B** concave lens", "Option: C")]),
    "OlympiadBench": (["1", "2", "4"], [("1", "d = g t^2 / 2 = 3.14. So the final answer is \\boxed{3.14}(m).",
                                         "So the final answer is \\boxed{3.5}(m)."),
                                        ("2", "So the final answer is \\boxed{-2, 1}.", "So the final answer is \\boxed{1}."),
                                        ("4", "So the final answer is \\boxed{\\sqrt{2gh}}.",
                                         "So the final answer is \\boxed{\\sqrt{gh}}.")]),
}


def write_all(folder: Path) -> dict[str, Path]:
    return {name: build(folder) for name, build in BUILDERS.items()}
