"""The plain-language verdict: did the gain come from the objective or from the data?

Why its own module: this sentence is what readers quote, so its rules are small, explicit and tested
on known effects. An effect counts only when its whole interval lies on one side of zero; an interval
that includes zero is reported as such, never as a small effect. Per DA arm (same pairs, fed as data):

  total = contextrl - grpo      not above zero  -> "no-gain" (nothing to attribute)
  objective = contextrl - da    above zero, data = da - grpo not   -> "objective"
  data above zero, objective not                                    -> "data"
  both above zero                                                    -> "both"
  total above zero, neither part separable from zero                 -> "inconclusive"

Several DA arms: the verdict holds if every DA arm gives it, else "mixed" (each is listed).
The averaged row over benchmarks (stats.MEAN_ROW) is used, or the single benchmark when only one.
When an arm has one seed (`seeds_estimated` false), its intervals cover new items for these trained
models only: the verdict is then "inconclusive" and says what the items alone would read, because a
claim about an objective is a claim about new seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

LABELS = ("objective", "data", "both", "no-gain", "inconclusive", "mixed", "unavailable")


@dataclass(frozen=True)
class Verdict:
    label: str
    text: str
    per_da: dict[str, str] = field(default_factory=dict)


def fmt_ci(est: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{est:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def isnan(x) -> bool:
    """True for None, NaN and anything that is not a number."""
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def side(lo: float, hi: float) -> str:
    """'above' / 'below' zero, or 'includes' zero (NaN counts as including zero)."""
    if not isnan(lo) and lo > 0:
        return "above"
    if not isnan(hi) and hi < 0:
        return "below"
    return "includes"


def _summary_row(attr, da_arm: str):
    from ctxbench.stats.arms import MEAN_ROW

    rows = attr[(attr["da_arm"] == da_arm) & attr["total"].notna()]
    mean = rows[rows["benchmark"] == MEAN_ROW]
    if len(mean):
        return mean.iloc[0], f"mean over {len(rows) - 1} benchmarks"
    if len(rows) == 1:
        return rows.iloc[0], f"on {rows.iloc[0]['benchmark']}"
    return None, ""


ONE_SEED_MARK = "seed-to-seed variance is not estimated (an arm has one seed)"


def _seeds_ok(row) -> bool:
    v = row.get("seeds_estimated", True) if hasattr(row, "get") else True
    return True if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)


def _one(row, da_arm: str, scope: str, grpo: str, method: str) -> tuple[str, str]:
    label, text = _one_items(row, da_arm, scope, grpo, method)
    if _seeds_ok(row):
        return label, text
    return "inconclusive", (f"against {da_arm}: {ONE_SEED_MARK}, so "
                            f"nothing is claimed for a new seed; on these trained models and new items alone it would "
                            f"read '{label}': {text.split(': ', 1)[-1]}")


def _one_items(row, da_arm: str, scope: str, grpo: str, method: str) -> tuple[str, str]:
    t = side(row["total_lo"], row["total_hi"])
    d = side(row["data_lo"], row["data_hi"])
    o = side(row["objective_lo"], row["objective_hi"])
    tot = fmt_ci(row["total"], row["total_lo"], row["total_hi"])
    dat = fmt_ci(row["data"], row["data_lo"], row["data_hi"])
    obj = fmt_ci(row["objective"], row["objective_lo"], row["objective_hi"])
    words = {"above": "above zero", "below": "below zero", "includes": "an interval that includes zero"}
    parts = (f"data effect ({da_arm} - {grpo}) {dat}, {words[d]}; objective effect "
             f"({method} - {da_arm}) {obj}, {words[o]}")
    if t != "above":
        how = ("is worse than" if t == "below" else "is not reliably better than")
        return "no-gain", (f"against {da_arm}: {method} {how} {grpo} ({scope}: total {tot}"
                           f"{', which includes zero' if t == 'includes' else ''}), so there is no gain to "
                           f"attribute ({parts}).")
    if o == "above" and d == "above":
        return "both", (f"against {da_arm}: the gain {tot} ({scope}) comes from both: {parts}.")
    if o == "above":
        return "objective", (f"against {da_arm}: the gain {tot} ({scope}) comes from the objective, not the data: "
                             f"{parts}.")
    if d == "above":
        return "data", (f"against {da_arm}: the gain {tot} ({scope}) is explained by the data: feeding the same "
                        f"pairs as data recovers it ({parts}).")
    return "inconclusive", (f"against {da_arm}: the gain {tot} ({scope}) is real, but neither part can be separated "
                            f"from zero ({parts}); more seeds or items are needed.")


HEADLINES = {
    "objective": "The gain came from the objective.",
    "data": "The gain came from the data, not the objective.",
    "both": "The gain came from both the data and the objective.",
    "no-gain": "There is no reliable gain to attribute.",
    "inconclusive": "The gain is real but cannot be attributed to the data or the objective.",
    "mixed": "The attribution depends on the data-augmentation baseline.",
}


def verdict_from(attr, grpo: str = "grpo", method: str = "contextrl") -> Verdict:
    """The verdict from a stats.attribution frame (None -> 'unavailable')."""
    if attr is None or len(attr) == 0 or "total" not in attr or attr["total"].notna().sum() == 0:
        return Verdict("unavailable", f"No attribution: it needs {grpo}, {method} and a data-augmentation "
                                      "arm (da-rl or da-sft) evaluated on the same items.")
    per, texts = {}, []
    for da_arm in sorted(attr["da_arm"].dropna().unique()):
        row, scope = _summary_row(attr, da_arm)
        if row is None:
            continue
        label, text = _one(row, da_arm, scope, grpo, method)
        per[da_arm] = label
        texts.append(text)
    if not per:
        return Verdict("unavailable", "No attribution row had items shared by all arms.")
    labels = set(per.values())
    label = labels.pop() if len(labels) == 1 else "mixed"
    head = HEADLINES[label]
    if label == "inconclusive" and all(ONE_SEED_MARK in t for t in texts):
        head = "Nothing is attributed: with one seed per arm, seed-to-seed variance is not estimated."
    text = head + " " + " ".join(t[0].upper() + t[1:] for t in texts)
    return Verdict(label, text, per)
