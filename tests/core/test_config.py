"""Typed configs reject unknown keys at any depth, wrong types and bad choices, naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest

from ctxbench.core.config import (
    Choices,
    config_hash,
    deep_merge,
    dotted,
    flatten,
    has_value,
    load_config,
    load_toml,
    naming_file,
    parse_sets,
)
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


REGISTERED = ["alpha", "beta"]  # a registry that grows at run time


@dataclass(frozen=True)
class Picked:
    name: Annotated[str, Choices(lambda: REGISTERED)] = "alpha"


def test_registry_choices_are_read_at_load_time():
    with pytest.raises(ConfigError) as e:
        load_config(Picked, {"name": "gamma"})
    assert str(e.value) == "name: 'gamma' is not allowed; valid choices: alpha, beta"
    with pytest.raises(ConfigError, match="did you mean 'beta'"):
        load_config(Picked, {"name": "betta"})
    with pytest.raises(ConfigError, match="name: expected a string"):
        load_config(Picked, {"name": 3})
    REGISTERED.append("gamma")
    try:
        assert load_config(Picked, {"name": "gamma"}).name == "gamma"
    finally:
        REGISTERED.remove("gamma")


def test_merge_and_dotted_overrides():
    base = {"optim": {"lr": 1, "beta": [1, 2]}, "seed": 0}
    over = {"optim": {"lr": 2}, "data": {"tasks": ["a"]}}
    merged = deep_merge(base, over)
    assert merged == {"optim": {"lr": 2, "beta": [1, 2]}, "seed": 0, "data": {"tasks": ["a"]}}
    merged["optim"]["beta"].append(3)
    merged["data"]["tasks"].append("b")
    assert base["optim"]["beta"] == [1, 2] and over["data"]["tasks"] == ["a"]  # inputs untouched
    assert deep_merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert dotted({"objective.name": "grpo", "seed": 1, "model": None}) == {"objective": {"name": "grpo"}, "seed": 1}
    assert flatten({"optim": {"lr": 1}, "data": {}, "seed": 0}) == {"optim.lr": 1, "data": {}, "seed": 0}
    assert has_value({"data": {"tasks": ["a"]}}, "data.tasks")
    assert not any(has_value(d, "data.tasks") for d in ({}, {"data": {"tasks": []}}, {"data": 3}, {"data": {}}))


def test_set_flags_parse_as_toml_or_a_bare_string():
    assert parse_sets(["optim.lr=1e-4", 'data.tasks=["niah"]', "model = tiny", "flag=true"]) == {
        "optim.lr": 1e-4, "data.tasks": ["niah"], "model": "tiny", "flag": True}
    for bad in ("optim.lr", "=3"):
        with pytest.raises(ConfigError, match=r"expected KEY=VALUE, e.g. --set optim.lr=1e-4"):
            parse_sets([bad])


def test_naming_file_prefixes_once():
    with pytest.raises(ConfigError) as e, naming_file("a.toml"):
        raise ConfigError("seed: expected an integer")
    assert str(e.value) == "a.toml: seed: expected an integer"
    with pytest.raises(ConfigError) as e, naming_file("a.toml"):
        raise ConfigError("config file not found: a.toml")
    assert str(e.value) == "config file not found: a.toml"
    with pytest.raises(ConfigError) as e, naming_file(None):
        raise ConfigError("seed: expected an integer")
    assert str(e.value) == "seed: expected an integer"
