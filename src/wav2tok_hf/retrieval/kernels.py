"""Distance kernels behind :class:`~wav2tok_hf.retrieval.Wav2TokIndex`.

* Edit distance (ED) between token strings runs in :mod:`rapidfuzz` (bit-parallel C++), on token ids mapped to
  code points (``chr(id)``), which is ~2x faster than passing lists of ints.
* Semi-global ED (subsequence search), DTW and subsequence DTW run in numba-jitted dynamic programmes,
  parallel over database items (``prange``).

A database of many sequences is stored "flat": one concatenated array plus ``offsets`` (item ``i`` is
``flat[offsets[i]:offsets[i + 1]]``), so one kernel call covers the whole database without Python loops.

Conventions (shared by every kernel):

* ``levenshtein``: unit-cost insert / delete / substitute.
* ``weighted_levenshtein``: unit-cost insert / delete, substitution of token ``a`` by ``b`` at ``costs[a, b]``
  (e.g. ``Wav2TokModel.substitution_costs()``: near codewords are cheap to confuse); the costs should lie in
  ``[0, 2]`` (2 = a deletion plus an insertion).
* ``semiglobal_levenshtein``: the query must be matched completely, the target segment ``target[start:end]``
  is free to start and end anywhere (no cost for skipping target tokens before ``start`` or after ``end``).
  Among equal costs the earliest ``end`` wins, and for that end the alignment preferring substitution/match, then
  skipping a query token, then skipping a target token.
* ``dtw``: steps (1, 1), (1, 0), (0, 1), all with weight 1 (librosa's default), accumulated cost divided by
  ``len(query) + len(target)``.
* ``subsequence_dtw``: the same steps, free start and end in the target, accumulated cost divided by ``len(query)``.
  ``target[start:end]`` is the matched segment.
"""

from __future__ import annotations

import numba
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_CODE_POINT = 0x110000
"""Token ids must be below this to be mapped to one character each (Unicode's code point range)."""

FRAME_METRICS = ("cosine", "euclidean")

_CHUNK_CELLS = 1 << 22  # frame-cost matrix cells per GEMM chunk (16 MiB of float32)


def tokens_to_str(tokens: np.ndarray | list[int]) -> str:
    """Map a token id sequence to a string, one code point per token, for rapidfuzz.

    Example:
        >>> tokens_to_str([72, 105])
        'Hi'
    """
    return "".join(map(chr, np.asarray(tokens, dtype=np.int64).tolist()))


def smallest(scores: np.ndarray, k: int | None) -> np.ndarray:
    """Positions of the ``k`` smallest scores, ascending, ties in position order: ``np.argsort(scores,
    kind="stable")[:k]`` without sorting the whole array (a partition, then a sort of the scores at or below the
    k-th).

    Example:
        >>> smallest(np.array([3.0, 1.0, 2.0, 1.0]), 2).tolist()
        [1, 3]
    """
    if k is None or k >= len(scores):
        return np.argsort(scores, kind="stable")
    kth = np.partition(scores, k - 1)[k - 1]
    head = np.flatnonzero(scores <= kth)
    return head[np.argsort(scores[head], kind="stable")][:k]


def levenshtein_cdist(
    queries: list[str], targets: list[str], normalized: bool = False, workers: int = -1
) -> np.ndarray:
    """ED of every query against every target, ``(len(queries), len(targets))``.

    ``normalized=True`` divides each distance by ``max(len(query), len(target))`` (float in [0, 1]).

    Example:
        >>> levenshtein_cdist(["abc"], ["abc", "axc", ""]).tolist()
        [[0, 1, 3]]
    """
    scorer = Levenshtein.normalized_distance if normalized else Levenshtein.distance
    dtype = np.float32 if normalized else np.int32
    return process.cdist(queries, targets, scorer=scorer, dtype=dtype, workers=workers)


@numba.njit(cache=True, nogil=True)
def _weighted_one(query, target, costs):
    n = target.shape[0]
    prev = np.empty(n + 1, np.float64)
    cur = np.empty(n + 1, np.float64)
    for j in range(n + 1):
        prev[j] = j
    for i in range(1, query.shape[0] + 1):
        qi = query[i - 1]
        cur[0] = i
        for j in range(1, n + 1):
            best = prev[j - 1] + costs[qi, target[j - 1]]
            if prev[j] + 1.0 < best:
                best = prev[j] + 1.0
            if cur[j - 1] + 1.0 < best:
                best = cur[j - 1] + 1.0
            cur[j] = best
        prev, cur = cur, prev
    return prev[n]


@numba.njit(cache=True, parallel=True)
def _weighted_batch(query, flat, offsets, costs, out):
    for k in numba.prange(offsets.shape[0] - 1):
        out[k] = _weighted_one(query, flat[offsets[k]:offsets[k + 1]], costs)


def weighted_levenshtein(query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """ED of ``query`` against each target of a flat database, with unit insert / delete and the substitution
    ``costs[a, b]`` (a ``(K, K)`` matrix over the token ids).

    Example:
        >>> import numpy as np
        >>> costs = np.array([[0, 0.5, 2], [0.5, 0, 2], [2, 2, 0]], np.float32)
        >>> flat = np.array([0, 1, 0, 2], np.int32)
        >>> weighted_levenshtein(np.array([0, 0], np.int32), flat, np.array([0, 2, 4]), costs).tolist()
        [0.5, 2.0]
    """
    out = np.empty(len(offsets) - 1, np.float64)
    _weighted_batch(np.ascontiguousarray(query, np.int32), np.ascontiguousarray(flat, np.int32),
                    np.ascontiguousarray(offsets, np.int64), np.ascontiguousarray(costs, np.float32), out)
    return out


# Kept apart from _weighted_one on purpose: the same DP through a 0/1 cost matrix measured 1.2-1.6x slower over
# 100k items (int32 compare vs float64 cost lookups), and plain ED is the fast search's refine step.
@numba.njit(cache=True, nogil=True)
def _levenshtein_one(query, target):
    n = target.shape[0]
    prev = np.empty(n + 1, np.int32)
    cur = np.empty(n + 1, np.int32)
    for j in range(n + 1):
        prev[j] = j
    for i in range(1, query.shape[0] + 1):
        qi = query[i - 1]
        cur[0] = i
        for j in range(1, n + 1):
            best = prev[j - 1] + (0 if qi == target[j - 1] else 1)
            if prev[j] + 1 < best:
                best = prev[j] + 1
            if cur[j - 1] + 1 < best:
                best = cur[j - 1] + 1
            cur[j] = best
        prev, cur = cur, prev
    return prev[n]


@numba.njit(cache=True, nogil=True)
def _subset_distances(query, flat, offsets, items, costs, weighted, out):
    for k in range(items.shape[0]):
        item = items[k]
        target = flat[offsets[item]:offsets[item + 1]]
        out[k] = _weighted_one(query, target, costs) if weighted else _levenshtein_one(query, target)


def subset_distances(query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, items: np.ndarray,
                     costs: np.ndarray | None = None) -> np.ndarray:
    """ED (``costs=None``) or weighted ED of ``query`` against the listed ``items`` of a flat database, on one
    thread (the refine step of the fast top-k search, which touches a few thousand items).

    Example:
        >>> import numpy as np
        >>> flat = np.array([0, 1, 2, 0, 2, 1], np.int32)
        >>> subset_distances(np.array([0, 1, 2], np.int32), flat, np.array([0, 3, 6]), np.array([1, 0])).tolist()
        [2.0, 0.0]
    """
    out = np.empty(len(items), np.float64)
    weighted = costs is not None
    table = np.ascontiguousarray(costs if weighted else np.zeros((1, 1)), np.float32)
    _subset_distances(np.ascontiguousarray(query, np.int32), flat, offsets, np.ascontiguousarray(items, np.int64),
                      table, weighted, out)
    return out


def rank_subset(query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, items: np.ndarray, k: int,
                normalized: bool, costs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of the listed ``items`` by exact ED (``costs=None``) or weighted ED, divided by the longer
    length when ``normalized``; ``(items, scores)`` best first, ties in item order (as the exhaustive ranking): the
    refine step of every candidate search.

    Example:
        >>> import numpy as np
        >>> flat = np.array([0, 1, 2, 0, 2, 1, 0, 1], np.int32)
        >>> rank_subset(np.array([0, 1], np.int32), flat, np.array([0, 3, 6, 8]), np.array([2, 1, 0]), 2, False)
        (array([2, 0]), array([0., 1.]))
    """
    chunk = np.sort(np.asarray(items)).astype(np.int64)
    query = np.ascontiguousarray(query, np.int32)
    scores = subset_distances(query, np.ascontiguousarray(flat, np.int32), np.ascontiguousarray(offsets, np.int64),
                              chunk, costs)
    if normalized:
        scores = scores / np.maximum(len(query), offsets[chunk + 1] - offsets[chunk])
    order = smallest(scores, k)
    return chunk[order], scores[order]


@numba.njit(cache=True, nogil=True)
def _semiglobal_one(query, target):
    m = query.shape[0]
    n = target.shape[0]
    prev = np.empty(n + 1, np.int32)
    cur = np.empty(n + 1, np.int32)
    prev_start = np.empty(n + 1, np.int64)
    cur_start = np.empty(n + 1, np.int64)
    for j in range(n + 1):  # row 0: empty query prefix matches the empty segment starting at j
        prev[j] = 0
        prev_start[j] = j
    for i in range(1, m + 1):
        qi = query[i - 1]
        cur[0] = i
        cur_start[0] = 0
        for j in range(1, n + 1):
            best = prev[j - 1] + (0 if qi == target[j - 1] else 1)
            start = prev_start[j - 1]
            up = prev[j] + 1  # query token i unmatched
            if up < best:
                best = up
                start = prev_start[j]
            left = cur[j - 1] + 1  # target token j unmatched inside the segment
            if left < best:
                best = left
                start = cur_start[j - 1]
            cur[j] = best
            cur_start[j] = start
        prev, cur = cur, prev
        prev_start, cur_start = cur_start, prev_start
    best_end = 0
    for j in range(1, n + 1):
        if prev[j] < prev[best_end]:
            best_end = j
    return prev[best_end], prev_start[best_end], best_end


@numba.njit(cache=True, parallel=True)
def _semiglobal_batch(query, flat, offsets, costs, starts, ends):
    for k in numba.prange(offsets.shape[0] - 1):
        cost, start, end = _semiglobal_one(query, flat[offsets[k]:offsets[k + 1]])
        costs[k] = cost
        starts[k] = start
        ends[k] = end


@numba.njit(cache=True, nogil=True)
def _semiglobal_subset(query, flat, offsets, items, costs, starts, ends):
    for k in range(items.shape[0]):
        cost, start, end = _semiglobal_one(query, flat[offsets[items[k]]:offsets[items[k] + 1]])
        costs[k] = cost
        starts[k] = start
        ends[k] = end


def semiglobal_levenshtein(
    query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, items: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semi-global ED of ``query`` inside each target of a flat database (or only the listed ``items``, on one
    thread: the refine step of the fast search).

    Returns ``(costs, starts, ends)``; ``target[start:end]`` is the best-matching segment.

    Example:
        >>> import numpy as np
        >>> flat = np.array([5, 1, 2, 3, 6, 1, 9, 3], dtype=np.int32)
        >>> costs, starts, ends = semiglobal_levenshtein(np.array([1, 2, 3], np.int32), flat, np.array([0, 5, 8]))
        >>> costs.tolist(), starts.tolist(), ends.tolist()
        ([0, 1], [1, 0], [4, 3])
    """
    n_items = len(offsets) - 1 if items is None else len(items)
    costs = np.empty(n_items, np.int32)
    starts = np.empty(n_items, np.int64)
    ends = np.empty(n_items, np.int64)
    args = (np.ascontiguousarray(query, np.int32), np.ascontiguousarray(flat, np.int32),
            np.ascontiguousarray(offsets, np.int64))
    if items is None:
        _semiglobal_batch(*args, costs, starts, ends)
    else:
        _semiglobal_subset(*args, np.ascontiguousarray(items, np.int64), costs, starts, ends)
    return costs, starts, ends


MYERS_MAX_QUERY = 64
"""The longest query :func:`semiglobal_ends` takes (one 64-bit word per column)."""


@numba.njit(inline="always")
def myers_column(eq, plus, minus, high, top):
    """One target token of Myers' (1999) bit-vector ED: the next DP column's vertical deltas (``plus`` / ``minus``,
    one bit per query row) from the query's match mask ``eq`` of that token, and the change of the last row's cost
    (+1, -1 or 0; ``high`` is that row's bit). ``top`` is the horizontal delta entering at row 0: 1 for the global ED
    (D[0, j] = j), 0 for the semi-global one (row 0 free). Shared by the kernels here and the graph's metric."""
    one = np.uint64(1)
    xv = eq | minus
    xh = (((eq & plus) + plus) ^ plus) | eq
    ph = minus | ~(xh | plus)
    mh = plus & xh
    delta = np.int64((ph & high) != 0) - np.int64((mh & high) != 0)  # branch-free: the signs are unpredictable
    ph = (ph << one) | top
    return (mh << one) | ~(xv | ph), ph & xv, delta


@numba.njit(cache=True, nogil=True)
def _myers_one(peq, m, target):
    """Myers' (1999) bit-vector semi-global ED: the vertical deltas of a DP column live in two 64-bit words, so a
    target token costs a few word operations instead of ``m`` cells. Returns (least cost, its earliest end)."""
    plus, minus = ~np.uint64(0), np.uint64(0)  # column 0: D[i, 0] = i, every vertical delta +1
    high = np.uint64(1) << np.uint64(m - 1)
    score = best = m
    best_end = 0
    for j in range(target.shape[0]):
        token = target[j]
        eq = peq[token] if token < peq.shape[0] else np.uint64(0)
        plus, minus, delta = myers_column(eq, plus, minus, high, np.uint64(0))  # row 0 is free
        score += delta
        if score < best:
            best = score
            best_end = j + 1
    return best, best_end


@numba.njit(cache=True, parallel=True)
def _myers_spans(peq, m, flat, starts, ends, costs, out_ends):
    for k in numba.prange(starts.shape[0]):
        costs[k], out_ends[k] = _myers_one(peq, m, flat[starts[k]:ends[k]])


def semiglobal_ends(query: np.ndarray, flat: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The semi-global ED of ``query`` (at most :data:`MYERS_MAX_QUERY` tokens) inside each span
    ``flat[starts[k]:ends[k]]`` and its earliest end (as :func:`semiglobal_levenshtein`, whose segment start it
    omits), by Myers' bit-parallel algorithm: a few word operations per target token, not ``len(query)`` cells.

    Example:
        >>> import numpy as np
        >>> flat = np.array([5, 1, 2, 3, 6, 1, 9, 3], dtype=np.int32)
        >>> costs, ends = semiglobal_ends(np.array([1, 2, 3], np.int32), flat, np.array([0, 5]), np.array([5, 8]))
        >>> costs.tolist(), ends.tolist()
        ([0, 1], [4, 3])
    """
    query = np.asarray(query, np.int64)
    if not 0 < len(query) <= MYERS_MAX_QUERY:
        raise ValueError(f"query of {len(query)} tokens; semiglobal_ends takes 1 to {MYERS_MAX_QUERY}")
    peq = np.zeros(int(query.max()) + 1, np.uint64)  # bit i of peq[t]: query[i] == t
    np.bitwise_or.at(peq, query, np.left_shift(np.uint64(1), np.arange(len(query), dtype=np.uint64)))
    costs, out_ends = np.empty(len(starts), np.int32), np.empty(len(starts), np.int64)
    _myers_spans(peq, len(query), np.ascontiguousarray(flat, np.int32), np.ascontiguousarray(starts, np.int64),
                 np.ascontiguousarray(ends, np.int64), costs, out_ends)
    return costs, out_ends


@numba.njit(cache=True, nogil=True)
def _dtw_one(cost, subsequence):
    """DTW over a (query frames x target frames) cost matrix; returns (accumulated cost, start, end)."""
    m, n = cost.shape
    prev = np.empty(n, np.float64)
    cur = np.empty(n, np.float64)
    prev_start = np.empty(n, np.int64)
    cur_start = np.empty(n, np.int64)
    for j in range(n):
        if subsequence:
            prev[j] = cost[0, j]
            prev_start[j] = j
        else:
            prev[j] = cost[0, j] + (prev[j - 1] if j > 0 else 0.0)
            prev_start[j] = 0
    for i in range(1, m):
        cur[0] = prev[0] + cost[i, 0]
        cur_start[0] = prev_start[0]
        for j in range(1, n):
            best = prev[j - 1]
            start = prev_start[j - 1]
            if prev[j] < best:
                best = prev[j]
                start = prev_start[j]
            if cur[j - 1] < best:
                best = cur[j - 1]
                start = cur_start[j - 1]
            cur[j] = best + cost[i, j]
            cur_start[j] = start
        prev, cur = cur, prev
        prev_start, cur_start = cur_start, prev_start
    end = n - 1
    if subsequence:
        for j in range(n - 1):
            if prev[j] < prev[end]:
                end = j
    return prev[end], prev_start[end], end + 1


@numba.njit(cache=True, parallel=True)
def _dtw_segments(cost, seg_offsets, subsequence, out_cost, out_start, out_end):
    for k in numba.prange(seg_offsets.shape[0] - 1):
        total, start, end = _dtw_one(cost[:, seg_offsets[k]:seg_offsets[k + 1]], subsequence)
        out_cost[k] = total
        out_start[k] = start
        out_end[k] = end


def frame_costs(query: np.ndarray, frames: np.ndarray, metric: str) -> np.ndarray:
    """Pairwise frame cost ``(len(query), len(frames))``: ``1 - dot`` (``cosine``, rows assumed unit-norm) or
    euclidean distance.

    Example:
        >>> import numpy as np
        >>> frame_costs(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), "cosine").tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    dots = query @ frames.T
    if metric == "cosine":
        return 1.0 - dots
    if metric == "euclidean":
        squared = (query * query).sum(1)[:, None] + (frames * frames).sum(1)[None, :] - 2.0 * dots
        return np.sqrt(np.maximum(squared, 0.0))
    raise ValueError(f"metric={metric!r}; accepted: {FRAME_METRICS}")


def dtw_search(
    query: np.ndarray, frames: np.ndarray, offsets: np.ndarray, metric: str = "cosine", subsequence: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Subsequence) DTW of a query ``(frames, dim)`` against every item of a flat frame database.

    Frame costs are computed in GEMM chunks (BLAS), the dynamic programme in numba, parallel over items.
    Returns ``(normalised costs, starts, ends)`` (see the module docstring for the normalisation).

    Example:
        >>> import numpy as np
        >>> frames = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
        >>> costs, starts, ends = dtw_search(frames[:2], frames, np.array([0, 2, 4]), "euclidean", subsequence=True)
        >>> costs.tolist(), starts.tolist(), ends.tolist()
        ([0.0, 0.0], [0, 0], [2, 2])
    """
    query = np.ascontiguousarray(query, np.float32)
    offsets = np.asarray(offsets, np.int64)
    n_items = len(offsets) - 1
    costs = np.empty(n_items, np.float64)
    starts = np.empty(n_items, np.int64)
    ends = np.empty(n_items, np.int64)
    frames_per_chunk = max(1, _CHUNK_CELLS // max(1, len(query)))
    first = 0
    while first < n_items:
        last = int(np.searchsorted(offsets, offsets[first] + frames_per_chunk, side="right")) - 1
        last = min(max(last, first + 1), n_items)  # at least one item per chunk, however long
        lo, hi = offsets[first], offsets[last]
        cost = frame_costs(query, frames[lo:hi], metric)
        _dtw_segments(cost, offsets[first:last + 1] - lo, subsequence,
                      costs[first:last], starts[first:last], ends[first:last])
        first = last
    lengths = np.diff(offsets)
    costs /= len(query) if subsequence else (len(query) + lengths)
    return costs, starts, ends
