"""Typed configs reject unknown keys at any depth, wrong types and bad choices, naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from ctxbench.core.config import config_hash, load_config, load_toml
from ctxbench.core.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    kind: Literal["cosine", "constant"] = "constant"


@dataclass(frozen=True)
class Outer:
    model: str = "tiny"
    inner: Inner = field(default_factory=Inner)
    seeds: tuple[int, ...] = (0,)
    limit: int | None = None
    tables: dict[str, Inner] = field(default_factory=dict)


def test_valid_config_converts_types():
    cfg = load_config(Outer, {"inner": {"lr": 1}, "seeds": [1, 2], "tables": {"a": {"kind": "cosine"}}})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert cfg.seeds == (1, 2)
    assert cfg.tables["a"].kind == "cosine"


@pytest.mark.parametrize("data, needle", [
    ({"modle": "x"}, "unknown config key 'modle' (did you mean 'model'?)"),
    ({"inner": {"lrr": 1}}, "unknown config key 'inner.lrr' (did you mean 'lr'?)"),
    ({"tables": {"a": {"knd": "cosine"}}}, "unknown config key 'tables.a.knd'"),
    ({"inner": {"kind": "cosin"}}, "inner.kind: 'cosin' is not allowed (did you mean 'cosine'?)"),
    ({"limit": "10"}, "limit: expected"),
    ({"seeds": [1, "2"]}, "seeds[1]: expected an integer"),
    ({"inner": {"lr": True}}, "inner.lr: expected a number"),
    ({"inner": 3}, "inner: expected a table"),
])
def test_errors_name_the_key(data, needle):
    with pytest.raises(ConfigError) as e:
        load_config(Outer, data)
    assert needle in str(e.value)


def test_toml_errors_name_the_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('model = "tiny"\n[inner]\nlr = "fast"\n')
    with pytest.raises(ConfigError, match=r"c.toml: inner.lr: expected a number"):
        load_toml(Outer, p)
    p.write_text("model = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_toml(Outer, p)


def test_hash_covers_defaults_and_changes():
    a, b = load_config(Outer, {}), load_config(Outer, {"inner": {"lr": 0.002}})
    assert config_hash(a) == config_hash(load_config(Outer, {"model": "tiny"}))
    assert config_hash(a) != config_hash(b)
