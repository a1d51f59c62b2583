"""The fault suite's ledger: every test here counts what it injected (faults, kill points, inputs tried,
rows lost), and one summary line is printed at the end of the session, so CI logs carry the figures.

Kill tests that live with their stage (eval, train, ablation, shard writes) are counted too when they ran
and passed in this session: they are listed in EXTERNAL_KILL_POINTS with the kill points each injects.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))  # cli_fixture, ablation_fixture

LEDGER: Counter = Counter()

# nodeid (without parameters) -> kill points one run of it injects
EXTERNAL_KILL_POINTS = {
    "tests/eval/test_harness.py::test_sigkill_midrun_then_resume_is_exact": 1,
    "tests/trainers/test_resume.py::test_sigkill_then_resume_auto_equals_straight": 1,
    "tests/trainers/test_resume.py::test_stop_at_epoch_boundary_then_resume_equals_straight": 1,
    "tests/ablation/test_run_ablation_e2e.py::test_kill_midway_then_rerun_gives_identical_statistics": 1,
    "tests/store/test_shards.py::test_sigkill_mid_write_never_exposes_partial_shard": 1,
}


class Faults:
    """What a test records: `faults.inject("sandbox")`, `faults.kill_point("ingest")`, `faults.inputs(n)`,
    `faults.rows_lost(n)`."""

    def __init__(self, ledger: Counter):
        self.ledger = ledger

    def inject(self, kind: str, n: int = 1) -> None:
        self.ledger["faults"] += n
        self.ledger[f"faults:{kind}"] += n

    def kill_point(self, stage: str, n: int = 1) -> None:
        self.inject(f"kill:{stage}", n)
        self.ledger["kill_points"] += n

    def inputs(self, n: int = 1) -> None:
        self.ledger["inputs"] += n

    def rows_lost(self, n: int) -> None:
        self.ledger["rows_lost"] += n


@pytest.fixture
def faults() -> Faults:
    return Faults(LEDGER)


def external_kill_points(passed_nodeids) -> tuple[int, list[str]]:
    """Kill points of the stage kill tests that passed (nodeids as pytest reports them)."""
    total, seen = 0, []
    for nid in passed_nodeids:
        base = nid.split("[", 1)[0]
        for known, n in EXTERNAL_KILL_POINTS.items():
            if base == known or base.endswith("/" + known) or known.endswith(base):
                total += n
                seen.append(nid)
    return total, seen


def summary_line(ledger: Counter, external: int) -> str:
    kinds = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(ledger.items()) if k.startswith("faults:"))
    return (f"fault suite: faults injected {ledger['faults'] + external}, kill points "
            f"{ledger['kill_points'] + external} ({external} in the stage kill tests), inputs tried "
            f"{ledger['inputs']}, rows lost {ledger['rows_lost']}" + (f" [{kinds}]" if kinds else ""))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    passed = [r.nodeid for r in terminalreporter.stats.get("passed", []) if getattr(r, "when", "") == "call"]
    external, _ = external_kill_points(passed)
    if not LEDGER and not external:
        return
    terminalreporter.write_sep("-", "fault suite")
    terminalreporter.write_line(summary_line(LEDGER, external))
