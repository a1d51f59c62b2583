"""The VLMEvalKit side of the bridge; runs only as `python -m ctxbench.integrations.vlmeval.runner JOB.json`.

This is the one ctxbench module that imports vlmeval, and nothing in ctxbench imports it: vlmeval turns
TLS verification off for its whole process at import time (see ctxbench.integrations.vlmeval.bridge). It:

1. lets torchvision import where its C++ extension cannot load (CPU torch; torchvision_compat), since
   `import vlmeval` imports its model zoo and most of it imports torchvision;
2. loads the ctxbench checkpoint through ctxbench's own backends (`load_backend`: hf or vLLM, text or
   vision), wrapped as a `vlmeval.vlm.base.BaseModel` whose `generate_inner(message, dataset)` turns
   VLMEvalKit's message (`[{"type": "image"|"text", "value": ...}]`, images as dumped files) into a
   ctxbench Prompt and decodes greedily;
3. builds the dataset with VLMEvalKit's `build_dataset(name)` from `$LMUData` (set by the parent; a name
   VLMEvalKit does not know is read from `$LMUData/<name>.tsv` as its CustomMCQDataset), takes `limit`
   rows spread over it when asked, and runs `vlmeval.inference.infer_data_job` (resumable: VLMEvalKit
   skips indices already in its prediction file);
4. for a multiple-choice dataset (VLMEvalKit's TYPE "MCQ") runs VLMEvalKit's own `dataset.evaluate` with
   the `exact_matching` judge (its `can_infer` extraction, no GPT call): the per-item `hit` it writes is
   the reference the parent's ctxbench scoring is checked against. Its cached verdicts from an earlier
   run are removed first, so they always belong to the predictions on disk;
5. writes `<work_dir>/<model_name>_<dataset>.ctxbench.json`: the prediction file, the evaluation record
   (or null), the checkpoint identity, the row count and how vlmeval and torchvision were loaded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ctxbench.core.atomic import write_json

JUDGE = "exact_matching"  # VLMEvalKit's judge name for "no LLM judge: can_infer only"


def _subset(dataset, limit: int | None) -> None:
    if limit is None or limit >= len(dataset.data):
        return
    step = len(dataset.data) / max(limit, 1)
    dataset.data = dataset.data.iloc[[int(i * step) for i in range(limit)]].reset_index(drop=True)


def _pred_file(work_dir: str, model_name: str, dataset_name: str) -> Path:
    try:
        from vlmeval.smp import get_pred_file_path

        p = Path(get_pred_file_path(work_dir, model_name, dataset_name, use_env_format=True))
        if p.is_file():
            return p
    except (ImportError, TypeError):
        pass
    for suf in (".tsv", ".xlsx", ".json", ".csv"):
        p = Path(work_dir) / f"{model_name}_{dataset_name}{suf}"
        if p.is_file():
            return p
    raise SystemExit(f"ctxbench.integrations.vlmeval.runner: VLMEvalKit wrote no prediction file for "
                     f"{model_name}_{dataset_name} in {work_dir}")


def _evaluate(dataset, pred: Path) -> Path | None:
    """VLMEvalKit's own evaluation of the prediction file under exact matching; the record it wrote
    (`<pred>_exact_matching_result.<fmt>`: the prediction rows plus `hit` and `log`), or None where the
    dataset is not multiple-choice (its evaluation would need an LLM judge)."""
    if getattr(dataset, "TYPE", None) != "MCQ":
        return None
    from vlmeval.smp import get_intermediate_file_path

    cache = Path(get_intermediate_file_path(str(pred), f"_{JUDGE}_result", "pkl"))
    cache.unlink(missing_ok=True)  # verdicts cached by index from an earlier run's predictions
    dataset.evaluate(str(pred), model=JUDGE, nproc=1)
    record = Path(get_intermediate_file_path(str(pred), f"_{JUDGE}_result"))
    if not record.is_file():
        raise SystemExit(f"ctxbench.integrations.vlmeval.runner: VLMEvalKit's evaluate wrote no {record}")
    return record


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ms-vlmeval")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ctxbench.integrations.vlmeval.runner JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    os.environ["LMUData"] = job["lmu_data"]  # before vlmeval is imported: it reads the variable at import
    os.environ.setdefault("PRED_FORMAT", "tsv")

    from ctxbench.integrations.vlmeval.torchvision_compat import prepare

    torchvision_mode = prepare()  # before anything imports torchvision (vlmeval, transformers)

    from vlmeval.dataset import build_dataset
    from vlmeval.inference import infer_data_job
    from vlmeval.vlm.base import BaseModel

    from ctxbench.models.base import GenConfig, Prompt
    from ctxbench.models.loader import load_backend

    backend = load_backend(job["model"], backend=job["backend"], dtype=job["dtype"],
                           batch_size=job["batch_size"])
    gen = GenConfig(max_new_tokens=job["max_new_tokens"], temperature=0.0)

    class CtxbenchModel(BaseModel):
        """A ctxbench backend as a VLMEvalKit model (interleaved images and text, greedy decoding)."""

        INTERLEAVE = True

        def generate_inner(self, message, dataset=None):
            parts = tuple({"type": m["type"], "value": str(m["value"])} for m in message
                          if m.get("type") in ("text", "image"))
            return backend.generate([Prompt(parts)], gen)[0][0].text

    dataset = build_dataset(job["dataset"])
    if dataset is None:
        raise SystemExit(f"ctxbench.integrations.vlmeval.runner: VLMEvalKit cannot build dataset "
                         f"{job['dataset']!r} from {job['lmu_data']}")
    _subset(dataset, job.get("limit"))
    Path(job["work_dir"]).mkdir(parents=True, exist_ok=True)
    infer_data_job(CtxbenchModel(), work_dir=job["work_dir"], model_name=job["model_name"], dataset=dataset)
    pred = _pred_file(job["work_dir"], job["model_name"], job["dataset"])
    record = _evaluate(dataset, pred)
    out = Path(job["work_dir"]) / f"{job['model_name']}_{job['dataset']}.ctxbench.json"
    write_json(out, {"pred_file": str(pred), "eval_file": str(record) if record else None,
                     "ckpt_id": backend.identity, "n_items": len(dataset.data), "vlmeval": _version(),
                     "torchvision": torchvision_mode})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
