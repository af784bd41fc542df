"""What a saved model folder was trained on (its ``training_config.json``), and whether a benchmark may test it on
material it was trained on.

Example:
    >>> import json, os, tempfile
    >>> model_dir = tempfile.mkdtemp()
    >>> with open(os.path.join(model_dir, "training_config.json"), "w") as f:
    ...     json.dump({"experiment": {"data": {"corpus": "essen", "build": {"seed": 0}}}}, f)
    >>> training_data_section(model_dir)
    {'corpus': 'essen', 'build': {'seed': 0}}
    >>> build_note(model_dir, "essen", {"seed": 1}, from_cache=False) is not None  # another build: a warning
    True
    >>> build_note(model_dir, "essen", {"seed": 0}, from_cache=False) is None
    True
"""

from __future__ import annotations

import os
from typing import Any

from ..saving import saved_experiment


def training_experiment(model_dir: str) -> dict[str, Any]:
    """The experiment a model folder was trained with (``training_config.json``), ``{}`` if none can be read."""
    return saved_experiment(model_dir) or {}


def training_data_section(model_dir: str) -> dict[str, Any] | None:
    """The ``data`` section of the experiment a model folder was trained with, if any."""
    return training_experiment(model_dir).get("data")


def build_note(model_dir: str, corpus: str, build: dict, from_cache: bool) -> str | None:
    """A warning when the model was trained on the same corpus recipe with other build settings (its training
    songs/speakers may then appear in this benchmark's test split), or None."""
    data = training_data_section(model_dir)
    if not data or data.get("corpus") != corpus:
        return None
    trained = dict(data.get("build") or {})
    if from_cache:
        trained_cache = data.get("cache_dir")
        if trained_cache and os.path.realpath(trained_cache) == os.path.realpath(build.get("cache_dir", "")):
            return None  # the very corpus the model was trained on: its test split was never trained on
        return (f"{model_dir}: trained on {corpus} cached at {trained_cache!r} (built with {trained}), but this "
                f"benchmark loaded {build.get('cache_dir')!r}: unless it is the same build, its test split may contain "
                "songs/speakers the model was trained on")
    differing = {k: (trained.get(k), v) for k, v in build.items() if k in trained and _norm(trained[k]) != _norm(v)}
    if differing:
        return (f"{model_dir}: trained on {corpus} with build settings {trained}, but this benchmark built it with "
                f"{differing} (trained vs here): its test split may contain material the model was trained on")
    return None


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
