"""Graph search for a large tokens index: an HNSW proximity graph (usearch) walked with the exact edit distance.

Real token strings are far from everything in a large collection (the 10th neighbour of a real sung query sits
barely below the 1,000th; ``scripts/bench_graph_ann.py``), so q-gram filters cannot prune, while a graph walked with
the true distance finds the top 10 of 100,000 strings after a few thousand distance evaluations
(``results/scale/bench_graph_ann.md``). usearch holds the graph; the only hand-written part is the metric it calls:
Myers' bit-parallel normalised edit distance, compiled by numba as a C callback (usearch has no string metric).

Strings are packed into 64 bytes (token ids below 255, padded with 255); longer strings are cut to their first 64
tokens *in the graph only*: the candidates it returns are always re-scored on the full strings by the caller. The
graph is approximate: recall against the exhaustive scan is measured, never assumed (``scripts/bench_scale.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

WIDTH = 64
"""Tokens per packed string: one 64-bit word of Myers' algorithm."""

PAD = 255
"""Padding byte of a packed string; token ids must be below it."""

_METRIC: Any = None


def _compiled_metric() -> Any:
    """The numba C callback (compiled once per process, on first use: numba and usearch load only here)."""
    global _METRIC
    if _METRIC is None:
        from numba import carray, cfunc, types

        @cfunc(types.float32(types.CPointer(types.uint8), types.CPointer(types.uint8)))
        def normalized_levenshtein(pa, pb):  # pragma: no cover - runs as compiled code inside usearch
            a = carray(pa, WIDTH)
            b = carray(pb, WIDTH)
            la = 0
            while la < WIDTH and a[la] != PAD:
                la += 1
            lb = 0
            while lb < WIDTH and b[lb] != PAD:
                lb += 1
            if la == 0 or lb == 0:
                return 1.0 if la + lb else 0.0
            peq = np.zeros(256, np.uint64)
            one = np.uint64(1)
            for i in range(la):
                peq[a[i]] |= one << np.uint64(i)
            vp = np.uint64(0xFFFFFFFFFFFFFFFF) if la == WIDTH else (one << np.uint64(la)) - one
            vn = np.uint64(0)
            last = one << np.uint64(la - 1)
            score = la
            for j in range(lb):
                eq = peq[b[j]]
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

        _METRIC = normalized_levenshtein
    return _METRIC


def _usearch():
    try:
        from usearch.index import CompiledMetric, Index, MetricKind, MetricSignature
    except ImportError:  # pragma: no cover - usearch is a declared dependency
        raise ImportError("graph search needs usearch: pip install usearch") from None
    return CompiledMetric, Index, MetricKind, MetricSignature


def pack(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(n, 64)`` uint8 rows: each item's first 64 tokens, padded with 255.

    Example:
        >>> pack(np.array([3, 4, 5, 6]), np.array([0, 1, 4]))[:, :4].tolist()
        [[3, 255, 255, 255], [4, 5, 6, 255]]
    """
    n = len(offsets) - 1
    out = np.full((n, WIDTH), PAD, np.uint8)
    lengths = np.minimum(np.diff(offsets), WIDTH)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = flat[np.repeat(offsets[:-1], lengths) + cols]
    return out


class TokenGraph:
    """An HNSW graph over token strings (keys = caller-chosen uint64 item keys), walked with the normalised edit
    distance; :meth:`candidates` returns the keys of about the ``count`` nearest strings.

    Example:
        >>> import numpy as np
        >>> flat, offsets = np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9])
        >>> graph = TokenGraph.build(flat, offsets, np.arange(3))
        >>> graph.candidates(np.array([1, 2, 3]), 2).tolist()
        [0, 1]
    """

    def __init__(self, connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 512):
        compiled, index_type, kind, signature = _usearch()
        self._metric = compiled(pointer=_compiled_metric().address, kind=kind.Unknown,
                                signature=signature.ArrayArray)
        # dtype "b1" stores the packed bytes as given (64 bytes = 512 "bits"); "u8" / "i8" would rescale them
        self._index = index_type(ndim=WIDTH * 8, dtype="b1", metric=self._metric, connectivity=connectivity,
                                 expansion_add=expansion_add)
        self.expansion_search = expansion_search
        self._viewed: np.ndarray | None = None  # the buffer a read-only view maps (see from_bytes)

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
        if len(flat) and int(np.max(flat)) >= PAD:
            raise ValueError(f"graph search packs token ids into bytes below {PAD}; got id {int(np.max(flat))}")
        if len(offsets) > 1:
            self._writable()
            self._index.add(np.asarray(keys, np.uint64), pack(flat, offsets), threads=threads)

    def remove(self, keys: np.ndarray) -> None:
        self._writable()
        self._index.remove(np.asarray(keys, np.uint64))

    def __len__(self) -> int:
        return len(self._index)

    def candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """Keys of the ~``count`` nearest items (``max(count, expansion_search)`` explored), nearest first."""
        self._index.expansion_search = max(count, self.expansion_search)
        packed = pack(np.asarray(query), np.array([0, len(query)]))[0]
        return np.asarray(self._index.search(packed, count, threads=1).keys, np.int64)

    def to_bytes(self) -> np.ndarray:
        """The serialised graph as a uint8 array (stored with the index; :meth:`from_bytes` reads it back)."""
        return np.frombuffer(self._index.save(), np.uint8)

    @classmethod
    def from_bytes(cls, buffer: np.ndarray, expansion_search: int = 512, view: bool = False) -> TokenGraph:
        """A graph over ``buffer`` (a uint8 array from :meth:`to_bytes`): loaded into memory, or with ``view=True``
        searched in place (a memory-mapped buffer is then read lazily, page by page; the first add / remove copies
        it into memory).

        Example:
            >>> flat, offsets = np.array([1, 2, 3, 7, 8, 9]), np.array([0, 3, 6])
            >>> saved = TokenGraph.build(flat, offsets, np.arange(2), threads=1).to_bytes()
            >>> graph = TokenGraph.from_bytes(saved, view=True)
            >>> graph.viewed, graph.candidates(np.array([7, 8, 9]), 1).tolist()
            (True, [1])
        """
        graph = cls(expansion_search=expansion_search)
        buffer = np.asarray(buffer, np.uint8)
        if view:
            graph._index.view(memoryview(buffer))
            graph._viewed = buffer  # kept alive: the index reads it
        else:
            graph._index.load(buffer.tobytes())
        graph._index.metric = graph._metric  # a loaded file names no callback: set it again, or searches crash
        return graph
