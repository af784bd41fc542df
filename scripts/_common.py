"""Glue shared by the benchmark scripts: argument checks, model loading, report writing."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from typing import Any

import numpy as np


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", default="benchmark_results",
                        help="folder for the markdown table, JSON and PNG plots (created if missing)")
    parser.add_argument("--max-queries", type=int, default=None,
                        help="evaluate a seeded random subset of this many queries (default: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of corpus building, query subsets, TS/PS transforms and baseline K-means")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on 2 shared cores, 2 threads made the LSTM ~40x slower)")
    parser.add_argument("--verbose", action="store_true", help="log progress")




def check_positive(parser: argparse.ArgumentParser, value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        parser.error(f"{flag} must be a positive integer, got {value}")


def check_source(parser: argparse.ArgumentParser, source: str | None, flag: str = "--source") -> None:
    if source is None:
        return
    if not os.path.exists(source):
        parser.error(f"{flag} {source!r} does not exist")
    if not os.path.isdir(source):
        parser.error(f"{flag} {source!r} is not a folder")


def load_cached_corpus(parser: argparse.ArgumentParser, corpus_dir: str | None):
    """``(DatasetDict, {"cache_dir": corpus_dir}, True)`` when ``--corpus-dir`` holds a saved corpus, ``None`` when it
    does not exist yet (the caller builds it); a folder that is not a saved corpus is a usage error."""
    from datasets import load_from_disk

    if not corpus_dir or not os.path.isdir(corpus_dir):
        return None
    try:
        return load_from_disk(corpus_dir), {"cache_dir": corpus_dir}, True
    except (FileNotFoundError, ValueError) as error:
        parser.error(f"--corpus-dir {corpus_dir!r} is not a saved corpus ({error})")


def load_models(parser: argparse.ArgumentParser, model_dirs: list[str]) -> list[tuple[str, Any, str]]:
    """``[(row name, model, folder)]``; a missing/invalid folder is an argparse error (exit code 2)."""
    from wav2tok_hf.benchmark import load_model_dir

    out, names = [], set()
    for path in model_dirs:
        try:
            model = load_model_dir(path)
        except (FileNotFoundError, OSError, ValueError) as error:
            parser.error(f"--model: {error}")
        base = os.path.basename(os.path.normpath(path)) or "model"
        name, k = f"wav2tok[{base}]", 2
        while name in names:
            name, k = f"wav2tok[{base}#{k}]", k + 1
        names.add(name)
        out.append((name, model, path))
    return out


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    return value


def write_text(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def write_json(path: str, data: Any) -> str:
    return write_text(path, json.dumps(to_jsonable(data), indent=1) + "\n")


def skipped_lines(skipped: list[dict]) -> list[str]:
    return [f"- {s['model']}: skipped: {s['reason']}" for s in skipped]


def split_baselines(names: list[str]) -> tuple[list[str], list[str]]:
    """``(local baselines, Hub baselines)`` of a ``--baselines`` list."""
    from wav2tok_hf.benchmark import HUB_BASELINES

    return [n for n in names if n not in HUB_BASELINES], [n for n in names if n in HUB_BASELINES]


def check_baselines(parser: argparse.ArgumentParser, names: list[str]) -> None:
    from wav2tok_hf.retrieval import list_baselines

    unknown = [n for n in names if n not in list_baselines()]
    if unknown:
        parser.error(f"--baselines: unknown {unknown}; registered: {list_baselines()}")


def build_note(model_dir: str, corpus: str, build: dict, from_cache: bool) -> str | None:
    """A warning when the model was trained on the same corpus recipe with other build settings (its training
    songs/speakers may then appear in this benchmark's test split), or None."""
    from wav2tok_hf.benchmark import training_data_section

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


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up call."""
    import statistics
    import time

    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)
