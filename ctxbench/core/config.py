"""Typed configs: frozen dataclasses loaded strictly from TOML or dicts.

Why strict: a misspelt key in a research config silently falls back to a default and the run measures
something else. Here an unknown key at any depth, a wrong type or a bad choice is a ConfigError that
names the dotted key path and suggests the closest valid key.

Usage:
    @dataclass(frozen=True)
    class EvalConfig:
        model: str = "tiny"
        limit: int | None = None

    cfg = load_config(EvalConfig, {"model": "tiny"})          # or load_toml(EvalConfig, path)
    to_dict(cfg); config_hash(cfg)

Choices: annotate a field with `Literal[...]` to restrict its values, or with
`Annotated[str, Choices(names)]` when the valid values come from a registry (`names()` is called at
load time, so the annotation needs no import of the registry's owner).

Merging: `deep_merge` (tables merge, everything else is replaced), `dotted` ({"a.b": 1} -> {"a": {"b": 1}}),
`parse_sets` (--set KEY=VALUE flags), `flatten` and `has_value` for dotted paths, and `naming_file`
(a ConfigError raised while reading a file names the file, once). Training configs, ablation specs and
the CLI all go through these, so a layered config means the same thing everywhere.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import sys
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from ctxbench.core.errors import ConfigError, did_you_mean
from ctxbench.core.hashing import stable_hash

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Choices:
    """`Annotated[str, Choices(names)]`: the value must be one of `names()`, checked like a Literal."""

    names: Callable[[], Iterable[str]]


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) is Annotated:
        return _type_name(get_args(tp)[0])
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not allowed{did_you_mean(value, args)}")
        return value
    if origin is Annotated:
        value = _convert(args[0], value, path)
        for choices in (m for m in args[1:] if isinstance(m, Choices)):
            valid = tuple(choices.names())
            if value not in valid:
                raise ConfigError(f"{path}: {value!r} is not allowed{did_you_mean(value, valid)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__} {value!r}")
        return _build(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [_convert(inner, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__} {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_convert(kt, k, path): _convert(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def _build(cls: type[T], data: dict, path: str) -> T:
    hints = get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]), include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            where = f"{path}.{key}" if path else key
            raise ConfigError(f"unknown config key {where!r}{did_you_mean(key, fields)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{path}.{name}" if path else name)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{path or 'config'}: missing required key(s) {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:  # __post_init__ validation
        raise ConfigError(f"{path or 'config'}: {e}") from None


def load_config(cls: type[T], data: dict | None = None, /, **overrides: Any) -> T:
    """Build `cls` from a plain dict, strictly. `overrides` are applied on top (top-level keys only)."""
    merged = dict(data or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return _build(cls, merged, "")


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a TOML file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte offset {e.start}); TOML files are UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


@contextlib.contextmanager
def naming_file(path: str | Path | None) -> Iterator[None]:
    """A ConfigError raised inside names `path` in front (unless it already names it, or there is none)."""
    try:
        yield
    except ConfigError as e:
        if path and str(path) not in str(e):
            raise ConfigError(f"{path}: {e}") from None
        raise


def load_toml(cls: type[T], path: str | Path, /, **overrides: Any) -> T:
    with naming_file(path):
        return load_config(cls, read_toml(path), **overrides)


def deep_merge(base: dict, over: dict) -> dict:
    """`over` on top of `base` (both left untouched): tables merge key by key, any other value replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def dotted(overrides: dict[str, Any]) -> dict:
    """{"objective.name": "grpo"} -> {"objective": {"name": "grpo"}}; None values are skipped."""
    out: dict = {}
    for key, value in overrides.items():
        if value is None:
            continue
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def parse_sets(values: Iterable[str]) -> dict[str, Any]:
    """['optim.lr=1e-4', 'data.tasks=["niah"]'] -> {'optim.lr': 1e-4, ...}: values in TOML syntax, a bare
    word is a string (`--set model=tiny`)."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optim.lr=1e-4")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw  # an unquoted string such as a model name
    return out


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: {"optim": {"lr": 1}} -> {"optim.lr": 1} (an empty table stays a value)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def has_value(d: dict, key: str) -> bool:
    """True when the dotted `key` is set in `d` to something other than None or an empty string/list."""
    node = d
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node not in (None, "", [], ())


def to_dict(cfg: Any) -> dict:
    """The resolved config as plain data (what is stored with every run)."""
    return dataclasses.asdict(cfg)


def config_hash(cfg: Any) -> str:
    """Hash of the fully resolved config (defaults included), stored with every row."""
    return stable_hash(to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg)


__all__ = ["Choices", "ConfigError", "config_hash", "deep_merge", "dotted", "flatten", "has_value", "load_config",
           "load_toml", "naming_file", "parse_sets", "read_toml", "to_dict", "typing"]
