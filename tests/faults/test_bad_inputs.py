"""Bad inputs end in one line naming the file (and line), never a raw traceback: non-UTF-8 bytes, a
folder where a file belongs, an empty or garbled file, a damaged database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_fixture import cli  # noqa: E402

from ctxbench.core.config import read_toml  # noqa: E402
from ctxbench.core.errors import CtxbenchError  # noqa: E402
from ctxbench.sources.datafiles import iter_jsonl  # noqa: E402


def test_toml_config_not_utf8_or_a_folder(tmp_path):
    bad = tmp_path / "spec.toml"
    bad.write_bytes(b'name = "x"\nnote = "caf\xe9"\n')
    with pytest.raises(CtxbenchError, match=r"spec\.toml:2: not valid UTF-8"):
        read_toml(bad)
    with pytest.raises(CtxbenchError, match="is a folder"):
        read_toml(tmp_path)
    rc, out, err = cli("validate", str(bad))
    assert rc == 2 and "FAILED" in out and "spec.toml:2: not valid UTF-8" in out and not err


def test_jsonl_not_utf8_names_the_line(tmp_path):
    p = tmp_path / "pairs.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(CtxbenchError, match=r"pairs\.jsonl:2: not valid UTF-8"):
        list(iter_jsonl(p))
    with pytest.raises(CtxbenchError, match="is a folder"):
        list(iter_jsonl(tmp_path))


@pytest.fixture
def store(tmp_path):
    from ablation_fixture import make_store

    root = tmp_path / "runs"
    make_store(root, n_items=4)
    return root


@pytest.mark.parametrize("damage", ["empty", "text", "truncated", "garbled"])
def test_a_damaged_database_says_rebuild(store, damage):
    db = store / "ctxbench.duckdb"
    data = db.read_bytes()
    db.write_bytes({"empty": b"", "text": b"not a database\n" * 50, "truncated": data[: len(data) // 3],
                    "garbled": data[:4096] + bytes(b ^ 0x33 for b in data[4096:20000]) + data[20000:]}[damage])
    rc, out, err = cli("--root", str(store), "ls", "results")
    assert rc == 2 and "Traceback" not in err and "ingest --rebuild" in err, err
    rc, _, err = cli("--root", str(store), "ingest", "--rebuild")  # the shards rebuild it
    assert rc == 0, err
    rc, out, _ = cli("--root", str(store), "ls", "results")
    assert rc == 0 and "niah" in out


def test_a_negative_limit_in_a_spec_is_named_by_validate(tmp_path):
    spec = (Path(__file__).parents[2] / "ablations" / "embedded.toml").read_text()
    bad = tmp_path / "neg.toml"
    import re

    bad.write_text(re.sub(r"\n\[eval\]\n", "\n[eval]\nlimit = -3\n", spec, count=1))
    assert "limit = -3" in bad.read_text()
    rc, out, _ = cli("validate", str(bad))
    assert rc == 2 and "eval.limit must be >= 1" in out and "neg.toml" in out


def test_eval_refuses_a_checkpoint_whose_weights_no_longer_match_its_manifest(tmp_path, tiny_ckpt):
    import shutil

    from ctxbench.core.manifest import write_manifest

    ck = tmp_path / "step-0000004"
    shutil.copytree(tiny_ckpt, ck)
    write_manifest(ck, {"step": 4})
    weights = ck / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    rc, _, err = cli("--root", str(tmp_path / "runs"), "eval", "--ckpt", str(ck), "--benchmarks", "niah",
                     "--limit", "1", "--quiet")
    assert rc == 2 and "model.safetensors has 1000 bytes" in err and "damaged" in err and "Traceback" not in err


def test_pairs_image_paths_may_not_escape(tmp_path):
    import json

    from ctxbench.pairs.base import load_pairs

    def pairs_file(path_value: str):
        f = tmp_path / "data" / "pairs.jsonl"
        f.parent.mkdir(exist_ok=True)
        row = {"pair_id": "p1", "domain": "image", "split": "train", "source": "s", "query": "q", "answer": "a",
               "ctx_pos": [{"type": "image", "value": path_value}], "ctx_neg": [{"type": "text", "value": "x"}]}
        f.write_text(json.dumps(row) + "\n")
        return f

    for escape in ("../../../../etc/passwd", "/etc/passwd", str(tmp_path / "elsewhere.png")):
        with pytest.raises(CtxbenchError, match="outside the image store"):
            load_pairs(pairs_file(escape))
    (tmp_path / "data" / "img.png").write_bytes(b"png")
    [pair] = load_pairs(pairs_file("img.png"))  # beside the pairs file: allowed, read from there
    assert pair.image_paths == [str((tmp_path / "data" / "img.png").resolve())]
