"""Spoken-term-detection search at scale (``scripts/bench_std_scale.py``): top-10 subsequence (semi-global) ED over
hours of tokenised recordings, ``Wav2TokIndex``'s fast path (window bigram filter, range searches of rising cost,
:class:`wav2tok_hf.retrieval.qgram.WindowGramIndex`) against the exhaustive scan, and optionally the threshold (range)
search.

The recordings are a SYNTHETIC assembly of real tokens (:func:`recordings`: 60-second stretches of the
concatenated token strings at a token rate); the queries are excerpts of 8-12 tokens re-spoken with 0-20 % random
edits (:func:`respoken`). :func:`std_scale_size` measures one index size, :func:`run_std_scale_benchmark` several,
and returns the report and its tables (:func:`std_scale_markdown`).

Usage (``strings`` the token strings of a tokens JSON, :func:`load_token_strings`)::

    report, markdown = run_std_scale_benchmark(strings, [10, 100], max_scores=[0.2])

Example:
    >>> import numpy as np
    >>> strings = [np.arange(40, dtype=np.int32) % 7]
    >>> items = recordings(strings, hours=0.05, tokens_per_second=0.25, seed=0)  # 3 recordings of 15 tokens
    >>> len(items), len(items[0])
    (3, 15)
    >>> [len(q) > 0 for q in respoken(items, vocab=7, count=2, seed=1)]
    [True, True]
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..retrieval import Wav2TokIndex

DISTANCE = "normalized_subsequence_levenshtein"


def load_token_strings(path: str) -> list[np.ndarray]:
    """The non-empty token strings of a tokens JSON (``{"tokens": [[...], ...]}``, ``scripts/bench_scale.py``)."""
    with open(path) as f:
        return [np.asarray(t, np.int32) for t in json.load(f)["tokens"] if len(t)]


def recordings(strings: Sequence[np.ndarray], hours: float, tokens_per_second: float, seed: int) -> list[np.ndarray]:
    """``hours`` of 60-second recordings (at least one): seeded stretches of the concatenated ``strings``."""
    rng = np.random.default_rng(seed)
    per_recording = int(60 * tokens_per_second)
    n = max(1, int(hours * 60))
    pool = np.concatenate(strings)
    starts = rng.integers(0, len(pool) - per_recording, n)
    return [pool[s:s + per_recording].copy() for s in starts]


def respoken(items: Sequence[np.ndarray], vocab: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` queries: an excerpt of 8-12 tokens of a random item, with a random rate in [0, 0.2) of edits
    (substitutions, deletions and insertions in equal parts)."""
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(count):
        item = items[int(rng.integers(len(items)))]
        length = int(rng.integers(8, 13))
        start = int(rng.integers(0, len(item) - length))
        out = []
        rate = rng.uniform(0.0, 0.2)
        for token in item[start:start + length].tolist():
            u = rng.random()
            if u < rate / 3:
                out.append(int(rng.integers(vocab)))
            elif u < 2 * rate / 3:
                continue
            elif u < rate:
                out += [token, int(rng.integers(vocab))]
            else:
                out.append(token)
        queries.append(np.asarray(out or [int(item[start])], np.int32))
    return queries


def range_search(index: Wav2TokIndex, queries: Sequence[np.ndarray], rankings: Sequence,
                 max_score: float) -> dict[str, Any]:
    """The range search at ``max_score``: latency, hits, and recall against the exhaustive ``rankings`` (of the first
    queries) cut at ``max_score``."""
    times, hits, recalls, identical, verified, scans = [], [], [], [], [], 0
    for k, q in enumerate(queries):
        start = time.perf_counter()
        result = index.search(q, distance=DISTANCE, max_score=max_score)
        times.append(time.perf_counter() - start)
        hits.append(len(result))
        scans += result.path == "scan"
        if result.path == "windows":
            verified.append(result.verified)
        if k < len(rankings):
            expected = rankings[k]._subset(np.flatnonzero(rankings[k].scores <= max_score))
            recalls.append(len(np.intersect1d(result.indices, expected.indices)) / len(expected) if len(expected)
                           else 1.0)
            identical.append(result.to_list() == expected.to_list())
    return {"max_score": max_score, "p50_ms": 1e3 * statistics.median(times),
            "p95_ms": 1e3 * float(np.percentile(times, 95)), "hits_mean": float(np.mean(hits)),
            "hits_max": int(max(hits)), "recall": float(np.mean(recalls)), "identical": int(sum(identical)),
            "checked": len(recalls), "full_scans": scans,
            "windows_verified_p50": float(np.median(verified)) if verified else None,
            "per_query": {"ms": [round(1e3 * t, 3) for t in times], "hits": hits}}


def std_scale_size(strings: Sequence[np.ndarray], hours: float, *, tokens_per_second: float = 5.3,
                   queries: int = 50, exhaustive_queries: int = 10, vocab_size: int = 64, seed: int = 0,
                   max_scores: Sequence[float] = ()) -> dict[str, Any]:
    """One row of the report: an index of ``hours`` of recordings, the fast top-10 search of ``queries`` re-spoken
    excerpts (the first ``exhaustive_queries`` also scanned exhaustively, for recall@10 and the scan's latency), the
    window bigram index's build time, and with ``max_scores`` the range search at each (``row["range"]``)."""
    from ..retrieval import Wav2TokIndex

    items = recordings(strings, hours, tokens_per_second, seed)
    query_tokens = respoken(items, vocab_size, queries, seed + 1)
    index = Wav2TokIndex(vocab_size=vocab_size, vocab_name="bench-std")
    index.add(items)
    index.fast_search_min_items = 1
    start = time.perf_counter()
    index.search(query_tokens[0], distance=DISTANCE, top_k=10)  # builds the window bigram index
    build_s = time.perf_counter() - start
    fast_t, full_t, recalls, stages = [], [], [], []
    for k, q in enumerate(query_tokens):
        start = time.perf_counter()
        fast = index.search(q, distance=DISTANCE, top_k=10)
        fast_t.append(time.perf_counter() - start)
        stages.append(2 if fast.path == "scan" else 1)  # who answered: the windows (1) or the scan (2)
        if k < exhaustive_queries:
            start = time.perf_counter()
            full = index.search(q, distance=DISTANCE, top_k=10, exhaustive=True)
            full_t.append(time.perf_counter() - start)
            recalls.append(float(np.mean(fast.scores <= full.scores[-1] + 1e-9)))
    row = {"hours": hours, "recordings": len(items), "tokens": int(sum(len(r) for r in items)),
           "bigram_build_s": build_s,
           "fast_p50_ms": 1e3 * statistics.median(fast_t), "fast_p95_ms": 1e3 * float(np.percentile(fast_t, 95)),
           "exhaustive_p50_ms": 1e3 * statistics.median(full_t), "recall_at_10": float(np.mean(recalls)),
           "queries": len(query_tokens), "exhaustive_queries": len(full_t), "fast_full_scans": stages.count(2),
           "per_query": {"ms": [round(1e3 * t, 3) for t in fast_t], "stage": stages}}
    if max_scores:
        rankings = [index.search(q, distance=DISTANCE, exhaustive=True) for q in query_tokens[:exhaustive_queries]]
        row["range"] = [range_search(index, query_tokens, rankings, x) for x in max_scores]
    return row


def run_std_scale_benchmark(strings: Sequence[np.ndarray], hours: Sequence[float], *, tokens_per_second: float = 5.3,
                            queries: int = 50, exhaustive_queries: int = 10, vocab_size: int = 64, seed: int = 0,
                            max_scores: Sequence[float] = (), command: str = "",
                            on_row: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], str]:
    """:func:`std_scale_size` at each of ``hours`` (one index at a time), each row handed to ``on_row`` as it is
    done: ``(report, markdown)``, the report ``{"command", "distance", "rows"}`` and its tables."""
    report: dict[str, Any] = {"command": command, "distance": DISTANCE, "rows": []}
    for h in hours:
        row = std_scale_size(strings, h, tokens_per_second=tokens_per_second, queries=queries,
                             exhaustive_queries=exhaustive_queries, vocab_size=vocab_size, seed=seed,
                             max_scores=max_scores)
        if on_row is not None:
            on_row(row)
        report["rows"].append(row)
    return report, std_scale_markdown(report)


def std_scale_markdown(report: dict[str, Any]) -> str:
    """The top-10 table of a :func:`run_std_scale_benchmark` report, and the range-search table when it has one."""
    lines = [f"Command: `{report['command']}`", "", ("| hours (tokens) | fast p50 / p95 ms | exhaustive p50 ms | "
                                                   "recall@10 | full scans | window index build + first search s |"),
             "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['hours']:g} ({r['tokens']:,}) | {r['fast_p50_ms']:.1f} / {r['fast_p95_ms']:.1f} | "
                     f"{r['exhaustive_p50_ms']:.0f} | {r['recall_at_10']:.3f} | {r['fast_full_scans']} / "
                     f"{r['queries']} | {r['bigram_build_s']:.1f} |")
    if any("range" in r for r in report["rows"]):
        lines += ["", ("Threshold (range) search, `search(q, distance=..., max_score=x)`, recall against the "
                       "exhaustive ranking cut at x:"), "",
                  ("| hours | max_score | range p50 / p95 ms | hits per query (mean / max) | "
                   "recall (identical / checked) | full scans | windows verified p50 |"), "|---|---|---|---|---|---|---|"]
        for r in report["rows"]:
            for s in r.get("range", []):
                windows = "-" if s["windows_verified_p50"] is None else f"{s['windows_verified_p50']:,.0f}"
                lines.append(f"| {r['hours']:g} | {s['max_score']:g} | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} | "
                             f"{s['hits_mean']:.1f} / {s['hits_max']} | {s['recall']:.3f} ({s['identical']} / "
                             f"{s['checked']}) | {s['full_scans']} / {r['queries']} | {windows} |")
    return "\n".join(lines)
