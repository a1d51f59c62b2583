"""LongBench v2 (THUDM), read from the user's copy of the official data.json.

Why this shape: the ContextRL paper reports LongBench v2 with the official `pred.py --cot` script, for
Overall and for the Long subset. So the prompt is the official template text, the answer extraction is
the official `extract_answer` (first "The correct answer is (X)", else first "The correct answer is X",
asterisks removed), and an over-long prompt is cut in the middle by *tokens* of the model under test,
keeping the first and the last half of the budget, as pred.py does. Difficulty and length go into the
item meta so statistics can group by them; `breakdown()` computes the official result.py columns.

Approximation (documented): the official CoT run is two-step (reason with the CoT template, then ask
for the letter with the reasoning pasted back in). The harness asks one question per item, so we use
the CoT template with the answer-format instruction of the second step placed before "Let's think
step by step:".

Two verdicts. `score_official` (the score of record) is pred.py's, exactly
(ctxbench.benchmarks.scoring.longbench): the raw output is searched, reasoning included, so an answer
stated only inside <think> counts and a bare "D" is None. pred.py has no choice mode: with
`--scoring choice` the harness hands over the picked label, which pred.py would also read as None, so
read the semantic column for choice-mode runs. `score` (semantic, the RL reward) drops
<think>...</think> first, as an OpenAI-style server with a reasoning parser returns only the final
content, applies the same answer pattern, and takes a reply that is just an option label ("D", the
harness's choice-mode output) as that option.

Changelog: 2: the official verdict (pred.py extract_answer on the raw output) is the score of record;
the semantic verdict is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score, text
from ctxbench.benchmarks.official.source import OfficialSource, find_in_dir
from ctxbench.benchmarks.scoring.extract import extract_longbench_v2, strip_reasoning
from ctxbench.benchmarks.scoring.longbench import extract_answer_official
from ctxbench.core.errors import DataError

SOURCE = OfficialSource(
    bench="longbench-v2",
    expected="data.json (a JSON array of 503 items; or a folder containing it, or a .jsonl/.parquet export)",
    obtain="https://huggingface.co/datasets/THUDM/LongBench-v2 (file data.json), "
           "e.g. `huggingface-cli download THUDM/LongBench-v2 data.json --repo-type dataset --local-dir DIR`",
)

COLUMNS = ("_id", "domain", "sub_domain", "difficulty", "length", "question",
           "choice_A", "choice_B", "choice_C", "choice_D", "answer", "context")
LABELS = ("A", "B", "C", "D")

# The official templates (THUDM/LongBench prompts/0shot.txt, 0shot_cot.txt, 0shot_cot_ans.txt).
_HEAD = ("Please read the following text and answer the {q} below.\n\n<text>\n$DOC$\n</text>\n\n"
         "What is the correct answer to this question: $Q$\nChoices:\n(A) $C_A$\n(B) $C_B$\n(C) $C_C$\n(D) $C_D$\n\n")
_FORMAT = 'Format your response as follows: "The correct answer is (insert answer here)".'
TEMPLATES = {
    "0shot": _HEAD.format(q="question") + _FORMAT,
    "cot": _HEAD.format(q="questions") + "Let’s think step by step:",
    "cot_ans": ("Please read the following text and answer the questions below.\n\nThe text is too long and "
                "omitted here.\n\nWhat is the correct answer to this question: $Q$\nChoices:\n(A) $C_A$\n"
                "(B) $C_B$\n(C) $C_C$\n(D) $C_D$\n\nLet’s think step by step: $COT$\n\nBased on the above, "
                "what is the single, most likely answer choice? " + _FORMAT),
    # one-step CoT (see module docstring): the CoT template plus the second step's answer format
    "cot_1step": (_HEAD.format(q="questions") + "Think step by step, then give the single, most likely answer "
                  "choice. " + _FORMAT + "\n\nLet’s think step by step:"),
}
TEMPLATE_MARGIN = 64  # tokens left for the chat template around the user turn


def render(row: dict, style: str = "cot_1step", cot: str = "") -> str:
    """The official prompt for one data.json row (pred.py's chain of `.replace` calls)."""
    t = TEMPLATES[style]
    for key, val in (("$DOC$", row["context"]), ("$Q$", row["question"]), ("$C_A$", row["choice_A"]),
                     ("$C_B$", row["choice_B"]), ("$C_C$", row["choice_C"]), ("$C_D$", row["choice_D"])):
        t = t.replace(key, str(val).strip())
    return t.replace("$COT$", cot)


def _longest_within(s: str, budget: int, count: Callable[[str], int], from_end: bool, total: int) -> str:
    """The longest prefix (or suffix) of `s` with at most `budget` tokens. Proportional refinement
    from the whole string's chars/token ratio keeps this to a few tokenizer calls on long documents."""
    if budget <= 0:
        return ""
    cut = lambda n: s[len(s) - n:] if from_end else s[:n]
    lo, hi = 0, len(s)  # lo: known to fit; hi: known not to fit (the whole string does not)
    n = min(hi - 1, max(1, int(len(s) * budget / max(1, total))))
    for _ in range(40):
        if hi - lo <= 1:
            break
        c = count(cut(n))
        if c <= budget:
            lo = n
            if c >= budget * 0.995 or budget - c <= 2:
                break
        else:
            hi = n
        guess = int(n * budget / max(1, c))
        n = guess if lo < guess < hi else (lo + hi) // 2
    return cut(lo)


def middle_truncate(prompt: str, max_tokens: int, count: Callable[[str], int]) -> tuple[str, bool]:
    """pred.py's truncation: if the prompt has more than `max_tokens` tokens, keep the first
    max_tokens//2 and the last max_tokens//2 tokens. Returns (text, truncated)."""
    total = count(prompt)
    if total <= max_tokens:
        return prompt, False
    half = max_tokens // 2
    head = _longest_within(prompt, half, count, False, total)
    return head + _longest_within(prompt, half, count, True, total), True


def _check_row(row: dict, where: str) -> None:
    if row["answer"] not in LABELS:
        raise DataError(f"{where}: answer {row['answer']!r} is not one of A, B, C, D")
    if row["difficulty"] not in ("easy", "hard"):
        raise DataError(f"{where}: difficulty {row['difficulty']!r} is not 'easy' or 'hard'")
    if row["length"] not in ("short", "medium", "long"):
        raise DataError(f"{where}: length {row['length']!r} is not 'short', 'medium' or 'long'")


def read_rows(path) -> list[dict]:
    from ctxbench.sources.datafiles import read_records

    f = find_in_dir(path, ("data.json", "data.jsonl", "longbench_v2.json"), SOURCE)
    rows = read_records(f, required=COLUMNS, id_col="_id")
    for i, r in enumerate(rows):
        _check_row(r, f"{f}: item {i} (_id {r['_id']})")
    return rows


@register
class LongBenchV2(Benchmark):
    name = "longbench-v2"
    version = "2"
    official_scorer = "THUDM/LongBench @2e00731: pred.py extract_answer (+ the judge line of get_pred)"
    family = "long-horizon"
    source = "official-file"
    gen = GenSpec(mode="generate", max_new_tokens=1024)
    style = "cot_1step"

    def data_status(self) -> DataStatus:
        return SOURCE.status()

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        from tqdm import tqdm

        rows = spread_subset_rows(read_rows(SOURCE.locate(ctx.data_path)), limit)
        budget = ctx.max_context_tokens - self.gen.max_new_tokens - TEMPLATE_MARGIN
        if budget < 64:
            raise DataError(f"{self.name}: the model window ({ctx.max_context_tokens} tokens) leaves {budget} "
                            f"tokens for the prompt after {self.gen.max_new_tokens} generated tokens")
        items = []
        quiet = len(rows) < 50 or not ctx.progress
        for r in tqdm(rows, desc=f"{self.name}: prompts", unit="item", disable=quiet):
            prompt, truncated = middle_truncate(render(r, self.style), budget, ctx.count_tokens)
            items.append(Item(
                item_id=str(r["_id"]), prompt=(text(prompt),), answer=r["answer"], choices=LABELS,
                meta={"domain": r["domain"], "sub_domain": r["sub_domain"], "difficulty": r["difficulty"],
                      "length": r["length"], "truncated": truncated, "group": str(r["_id"])},
            ))
        return items

    def score(self, item: Item, completion: str) -> Score:
        """Semantic: reasoning dropped, pred.py's answer pattern, or a reply that is just a label."""
        bare = (completion or "").strip()
        if item.choices and bare in item.choices:  # choice mode: the harness passes the chosen label
            return Score(extracted=bare, correct=bare == item.answer, score=float(bare == item.answer), parse_ok=True)
        pred = extract_longbench_v2(strip_reasoning(completion or ""))
        ok = pred is not None and pred == item.answer
        return Score(extracted=pred, correct=ok, score=1.0 if ok else 0.0, parse_ok=pred is not None)

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        """pred.py: `pred = extract_answer(output.strip())`, `judge = pred == answer`."""
        pred = extract_answer_official(completion)
        ok = pred is not None and pred == item.answer
        return Score(extracted=pred, correct=ok, score=1.0 if ok else 0.0, parse_ok=pred is not None), "official"

    def breakdown(self, df):
        """The official result.py columns for a frame of results (printed by `ctxbench eval`)."""
        return breakdown(df)


def spread_subset_rows(rows: list[dict], limit: int | None) -> list[dict]:
    """`limit` rows spread over the file like `spread_subset`, picked before rendering so that
    `--limit` stays cheap on 503 long documents."""
    if limit is None or limit >= len(rows):
        return rows
    step = len(rows) / max(limit, 1)
    return [rows[int(i * step)] for i in range(max(limit, 0))]


# ------------------------------------------------------------------------------------------- breakdown

CATEGORIES = ("Overall", "Easy", "Hard", "Short", "Medium", "Long")


def _meta_col(df, key: str):
    if key in df.columns:
        return df[key]
    for col in ("meta", "meta_json"):
        if col in df.columns:
            return df[col].map(lambda m: (json.loads(m) if isinstance(m, str) else (m or {})).get(key))
    raise DataError(f"breakdown: no {key!r} column (and no meta/meta_json column holding it)")


def breakdown(df):
    """Accuracy (%) and counts for the official result.py columns: Overall, Easy, Hard, Short,
    Medium, Long. `df` has one row per item with `correct` (or `score`) and `difficulty`/`length`
    either as columns or inside a `meta`/`meta_json` column. As in result.py, anything not 'easy' is
    Hard and anything not 'short'/'medium' is Long. Returns a DataFrame indexed by category."""
    import pandas as pd

    if "correct" in df.columns:
        acc = df["correct"].astype(float)
    elif "score" in df.columns:
        acc = df["score"].astype(float)
    else:
        raise DataError("breakdown: need a 'correct' or 'score' column")
    diff, length = _meta_col(df, "difficulty"), _meta_col(df, "length")
    masks = {
        "Overall": pd.Series(True, index=df.index),
        "Easy": diff == "easy", "Hard": diff != "easy",
        "Short": length == "short", "Medium": length == "medium",
        "Long": ~length.isin(["short", "medium"]),
    }
    rows = []
    for cat in CATEGORIES:
        m = masks[cat]
        n = int(m.sum())
        rows.append({"category": cat, "n": n, "accuracy": 100.0 * acc[m].mean() if n else float("nan")})
    return pd.DataFrame(rows).set_index("category")


__all__ = [
    "CATEGORIES",
    "SOURCE",
    "TEMPLATES",
    "LongBenchV2",
    "breakdown",
    "middle_truncate",
    "read_rows",
    "render",
]
