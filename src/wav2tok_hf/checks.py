"""The one check of a positive integer size (a count, a width, a ``top_k``) shared by the package's argument checks.

Python's ``True`` is an ``int``, so a bare ``isinstance(value, int)`` would take it for a size of 1: every size here
refuses bools. numpy integers are refused too (a value saved to JSON must be a Python int); the two checks that take
them (``rerank.check_pool``, the pairs' epoch sizes) convert with ``int()`` and keep their own test.

Example:
    >>> positive_int(3), positive_int(True), positive_int(0), positive_int(2.0)
    (True, False, False, False)
    >>> check_positive_int("top_k", 0)
    Traceback (most recent call last):
    ...
    ValueError: top_k=0; expected a positive integer
"""

from __future__ import annotations

from typing import Any


def positive_int(value: Any) -> bool:
    """Whether ``value`` is a Python ``int`` above 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_positive_int(name: str, value: Any, expected: str = "a positive integer") -> int:
    """``value`` after checking it is a positive int, else ``ValueError("name=value; expected ...")``."""
    if not positive_int(value):
        raise ValueError(f"{name}={value!r}; expected {expected}")
    return value
