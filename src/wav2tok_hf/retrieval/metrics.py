"""Retrieval and spoken-term-detection metrics as plain functions (the public metric API).

* Query-by-example: :func:`rank_of_first_relevant`, :func:`mean_reciprocal_rank`, :func:`top_k_accuracy` and the
  one-call :func:`evaluate_retrieval` / :func:`evaluate_index`.
* Spoken term detection (STD): :func:`std_scores` at one threshold and :func:`std_threshold_sweep`.
* Tokenizer consistency between paired recordings: :func:`token_error_rate`.

Scores are distances throughout: lower is better.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..checks import check_positive_int
from .index import FRAME_DISTANCES, TOKEN_DISTANCES, Vocabulary, Wav2TokIndex

TIES = ("mean", "optimistic", "pessimistic")
LEVELS = ("item", "class")


def rank_of_first_relevant(scores: Sequence[float], relevant: Sequence[bool], ties: str = "mean") -> float:
    """1-based rank of the first relevant item when items are sorted by ascending score.

    Items tied with the best relevant item are resolved by ``ties``: ``"optimistic"`` (relevant first),
    ``"pessimistic"`` (relevant last) or ``"mean"`` (the expected rank under a random order of the tied items:
    with ``b`` better irrelevant items, and ``c`` relevant and ``w`` irrelevant items tied,
    ``b + (c + w + 1) / (c + 1)``).

    Example:
        >>> rank_of_first_relevant([0.1, 0.5, 0.5, 0.9], [False, False, True, False])
        2.5
        >>> rank_of_first_relevant([0.1, 0.5, 0.5, 0.9], [False, False, True, False], ties="optimistic")
        2.0
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} must be 1-D of equal length")
    if ties not in TIES:
        raise ValueError(f"ties={ties!r}; accepted: {TIES}")
    if not relevant.any():
        raise ValueError("no relevant item: the query's class is not in the database")
    best = scores[relevant].min()
    better = int((scores < best).sum())
    tied_relevant = int((relevant & (scores == best)).sum())
    tied_other = int((~relevant & (scores == best)).sum())
    if ties == "optimistic":
        return float(better + 1)
    if ties == "pessimistic":
        return float(better + tied_other + 1)
    return better + (tied_relevant + tied_other + 1) / (tied_relevant + 1)


def mean_reciprocal_rank(ranks: Sequence[float]) -> float:
    """Mean of ``1 / rank`` over queries (ranks are 1-based).

    Example:
        >>> mean_reciprocal_rank([1, 2, 4])
        0.5833333333333334
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0 or (ranks < 1).any():
        raise ValueError("ranks must be a non-empty list of 1-based ranks")
    return float(np.mean(1.0 / ranks))


def top_k_accuracy(ranks: Sequence[float], k: int) -> float:
    """Fraction of queries whose first relevant item is ranked within the top ``k``.

    Example:
        >>> top_k_accuracy([1, 2, 4], k=2)
        0.6666666666666666
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0 or (ranks < 1).any():
        raise ValueError("ranks must be a non-empty list of 1-based ranks")
    check_positive_int("k", k)
    return float(np.mean(ranks <= k))


def evaluate_index(
    index: Wav2TokIndex,
    queries: Sequence,
    query_labels: Sequence[str],
    distance: str | None = None,
    level: str = "item",
    ties: str = "mean",
    top_ks: Sequence[int] = (1, 5, 10),
    vocabulary: Vocabulary | None = None,
    query_versions: bool = False,
) -> dict[str, Any]:
    """Query-by-example metrics of ``queries`` against a filled :class:`Wav2TokIndex`.

    Args:
        query_versions: each query is a list of versions (e.g. its tokens at several pitch shifts), ranked by
            :meth:`Wav2TokIndex.search_versions` (each item's best distance over the versions).
        level: ``"item"`` ranks database items (the paper's MRR: rank of the first item of the correct class);
            ``"class"`` ranks classes by their best item.
        ties: see :func:`rank_of_first_relevant`.

    Returns:
        ``{"mrr", "top1", "top5", ..., "ranks", "search_s_per_query", "num_queries", "num_items", "distance"}``;
        ``search_s_per_query`` is the mean wall time of ranking the whole index for one query.
    """
    if level not in LEVELS:
        raise ValueError(f"level={level!r}; accepted: {LEVELS}")
    if len(queries) != len(query_labels):
        raise ValueError(f"got {len(queries)} queries but {len(query_labels)} labels")
    if len(queries) == 0:
        raise ValueError("no queries to evaluate")
    missing = sorted({str(lab) for lab in query_labels} - set(index._class_codes))
    if missing:
        raise ValueError(f"query labels {missing[:5]} have no item in the index; every query needs a relevant item")
    ranks, elapsed = [], 0.0
    for k, (query, label) in enumerate(zip(queries, query_labels)):
        start = time.perf_counter()
        result = (index.search_versions(query, distance=distance, vocabulary=vocabulary) if query_versions
                  else index.search([query], distance=distance, vocabulary=vocabulary)[0])
        elapsed += time.perf_counter() - start
        if level == "class":
            result = result.by_class()
        labels = index._class_names[index._codes[result.indices]]
        ranks.append(rank_of_first_relevant(result.scores, labels == str(label), ties=ties))
    metrics: dict[str, Any] = {"mrr": mean_reciprocal_rank(ranks)}
    metrics.update({f"top{k}": top_k_accuracy(ranks, k) for k in top_ks})
    metrics.update(ranks=ranks, search_s_per_query=elapsed / len(queries), num_queries=len(queries),
                   num_items=len(index), distance=result.distance)
    return metrics


def evaluate_retrieval(
    query_seqs: Sequence,
    query_labels: Sequence[str],
    db_seqs: Sequence,
    db_labels: Sequence[str],
    distance: str = "levenshtein",
    vocab_size: int | None = None,
    metric: str = "cosine",
    level: str = "item",
    ties: str = "mean",
    top_ks: Sequence[int] = (1, 5, 10),
    substitution_costs: Any = None,
    query_versions: bool = False,
) -> dict[str, Any]:
    """Build an index from ``db_seqs`` and return :func:`evaluate_index` metrics for the queries.

    Token distances need integer sequences (``vocab_size`` defaults to the size of ``substitution_costs`` when given,
    else the largest id + 1; the weighted ones also ``substitution_costs``, a ``(vocab_size, vocab_size)`` matrix); DTW distances need ``(frames, dim)`` arrays
    compared with ``metric``. With ``query_versions``, each query is a list of versions (see :func:`evaluate_index`).

    Example:
        >>> out = evaluate_retrieval([[1, 2, 3], [7, 8]], ["a", "b"], [[1, 2, 3, 4], [7, 8, 9]], ["a", "b"])
        >>> out["mrr"], out["top1"], out["ranks"]
        (1.0, 1.0, [1.0, 1.0])
    """
    if distance in TOKEN_DISTANCES:
        if vocab_size is None and substitution_costs is not None:  # ids the sequences never use still have costs
            vocab_size = len(substitution_costs)
        if vocab_size is None:
            flat_queries = [v for q in query_seqs for v in q] if query_versions else list(query_seqs)
            vocab_size = 1 + max(int(np.max(s)) for s in [*db_seqs, *flat_queries] if len(s))
        index = Wav2TokIndex(vocab_size=vocab_size, vocab_name="evaluate_retrieval", substitution_costs=substitution_costs)
    elif distance in FRAME_DISTANCES:
        index = Wav2TokIndex(frame_dim=int(np.asarray(db_seqs[0]).shape[-1]), vocab_name="evaluate_retrieval",
                             metric=metric)
    else:
        raise ValueError(f"distance={distance!r}; accepted: {TOKEN_DISTANCES + FRAME_DISTANCES}")
    index.add(list(db_seqs), ids=[f"db{i}" for i in range(len(db_seqs))], labels=db_labels)
    return evaluate_index(index, query_seqs, query_labels, distance=distance, level=level, ties=ties, top_ks=top_ks,
                          query_versions=query_versions)


# ---------------------------------------------------------------------- spoken term detection
def _per_keyword(value: Any, name: str) -> dict[Any, list]:
    if isinstance(value, Mapping):
        return {key: list(items) for key, items in value.items()}
    if isinstance(value, (list, tuple)):
        return {None: list(value)}
    raise TypeError(f"{name} must be a list of tuples (one keyword) or a dict keyword -> list, got "
                    f"{type(value).__name__}")


def _match(detections: Any, occurrences: Any, min_overlap: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy one-to-one matching in ascending score order: ``(sorted scores, is_hit, number of occurrences)``."""
    detections, occurrences = _per_keyword(detections, "detections"), _per_keyword(occurrences, "occurrences")
    unknown = sorted(map(str, set(detections) - set(occurrences)))
    if unknown:
        raise ValueError(f"detections for keywords {unknown[:5]} that have no entry in occurrences")
    rows, total = [], 0
    for keyword, items in occurrences.items():
        total += len(items)
        by_utterance: dict[Any, list] = {}
        for occ in items:
            if len(occ) != 3 or not occ[1] <= occ[2]:
                raise ValueError(f"occurrence {occ!r}: expected (utterance_id, start_s, end_s) with start <= end")
            by_utterance.setdefault(occ[0], []).append([float(occ[1]), float(occ[2]), False])
        for det in detections.get(keyword, []):
            if len(det) != 4 or not det[1] <= det[2] or not np.isfinite(det[3]):
                raise ValueError(f"detection {det!r}: expected (utterance_id, start_s, end_s, finite score)")
            rows.append((float(det[3]), by_utterance.get(det[0], []), float(det[1]), float(det[2])))
    rows.sort(key=lambda row: row[0])
    hits = np.zeros(len(rows), dtype=bool)
    for k, (_, candidates, start, end) in enumerate(rows):
        for occ in candidates:
            overlap = min(end, occ[1]) - max(start, occ[0])
            needed = min_overlap * (occ[1] - occ[0])
            if not occ[2] and overlap > 0 and overlap >= needed:
                occ[2] = hits[k] = True
                break
    return np.array([row[0] for row in rows], dtype=np.float64), hits, total


def _prf(hits: int, detections: int, occurrences: int) -> dict[str, float]:
    precision = hits / detections if detections else 0.0
    recall = hits / occurrences if occurrences else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def std_scores(
    detections: Any, occurrences: Any, threshold: float | None = None, min_overlap: float = 0.0
) -> dict[str, float]:
    """Precision, recall and F1 of spoken term detections kept at ``score <= threshold`` (all if ``None``).

    Args:
        detections: ``(utterance_id, start_s, end_s, score)`` tuples for one keyword, or a dict keyword -> list.
        occurrences: the true ``(utterance_id, start_s, end_s)`` of the keyword(s), same nesting.
        min_overlap: a detection hits an occurrence when they overlap by more than this fraction of the
            occurrence's length (``0``: any overlap). Each occurrence is hit at most once (best scores first); other
            detections are false alarms. Counts are pooled over keywords (micro average).

    Example:
        >>> dets = [("u1", 0.9, 1.4, 0.1), ("u1", 1.0, 1.2, 0.2), ("u2", 3.0, 3.5, 0.3), ("u3", 0.0, 0.4, 0.6)]
        >>> occ = [("u1", 1.0, 1.5), ("u3", 0.2, 0.6), ("u4", 0.0, 1.0)]
        >>> std_scores(dets, occ)
        {'precision': 0.5, 'recall': 0.6666666666666666, 'f1': 0.5714285714285715, 'hits': 2, 'detections': 4, 'occurrences': 3}
    """
    scores, hits, total = _match(detections, occurrences, min_overlap)
    keep = scores <= threshold if threshold is not None else np.ones(len(scores), dtype=bool)
    n_hits, n_det = int(hits[keep].sum()), int(keep.sum())
    return {**_prf(n_hits, n_det, total), "hits": n_hits, "detections": n_det, "occurrences": total}


def std_threshold_sweep(
    detections: Any, occurrences: Any, thresholds: Sequence[float] | None = None, min_overlap: float = 0.0
) -> dict[str, Any]:
    """:func:`std_scores` at every threshold (default: every distinct detection score) and the best F1.

    Returns ``{"thresholds", "precision", "recall", "f1"}`` (lists) plus ``best_threshold``, ``best_f1``,
    ``best_precision`` and ``best_recall``.

    Example:
        >>> dets = [("u1", 0.9, 1.4, 0.1), ("u2", 3.0, 3.5, 0.3), ("u3", 0.0, 0.4, 0.6)]
        >>> sweep = std_threshold_sweep(dets, [("u1", 1.0, 1.5), ("u3", 0.2, 0.6)])
        >>> sweep["thresholds"], [round(f, 3) for f in sweep["f1"]], sweep["best_threshold"]
        ([0.1, 0.3, 0.6], [0.667, 0.5, 0.8], 0.6)
    """
    scores, hits, total = _match(detections, occurrences, min_overlap)
    grid = np.unique(scores) if thresholds is None else np.sort(np.asarray(thresholds, dtype=np.float64))
    if grid.size == 0:
        raise ValueError("no thresholds to sweep: there are no detections")
    kept = np.searchsorted(scores, grid, side="right")  # scores are sorted: detections kept at each threshold
    cum_hits = np.concatenate([[0], np.cumsum(hits)])[kept]
    rows = [_prf(int(h), int(d), total) for h, d in zip(cum_hits, kept)]
    out = {"thresholds": grid.tolist(), **{key: [row[key] for row in rows] for key in ("precision", "recall", "f1")}}
    best = int(np.argmax(out["f1"]))
    out.update(best_threshold=out["thresholds"][best], best_f1=out["f1"][best],
               best_precision=out["precision"][best], best_recall=out["recall"][best])
    return out


def std_mean_average_precision(detections: Mapping, occurrences: Mapping, min_overlap: float = 0.0) -> dict[str, Any]:
    """Query-by-example STD MAP: per query, its detections ranked by score (lower = better) and scored by average
    precision, a detection being relevant when it hits an occurrence of the query's word (as in :func:`std_scores`).

    The number of relevant items of a query is the number of utterances holding its word (one detection per
    utterance can find at most one occurrence there), so a missed utterance lowers AP. Returns ``{"map", "ap"
    (per query, in ``occurrences`` order)}``; for the chance level see ``retrieval.std.random_detector_map``.

    Example:
        >>> dets = {"q": [("u1", 0.0, 0.5, 0.1), ("u2", 0.0, 0.5, 0.2), ("u3", 1.0, 1.5, 0.3)]}
        >>> std_mean_average_precision(dets, {"q": [("u2", 0.1, 0.4), ("u3", 1.2, 1.4)]})["map"]
        0.5833333333333333
    """
    detections, occurrences = _per_keyword(detections, "detections"), _per_keyword(occurrences, "occurrences")
    aps = []
    for keyword, items in occurrences.items():
        relevant = len({occ[0] for occ in items})
        found = detections.get(keyword, [])
        _, hits, _ = _match({keyword: found}, {keyword: items}, min_overlap)
        if relevant == 0:
            continue
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / relevant))
    if not aps:
        raise ValueError("no query has an occurrence of its word: MAP is undefined")
    return {"map": float(np.mean(aps)), "ap": aps}


# ---------------------------------------------------------------------- token consistency
def tokens_to_text(tokens: Sequence[int]) -> str:
    """``[3, 17]`` -> ``"t3 t17"``, the word form used for token error rates."""
    return " ".join(f"t{int(t)}" for t in tokens)


def token_error_rate(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> float:
    """Token error rate (jiwer WER over ``"t3 t17 ..."`` strings) between paired token sequences, e.g. the tokens
    of a recording and of its pitch-shifted copy: 0 means perfectly consistent tokenisation.

    Example:
        >>> token_error_rate([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6]])
        0.2
    """
    import jiwer

    if len(references) != len(hypotheses) or not len(references):
        raise ValueError(f"need equally many (>0) references and hypotheses, got {len(references)} and "
                         f"{len(hypotheses)}")
    empty = [k for k, ref in enumerate(references) if len(ref) == 0]
    if empty:
        raise ValueError(f"reference token sequences {empty[:5]} are empty; the error rate is undefined for them")
    return float(jiwer.wer([tokens_to_text(r) for r in references],
                           [tokens_to_text(h) if len(h) else "" for h in hypotheses]))
