"""Value classes without `dataclasses`: equality, repr and (frozen) hashing over `__slots__`.

A `@dataclass` is built at import by generating and `exec`-ing its methods (about 0.7 ms
each for a frozen one, plus importing `dataclasses` itself): on a Lambda cold start the
classes the handler imports cost more than they do. A subclass declares `__slots__` and
writes its own `__init__`; `Value` gives it what `@dataclass` gave: `==` between
instances of the same class over every slot but those in `_not_compared` (and `repr`
leaves those out too), unhashable as a mutable dataclass is. `Frozen` adds immutability
(`__init__` sets through `_set`) and a hash over the compared slots. The fields are the
class's own `__slots__`: value classes subclass `Value` or `Frozen` directly.
"""
from __future__ import annotations

from typing import Any


class Value:
    __slots__ = ()
    _not_compared: tuple[str, ...] = ()   # slots out of ==, hash and repr (dataclass `compare=False`)

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__ if name not in self._not_compared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()   # type: ignore[attr-defined]

    __hash__ = None   # type: ignore[assignment]  # mutable: as a dataclass with eq and without frozen

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy by value, never through `__setattr__` (which `Frozen` refuses)."""
        return _rebuilt, (type(self), tuple(getattr(self, name) for name in self.__slots__))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__
                          if name not in self._not_compared)
        return f"{type(self).__name__}({shown})"


class Frozen(Value):
    __slots__ = ()

    def _set(self, **values: Any) -> None:
        """What `__init__` sets: the only writes a frozen instance takes."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of frozen {type(self).__name__}")

    def __hash__(self) -> int:
        return hash(self._compared())


def _rebuilt(cls: type[Value], values: tuple[Any, ...]) -> Value:
    value = object.__new__(cls)
    for name, item in zip(cls.__slots__, values):
        object.__setattr__(value, name, item)
    return value
