"""The shared shape of the twelve VLMEvalKit-TSV benchmarks: load rows, build items, score with rules
and (optionally) a judge.

Each adapter module (vqa_mcq, vqa_math, vqa_science) subclasses `VQATSVBenchmark`, names its TSV
(`tsv`), says which columns it needs, builds one `Item` per row (`make_item`) and grades a reply with
rules (`rule_score`). Everything else is here, once:

- loading: read the TSV strictly, skip image-less rows (VLMEvalKit's skip_noimg), let the adapter
  drop rows (`keep`), take `--limit` rows spread over the file, decode only their images;
- item ids are the official `index` values, so they are stable and equal to VLMEvalKit's;
- scoring (`score`, the semantic verdict): the rule result stands when it is correct or when no judge
  is active; for the datasets VLMEvalKit grades with an LLM (`judge_scored`), an active judge
  (vqa_scoring.active_judge) gets the rest, as VLMEvalKit does after its own rule-based "prefetch".
  The official verdict (`score_official`) is each adapter's; `judge_request` is what both show a judge.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

from ctxbench.benchmarks.base import Benchmark, DataStatus, GenSpec, Item, LoadContext, Score
from ctxbench.benchmarks.official.vqa_tsv import Row, TSVSource, load_images, read_rows, spread
from ctxbench.benchmarks.scoring.vqa_scoring import JudgeRequest, active_judge


def score_of(extracted: str | None, correct: bool, parse_ok: bool | None = None) -> Score:
    ok = extracted is not None if parse_ok is None else parse_ok
    return Score(extracted=extracted, correct=bool(correct), score=1.0 if correct else 0.0, parse_ok=bool(ok))


class VQATSVBenchmark(Benchmark):
    family = "vqa"
    source = "official-file"
    version = "1"
    gen: ClassVar[GenSpec] = GenSpec(mode="generate", max_new_tokens=256)
    tsv: ClassVar[TSVSource]
    required: ClassVar[tuple[str, ...]] = ("index", "question", "answer")
    judge_scored: ClassVar[bool] = False  # VLMEvalKit grades this dataset with an LLM judge

    # -------------------------------------------------------------------------------------- data

    def data_status(self) -> DataStatus:
        return self.tsv.status()

    def keep(self, row: Row) -> bool:
        """Whether a row belongs to this benchmark (e.g. OlympiadBench keeps its physics EN subset)."""
        return True

    def rows(self, ctx: LoadContext) -> tuple[Path, list[Row]]:
        path = self.tsv.locate(ctx.data_path)
        rows = [r for r in read_rows(path, self.required) if r.image_ref is not None and self.keep(r)]
        return path, rows

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        path, rows = self.rows(ctx)
        rows = spread(rows, limit)
        images = load_images(path, rows, image_dir=path.parent / "images" / self.name)
        return [self.make_item(r, images[r.index], f"{path}:{r.line} (index {r.index})") for r in rows]

    @abstractmethod
    def make_item(self, row: Row, images: list[str], where: str) -> Item:
        """One Item: item_id = the official index, prompt parts as VLMEvalKit's build_prompt makes them,
        `meta` holding what scoring needs (JSON-serialisable)."""

    # -------------------------------------------------------------------------------------- scoring

    @abstractmethod
    def rule_score(self, item: Item, completion: str) -> Score:
        """The rule-based grade (what VLMEvalKit computes without a judge, see vqa_scoring)."""

    def score(self, item: Item, completion: str) -> Score:
        rule = self.rule_score(item, completion)
        if rule.correct or not self.judge_scored:
            return rule
        judge = active_judge()
        if judge is None:
            return rule
        verdict = judge(self.judge_request(item, completion))
        if verdict.extracted is None:
            return score_of(None, False, parse_ok=False)
        correct = verdict.correct
        if correct is None:
            correct = self.rule_score(item, verdict.extracted).correct
        return score_of(verdict.extracted, bool(correct), parse_ok=True)

    def judge_request(self, item: Item, completion: str | None) -> JudgeRequest:
        """What the judge hook is shown for one reply (semantic and official modes alike)."""
        return JudgeRequest(
            benchmark=self.name, item_id=item.item_id, question=item.prompt_text(), prediction=completion or "",
            answer=item.answer, choices=dict(item.meta.get("options") or {}), meta=dict(item.meta),
        )


__all__ = ["VQATSVBenchmark", "score_of"]
