"""`--quiet` means no progress bars, including the ones a long benchmark load draws."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from fakes import ScriptedBackend  # noqa: E402

from ctxbench.eval.config import EvalConfig  # noqa: E402
from ctxbench.eval.harness import run_eval  # noqa: E402


def test_a_quiet_eval_draws_no_bar(root, capsys):
    run_eval(EvalConfig(benchmarks=("tool-trace",), limit=2), root, backend=ScriptedBackend(), progress=False,
             ingest=False)
    err = capsys.readouterr().err
    assert "tool-trace:" not in err and "task/s" not in err
