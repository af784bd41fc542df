"""The name -> implementation registries of the library (baselines, degradations): one registering decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def registering(registry: dict[str, T], name: str, kind: str) -> Callable[[T], T]:
    """A decorator that adds what it decorates to ``registry`` under ``name`` and returns it unchanged; a name that is
    already taken is a ``ValueError`` naming the ``kind`` of thing registered.

    Example:
        >>> tools = {}
        >>> @registering(tools, "double", "tool")
        ... def double(x):
        ...     return 2 * x
        >>> tools["double"](3)
        6
        >>> registering(tools, "double", "tool")(abs)
        Traceback (most recent call last):
        ...
        ValueError: a tool named 'double' is already registered
    """

    def decorator(item: T) -> T:
        if name in registry:
            raise ValueError(f"a {kind} named {name!r} is already registered")
        registry[name] = item
        return item

    return decorator


__all__ = ["registering"]
