"""Fast top-k search over token strings: a bigram inverted index (filter) and exact distances on a shortlist (refine).

The filter is a CSR inverted index (``indptr``, ``postings``) from each token bigram to the items holding it, one
posting per occurrence. For a query it counts, per item, the bigrams the two strings share (the multiset intersection
``sum_g min(c_q(g), c_x(g))``; bigrams sharing a hash bucket can only add), which gives the q-gram lemma's lower bound
on the edit distance: one edit destroys at most two bigrams, so

    ED(q, x) >= max(|len q - len x|, (max(len q, len x) - 1 - shared) / 2).

The refine step computes exact distances (numba kernels) block by block, candidates in ascending lower-bound order,
and stops as soon as the k-th best exact distance is below the bound of every item not yet verified (including items
sharing no bigram): the result is then provably the exhaustive top-k. For the codebook-weighted ED the bound is
scaled by the cheapest substitution (``min(1, costs off the diagonal)``), since a weighted edit costs at least that.

When the query is far from everything (normalised distances ~0.5, as for real hums against references) the bound
cannot prune; one probe block of verified distances shows it (one pass over the query's posting lists, an
``argpartition``, 256 exact distances: no sort of the touched items), and the search falls back to the full scan
(rapidfuzz / the parallel weighted kernel), so results are always exact and the latency stays close to the scan's.

A range search (``within``: every item at most ``max_score`` away) uses the bound as a pure filter: an item bounded
above ``max_score`` cannot qualify, and only the others are verified.

Spoken term detection (semi-global ED of a short query inside long recordings) runs over windows of the recordings
(:class:`WindowGramIndex`): a range search filters the windows by every bigram of the query, and the top-k is a
sequence of range searches of rising cost, each filtered by prefix filtering (only the query's rarest bigrams, as many
as the allowed edits need).

Hand-written numba rather than ``scipy.sparse`` products: counting, the bound and the list of touched items come out
of one pass over the query's posting lists, without an items-long sparse result per query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from . import kernels

MAX_BUCKETS = 1 << 20
"""Bigram ids are hashed into at most this many posting lists (vocabularies above 1024 tokens share lists; a shared
list only over-counts, which loosens the bound but keeps it valid)."""


@numba.njit(cache=True)
def _bigram_keys(flat, starts, ends, vocab_size, buckets, out, owners):
    n = 0
    for item in range(starts.shape[0]):
        for p in range(starts[item], ends[item] - 1):
            out[n] = (np.int64(flat[p]) * vocab_size + flat[p + 1]) % buckets
            owners[n] = item
            n += 1
    return n


@numba.njit(cache=True)
def _count_shared(query_keys, query_counts, indptr, postings, counts, touched, track):
    """Adds each item's shared bigrams to ``counts``; with ``track``, lists the items it touches first in ``touched``
    (returns how many)."""
    n_touched = 0
    for g in range(query_keys.shape[0]):
        key, run, last = query_keys[g], 0, -1
        for p in range(indptr[key], indptr[key + 1]):  # an item's postings of one key are adjacent
            item = postings[p]
            run = run + 1 if item == last else 1
            last = item
            if run > query_counts[g]:  # min(c_q, c_x): the item's extra occurrences match nothing
                continue
            if track and counts[item] == 0:
                touched[n_touched] = item
                n_touched += 1
            counts[item] += 1
    return n_touched


@numba.njit(cache=True)
def _bounds(query_length, touched, counts, lengths, normalized, scale, out):
    for k in range(touched.shape[0]):
        item = touched[k]
        length = lengths[item]
        longest = max(query_length, length)
        by_grams = 0.5 * (longest - 1 - counts[item]) * scale
        bound = max(abs(query_length - length), by_grams, 0.0)
        out[k] = bound / longest if normalized else bound


def _untouched_bound(query_length: int, length_values: np.ndarray, normalized: bool, scale: float) -> float:
    """The smallest lower bound of an item that shares no bigram with the query (over the lengths present)."""
    if len(length_values) == 0:
        return np.inf
    longest = np.maximum(query_length, length_values)
    bound = np.maximum(np.abs(query_length - length_values), 0.5 * (longest - 1) * scale)
    return float((bound / longest if normalized else bound).min())


def _spans(flat: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spans ``flat[lo[k]:hi[k]]`` end to end, and their offsets there (one gather, no Python loop)."""
    sizes = hi - lo
    local = np.concatenate([[0], np.cumsum(sizes)])
    return flat[np.arange(local[-1]) + np.repeat(lo - local[:-1], sizes)], local


def _cheapest_edit(costs: np.ndarray | None) -> float:
    """The least a weighted edit costs (``min(1, costs off the diagonal)``; 1 for plain ED): scales the bounds."""
    return 1.0 if costs is None else float(min(1.0, np.min(costs + np.eye(len(costs)) * 2)))


@dataclass
class TopK:
    """Result of :meth:`QGramIndex.top_k` / ``within``: item positions and exact distances, best first, the number of
    exact distances computed (``verified``) and the stage that answered (1: bigram filter and refine, 2: full scan)."""

    indices: np.ndarray
    scores: np.ndarray
    verified: int
    stage: int
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None


class QGramIndex:
    """Bigram inverted index over a flat token database (``flat[offsets[i]:offsets[i + 1]]`` is item ``i``).

    Example:
        >>> import numpy as np
        >>> flat = np.array([1, 2, 3, 4, 5, 6, 7, 1, 2, 4], np.int32)
        >>> offsets = np.array([0, 4, 7, 10])
        >>> grams = QGramIndex.build(flat, offsets, vocab_size=10)
        >>> strings = lambda: [kernels.tokens_to_str(flat[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
        >>> top = grams.top_k(np.array([1, 2, 3, 4], np.int32), flat, offsets, k=1, normalized=False, strings=strings)
        >>> top.indices.tolist(), top.scores.tolist(), top.stage
        ([0], [0.0], 1)
    """

    def __init__(self, indptr: np.ndarray, postings: np.ndarray, lengths: np.ndarray, vocab_size: int):
        self.indptr = np.asarray(indptr, np.int64)
        self.postings = np.asarray(postings, np.int32)
        self.lengths = np.asarray(lengths, np.int32)
        self.vocab_size = int(vocab_size)
        self.buckets = len(self.indptr) - 1
        self.length_values = np.unique(self.lengths)

    @classmethod
    def build(cls, flat: np.ndarray, offsets: np.ndarray, vocab_size: int,
              spans: tuple[np.ndarray, np.ndarray] | None = None) -> QGramIndex:
        """Index every bigram of every item (or of every ``(starts, ends)`` span of ``flat``: see
        :class:`WindowGramIndex`)."""
        flat = np.ascontiguousarray(flat, np.int32)
        starts, ends = spans if spans is not None else (offsets[:-1], offsets[1:])
        starts, ends = np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64)
        buckets = int(min(vocab_size * vocab_size, MAX_BUCKETS))
        total = int(np.maximum(ends - starts - 1, 0).sum())
        keys, owners = np.empty(total, np.int64), np.empty(total, np.int32)
        n = _bigram_keys(flat, starts, ends, vocab_size, buckets, keys, owners)
        keys, owners = keys[:n], owners[:n]
        order = np.argsort(keys, kind="stable")  # stable: postings of a bigram stay in item order
        indptr = np.zeros(buckets + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=buckets), out=indptr[1:])
        return cls(indptr, owners[order], ends - starts, vocab_size)

    def query_keys(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, np.int64)
        return (query[:-1] * self.vocab_size + query[1:]) % self.buckets

    def shared(self, query: np.ndarray) -> np.ndarray:
        """Per item, the bigrams it shares with ``query`` (multiset intersection; keys sharing a hash bucket can only
        add)."""
        return self._count(query, track=False)[0]

    def _count(self, query: np.ndarray, track: bool) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`shared`, and with ``track`` the items sharing at least one bigram."""
        counts = np.zeros(len(self.lengths), np.int32)  # per call: searches may run in several threads
        touched = np.empty(len(self.lengths) if track else 0, np.int32)
        keys, repeats = np.unique(self.query_keys(query), return_counts=True)
        n = _count_shared(keys, repeats, self.indptr, self.postings, counts, touched, track)
        return counts, touched[:n]

    def bounds(self, query: np.ndarray, normalized: bool,
               scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
        """Lower bounds of the items sharing a bigram with ``query``: ``(items, bounds, bound of all other items)``."""
        counts, touched = self._count(query, track=True)
        touched = touched.copy()
        out = np.empty(len(touched), np.float64)
        _bounds(len(query), touched, counts, self.lengths, normalized, scale, out)
        return touched, out, _untouched_bound(len(query), self.length_values, normalized, scale)

    def top_k(
        self,
        query: np.ndarray,
        flat: np.ndarray,
        offsets: np.ndarray,
        k: int,
        normalized: bool,
        strings: Callable[[], list[str]],
        costs: np.ndarray | None = None,
        max_candidates: int = 4000,
        block: int = 256,
        scan: bool = False,
    ) -> TopK:
        """The exact ``k`` items nearest to ``query`` by (normalised, optionally weighted) ED, ties in item order.

        Stage 1 first verifies the ``block`` items of lowest bigram lower bound (a probe), then, in ascending bound
        order, the other items bounded at or below the probe's k-th best, until the k-th best exact distance is below
        every remaining bound. When more than ``max_candidates`` items are bounded at or below the probe's k-th best
        (the bound is too weak to prune: the query is far from everything), stage 2 at once scans every item
        (rapidfuzz for ED, the parallel numba kernel for weighted ED). Either way the result is the exhaustive top-k
        (``stage`` says which stage answered). ``scan`` goes straight to stage 2 (spoken term detection:
        :class:`WindowGramIndex`).
        """
        query = np.ascontiguousarray(query, np.int32)
        if scan:
            return self._full_scan(query, flat, offsets, min(k, len(self.lengths)), normalized, strings, costs)
        scale = _cheapest_edit(costs)
        k = min(k, len(self.lengths))
        items, bounds, rest_bound = self.bounds(query, normalized, scale)
        flat = np.ascontiguousarray(flat, np.int32)
        offsets = np.ascontiguousarray(offsets, np.int64)
        # Probe: verify the `block` items with the lowest bounds (argpartition, no sort). Their k-th best distance
        # caps the final one, so only items bounded at or below it can still enter; when too many are (the bound
        # cannot prune), scan everything now, before any sort or further verification.
        probe = np.argpartition(bounds, block)[:block] if len(bounds) > block else np.arange(len(bounds))
        found = _Best(k)
        chunk = items[probe].astype(np.int64)
        if len(chunk) == 0:  # no item shares a bigram with the query
            return self._full_scan(query, flat, offsets, k, normalized, strings, costs)
        found.update(chunk, self._distances(query, flat, offsets, chunk, normalized, costs))
        limit = found.worst if found.full else np.inf
        untouched = len(self.lengths) - len(items)
        left = bounds <= limit
        left[probe] = False
        n_left = int(np.count_nonzero(left))
        if (untouched and rest_bound <= limit) or n_left > max_candidates:
            return self._full_scan(query, flat, offsets, k, normalized, strings, costs)
        items, bounds = items[left], bounds[left]
        order = np.lexsort((items, bounds))  # ascending bound, then insertion order (at most max_candidates)
        items, bounds = items[order], bounds[order]
        done = 0
        while done < len(items) and not (found.full and found.worst < bounds[done]):
            chunk = items[done:done + block].astype(np.int64)
            found.update(chunk, self._distances(query, flat, offsets, chunk, normalized, costs))
            done += len(chunk)
        return TopK(found.items, found.scores, len(probe) + done, 1)

    def within(self, query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, max_score: float, normalized: bool,
               strings: Callable[[], list[str]], costs: np.ndarray | None = None,
               max_candidates: int = 4000) -> TopK:
        """Every item whose (normalised, optionally weighted) ED to ``query`` is at most ``max_score``, best first, ties
        in item order: the exhaustive ranking cut at ``max_score``. The bigram bound is a filter (an item bounded above
        ``max_score`` cannot qualify) and the exact distance runs on the rest (stage 1), or on every item (stage 2)
        when items sharing no bigram may qualify or more than ``max_candidates`` pass the filter.

        Example:
            >>> import numpy as np
            >>> flat, offsets = np.array([1, 2, 3, 4, 5, 6, 7, 1, 2, 4], np.int32), np.array([0, 4, 7, 10])
            >>> grams = QGramIndex.build(flat, offsets, vocab_size=10)
            >>> hits = grams.within(np.array([1, 2, 3, 4], np.int32), flat, offsets, 1, False,
            ...                     lambda: [kernels.tokens_to_str(flat[a:b]) for a, b in zip(offsets[:-1], offsets[1:])])
            >>> hits.indices.tolist(), hits.scores.tolist(), hits.stage
            ([0, 2], [0.0, 1.0], 1)
        """
        query = np.ascontiguousarray(query, np.int32)
        flat = np.ascontiguousarray(flat, np.int32)
        offsets = np.ascontiguousarray(offsets, np.int64)
        items, bounds, rest_bound = self.bounds(query, normalized, _cheapest_edit(costs))
        untouched = len(items) < len(self.lengths) and rest_bound <= max_score
        items = np.sort(items[bounds <= max_score]).astype(np.int64)
        if untouched or len(items) > max_candidates:
            scores = self._scan(query, flat, offsets, normalized, strings, costs)
            items, stage, verified = np.flatnonzero(scores <= max_score), 2, len(scores)
            scores = scores[items]
        else:
            scores = self._distances(query, flat, offsets, items, normalized, costs)
            stage, verified, keep = 1, len(items), scores <= max_score
            items, scores = items[keep], scores[keep]
        order = np.argsort(scores, kind="stable")  # items ascending: ties stay in item order
        return TopK(items[order], scores[order], verified, stage)

    def approximate_top_k(self, query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, k: int, normalized: bool,
                          candidates: int, costs: np.ndarray | None = None) -> TopK:
        """APPROXIMATE top-``k``: the exact distance on only the ``candidates`` items of lowest plain-ED bigram bound
        (the most shared bigrams for their length), best first, ties in item order. Not guaranteed exact: an item whose
        bound is loose can be missed (``stage`` 3; recall against the exhaustive ranking is measured in
        ``scripts/bench_scale.py``)."""
        query = np.ascontiguousarray(query, np.int32)
        items, bounds, _ = self.bounds(query, normalized)  # unscaled: ranks by shared bigrams, also for weighted ED
        if len(items) > candidates:
            items = items[np.argpartition(bounds, candidates - 1)[:candidates]]
        best, scores = kernels.rank_subset(query, flat, offsets, items, k, normalized, costs)
        return TopK(best, scores, len(items), 3)

    def _distances(self, query, flat, offsets, chunk, normalized, costs) -> np.ndarray:
        scores = kernels.subset_distances(query, flat, offsets, chunk, costs)
        return scores / np.maximum(len(query), self.lengths[chunk]) if normalized else scores

    def _full_scan(self, query, flat, offsets, k, normalized, strings, costs) -> TopK:
        scores = self._scan(query, flat, offsets, normalized, strings, costs)
        order = kernels.smallest(scores, k)
        return TopK(order.astype(np.int64), scores[order], len(scores), 2)

    def _scan(self, query, flat, offsets, normalized, strings, costs) -> np.ndarray:
        """Every item's (normalised, optionally weighted) ED to ``query``."""
        if costs is None:  # rapidfuzz, bit-parallel
            scores = kernels.levenshtein_cdist([kernels.tokens_to_str(query)], strings(), normalized=False)[0]
        else:
            scores = kernels.weighted_levenshtein(query, flat, offsets, costs)
        return scores / np.maximum(len(query), self.lengths) if normalized else scores.astype(np.float64)


class _Best:
    """The ``k`` best (score, item) pairs seen so far, ties in item order."""

    def __init__(self, k: int):
        self.k = k
        self.items, self.scores = np.empty(0, np.int64), np.empty(0, np.float64)

    def update(self, items: np.ndarray, scores: np.ndarray) -> None:
        items, scores = np.concatenate([self.items, items]), np.concatenate([self.scores, scores])
        keep = np.lexsort((items, scores))[:self.k]
        self.items, self.scores = items[keep], scores[keep]

    @property
    def full(self) -> bool:
        return len(self.items) >= self.k

    @property
    def worst(self) -> float:
        return float(self.scores[-1])


def max_edits(query_length: int, max_score: float, normalized: bool) -> int:
    """The most edits a segment within ``max_score`` of a query of ``query_length`` tokens may cost (scores compared
    as the search compares them: ``edits / query_length`` when ``normalized``).

    Example:
        >>> max_edits(10, 0.3, normalized=True), max_edits(10, 2, normalized=False), max_edits(4, 5.0, False)
        (3, 2, 4)
    """
    edits = np.arange(query_length + 1)
    return int(np.count_nonzero((edits / query_length if normalized else edits) <= max_score)) - 1


PREFIX_SLACK = 1
"""Bigrams a top-k search counts beyond the ``2 c + 1`` rarest a filter for ``c`` edits needs (:class:`_RarestFirst`):
more prune more windows, at the price of longer posting lists (1 was fastest of 0-3 on validation queries over 1,000
hours of speech tokens, docs/RESULTS.md 7i)."""


class _RarestFirst:
    """Prefix filtering over a window bigram index: the query's bigram occurrences counted rarest first, only as far
    as a filter for ``c`` edits needs. One edit destroys at most two bigrams, so a segment within ``c`` edits shares at
    least ``len(query) - 1 - 2 c`` of the query's bigrams, and at least ``s - 2 c`` of any ``s`` of them: with the
    ``s >= 2 c + 1`` rarest counted, a window sharing fewer cannot hold it, and the frequent bigrams' long posting
    lists are never read."""

    def __init__(self, grams: QGramIndex, query: np.ndarray):
        keys, repeats = np.unique(grams.query_keys(query), return_counts=True)
        order = np.argsort(grams.indptr[keys + 1] - grams.indptr[keys], kind="stable")
        self.grams, self.keys, self.repeats = grams, keys[order], repeats[order]
        self.total = len(query) - 1  # the query's bigram occurrences
        self.counts = np.zeros(len(grams.lengths), np.int32)  # per search: searches may run in several threads
        self.touched = np.empty(len(grams.lengths), np.int32)
        self.n_touched = self.used = self.counted = 0

    def windows(self, cost: int) -> np.ndarray | None:
        """The windows (ascending) that may hold a segment within ``cost`` edits; ``None`` when the bound cannot
        prune (``2 cost + 1`` exceeds the query's bigrams)."""
        if 2 * cost + 1 > self.total:
            return None
        target = min(self.total, 2 * cost + 1 + PREFIX_SLACK)
        while self.counted < target:
            key, repeats = self.keys[self.used:self.used + 1], self.repeats[self.used:self.used + 1]
            self.n_touched += _count_shared(key, repeats, self.grams.indptr, self.grams.postings, self.counts,
                                            self.touched[self.n_touched:], True)
            self.used, self.counted = self.used + 1, self.counted + int(repeats[0])
        touched = self.touched[:self.n_touched]
        return np.sort(touched[self.counts[touched] >= self.counted - 2 * cost])


class WindowGramIndex:
    """Spoken term detection in long items: the bigram index over overlapping windows of ``width`` tokens every
    ``stride`` tokens, so that a short query's bound counts the bigrams of a window, not of a whole recording.

    A segment of at most :attr:`span` ``= width - stride + 1`` tokens lies inside some window, so a match within ``c``
    edits of a query of ``m`` tokens (at most ``m + c`` tokens) is found in one window while ``m + c <= span``; beyond
    that the full scan answers.

    Example:
        >>> import numpy as np
        >>> flat = np.array([5, 1, 2, 3, 6, 1, 9, 3, 7, 7, 7, 7], np.int32)
        >>> offsets = np.array([0, 5, 12])
        >>> windows = WindowGramIndex.build(flat, offsets, vocab_size=10, width=6, stride=3)
        >>> top = windows.top_k(np.array([1, 2], np.int32), flat, offsets, k=1, normalized=False)
        >>> top.indices.tolist(), top.scores.tolist(), top.starts.tolist(), top.ends.tolist()
        ([0], [0.0], [1], [3])
    """

    def __init__(self, grams: QGramIndex, starts: np.ndarray, owners: np.ndarray, width: int, stride: int):
        self.grams, self.starts, self.owners, self.width, self.stride = grams, starts, owners, width, stride

    @classmethod
    def build(cls, flat: np.ndarray, offsets: np.ndarray, vocab_size: int, width: int = 48,
              stride: int = 24) -> WindowGramIndex:
        lengths = np.diff(offsets)
        per_item = np.maximum(1, -(-(lengths - width) // stride) + 1)  # windows until one reaches the item's end
        owners = np.repeat(np.arange(len(lengths), dtype=np.int32), per_item)
        first = np.repeat(np.cumsum(per_item) - per_item, per_item)
        starts = offsets[:-1][owners] + (np.arange(len(owners)) - first) * stride
        ends = np.minimum(starts + width, offsets[1:][owners])
        grams = QGramIndex.build(flat, offsets, vocab_size, spans=(starts, ends))
        return cls(grams, starts.astype(np.int64), owners, width, stride)

    @property
    def span(self) -> int:
        """The most tokens a segment may span and still lie inside one window."""
        return self.width - self.stride + 1

    def _affordable(self, flat: np.ndarray) -> float:
        """The most windows worth verifying: more would cost over half a scan of ``flat``."""
        return len(flat) / (2 * self.width)

    def top_k(self, query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, k: int, normalized: bool,
              scan: bool = False) -> TopK:
        """Exact top-``k`` items by semi-global ED (ties in item order, the scan's segments) as range searches of
        rising cost: for ``c = 0, 1, ...`` edits the windows that may hold a match within ``c`` edits (prefix
        filtering, :class:`_RarestFirst`) are verified (:meth:`within`'s kernel); once ``k`` items lie within ``c``
        edits they are the top ``k``, since no item outside them is closer. Costs passing fewer than ``k`` windows are
        skipped unverified. The full scan answers when the bound cannot prune (``2 c + 1`` exceeds the query's
        bigrams), when the passing windows would cost half of it (:meth:`_affordable`) or when a match within ``c``
        edits may not fit in one window (:attr:`span`)."""
        query = np.ascontiguousarray(query, np.int32)
        m, k = len(query), min(k, len(offsets) - 1)
        if scan:
            return self._full_scan(query, flat, offsets, k, normalized)
        rarest = _RarestFirst(self.grams, query)
        verified = 0
        for cost in range(m):
            windows = rarest.windows(cost) if m + cost <= self.span else None
            if windows is None or len(windows) > self._affordable(flat):
                break
            if len(windows) < k:  # fewer windows than k cannot hold k items
                continue
            verified += len(windows)
            found = self._verify(query, flat, offsets, windows, cost / m if normalized else cost, normalized, k)
            if len(found.indices) == k:
                return TopK(found.indices, found.scores, verified, 1, found.starts, found.ends)
        return self._full_scan(query, flat, offsets, k, normalized)

    def within(self, query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, max_score: float,
               normalized: bool) -> TopK:
        """Every item whose semi-global ED to ``query`` (divided by ``len(query)`` when ``normalized``) is at most
        ``max_score``, best first, ties in item order, with the exhaustive scan's segments: spoken term detection at a
        threshold. The bigram bound is a filter (a window sharing fewer than ``len(query) - 1 - 2 d`` bigrams with the
        query, ``d`` the edits ``max_score`` allows, holds no such segment, and an item whose every window fails cannot
        qualify); each run of overlapping passing windows is verified once by
        Myers' bit-parallel kernel (:func:`~.kernels.semiglobal_ends`), and the DP finds each hit's segment start
        (stage 1). Queries whose matches (``len(query)`` plus the edits ``max_score`` allows) are too long for the
        windows, thresholds the bound cannot prune (windows sharing no bigram may qualify) and filters passing so many
        windows that verifying them would cost half a scan, scan every item the same way (stage 2).

        Example:
            >>> import numpy as np
            >>> flat = np.array([5, 1, 2, 3, 6, 1, 9, 3, 7, 7, 7, 7], np.int32)
            >>> offsets = np.array([0, 5, 12])
            >>> windows = WindowGramIndex.build(flat, offsets, vocab_size=10, width=6, stride=3)
            >>> hits = windows.within(np.array([1, 2], np.int32), flat, offsets, max_score=0, normalized=False)
            >>> hits.indices.tolist(), hits.scores.tolist(), hits.starts.tolist(), hits.ends.tolist(), hits.stage
            ([0], [0.0], [1], [3], 1)
        """
        query = np.ascontiguousarray(query, np.int32)
        m = len(query)
        edits = max_edits(m, max_score, normalized)
        fewest = m - 1 - 2 * edits  # every bigram counted: a range needs the filter's full strength
        if m + edits > self.span or fewest <= 0:  # a match may span two windows, or share no bigram
            return self._range_scan(query, flat, offsets, max_score, normalized)
        windows = np.flatnonzero(self.grams.shared(query) >= fewest)
        if len(windows) > self._affordable(flat):
            return self._range_scan(query, flat, offsets, max_score, normalized)
        return self._verify(query, flat, offsets, windows, max_score, normalized)

    def _verify(self, query: np.ndarray, flat: np.ndarray, offsets: np.ndarray, windows: np.ndarray,
                max_score: float, normalized: bool, limit: int | None = None) -> TopK:
        """The items within ``max_score`` found in ``windows`` (ascending; all that pass the filter), best first (the
        ``limit`` best only, with ``limit``)."""
        m = len(query)
        # Runs of overlapping passing windows of one item form one region, verified once (bit-parallel): the
        # region holding an item's best segment finds it exactly, with the scan's earliest end.
        owners = self.owners[windows]
        first = np.flatnonzero((np.diff(windows, prepend=-2) != 1) | (np.diff(owners, prepend=-1) != 0))
        last = windows[first + np.diff(np.r_[first, len(windows)]) - 1]
        lo, hi, owners = self.starts[windows[first]], self.starts[last] + self.grams.lengths[last], owners[first]
        costs, ends = kernels.semiglobal_ends(query, flat, lo, hi)
        scores = costs / m if normalized else costs.astype(np.float64)
        keep = scores <= max_score
        lo, costs, ends, scores, owners = lo[keep], costs[keep], lo[keep] + ends[keep], scores[keep], owners[keep]
        order = np.lexsort((ends, scores, owners))  # each item's best region: lowest score, then earliest end
        best = order[np.diff(owners[order], prepend=-1) != 0]
        best = best[np.lexsort((owners[best], scores[best]))][:limit]
        # the segment's start: the DP on the region's last len(query) + cost tokens before the end, which hold the
        # best segment, so the DP picks the scan's start
        tail = np.maximum(lo[best], ends[best] - m - costs[best])
        tokens, local = _spans(flat, tail, ends[best])
        starts = kernels.semiglobal_levenshtein(query, tokens, local)[1] + tail
        owners = owners[best]
        return TopK(owners.astype(np.int64), scores[best], len(windows), 1, starts - offsets[owners],
                    ends[best] - offsets[owners])

    @staticmethod
    def _scan_scores(query, flat, offsets, normalized) -> np.ndarray:
        """Every item's semi-global ED to ``query`` (bit-parallel up to ``MYERS_MAX_QUERY`` tokens; divided by its
        length when ``normalized``); the segments of the items kept come from the DP."""
        costs = (kernels.semiglobal_ends(query, flat, offsets[:-1], offsets[1:])[0]
                 if len(query) <= kernels.MYERS_MAX_QUERY else kernels.semiglobal_levenshtein(query, flat, offsets)[0])
        return costs / len(query) if normalized else costs.astype(np.float64)

    @staticmethod
    def _range_scan(query, flat, offsets, max_score, normalized) -> TopK:
        """Every item within ``max_score`` by the full scan."""
        def within(scores: np.ndarray) -> np.ndarray:
            items = np.flatnonzero(scores <= max_score)
            return items[np.argsort(scores[items], kind="stable")]

        return WindowGramIndex._scan(query, flat, offsets, normalized, within)

    @staticmethod
    def _full_scan(query, flat, offsets, k, normalized) -> TopK:
        """The best ``k`` items by the full scan."""
        return WindowGramIndex._scan(query, flat, offsets, normalized,
                                     lambda scores: kernels.smallest(scores, k).astype(np.int64))

    @staticmethod
    def _scan(query, flat, offsets, normalized, pick: Callable[[np.ndarray], np.ndarray]) -> TopK:
        """Every item's score, the items ``pick(scores)`` keeps (best first) and the DP's segments of those only."""
        scores = WindowGramIndex._scan_scores(query, flat, offsets, normalized)
        items = pick(scores)
        _, starts, ends = kernels.semiglobal_levenshtein(query, flat, offsets, items)
        return TopK(items, scores[items], len(scores), 2, starts, ends)
