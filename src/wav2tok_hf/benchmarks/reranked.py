"""Tokens-then-re-rank rows (the product path) for the benchmarks: a query is ranked by token distance and its
shortlist re-scored by DTW over stored frames (:meth:`wav2tok_hf.retrieval.Wav2TokIndex.enable_rerank`). Shared by
``scripts/benchmark_qbsh.py``, ``scripts/benchmark_speech.py`` and ``scripts/validate_speech.py``.

Example:
    >>> class Result(list):  # a search result: its first ``reranked`` items in DTW order, then by token score
    ...     reranked, token_scores, labels = 1, [0.1, 0.2, 0.2], ["b", "c", "a"]
    >>> rank_after_rerank(Result([0, 1, 2]), "a")  # "a" ties "c" by tokens, after the re-ranked "b"
    2.5
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..retrieval.evaluation import RetrievalSet


def rank_after_rerank(result: Any, label: str) -> float:
    """Rank of the first item of ``label``: the re-ranked items in DTW order, then the rest by token distance with
    ties at their mean rank (as the tokens-only rows)."""
    import numpy as np

    from ..retrieval.metrics import rank_of_first_relevant

    position = np.arange(len(result))
    order = np.where(position < result.reranked, position - result.reranked, result.token_scores)
    return rank_of_first_relevant(order, [lab == label for lab in result.labels])


def rerank_rows(models: Sequence[tuple[str, Any, str]], sets: dict[str, RetrievalSet], shortlist: int,
                frame_sources: Sequence[str], pool: int = 1) -> list[dict[str, Any]]:
    """Tokens-then-re-rank rows (the product path), in ``run_benchmark``'s row format: for every model, a
    ``Wav2TokIndex`` of the database's tokens with frames stored for its re-rank stage; each query is ranked by the
    normalised weighted edit distance and its best ``shortlist`` items are re-scored by DTW over frames (the model's
    own embeddings, or the ``pitch-contour-dtw`` baseline's contour; every ``pool`` frames averaged into one).
    ``sets`` are conditions of one retrieval set (they share its database: the first set's is indexed once).
    ``search_s`` is the index search (tokens and re-rank DTW) per query; ``infer_s`` encodes the query's tokens and
    frames. Their own rows: never mixed with the tokens-only rows."""
    from ..retrieval import create_baseline
    from ..retrieval.encoders import baseline_encoder
    from ..retrieval.index import Wav2TokIndex
    from ..retrieval.metrics import mean_reciprocal_rank, top_k_accuracy

    distance = "normalized_weighted_levenshtein"
    first = next(iter(sets.values()))
    ids = [str(i) for i in range(len(first.database))]
    rows = []
    for name, model, _ in models:
        for source in frame_sources:
            frame_encoder = model if source == "embeddings" else create_baseline(source)
            embed = (lambda w, sr, model=model: model.embed(w, sampling_rate=sr, batch_size=32)) \
                if source == "embeddings" else baseline_encoder(frame_encoder).encode
            index = Wav2TokIndex.from_encoder(model)
            index.enable_rerank(frame_encoder, pool=pool)
            index.add_audio(model, list(first.database), sampling_rate=first.sampling_rate, ids=ids,
                            labels=list(first.database_labels), store_frames=True, frame_encoder=frame_encoder)
            label = "model embeddings" if source == "embeddings" else source
            label += f", {pool} frames pooled" if pool > 1 else ""
            row: dict[str, Any] = {"model": f"{name} + re-rank top {shortlist} by DTW ({label})",
                                   "distance": f"{distance} -> dtw", "rerank": shortlist, "rerank_frames": source,
                                   "rerank_pool": pool}
            for condition, retrieval in sets.items():
                start = time.perf_counter()
                tokens = model.encode(retrieval.queries, sampling_rate=retrieval.sampling_rate, batch_size=32)
                frames = embed(retrieval.queries, retrieval.sampling_rate)
                infer = (time.perf_counter() - start) / len(retrieval.queries)
                start = time.perf_counter()
                results = index.search(tokens, distance=distance, rerank=shortlist, query_frames=frames)
                search = (time.perf_counter() - start) / len(retrieval.queries)
                ranks = [rank_after_rerank(result, label) for result, label in zip(results, retrieval.query_labels)]
                row[condition] = mean_reciprocal_rank(ranks)
                row[f"{condition}_top1"] = top_k_accuracy(ranks, 1)
                row[f"{condition}_top5"] = top_k_accuracy(ranks, 5)
                row.setdefault("ranks", {})[condition] = [float(r) for r in ranks]
                if condition == "V":
                    row["search_s"], row["infer_s"] = search, infer
            rows.append(row)
    return rows
