"""Every saved checkpoint gets its store row (the `checkpoints` shard), and a failure to write that row
is an error: a checkpoint the store does not know about could never be traced back to its run."""

from __future__ import annotations

import pytest
from toy import BENCHES, base_cfg, toy_pairs

from ctxbench.models.presets.registry import checkpoint_identity
from ctxbench.pairs import save_pairs
from ctxbench.store.shards import read_table
from trainers import grpo, train


@pytest.fixture
def cfg(tmp_path):
    pairs = save_pairs(tmp_path / "pairs.jsonl", toy_pairs(8))
    return base_cfg(pairs, epochs=1, save_every=1)  # 2 steps, a checkpoint after each


def test_each_checkpoint_writes_its_row(cfg, tmp_path):
    res = train(cfg, tmp_path / "root", benchmarks=BENCHES)
    # dedupe=False: the row is keyed by content identity, and two steps may leave identical weights
    rows = read_table(tmp_path / "root", "checkpoints", {"run_id": res.run_id}, dedupe=False).sort_values("step")
    assert list(rows["step"]) == [1, 2]
    assert set(rows["arm"]) == {"grpo"} and set(rows["seed"]) == {cfg.seed}
    for _, row in rows.iterrows():
        path = res.ckpt_dir.parent / f"step-{row['step']:07d}"
        assert row["path"] == str(path) and row["ckpt_id"] == checkpoint_identity(path)
    assert rows["parent_ckpt_id"].nunique() == 1


def test_a_failed_row_write_fails_the_run(cfg, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ImportError("store unavailable")

    monkeypatch.setattr(grpo, "write_checkpoint_row", broken)
    with pytest.raises(ImportError, match="store unavailable"):
        train(cfg, tmp_path / "root", benchmarks=BENCHES)


def test_a_kill_between_a_checkpoint_and_its_row_is_mended_on_resume(cfg, tmp_path, monkeypatch):
    """The row is written after the checkpoint is published; a process killed in between leaves a
    complete checkpoint the store does not know. The resume that starts from it writes the row."""
    real = grpo.write_checkpoint_row

    class Killed(BaseException):  # not an Exception: nothing in the trainer catches it, as with SIGKILL
        pass

    def dies_at_step_1(*args, **kwargs):
        if kwargs["step"] == 1:
            raise Killed
        real(*args, **kwargs)

    monkeypatch.setattr(grpo, "write_checkpoint_row", dies_at_step_1)
    with pytest.raises(Killed):
        train(cfg, tmp_path / "root", benchmarks=BENCHES, stop_at=1)
    monkeypatch.setattr(grpo, "write_checkpoint_row", real)
    res = train(cfg, tmp_path / "root", resume="auto", benchmarks=BENCHES)
    assert res.resumed_from.name == "step-0000001"
    rows = read_table(tmp_path / "root", "checkpoints", {"run_id": res.run_id}, dedupe=False).sort_values("step")
    assert list(rows["step"]) == [1, 2]  # step 1's row mended, once; step 2's written by the resumed run
    straight = train(cfg, tmp_path / "straight", benchmarks=BENCHES)
    ref = read_table(tmp_path / "straight", "checkpoints", {"run_id": straight.run_id}, dedupe=False)
    assert sorted(ref["ckpt_id"]) == sorted(rows["ckpt_id"])
