"""Glue shared by the benchmark scripts: argument checks, model loading, Hub baselines, report writing."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

# what a model folder was trained on: library code, named here for the scripts
from wav2tok_hf.benchmarks.provenance import build_note, training_data_section, training_experiment  # noqa: F401

logger = logging.getLogger("benchmark")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The start of every benchmark's ``main``: parse ``argv`` (with :func:`add_common_arguments`'s options), set up
    logging and the torch threads, and check ``--max-queries``."""
    from wav2tok_hf.retrieval.encoders import apply_threads

    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    apply_threads(args.threads)
    check_positive(parser, args.max_queries, "--max-queries")
    return args


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by the first paragraph of a script's ``doc``, its epilog kept as written."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_common_arguments(parser: argparse.ArgumentParser, plots: bool = False) -> None:
    parser.add_argument("--output-dir", default="benchmark_results",
                        help="folder for the markdown table, JSON and PNG plots (created if missing)")
    parser.add_argument("--max-queries", type=int, default=None,
                        help="evaluate a seeded random subset of this many queries (default: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of corpus building, query subsets, TS/PS transforms and baseline K-means")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on 2 shared cores, 2 threads made the LSTM ~40x slower)")
    parser.add_argument("--verbose", action="store_true", help="log progress")
    if plots:
        parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def add_baseline_arguments(parser: argparse.ArgumentParser, default: list[str] | None, help: str | None = None) -> None:
    """``--baselines`` (registered names, checked by :func:`check_baselines`) and ``--hub-model-id`` (repeatable)."""
    parser.add_argument("--baselines", nargs="*", default=default,
                        help=help or f"baselines (default: {' '.join(default or [])})")
    parser.add_argument("--hub-model-id", action="append", default=[], metavar="ID",
                        help="extra Wav2Vec2ForCTC checkpoint (Hub id or local folder) as a greedy-CTC ED baseline")




def add_rerank_arguments(parser: argparse.ArgumentParser) -> None:
    """``--rerank N`` and ``--rerank-pool N``: the tokens-then-re-rank rows of a benchmark (checked by
    :func:`check_rerank`)."""
    parser.add_argument("--rerank", type=int, default=0, metavar="N",
                        help="also tokens-then-re-rank rows (the product path, Wav2TokIndex's re-rank stage): each "
                             "model's normalised weighted edit distance ranking, its best N items re-scored by DTW "
                             "over frames (default 0: no such rows)")
    parser.add_argument("--rerank-pool", type=int, default=1, metavar="N",
                        help="average every N re-rank frames into one (the DTW costs N^2 times less; default 1)")


def check_rerank(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The values of :func:`add_rerank_arguments`' flags: a usage error before any work."""
    check_positive(parser, args.rerank_pool, "--rerank-pool")
    if args.rerank < 0:
        parser.error(f"--rerank {args.rerank}: expected the number of items to re-rank (>= 1), or 0 for none")


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


def build_corpus(parser: argparse.ArgumentParser, prepare, source: str | None, corpus_dir: str | None, build: dict,
                 *, label: str, missing: str, source_flag: str = "--source"):
    """``(prepare(source, corpus_dir, **build), build, False)``, the counterpart of :func:`load_cached_corpus`; no
    ``source`` (the ``missing`` message), or a source that ``prepare`` refuses, is a usage error."""
    if not source:
        parser.error(missing)
    logger.info("building %s corpus %s", label, build)
    try:
        return prepare(source, corpus_dir, **build), build, False
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        parser.error(f"{source_flag} {source!r}: {error}")


def load_or_build_corpus(parser: argparse.ArgumentParser, prepare, source: str | None, corpus_dir: str | None,
                         build: dict, **how):
    """``(corpus, build settings, from_cache)``: the corpus saved in ``corpus_dir`` (:func:`load_cached_corpus`), else
    one built there from ``source`` (:func:`build_corpus`, which takes ``how``)."""
    return load_cached_corpus(parser, corpus_dir) or build_corpus(parser, prepare, source, corpus_dir, build, **how)


def load_model_dir(path: str) -> Any:
    """Load a saved ``Wav2TokModel`` folder with a clear error for a missing folder or a folder without a model."""
    from wav2tok_hf import Wav2TokModel

    if not os.path.isdir(path):
        raise FileNotFoundError(f"model folder {path!r} does not exist; pass a folder written by "
                                "Wav2TokModel.save_pretrained / `wav2tok train`")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"{path!r} is not a saved wav2tok model (no config.json in it)")
    return Wav2TokModel.from_pretrained(path).eval()


def load_models(parser: argparse.ArgumentParser, model_dirs: list[str]) -> list[tuple[str, Any, str]]:
    """``[(row name, model, folder)]``; a missing/invalid folder is an argparse error (exit code 2)."""
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


HUB_BASELINES = ("wav2vec2-o", "wav2vec2-multi", "hub-ctc")


def split_baselines(names: list[str]) -> tuple[list[str], list[str]]:
    """``(local baselines, Hub baselines)`` of a ``--baselines`` list."""
    return [n for n in names if n not in HUB_BASELINES], [n for n in names if n in HUB_BASELINES]


def check_baselines(parser: argparse.ArgumentParser, names: list[str]) -> None:
    from wav2tok_hf.retrieval import list_baselines

    unknown = [n for n in names if n not in list_baselines()]
    if unknown:
        parser.error(f"--baselines: unknown {unknown}; registered: {list_baselines()}")


def hub_is_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub endpoint resolves and accepts a TCP connection (no request is sent)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    parsed = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def hub_offline_while(offline: bool) -> Iterator[None]:
    """Hub offline mode (cached checkpoints only) inside the block when ``offline``; the previous mode after it."""
    from huggingface_hub import constants

    before_env, before = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub and transformers' loaders
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env


def hub_baselines(names: list[str] | tuple[str, ...], model_ids: list[str] | tuple[str, ...] = (),
                  go_offline_if_unreachable: bool = True) -> tuple[list[tuple[str, Any]], list[dict[str, str]]]:
    """Load the Hub CTC baselines (``wav2vec2-o``, ``wav2vec2-multi``, and ``hub-ctc`` for each of ``model_ids``).

    Returns ``([(label, baseline)], skipped)`` where ``skipped`` lists ``{"model", "reason"}`` for every checkpoint
    that could not be loaded (:class:`~wav2tok_hf.retrieval.BaselineUnavailable`). Nothing is faked: a skipped
    baseline has no row. When the Hub cannot be reached, they are loaded in Hub offline mode, so that checkpoints
    already in the local cache still load and the others fail at once instead of after ~45 s of DNS retries.
    """
    from huggingface_hub import constants

    from wav2tok_hf.retrieval import BaselineUnavailable, create_baseline

    wanted = [(name, {}) for name in names if name != "hub-ctc"]
    wanted += [(f"hub-ctc:{model_id}", {"model_id": model_id}) for model_id in model_ids]
    loaded: list[tuple[str, Any]] = []
    skipped: list[dict[str, str]] = []
    if not wanted:
        return loaded, skipped
    offline = go_offline_if_unreachable and not constants.HF_HUB_OFFLINE and not hub_is_reachable()
    note = " [Hub unreachable: offline mode, local cache only]" if offline else ""
    with hub_offline_while(offline):
        for label, kwargs in wanted:
            try:
                loaded.append((label, create_baseline("hub-ctc" if "model_id" in kwargs else label, **kwargs)))
            except BaselineUnavailable as error:
                skipped.append({"model": label, "reason": f"{error}{note}"})
    return loaded, skipped


def hub_baseline_encoders(names: list[str] | tuple[str, ...], model_ids: list[str] | tuple[str, ...] = (),
                          go_offline_if_unreachable: bool = True) -> tuple[list, list[dict[str, str]]]:
    """:func:`hub_baselines` as ``Encoder``s for ``run_benchmark``: ``(encoders, skipped)``."""
    from wav2tok_hf.retrieval.encoders import baseline_encoder

    loaded, skipped = hub_baselines(names, model_ids, go_offline_if_unreachable)
    return [baseline_encoder(baseline, label) for label, baseline in loaded], skipped
