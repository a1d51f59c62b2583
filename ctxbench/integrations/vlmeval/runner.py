"""The VLMEvalKit side of the bridge; runs only as `python -m ctxbench.integrations.vlmeval.runner JOB.json`.

This is the one ctxbench module that imports vlmeval, and nothing in ctxbench imports it: vlmeval turns
TLS verification off for its whole process at import time (see ctxbench.integrations.vlmeval.bridge). It:

1. loads the ctxbench checkpoint through ctxbench's own backends (`load_backend`: hf or vLLM, text or
   vision), wrapped as a `vlmeval.vlm.base.BaseModel` whose `generate_inner(message, dataset)` turns
   VLMEvalKit's message (`[{"type": "image"|"text", "value": ...}]`, images as dumped files) into a
   ctxbench Prompt and decodes greedily;
2. builds the dataset with VLMEvalKit's `build_dataset(name)` from `$LMUData` (set by the parent), takes
   `limit` rows spread over it when asked, and runs `vlmeval.inference.infer_data_job` (resumable:
   VLMEvalKit skips indices already in its prediction file);
3. writes `<work_dir>/<model_name>_<dataset>.ctxbench.json`: the prediction file, the checkpoint identity
   and the row count, which the parent reads back.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ctxbench.core.atomic import write_json


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
    raise SystemExit(f"ctxbench.integrations.vlmeval.runner: VLMEvalKit wrote no prediction file for {model_name}_{dataset_name} "
                     f"in {work_dir}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ctxbench.integrations.vlmeval.runner JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    os.environ["LMUData"] = job["lmu_data"]  # before vlmeval is imported: it reads the variable at import
    os.environ.setdefault("PRED_FORMAT", "tsv")

    from vlmeval.dataset import build_dataset
    from vlmeval.inference import infer_data_job
    from vlmeval.vlm.base import BaseModel

    from ctxbench.models.base import GenConfig, Prompt
    from ctxbench.models.loader import load_backend

    backend = load_backend(job["model"], backend=job["backend"], dtype=job["dtype"], batch_size=job["batch_size"])
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
        raise SystemExit(f"ctxbench.integrations.vlmeval.runner: VLMEvalKit cannot build dataset {job['dataset']!r} from "
                         f"{job['lmu_data']}")
    _subset(dataset, job.get("limit"))
    Path(job["work_dir"]).mkdir(parents=True, exist_ok=True)
    infer_data_job(CtxbenchModel(), work_dir=job["work_dir"], model_name=job["model_name"], dataset=dataset)
    pred = _pred_file(job["work_dir"], job["model_name"], job["dataset"])
    out = Path(job["work_dir"]) / f"{job['model_name']}_{job['dataset']}.ctxbench.json"
    write_json(out, {"pred_file": str(pred), "ckpt_id": backend.identity, "n_items": len(dataset.data)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
