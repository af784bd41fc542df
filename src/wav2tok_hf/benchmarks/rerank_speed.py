"""Search time per query in one process (``scripts/bench_rerank.py``): token search alone, tokens then re-rank of the
top k by DTW over the model's stored frame embeddings (``Wav2TokIndex``'s re-rank stage), and full pitch-contour DTW
over every item. Best of a few repeats per row, after a warm-up (numba compilation).

Usage (``model`` a ``Wav2TokModel``, ``split`` a corpus test split at 8 kHz)::

    report, markdown = rerank_speed(model, load_from_disk("data_cache/mastmelody-50-15-35")["test"], rerank=(2, 5))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SAMPLING_RATE = 8000
DISTANCE = "normalized_weighted_levenshtein"
CONTOUR_ROW = "pitch-contour DTW, every item"


def best_seconds_per_query(search: Callable[[], object], num_queries: int, repeats: int) -> float:
    """The fastest of ``repeats`` timed runs of ``search()`` (after a warm-up call), per query."""
    search()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        search()
        times.append((time.perf_counter() - start) / num_queries)
    return min(times)


def rerank_speed(model: Any, split: Any, *, references_per_label: int | None = None, max_queries: int = 60,
                 rerank: Sequence[int] = (2, 3, 5), repeats: int = 3,
                 pools: Sequence[int] = (1,)) -> tuple[dict[str, Any], str]:
    """Time the searches of ``split``'s queries against its references.

    Args:
        model: the wav2tok model (tokens, and frame embeddings for the re-rank stage).
        split: a corpus split with queries and references (``retrieval_set_from_split``), at most
            ``references_per_label`` references per label and ``max_queries`` queries (seeded).
        rerank: shortlist sizes k of the re-rank rows.
        pools: re-rank rows for each of these frame poolings (``Wav2TokIndex.enable_rerank(pool=N)``).

    Returns ``(report, markdown)``: ``{"title", "search_s_per_query": {row: seconds}}`` and the table.
    """
    from ..retrieval import create_baseline
    from ..retrieval.encoders import baseline_encoder
    from ..retrieval.evaluation import retrieval_set_from_split
    from ..retrieval.index import Wav2TokIndex

    data = retrieval_set_from_split(split, SAMPLING_RATE, max_queries=max_queries, seed=0,
                                    max_references_per_label=references_per_label)
    contour = create_baseline("pitch-contour-dtw")
    ids, labels = [str(i) for i in range(len(data.database))], list(data.database_labels)
    pooled = {}
    for pool in pools:
        pooled[pool] = Wav2TokIndex.from_encoder(model)
        pooled[pool].enable_rerank(model, pool=pool)
        pooled[pool].add_audio(model, list(data.database), sampling_rate=SAMPLING_RATE, ids=ids, labels=labels,
                               store_frames=True)
    tokens = pooled[pools[0]]
    frames = Wav2TokIndex.from_encoder(contour)
    frames.add_audio(contour, list(data.database), sampling_rate=SAMPLING_RATE, ids=ids, labels=labels)
    query_tokens = model.encode(data.queries, sampling_rate=SAMPLING_RATE, batch_size=32)
    query_frames = model.embed(data.queries, sampling_rate=SAMPLING_RATE, batch_size=32)
    query_contours = baseline_encoder(contour).encode(data.queries, SAMPLING_RATE)

    def best_of(search: Callable[[], object]) -> float:
        return best_seconds_per_query(search, len(data.queries), repeats)

    rows = {"tokens only": best_of(lambda: tokens.search(query_tokens, distance=DISTANCE))}
    shifts = model.config.query_pitch_shifts
    if shifts:  # the model's key search: each query's versions encoded beforehand, as the other rows' tokens
        from ..data.augment import pitch_shift_versions

        versions = [model.encode(pitch_shift_versions(q, shifts, SAMPLING_RATE)[0], sampling_rate=SAMPLING_RATE,
                                 batch_size=32) for q in data.queries]
        rows[f"tokens, key search over {len(shifts)} query versions"] = best_of(
            lambda: [tokens.search_versions(v, distance=DISTANCE) for v in versions])
    for pool, index in pooled.items():
        how = f"embedding DTW, {pool} frames pooled" if pool > 1 else "embedding DTW"
        for k in rerank:
            rows[f"tokens + re-rank top {k} ({how})"] = best_of(
                lambda k=k, index=index: index.search(query_tokens, distance=DISTANCE, rerank=k,
                                                      query_frames=query_frames))
    rows[CONTOUR_ROW] = best_of(lambda: frames.search(query_contours, distance="dtw"))
    title = (f"{len(data.queries)} test queries vs {len(data.database)} items; mean token string length "
             f"{np.mean([len(t) for t in query_tokens]):.1f}; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}")
    dtw = rows[CONTOUR_ROW]
    lines = [f"**{title}**", "", "| search | ms/query | fraction of contour DTW |", "|---|---|---|"]
    lines += [f"| {name} | {1000 * s:.3f} | {s / dtw:.3f} |" for name, s in rows.items()]
    return {"title": title, "search_s_per_query": rows}, "\n".join(lines)
