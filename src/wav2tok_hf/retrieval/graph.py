"""Graph search for a large tokens index: an HNSW proximity graph (usearch) walked with the exact edit distance.

Real token strings are far from everything in a large collection (the 10th neighbour of a real sung query sits
barely below the 1,000th; ``scripts/bench_graph_ann.py``), so q-gram filters cannot prune, while a graph walked with
the true distance finds the top 10 of 100,000 strings after a few thousand distance evaluations
(``results/scale/bench_graph_ann.md``). usearch holds the graph; the only hand-written part is the metric it calls
(usearch has no string metric), compiled by numba as a C callback: Myers' bit-parallel normalised edit distance, or,
for a codebook-weighted ranking, the weighted edit distance's dynamic programme over the index's substitution costs
(the graph is built with the plain distance and walked with the weighted one: :meth:`TokenGraph.candidates`).

Strings are packed into 64 ids: bytes (padded with 255) for vocabularies of up to 255 tokens, 16-bit words (padded
with 65535) for up to 65,535; longer strings are cut to their first 64 tokens *in the graph only*: the candidates it
returns are always re-scored on the full strings by the caller. The graph is approximate: recall against the
exhaustive scan is measured, never assumed (``scripts/bench_scale.py``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np

WIDTH = 64
"""Tokens per packed string: one 64-bit word of Myers' algorithm."""

EXPANSION_SEARCH = 768
"""Candidates a search explores by default: at 512, two of three graphs over 1M real-hum interval strings kept
recall@10 0.955 by plain ED, at 768 0.995 (RESULTS 7g)."""

ID_DTYPES = {1: np.uint8, 2: np.uint16}
"""Packed id type by bytes per id; the largest value of each is the padding, so ids must lie below it."""

_METRICS: dict[tuple, Any] = {}  # compiled callbacks by (bytes per id, digest of the costs or None)


def max_vocabulary(id_bytes: int) -> int:
    """Largest vocabulary packed with ``id_bytes`` bytes per id (its top value pads).

    Example:
        >>> max_vocabulary(1), max_vocabulary(2)
        (255, 65535)
    """
    return int(np.iinfo(ID_DTYPES[id_bytes]).max)


def id_bytes_for(vocab_size: int) -> int:
    """Bytes per packed id for a vocabulary of ``vocab_size`` tokens (1 while it fits a byte).

    Example:
        >>> id_bytes_for(64), id_bytes_for(800)
        (1, 2)
    """
    for size in ID_DTYPES:
        if vocab_size <= max_vocabulary(size):
            return size
    raise ValueError(f"graph search packs token ids into at most 16 bits: it accepts vocabularies of at most "
                     f"{max_vocabulary(2)} tokens; got {vocab_size}")


def _compiled_metric(id_bytes: int, costs: np.ndarray | None = None) -> Any:
    """The numba C callback over two packed strings: normalised ED, or with ``costs`` the normalised weighted ED
    (unit insert / delete, substitution ``costs[a, b]``; the matrix is compiled in as a constant). Compiled once per
    process and cost matrix, on first use (numba and usearch load only here)."""
    digest = None if costs is None else hashlib.sha1(np.ascontiguousarray(costs, np.float32).tobytes()).hexdigest()
    key = (id_bytes, digest)
    if key in _METRICS:
        return _METRICS[key]
    from numba import carray, cfunc, njit, types

    pad = max_vocabulary(id_bytes)

    @njit(inline="always")
    def unpack(pa, pb):  # pragma: no cover - compiled into the callbacks below
        """The two packed strings and their lengths (ids before the padding)."""
        a, b = carray(pa, WIDTH), carray(pb, WIDTH)
        la = lb = 0
        while la < WIDTH and a[la] != pad:
            la += 1
        while lb < WIDTH and b[lb] != pad:
            lb += 1
        return a, b, la, lb

    pointer = types.CPointer(types.uint8 if id_bytes == 1 else types.uint16)
    signature = types.float32(pointer, pointer)

    if costs is None:
        direct = id_bytes == 1  # compile-time constant: numba drops the table probing for bytes
        slots = 256 if direct else 2 * WIDTH

        @cfunc(signature)
        def metric(pa, pb):  # pragma: no cover - runs as compiled code inside usearch
            a, b, la, lb = unpack(pa, pb)
            if la == 0 or lb == 0:
                return 1.0 if la + lb else 0.0
            # Myers' match masks of a's symbols: indexed by the byte itself, or for 16-bit ids in an open-addressing
            # table (at most 64 symbols in 128 slots), as a direct 65,536-entry table would cost more than the distance
            symbols = np.full(1 if direct else slots, -1, np.int32)
            peq = np.zeros(slots, np.uint64)
            one = np.uint64(1)
            for i in range(la):
                h = np.int32(a[i]) & (slots - 1)
                while not direct and symbols[h] != -1 and symbols[h] != a[i]:
                    h = (h + 1) & (slots - 1)
                if not direct:
                    symbols[h] = a[i]
                peq[h] |= one << np.uint64(i)
            vp = np.uint64(0xFFFFFFFFFFFFFFFF) if la == WIDTH else (one << np.uint64(la)) - one
            vn = np.uint64(0)
            last = one << np.uint64(la - 1)
            score = la
            for j in range(lb):
                h = np.int32(b[j]) & (slots - 1)
                while not direct and symbols[h] != -1 and symbols[h] != b[j]:
                    h = (h + 1) & (slots - 1)
                eq = peq[h]
                xv = eq | vn
                xh = (((eq & vp) + vp) ^ vp) | eq
                hp = vn | ~(xh | vp)
                hn = vp & xh
                if hp & last:
                    score += 1
                elif hn & last:
                    score -= 1
                hp = (hp << one) | one
                hn = hn << one
                vp = hn | ~(xv | hp)
                vn = hp & xv
            return score / max(la, lb)
    else:
        table = np.ascontiguousarray(costs, np.float32)

        @cfunc(signature)
        def metric(pa, pb):  # pragma: no cover - runs as compiled code inside usearch
            a, b, la, lb = unpack(pa, pb)
            if la == 0 or lb == 0:
                return 1.0 if la + lb else 0.0
            # one float32 DP row updated in place with branch-free min(): 1.7x faster here than two rows with
            # compare-and-branch (the float64 kernels in .kernels measured the other way round); four DP rows per
            # pass over b, in registers, then the rest one by one: another 1.3-2x (RESULTS 7f), same sums and mins.
            # Each cell is min(min(diagonal + cost, up + 1), left + 1): the left neighbour (the chain from cell to
            # cell along a row) passes through one add and one min instead of min, add, min (RESULTS 7g: 1.4-2x;
            # x + 1 is monotone in float32, so min(up, left) + 1 == min(up + 1, left + 1) exactly)
            one = np.float32(1.0)
            row = np.empty(WIDTH + 1, np.float32)
            for j in range(lb + 1):
                row[j] = j
            i = 1
            while i + 3 <= la:
                c1, c2, c3, c4 = table[a[i - 1]], table[a[i]], table[a[i + 1]], table[a[i + 2]]
                l1, l2, l3, l4 = np.float32(i), np.float32(i + 1), np.float32(i + 2), np.float32(i + 3)
                d1, d2, d3, d4 = row[0], l1, l2, l3
                row[0] = l4
                for j in range(1, lb + 1):
                    up, bj = row[j], b[j - 1]
                    l1 = min(min(d1 + c1[bj], up + one), l1 + one)
                    n2 = min(min(d2 + c2[bj], l2 + one), l1 + one)
                    n3 = min(min(d3 + c3[bj], l3 + one), n2 + one)
                    l4 = min(min(d4 + c4[bj], l4 + one), n3 + one)
                    d1, d2, d3, d4 = up, l1, n2, n3
                    l2, l3 = n2, n3
                    row[j] = l4
                i += 4
            while i <= la:
                cost = table[a[i - 1]]
                diag = row[0]
                left = np.float32(i)
                row[0] = left
                for j in range(1, lb + 1):
                    up = row[j]
                    left = min(min(diag + cost[b[j - 1]], up + one), left + one)
                    diag = up
                    row[j] = left
                i += 1
            return row[lb] / max(la, lb)

    _METRICS[key] = metric
    return metric


def _usearch():
    try:
        from usearch.index import CompiledMetric, Index, MetricKind, MetricSignature
    except ImportError:  # pragma: no cover - usearch is a declared dependency
        raise ImportError("graph search needs usearch: pip install usearch") from None
    return CompiledMetric, Index, MetricKind, MetricSignature


def pack(flat: np.ndarray, offsets: np.ndarray, id_bytes: int = 1) -> np.ndarray:
    """``(n, 64)`` rows of ``id_bytes``-byte ids: each item's first 64 tokens, padded with the type's top value.

    Example:
        >>> pack(np.array([3, 4, 5, 6]), np.array([0, 1, 4]))[:, :4].tolist()
        [[3, 255, 255, 255], [4, 5, 6, 255]]
        >>> pack(np.array([700, 3]), np.array([0, 2]), id_bytes=2)[:, :3].tolist()
        [[700, 3, 65535]]
    """
    n = len(offsets) - 1
    out = np.full((n, WIDTH), max_vocabulary(id_bytes), ID_DTYPES[id_bytes])
    lengths = np.minimum(np.diff(offsets), WIDTH)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = flat[np.repeat(offsets[:-1], lengths) + cols]
    return out


class TokenGraph:
    """An HNSW graph over token strings (keys = caller-chosen uint64 item keys), built with the normalised edit
    distance; :meth:`candidates` returns the keys of about the ``count`` nearest strings, by that distance or by a
    weighted one.

    Example:
        >>> import numpy as np
        >>> flat, offsets = np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9])
        >>> graph = TokenGraph.build(flat, offsets, np.arange(3))
        >>> graph.candidates(np.array([1, 2, 3]), 2).tolist()
        [0, 1]
    """

    def __init__(self, connectivity: int = 16, expansion_add: int = 128, expansion_search: int = EXPANSION_SEARCH,
                 id_bytes: int = 1):
        if id_bytes not in ID_DTYPES:
            raise ValueError(f"id_bytes={id_bytes!r}; expected one of {sorted(ID_DTYPES)}")
        compiled, index_type, self._kind, self._signature = _usearch()
        self._compiled = compiled
        self.id_bytes = id_bytes
        self._metric = self._callback(None)
        # dtype "b1" stores the packed ids as given (64 ids = 512 or 1024 "bits"); "u8" / "i8" would rescale them
        self._index = index_type(ndim=WIDTH * 8 * id_bytes, dtype="b1", metric=self._metric,
                                 connectivity=connectivity, expansion_add=expansion_add)
        self.expansion_search = expansion_search
        self._viewed: np.ndarray | None = None  # the buffer a read-only view maps (see from_bytes)
        # a weighted search swaps the index's metric and search width for its walk: searches from several threads
        # (a web app's handlers) take turns, or one would walk with another's metric
        self._search_lock = threading.Lock()
        # (the costs array, its callback): a search passes its index's one cost matrix, whose content digest (the
        # key of the compiled metrics) costs 1.3 ms to recompute for K=800, more than half a default search
        self._weighted: tuple[np.ndarray, Any] | None = None

    def _callback(self, costs: np.ndarray | None) -> Any:
        return self._compiled(pointer=_compiled_metric(self.id_bytes, costs).address, kind=self._kind.Unknown,
                              signature=self._signature.ArrayArray)

    def _weighted_callback(self, costs: np.ndarray) -> Any:
        if self._weighted is None or self._weighted[0] is not costs:
            self._weighted = (costs, self._callback(costs))
        return self._weighted[1]

    @staticmethod
    def _bits(packed: np.ndarray) -> np.ndarray:
        """Packed ids as the bytes usearch stores ("b1" vectors); the metric reads them back at their width."""
        return packed.view(np.uint8)

    @classmethod
    def build(cls, flat: np.ndarray, offsets: np.ndarray, keys: np.ndarray, threads: int = 0,
              **options: int) -> TokenGraph:
        """A graph over every item of a flat database (see :mod:`.kernels`), item ``i`` under ``keys[i]``."""
        graph = cls(**options)
        graph.add(flat, offsets, keys, threads)
        return graph

    @property
    def viewed(self) -> bool:
        """Whether the graph is a read-only view of a (memory-mapped) buffer; adding or removing copies it first."""
        return self._viewed is not None

    def _writable(self) -> None:
        if self._viewed is not None:
            self._index.load(np.asarray(self._viewed).tobytes())
            self._index.metric = self._metric  # a loaded file names no callback: set it again, or searches crash
            self._viewed = None

    def add(self, flat: np.ndarray, offsets: np.ndarray, keys: np.ndarray, threads: int = 0) -> None:
        pad = max_vocabulary(self.id_bytes)
        if len(flat) and int(np.max(flat)) >= pad:
            raise ValueError(f"this graph packs token ids into {self.id_bytes} byte(s): ids must be below {pad}; "
                             f"got id {int(np.max(flat))}")
        if len(offsets) > 1:
            self._writable()
            self._index.add(np.asarray(keys, np.uint64), self._bits(pack(flat, offsets, self.id_bytes)),
                            threads=threads)

    def remove(self, keys: np.ndarray) -> None:
        self._writable()
        self._index.remove(np.asarray(keys, np.uint64))

    def __len__(self) -> int:
        return len(self._index)

    def candidates(self, query: np.ndarray, count: int, costs: np.ndarray | None = None) -> np.ndarray:
        """Keys of the ~``count`` nearest items (``max(count, expansion_search)`` explored), nearest first, by the
        normalised ED or, with ``costs`` (a ``(K, K)`` substitution cost matrix), by the normalised weighted ED.

        Example:
            >>> flat, offsets = np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9])
            >>> graph = TokenGraph.build(flat, offsets, np.arange(3))
            >>> costs = np.where(np.eye(10) > 0, 0.0, 1.0).astype(np.float32)
            >>> costs[4, 9] = costs[9, 4] = 0.1  # 4 and 9 are near codewords: [1, 2, 4] is nearest to [1, 2, 9]
            >>> graph.candidates(np.array([1, 2, 9]), 1, costs).tolist()
            [1]
        """
        packed = self._bits(pack(np.asarray(query), np.array([0, len(query)]), self.id_bytes))[0]
        metric = None if costs is None else self._weighted_callback(costs)
        with self._search_lock:
            self._index.expansion_search = max(count, self.expansion_search)
            if metric is None:
                return np.asarray(self._index.search(packed, count, threads=1).keys, np.int64)
            self._index.metric = metric
            try:
                return np.asarray(self._index.search(packed, count, threads=1).keys, np.int64)
            finally:
                self._index.metric = self._metric

    def to_bytes(self) -> np.ndarray:
        """The serialised graph as a uint8 array (stored with the index; :meth:`from_bytes` reads it back)."""
        return np.frombuffer(self._index.save(), np.uint8)

    @classmethod
    def from_bytes(cls, buffer: np.ndarray, expansion_search: int = EXPANSION_SEARCH, view: bool = False,
                   id_bytes: int = 1) -> TokenGraph:
        """A graph over ``buffer`` (a uint8 array from :meth:`to_bytes` of a graph with ``id_bytes`` bytes per
        id): loaded into memory, or with ``view=True`` searched in place (a memory-mapped buffer is then read lazily,
        page by page; the first add / remove copies it into memory).

        Example:
            >>> flat, offsets = np.array([1, 2, 3, 7, 8, 9]), np.array([0, 3, 6])
            >>> saved = TokenGraph.build(flat, offsets, np.arange(2), threads=1).to_bytes()
            >>> graph = TokenGraph.from_bytes(saved, view=True)
            >>> graph.viewed, graph.candidates(np.array([7, 8, 9]), 1).tolist()
            (True, [1])
        """
        graph = cls(expansion_search=expansion_search, id_bytes=id_bytes)
        buffer = np.asarray(buffer, np.uint8)
        if view:
            graph._index.view(memoryview(buffer))
            graph._viewed = buffer  # kept alive: the index reads it
        else:
            graph._index.load(buffer.tobytes())
        graph._index.metric = graph._metric  # a loaded file names no callback: set it again, or searches crash
        return graph
