"""User-facing error types. The CLI prints these without a traceback; anything else is a bug."""

from __future__ import annotations

import difflib


class CtxbenchError(Exception):
    """An error the user can fix (bad config, missing data, unknown name)."""


class ConfigError(CtxbenchError):
    """A config key, value or type is wrong. The message names the dotted key path."""


class DataError(CtxbenchError):
    """Benchmark or pair data is missing or malformed. The message names the file (and line)."""


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean X?)' suffix listing the closest valid choice, plus all valid choices."""
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid choices: {', '.join(choices) if choices else '(none)'}"
