"""Graph search for a large tokens index: an HNSW proximity graph (usearch) walked with the exact edit distance.

Real token strings are far from everything in a large collection (the 10th neighbour of a real sung query sits
barely below the 1,000th; ``scripts/bench_graph_ann.py``), so q-gram filters cannot prune, while a graph walked with
the true distance finds the top 10 of 100,000 strings after a few thousand distance evaluations
(``results/scale/bench_graph_ann.md``). usearch builds, extends and saves the graph; the metrics are compiled C
functions (:mod:`.graph_metrics`): Myers' bit-parallel normalised edit distance, or, for a codebook-weighted ranking,
the weighted edit distance's dynamic programme over the index's substitution costs rounded to 1/256 (the graph is
built with the plain distance and walked with the weighted one: :meth:`TokenGraph.candidates`; the candidates are
re-scored with the exact costs by the caller).
Searches walk a flat copy of the graph with compiled code calling the same metrics (:mod:`.graph_walk`).

Strings are packed into 64 ids: bytes (padded with 255) for vocabularies of up to 255 tokens, 16-bit words (padded
with 65535) for up to 65,535; longer strings are cut to their first 64 tokens *in the graph only*: the candidates it
returns are always re-scored on the full strings by the caller. The graph is approximate: recall against the
exhaustive scan is measured, never assumed (``scripts/bench_scale.py``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, NamedTuple

import numpy as np

from . import graph_metrics
from .graph_metrics import WIDTH
from .graph_walk import FREE_KEY, Layout, WalkState

EXPANSION_SEARCH = 2048
"""Candidates a search explores by default: chosen on 110 real VALIDATION hums against a 1M-item database of interval
tokens (RESULTS 7m), the smallest width at which both distances keep recall@10 0.99: plain ED 0.983 / 0.995 / 0.999,
weighted 0.976 / 0.987 / 0.990 at 1,024 / 1,536 / 2,048."""

ID_DTYPES = {1: np.uint8, 2: np.uint16}
"""Packed id type by bytes per id; the largest value of each is the padding, so ids must lie below it."""

_METRICS: dict[tuple, Metric] = {}  # metrics by (kind, bytes per id, digest of the costs or None)


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


class Metric(NamedTuple):
    """A compiled metric (:mod:`.graph_metrics`): the C function a build (usearch) or a walk calls, the address of
    its state (the addresses of the buffers a walk's metric keeps; 0 for a build's), what keeps the code and buffers
    alive, and, for a walk's metric, the lock a walk holds while it runs (searches with one metric take turns,
    whichever graph they walk)."""

    address: int
    state: int
    keep: tuple
    lock: threading.Lock | None


def _compiled_metric(id_bytes: int, costs: np.ndarray | None = None, walk: bool = False) -> Metric:
    """The metric over two packed strings: normalised ED, or with ``costs`` the normalised weighted ED (unit insert /
    delete, substitution ``costs[a, b]``), a walk's. ``walk`` (plain ED): the metric of a search, which keeps the
    query's match masks between calls; a build calls the metric from several threads and takes the one without
    state. One per process, cost matrix and kind, made on first use."""
    digest = None if costs is None else hashlib.sha1(np.ascontiguousarray(costs, np.float32).tobytes()).hexdigest()
    kind = "weighted" if costs is not None else "plain" if walk else "build"
    key = (kind, id_bytes, digest)
    if key in _METRICS:
        return _METRICS[key]
    function = graph_metrics.compiled(kind, id_bytes)
    if kind == "build":
        _METRICS[key] = Metric(function.address, 0, (function,), None)
    else:
        buffers, state = graph_metrics.new_state(kind, id_bytes, costs)
        _METRICS[key] = Metric(function.address, state.ctypes.data, (function, buffers, state), threading.Lock())
    return _METRICS[key]


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
        self._metric = self._callback_of(_compiled_metric(id_bytes))  # the build's (stateless; see _walk_metric)
        # dtype "b1" stores the packed ids as given (64 ids = 512 or 1024 "bits"); "u8" / "i8" would rescale them
        self._index = index_type(ndim=WIDTH * 8 * id_bytes, dtype="b1", metric=self._metric,
                                 connectivity=connectivity, expansion_add=expansion_add)
        self.expansion_search = expansion_search
        self._viewed: np.ndarray | None = None  # the buffer a read-only view maps (see from_bytes)
        # searches walk a flat copy of the graph (graph_walk.Layout, read on the first search after a change) with
        # buffers of one walk at a time: searches from several threads (a web app's handlers) take turns
        self._layout: Layout | None = None
        self._walk_state = WalkState()
        self._search_lock = threading.Lock()
        # the walks' metrics, (costs, metric) by cost matrix (None: plain ED); a weighted search passes its index's
        # one cost matrix, whose content digest (the key of the compiled metrics) costs 1.3 ms to recompute for K=800,
        # more than half a search: the matrix is known by identity here (and kept, so the identity stays its own)
        self._walks: dict[int | None, tuple[np.ndarray | None, Metric]] = {}

    def _callback_of(self, metric: Metric) -> Any:
        return self._compiled(pointer=metric.address, kind=self._kind.Unknown, signature=self._signature.ArrayArray)

    def _walk_metric(self, costs: np.ndarray | None) -> Metric:
        """The metric a search walks with: plain ED keeping the query's masks, or the weighted ED of ``costs``."""
        key = None if costs is None else id(costs)
        if key not in self._walks or self._walks[key][0] is not costs:
            self._walks[key] = (costs, _compiled_metric(self.id_bytes, costs, walk=True))
        return self._walks[key][1]

    def layout(self, saved: np.ndarray | None = None) -> Layout:
        """The graph as the flat arrays its searches walk (:mod:`.graph_walk`), read from usearch's saved graph on the
        first search after a change; ``saved``: this graph's :meth:`to_bytes` where the caller has it already (an
        index's save), so that it is not serialised twice."""
        if self._layout is None:
            if saved is None:
                saved = self._viewed if self._viewed is not None else self.to_bytes()
            self._layout = Layout.read(saved)
        return self._layout

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
        self._layout = None  # the graph changes: the next search reads it again
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
        normalised ED or, with ``costs`` (a ``(K, K)`` substitution cost matrix), by the normalised weighted ED (the
        costs rounded to :data:`.graph_metrics.COST_STEP`).

        Example:
            >>> flat, offsets = np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9])
            >>> graph = TokenGraph.build(flat, offsets, np.arange(3))
            >>> costs = np.where(np.eye(10) > 0, 0.0, 1.0).astype(np.float32)
            >>> costs[4, 9] = costs[9, 4] = 0.1  # 4 and 9 are near codewords: [1, 2, 4] is nearest to [1, 2, 9]
            >>> graph.candidates(np.array([1, 2, 9]), 1, costs).tolist()
            [1]
        """
        packed = self._bits(pack(np.asarray(query), np.array([0, len(query)]), self.id_bytes))[0]
        metric = self._walk_metric(costs)
        with self._search_lock, metric.lock:  # the walk's metric keeps the query in buffers: one walk at a time
            keys = self.layout().search(metric.address, metric.state, packed, count,
                                        max(count, self.expansion_search), self._walk_state)
        return keys.astype(np.int64)

    def to_bytes(self) -> np.ndarray:
        """The serialised graph as a uint8 array (stored with the index; :meth:`from_bytes` reads it back)."""
        return np.frombuffer(self._index.save(), np.uint8)

    @classmethod
    def from_bytes(cls, buffer: np.ndarray, expansion_search: int = EXPANSION_SEARCH, view: bool = False,
                   id_bytes: int = 1, layout: Layout | None = None) -> TokenGraph:
        """A graph over ``buffer`` (a uint8 array from :meth:`to_bytes` of a graph with ``id_bytes`` bytes per
        id): loaded into memory, or with ``view=True`` kept as a view (a memory-mapped buffer is then read lazily,
        page by page; the first add / remove copies it into memory). ``layout``: the arrays its searches walk, saved
        with it (:meth:`layout`; memory-mapped arrays are walked in place), else read from ``buffer`` on the first
        search.

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
        if layout is not None:
            present = int(np.count_nonzero(layout.check().keys != FREE_KEY))
            if present != len(graph):
                raise ValueError(f"the graph's walk arrays hold {present} items, the graph {len(graph)}: rebuild the "
                                 "graph with build_graph()")
            graph._layout = layout
        return graph
