"""The corpus of a benchmark run and its provenance, shared by the query-by-humming and speech benchmarks.

Example:
    >>> BenchmarkCorpus("essen", None, {"seed": 0}, from_cache=True)
    BenchmarkCorpus(key='essen', corpus=None, build={'seed': 0}, from_cache=True, warnings=[])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BenchmarkCorpus:
    """The corpus of a run and where it came from: ``warnings`` name the models trained on the same recipe with other
    build settings (:func:`~wav2tok_hf.benchmarks.provenance.build_note`)."""

    key: str  # the corpus name of the run (e.g. "essen", "speech-commands")
    corpus: Any  # the DatasetDict (its train split fits the learning baselines)
    build: dict[str, Any]  # the settings it was built with
    from_cache: bool  # loaded from an existing corpus folder rather than built by this run
    warnings: list[str] = field(default_factory=list)
