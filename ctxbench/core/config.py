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

Choices: annotate a field with `Literal[...]` to restrict its values.
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from ctxbench.core.errors import ConfigError, did_you_mean
from ctxbench.core.hashing import stable_hash

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
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
    hints = get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]))
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
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def load_toml(cls: type[T], path: str | Path, /, **overrides: Any) -> T:
    try:
        return load_config(cls, read_toml(path), **overrides)
    except ConfigError as e:
        if str(path) in str(e):
            raise
        raise ConfigError(f"{path}: {e}") from None


def to_dict(cfg: Any) -> dict:
    """The resolved config as plain data (what is stored with every run)."""
    return dataclasses.asdict(cfg)


def config_hash(cfg: Any) -> str:
    """Hash of the fully resolved config (defaults included), stored with every row."""
    return stable_hash(to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg)


__all__ = ["load_config", "load_toml", "read_toml", "to_dict", "config_hash", "ConfigError", "typing"]
