"""Lever for search at scale (``scripts/bench_graph_ann.py``): a graph index (HNSW, usearch) over the TRUE normalised
edit distance, on the corpus of :mod:`~wav2tok_hf.benchmarks.scale` (real tokens grown by SYNTHETIC mutation,
queried by real sung performances and by SYNTHETIC near copies).

Per query set and ``ef``: p50 / p95 latency on one thread (graph walk + exact re-score with rapidfuzz), recall@10
against the exhaustive ranking (ties at the cut count as found), MRR@10 graph vs exhaustive; per query set, the
relative contrast of the exact distances (:func:`contrast`).

Example:
    >>> import numpy as np
    >>> contrast(np.linspace(0.0, 1.0, 2000))["within_0.05_of_d10"]  # distances 0, 1/1999, ...: up to 0.0545
    109
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .scale import QUERY_SETS, TokenCorpus, _print, grow, near_copies, near_token_table


def contrast(row: np.ndarray) -> dict[str, float]:
    """Exact distances of the 1st, 10th, 100th and 1000th neighbour, the median, and how many items lie within 0.05
    of the 10th neighbour."""
    s = np.sort(row)
    return {"d1": float(s[0]), "d10": float(s[9]), "d100": float(s[99]), "d1000": float(s[min(999, len(s) - 1)]),
            "median": float(np.median(s)), "within_0.05_of_d10": int((row <= s[9] + 0.05).sum())}


def _rr(ranked_labels: Any, label: str) -> float:
    hits = np.flatnonzero(np.asarray(ranked_labels) == label)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def _query_set(graph: Any, strings: list[str], labels: np.ndarray, queries: list[np.ndarray], query_labels: list[str],
               efs: Sequence[int], name: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """The exhaustive ranking of every query (rapidfuzz, batched), then the graph's answers at each ``ef``."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    from ..retrieval.kernels import tokens_to_str

    qstr = [tokens_to_str(q) for q in queries]
    start = time.perf_counter()
    full = process.cdist(qstr, strings, scorer=Levenshtein.normalized_distance, dtype=np.float32, workers=1)
    exhaustive_ms = (time.perf_counter() - start) / len(queries) * 1e3
    full_top = [np.argsort(row, kind="stable")[:10] for row in full]
    entry = {"queries": len(queries), "exhaustive_ms_per_query_batched": exhaustive_ms,
             "mrr_at_10_exhaustive": float(np.mean([_rr(labels[t], lab) for t, lab in zip(full_top, query_labels)])),
             "contrast": {k: float(np.median([contrast(row)[k] for row in full])) for k in contrast(full[0])},
             "ef": []}
    for ef in efs:
        lat, rec, rr = [], [], []
        for q, s, row, lab in zip(queries, qstr, full, query_labels):
            start = time.perf_counter()
            keys = graph.candidates(q, ef)
            exact = process.cdist([s], [strings[k] for k in keys], scorer=Levenshtein.normalized_distance,
                                  dtype=np.float32, workers=1)[0]
            order = np.argsort(exact, kind="stable")[:10]
            lat.append((time.perf_counter() - start) * 1e3)
            cut = np.sort(row)[9]
            rec.append(float(np.mean(exact[order] <= cut + 1e-6)))
            rr.append(_rr(labels[keys[order]], lab))
        entry["ef"].append({"ef": ef, "p50_ms": statistics.median(lat), "p95_ms": float(np.percentile(lat, 95)),
                            "recall_at_10": float(np.mean(rec)), "recall_at_10_min": float(np.min(rec)),
                            "mrr_at_10": float(np.mean(rr))})
        progress(f"{name} {entry['ef'][-1]}")
    return entry


def run_graph_ann(corpus: TokenCorpus, costs: np.ndarray, size: int, *, command: str, connectivity: int = 16,
                  expansion_add: int = 128, ef: Sequence[int] = (64, 256, 1024, 4096), build_threads: int = 2,
                  seed: int = 0, progress: Callable[[str], None] = _print) -> dict[str, Any]:
    """Grow ``corpus`` to ``size`` items (``costs``: the model's substitution costs, for the mutations), build the
    graph (``connectivity``, ``expansion_add``, on ``build_threads``) and measure each query set at each ``ef``.
    Returns the report (``command`` in it)."""
    from ..retrieval.graph import TokenGraph, id_bytes_for
    from ..retrieval.kernels import tokens_to_str

    items, item_labels = grow(corpus.seeds, corpus.labels, size, costs, seed)
    rng = np.random.default_rng(seed + 1)
    query_sets = {QUERY_SETS["real"]: (corpus.queries, corpus.query_labels),
                  QUERY_SETS["near"]: near_copies(items, item_labels, len(corpus.queries), near_token_table(costs), rng)}
    strings = [tokens_to_str(s) for s in items]
    flat = np.concatenate(items)
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in items])])
    start = time.perf_counter()
    graph = TokenGraph.build(flat, offsets, np.arange(len(items)), threads=build_threads, connectivity=connectivity,
                             expansion_add=expansion_add, id_bytes=id_bytes_for(len(costs)))
    report: dict[str, Any] = {
        "command": command, "items": len(items), "connectivity": connectivity, "expansion_add": expansion_add,
        "build_s": time.perf_counter() - start, "build_threads": build_threads,
        "truncated_items": int(sum(len(s) > 64 for s in items)), "sets": {}}
    progress(f"built {len(items)} items in {report['build_s']:.1f} s")
    labels = np.asarray(item_labels)
    for name, (queries, query_labels) in query_sets.items():
        report["sets"][name] = _query_set(graph, strings, labels, queries, query_labels, ef, name, progress)
    return report


def graph_ann_markdown(report: dict[str, Any]) -> str:
    """The tables of a :func:`run_graph_ann` report."""
    lines = ["# Graph index (HNSW, usearch) over the exact normalised edit distance (`scripts/bench_graph_ann.py`)",
             "", f"Command: `{report['command']}`", "",
             f"{report['items']:,} items (real wav2tok-qbsh tokens of MASTmelody grown by SYNTHETIC mutation), "
             f"connectivity {report['connectivity']}, expansion_add {report['expansion_add']}; graph built in "
             f"{report['build_s']:.0f} s on {report['build_threads']} threads. One thread per query, top-10.", "",
             "| queries | ef | p50 / p95 ms | recall@10 (min) | MRR@10 graph / exhaustive |", "|---|---|---|---|---|"]
    for name, entry in report["sets"].items():
        for row in entry["ef"]:
            lines.append(f"| {name} | {row['ef']} | {row['p50_ms']:.2f} / {row['p95_ms']:.2f} | "
                         f"{row['recall_at_10']:.3f} ({row['recall_at_10_min']:.2f}) | {row['mrr_at_10']:.3f} / "
                         f"{entry['mrr_at_10_exhaustive']:.3f} |")
    lines += ["", "Relative contrast (median over queries of the exact normalised ED of the n-th neighbour):", "",
              "| queries | 1st | 10th | 100th | 1000th | median item | items within 0.05 of the 10th |",
              "|---|---|---|---|---|---|---|"]
    for name, entry in report["sets"].items():
        c = entry["contrast"]
        lines.append(f"| {name} | {c['d1']:.3f} | {c['d10']:.3f} | {c['d100']:.3f} | {c['d1000']:.3f} | "
                     f"{c['median']:.3f} | {c['within_0.05_of_d10']:.0f} |")
    return "\n".join(lines) + "\n"
