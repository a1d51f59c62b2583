"""One small name -> factory registry used for benchmarks, model presets and objectives.

Unknown names are errors that suggest the closest registered name (lm-eval's `_suggest_similar` idea,
without lazy entry points: everything registered is imported explicitly by the package that owns it).
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from ctxbench.core.errors import CtxbenchError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise CtxbenchError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        self.register(name)(obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise CtxbenchError(f"unknown {self.kind} {name!r}{did_you_mean(name, self._items)}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
