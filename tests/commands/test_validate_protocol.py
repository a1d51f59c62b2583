"""`ctxbench validate ablations/paper-*.toml` prints the resolved protocol per benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbench.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("spec", ["paper-agentic.toml", "paper-multimodal.toml"])
def test_validate_prints_the_resolved_protocol(spec, capsys):
    assert main(["validate", str(ROOT / "ablations" / spec)]) == 0
    out = capsys.readouterr().out
    assert "protocol paper for" in out
    if spec == "paper-agentic.toml":
        assert "family qwen3" in out
        lcb = next(line for line in out.splitlines() if "livecodebench-v6" in line)
        assert "thinking on" in lcb and "T=0.6 top_p=0.95 seed=381" in lcb and "max_new_tokens 32768" in lcb
        assert "prefix='<think>\\n'" in lcb
        assert "rope yarn x2 to 131072" in next(line for line in out.splitlines() if "longbench-v2" in line)
        assert "judge gpt-4o (not configured" in next(line for line in out.splitlines() if "niah-paper" in line)
    else:
        vista = next(line for line in out.splitlines() if "MathVista_MINI" in line)
        assert "family qwen2_5_vl" in out and "thinking off" in vista and "max_new_tokens 2048" in vista
        assert "suffix=' To answer this question" in vista and "answer think-answer" in vista


def test_validate_without_a_protocol_prints_no_rows(capsys):
    assert main(["validate", str(ROOT / "ablations" / "embedded.toml")]) == 0
    assert "protocol" not in capsys.readouterr().out
