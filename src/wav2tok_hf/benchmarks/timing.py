"""Wall-time medians for the speed benchmarks: one function at a time, or several taking turns.

Example:
    >>> calls = []
    >>> median_seconds(lambda: calls.append(1), repeats=3) >= 0.0
    True
    >>> len(calls)  # one warm-up call, then the timed repeats
    4
    >>> sorted(interleaved_medians({"a": lambda: None, "b": lambda: None}, repeats=2))
    ['a', 'b']
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up call."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def interleaved_medians(functions: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time (s) of each function, after one warm-up call each (JIT compilation, caches); the functions
    take turns in every repeat so that load from other processes affects them alike."""
    for fn in functions.values():
        fn()
    runs: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in runs.items()}
