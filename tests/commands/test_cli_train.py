"""`ctxbench train` end to end through `ctxbench.cli.main`: a real (tiny) run that writes verified
checkpoints and ingests its rows, a preempted run that a re-run continues, a finished run that a re-run
leaves alone, and the one-line refusals (changed config, changed pair data, unknown objective or key).

Kept small for a shared 2-core CPU: the tiny preset on 8 `niah` items, 2 prompts x 2 rollouts of 6 new
tokens per step, 2 steps, a one-step warm-up SFT. All runs share one run root, so the warm-up checkpoint
is built once and reused (as every arm and seed of an ablation reuse it).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from cli_fixture import cli, db_rows

from ctxbench.cli import main
from ctxbench.pairs import save_pairs
from ctxbench.pairs.base import Pair

TINY = """
recipe = "tiny"
prompts_per_step = 2
pair_batch_size = 2
micro_batch_size = 8
threads = 1
max_steps = 2
[data]
tasks = ["niah"]
max_items_per_task = 8
[rollout]
group_size = 2
max_new_tokens = 6
max_prompt_tokens = 1024
[warmup]
epochs = 1
batch_size = 8
max_items = 8
"""


def toy_pairs(n: int, offset: int = 0) -> list[Pair]:
    out = []
    for i in range(n):
        a, b = (i + offset) % 10, (i + offset + 3) % 10
        out.append(Pair(pair_id=f"toy-{i}", domain="toy", split="train", source=f"toy-{i}",
                        query="what is x?", answer=str(a), ctx_pos=f"x = {a}.", ctx_neg=f"x = {b}.",
                        meta={"neg_answer": str(b)}))
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-train")
    cfg = d / "tiny.toml"
    cfg.write_text(TINY)
    return {"root": d / "runs", "config": cfg, "dir": d}


def train(env, *extra: str) -> tuple[int, str, str]:
    return cli("--root", str(env["root"]), "train", "--config", str(env["config"]), "--quiet", *extra)


def ckpt_line(out: str) -> Path:
    (line,) = [ln for ln in out.splitlines() if ln.startswith("checkpoint: ")]
    return Path(line.removeprefix("checkpoint: "))


@pytest.fixture(scope="module")
def grpo_runs(env):
    """Preempted after step 1, continued to step 2, then re-run once finished."""
    runs = {}
    args = ("--objective", "grpo", "--model", "tiny", "--seed", "3", "--run-name", "cli-grpo")
    runs["first"] = train(env, *args, "--stop-after", "1")
    runs["second"] = train(env, *args)
    ck = ckpt_line(runs["second"][1])
    runs["files_after_second"] = {p.name: p.stat().st_mtime_ns for p in ck.iterdir()}
    runs["third"] = train(env, *args)
    return runs


def test_help_is_clear():
    with pytest.raises(SystemExit) as e:
        cli("train", "--help")
    assert e.value.code == 0
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main(["train", "--help"])
    text = buf.getvalue()
    for flag in ("--objective", "--model", "--seed", "--config", "--recipe", "--pairs", "--max-steps", "--resume",
                 "--quiet", "MANIFEST.json", "grpo, contextrl, da-rl or da-sft", "ctxbench eval --ckpt"):
        assert flag in text, flag


def test_unknown_objective_suggests_the_closest(env):
    rc, out, err = train(env, "--objective", "contextr")
    assert rc == 2 and out == ""
    assert "unknown objective 'contextr'" in err and "did you mean 'contextrl'" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_config_key_names_the_file(env):
    bad = env["dir"] / "bad.toml"
    bad.write_text(TINY.replace("max_new_tokens = 6", "max_new_token = 6"))
    rc, _, err = cli("--root", str(env["root"]), "train", "--config", str(bad), "--quiet")
    assert rc == 2
    assert str(bad) in err and "rollout.max_new_token" in err and "did you mean 'max_new_tokens'" in err
    rc, _, err = train(env, "--set", "optim.lrr=1e-3")
    assert rc == 2 and "command-line options" in err and "did you mean 'lr'" in err


def test_preempted_run_writes_a_complete_checkpoint(env, grpo_runs):
    rc, out, err = grpo_runs["first"]
    assert rc == 0, err
    ck = ckpt_line(out)
    assert ck.name == "step-0000001" and ck.parent == env["root"] / "train" / "cli-grpo" / "checkpoints"
    assert "step 1/2" in out and "re-run the same command to continue" in err


def test_rerun_continues_from_the_checkpoint(env, grpo_runs):
    from trainers.checkpoint import verify_checkpoint

    rc, out, err = grpo_runs["second"]
    assert rc == 0, err
    ck = ckpt_line(out)
    assert ck.name == "step-0000002"
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("trained cli-grpo: objective grpo, model tiny, seed 3, step 2/2")
    assert "resumed from step-0000001" in summary
    manifest = verify_checkpoint(ck, required=("trainer_state.pt", "meta.json", "model.safetensors"))
    assert manifest["step"] == 2 and "config.json" in manifest["files"]
    meta = json.loads((ck / "meta.json").read_text())
    assert meta["config"]["objective"]["name"] == "grpo" and meta["config"]["seed"] == 3
    # the warm-up SFT ran (tiny recipe) and is the run's starting point, cached under the root
    assert Path(meta["init_path"]).parent == env["root"] / "warmup"
    # the rows are in the store: every (step, metric) once, the run complete, the checkpoints listed
    steps = db_rows(env["root"], "SELECT step, count(*) FROM train_metrics WHERE run_id = ? AND name = "
                                 "'reward_mean' GROUP BY step ORDER BY step", ["cli-grpo"])
    assert steps == [(1, 1), (2, 1)]
    (run,) = db_rows(env["root"], "SELECT kind, arm, seed, status FROM runs WHERE run_id = ?", ["cli-grpo"])
    assert run == ("train", "grpo", 3, "complete")
    cks = db_rows(env["root"], "SELECT step, path FROM checkpoints WHERE run_id = ? ORDER BY step", ["cli-grpo"])
    assert (2, str(ck)) in cks  # (rows are keyed by weight identity: identical weights share one row)


def test_rerun_of_a_finished_run_trains_nothing(env, grpo_runs):
    rc, out, err = grpo_runs["third"]
    assert rc == 0, err
    ck = ckpt_line(out)
    assert ck.name == "step-0000002" and "already complete, nothing trained" in out
    assert {p.name: p.stat().st_mtime_ns for p in ck.iterdir()} == grpo_runs["files_after_second"]  # not rewritten
    n = db_rows(env["root"], "SELECT count(*) FROM train_metrics WHERE run_id = ?", ["cli-grpo"])[0][0]
    names = db_rows(env["root"], "SELECT count(DISTINCT name) FROM train_metrics WHERE run_id = ?", ["cli-grpo"])
    assert n == 2 * names[0][0]


def test_changed_config_is_refused_in_one_line(env, grpo_runs):
    ckroot = env["root"] / "train" / "cli-grpo" / "checkpoints"
    before = sorted(p.name for p in ckroot.iterdir())
    rc, out, err = train(env, "--objective", "grpo", "--model", "tiny", "--seed", "3", "--run-name", "cli-grpo",
                         "--set", "optim.lr=5e-4")
    assert rc == 2 and out == ""
    (line,) = [ln for ln in err.splitlines() if ln.startswith("ctxbench: error:")]
    assert "cannot resume run cli-grpo" in line and "training config changed" in line
    assert "optim.lr 0.0001 -> 0.0005" in line and "--resume never" in line
    assert sorted(p.name for p in ckroot.iterdir()) == before  # nothing deleted, nothing started


def test_pair_arm_trains_and_refuses_changed_pair_data(env):
    pairs = save_pairs(env["dir"] / "pairs.jsonl", toy_pairs(6))
    args = ("--objective", "contextrl", "--seed", "0", "--pairs", str(pairs), "--max-steps", "1")
    rc, out, err = train(env, *args)
    assert rc == 0, err
    summary = out.strip().splitlines()[-1]
    assert "objective contextrl" in summary and "selection acc" in summary and "+ 6 pairs" in summary
    assert ckpt_line(out).name == "step-0000001"
    # same path, different pairs: the config hash (hence the run) is the same but the data changed
    save_pairs(pairs, toy_pairs(6, offset=5))
    rc, out, err = train(env, *args)
    assert rc == 2
    assert "training data (tasks, pairs or budget) changed" in err and len(err.strip().splitlines()) <= 2
