"""Graph search for a large tokens index: an HNSW proximity graph (usearch) walked with the exact edit distance.

Real token strings are far from everything in a large collection (the 10th neighbour of a real sung query sits
barely below the 1,000th; ``scripts/bench_graph_ann.py``), so q-gram filters cannot prune, while a graph walked with
the true distance finds the top 10 of 100,000 strings after a few thousand distance evaluations
(``results/scale/bench_graph_ann.md``). usearch builds, extends and saves the graph; the metrics are hand-written
(usearch has no string metric), compiled by numba as C callbacks: Myers' bit-parallel normalised edit distance, or,
for a codebook-weighted ranking, the weighted edit distance's dynamic programme over the index's substitution costs
(the graph is built with the plain distance and walked with the weighted one: :meth:`TokenGraph.candidates`).
Searches walk a flat copy of the graph with compiled code calling the same metrics (:mod:`.graph_walk`).

Strings are packed into 64 ids: bytes (padded with 255) for vocabularies of up to 255 tokens, 16-bit words (padded
with 65535) for up to 65,535; longer strings are cut to their first 64 tokens *in the graph only*: the candidates it
returns are always re-scored on the full strings by the caller. The graph is approximate: recall against the
exhaustive scan is measured, never assumed (``scripts/bench_scale.py``).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import warnings
from typing import Any, NamedTuple

import numpy as np

from .graph_walk import FREE_KEY, Layout, WalkState

WIDTH = 64
"""Tokens per packed string: one 64-bit word of Myers' algorithm."""

EXPANSION_SEARCH = 2048
"""Candidates a search explores by default: chosen on 110 real VALIDATION hums against a 1M-item database of interval
tokens (RESULTS 7m), the smallest width at which both distances keep recall@10 0.99: plain ED 0.983 / 0.995 / 0.999,
weighted 0.976 / 0.987 / 0.990 at 1,024 / 1,536 / 2,048."""

ID_DTYPES = {1: np.uint8, 2: np.uint16}
"""Packed id type by bytes per id; the largest value of each is the padding, so ids must lie below it."""

_METRICS: dict[tuple, Metric] = {}  # compiled metrics by (bytes per id, digest of the costs or None)


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


def _compiled_metric(id_bytes: int, costs: np.ndarray | None = None, walk: bool = False) -> Metric:
    """The C callback over two packed strings: normalised ED, or with ``costs`` the normalised weighted ED (unit
    insert / delete, substitution ``costs[a, b]``; the matrix is compiled in as a constant; see
    :func:`_weighted_metric`). ``walk`` (plain ED): the metric of a search, which keeps the query's match masks
    between calls (see :func:`_plain_metric`); a build calls the metric from several threads and takes the one without
    state. Compiled once per process, cost matrix and kind, on first use (numba and usearch load only here)."""
    digest = None if costs is None else hashlib.sha1(np.ascontiguousarray(costs, np.float32).tobytes()).hexdigest()
    key = (id_bytes, digest, walk and costs is None)
    if key in _METRICS:
        return _METRICS[key]
    from numba import carray, njit, types

    _, _, length = _compiled_helpers()

    @njit(inline="always")
    def unpack(pa, pb):  # pragma: no cover - compiled into the callbacks below
        """The two packed strings and their lengths (ids before the padding)."""
        return carray(pa, WIDTH), carray(pb, WIDTH), length(pa, id_bytes), length(pb, id_bytes)

    pointer = types.CPointer(types.uint8 if id_bytes == 1 else types.uint16)
    signature = types.float32(pointer, pointer)
    if costs is None:
        metric, buffers = _plain_metric(unpack, signature, id_bytes, walk)
        _METRICS[key] = Metric(metric.address, (metric, buffers), threading.Lock() if walk else None)
    else:
        weighted, buffers = _weighted_metric(unpack, signature, id_bytes, costs)
        address, engine = _vectorised(weighted)
        _METRICS[key] = Metric(address, (weighted, buffers, engine), threading.Lock())
    return _METRICS[key]


@functools.cache
def _compiled_helpers() -> tuple[Any, Any, Any]:
    """Three numba helpers of the metrics: ``address(integer_or_pointer)``, an address or a typed pointer as a void
    pointer for ``carray`` (numba has no public cast); ``same_query(pa, id_bytes, kept)``, whether the ``kept`` words
    hold the packed string at ``pa`` already, storing it there when not; and ``length(pa, id_bytes)``, the ids
    before the padding of the packed string at ``pa``. Both read the packed row as 64-bit words: a walk calls them for
    every item, where a loop over ids cost ~0.14 µs per call for the query check alone (a third of the plain
    metric's time on 40-token strings)."""
    from numba import carray, njit, types
    from numba.core import cgutils
    from numba.cpython.unsafe.numbers import trailing_zeros
    from numba.extending import intrinsic

    @intrinsic
    def address(typingctx, value):  # pragma: no cover - compiled
        def codegen(context, builder, sig, args):
            if isinstance(value, types.CPointer):
                return builder.bitcast(args[0], cgutils.voidptr_t)
            return builder.inttoptr(args[0], cgutils.voidptr_t)
        return types.voidptr(value), codegen

    @njit(inline="always")
    def same_query(pa, id_bytes, kept):  # pragma: no cover - compiled
        a = carray(address(pa), WIDTH * id_bytes // 8, np.uint64)
        same = True
        for w in range(WIDTH * id_bytes // 8):
            same &= a[w] == kept[w]
        if not same:
            kept[:] = a
        return same

    @njit(inline="always")
    def length(pa, id_bytes):  # pragma: no cover - compiled
        # the first all-ones id (the padding): SWAR zero test of the complement, lanes of 8 or 16 bits
        ones = np.uint64(0x0101010101010101) if id_bytes == 1 else np.uint64(0x0001000100010001)
        high = np.uint64(0x8080808080808080) if id_bytes == 1 else np.uint64(0x8000800080008000)
        a = carray(address(pa), WIDTH * id_bytes // 8, np.uint64)
        for w in range(WIDTH * id_bytes // 8):
            x = ~a[w]
            found = (x - ones) & ~x & high
            if found:
                return (w * 64 + trailing_zeros(found)) // (8 * id_bytes)
        return WIDTH

    return address, same_query, length


def _plain_metric(unpack: Any, signature: Any, id_bytes: int, walk: bool) -> tuple[Any, tuple]:
    """Myers' bit-parallel normalised ED as a numba C callback, and the buffers it keeps (which must outlive it; none
    without ``walk``).

    Hand-written because usearch has no string metric. The first string's match masks are indexed by the byte itself,
    or for 16-bit ids in an open-addressing table (at most 64 symbols in 128 slots), as a direct 65,536-entry table
    would cost more than the distance. Without ``walk`` they are built at every call (no state: a build calls it
    from several threads); with ``walk`` they stay in the buffers and are rebuilt only when the first string (the
    query's: a walk passes it first) changes, once per search: 20 % less per call, walks 10-15 % faster on 1M
    melody strings and 15-25 % on 200k speech strings (RESULTS 7l)."""
    from numba import carray, cfunc, njit

    from .kernels import myers_column

    direct = id_bytes == 1  # compile-time constant: numba drops the table probing for bytes
    slots = 256 if direct else 2 * WIDTH

    @njit(inline="always")
    def slot(symbols, token):  # pragma: no cover - compiled
        h = np.int32(token) & (slots - 1)
        while not direct and symbols[h] != -1 and symbols[h] != token:
            h = (h + 1) & (slots - 1)
        return h

    @njit(inline="always")
    def fill(a, la, symbols, peq):  # pragma: no cover - compiled
        one = np.uint64(1)
        for i in range(la):
            h = slot(symbols, a[i])
            if not direct:
                symbols[h] = a[i]
            peq[h] |= one << np.uint64(i)

    @njit(inline="always")
    def distance(b, la, lb, symbols, peq):  # pragma: no cover - compiled
        one = np.uint64(1)
        vp = np.uint64(0xFFFFFFFFFFFFFFFF) if la == WIDTH else (one << np.uint64(la)) - one
        vn = np.uint64(0)
        last = one << np.uint64(la - 1)
        score = la
        for j in range(lb):
            vp, vn, delta = myers_column(peq[slot(symbols, b[j])], vp, vn, last, one)  # global: D[0, j] = j
            score += delta
        return score / max(la, lb)

    if walk:
        # the query's table of symbols, its masks, and its packed row
        buffers = (np.full(slots, -1, np.int32), np.zeros(slots, np.uint64), _no_query(id_bytes))
        symbols_at, masks_at, query_at = (int(b.ctypes.data) for b in buffers)
        address, same_query, _ = _compiled_helpers()
        words = len(buffers[2])

        @cfunc(signature)
        def metric(pa, pb):  # pragma: no cover - runs as compiled code (usearch, graph_walk)
            a, b, la, lb = unpack(pa, pb)
            if la == 0 or lb == 0:
                return 1.0 if la + lb else 0.0
            symbols = carray(address(symbols_at), slots, np.int32)
            peq = carray(address(masks_at), slots, np.uint64)
            if not same_query(pa, id_bytes, carray(address(query_at), words, np.uint64)):
                for h in range(slots):
                    symbols[h], peq[h] = -1, 0
                fill(a, la, symbols, peq)
            return distance(b, la, lb, symbols, peq)
    else:
        buffers = ()

        @cfunc(signature)
        def metric(pa, pb):  # pragma: no cover - runs as compiled code (usearch, graph_walk)
            a, b, la, lb = unpack(pa, pb)
            if la == 0 or lb == 0:
                return 1.0 if la + lb else 0.0
            symbols = np.full(1 if direct else slots, -1, np.int32)
            peq = np.zeros(slots, np.uint64)
            fill(a, la, symbols, peq)
            return distance(b, la, lb, symbols, peq)

    return metric, buffers


def _no_query(id_bytes: int) -> np.ndarray:
    """The buffer in which a walk's metric keeps the packed query it prepared for (``same_query``), holding a row no
    packing produces (an id after the padding), so that the first call prepares."""
    kept = np.zeros(WIDTH * id_bytes // 8, np.uint64)
    kept[0] = 0xFFFF
    return kept


LANES = 8
"""Query rows the weighted metric computes side by side: eight float32 lanes, one AVX2 register."""


class Metric(NamedTuple):
    """A compiled metric: the C function a build (usearch) or a walk calls, what keeps its code and buffers alive,
    and, for a metric with buffers (a walk's: the weighted one, or the plain one keeping the query's masks), the lock
    a walk holds while it runs (searches with one metric take turns, whichever graph they walk)."""

    address: int
    keep: tuple
    lock: threading.Lock | None


def _weighted_metric(unpack: Any, signature: Any, id_bytes: int, costs: np.ndarray) -> tuple[Any, tuple]:
    """The normalised weighted ED (unit insert / delete, substitution ``costs[a, b]``) as a numba C callback, its
    dynamic programme vectorised over the first string's rows (the query's: a walk passes it first), and the scratch
    buffers it reads and writes (which must outlive it).

    Hand-written because no library computes a weighted edit distance behind a C pointer. The query's rows are cut
    into ``LANES`` blocks, one per lane, and lane ``k`` runs one column behind lane ``k - 1`` (a wavefront), so a
    lane's vertical carry is the row its neighbour finished one step before: exact, no correction pass, and every cell
    is ``min(min(diagonal + cost, left + 1), up + 1)`` of the same float32 operands as a scalar DP (bit-identical;
    the tests check it against the exhaustive scan). The query's cost profile (its row of ``costs`` for every token)
    is rebuilt only when the first string changes, i.e. once per search. 1.25-1.6x faster than the four-rows-per-pass
    scalar DP it replaces inside a 1M-item walk (RESULTS 7h). A lane past either end of the item reads token
    ``len(costs)``, whose profile row is a cost no path takes, so it keeps its column as it was."""
    from numba import carray, cfunc, njit

    pointer, same_query, _ = _compiled_helpers()
    table = np.ascontiguousarray(costs, np.float32)
    vocab = len(table)
    segments = -(-WIDTH // LANES)
    never = np.float32(4 * WIDTH)  # above every DP value (at most 2 * WIDTH)
    profile = np.zeros((vocab + 1, segments, LANES), np.float32)
    profile[vocab] = never
    column, start = np.zeros((segments, LANES), np.float32), np.zeros((segments, LANES), np.float32)
    padded = np.full(WIDTH + 2 * LANES, vocab, np.uint32)  # unsigned: no negative-index fix-ups in the gathers
    query = _no_query(id_bytes)
    buffers = (profile, column, start, padded, query)
    profile_at, column_at, start_at, padded_at, query_at = (int(b.ctypes.data) for b in buffers)

    @njit(inline="always")
    def load(row):  # pragma: no cover - compiled
        return (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])

    @njit(inline="always")
    def store(row, x):  # pragma: no cover - compiled
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = x

    @njit(inline="always")
    def step(d, c, u, f):  # pragma: no cover - compiled
        """One cell per lane: min(min(diagonal + cost, left + 1), up + 1)."""
        one = np.float32(1.0)
        return (min(min(d[0] + c[0], u[0] + one), f[0]), min(min(d[1] + c[1], u[1] + one), f[1]),
                min(min(d[2] + c[2], u[2] + one), f[2]), min(min(d[3] + c[3], u[3] + one), f[3]),
                min(min(d[4] + c[4], u[4] + one), f[4]), min(min(d[5] + c[5], u[5] + one), f[5]),
                min(min(d[6] + c[6], u[6] + one), f[6]), min(min(d[7] + c[7], u[7] + one), f[7]))

    @njit(inline="always")
    def plus_one(x):  # pragma: no cover - compiled
        one = np.float32(1.0)
        return (x[0] + one, x[1] + one, x[2] + one, x[3] + one, x[4] + one, x[5] + one, x[6] + one, x[7] + one)

    @njit(inline="always")
    def costs_of(prof, tokens, s):  # pragma: no cover - compiled
        """Each lane's cost at segment ``s`` against its own column's token."""
        return (prof[tokens[0], s, 0], prof[tokens[1], s, 1], prof[tokens[2], s, 2], prof[tokens[3], s, 3],
                prof[tokens[4], s, 4], prof[tokens[5], s, 5], prof[tokens[6], s, 6], prof[tokens[7], s, 7])

    @cfunc(signature)
    def metric(pa, pb):  # pragma: no cover - runs as compiled code (usearch, graph_walk)
        a, b, la, lb = unpack(pa, pb)
        if la == 0 or lb == 0:
            return 1.0 if la + lb else 0.0
        prof = carray(pointer(profile_at), (vocab + 1, segments, LANES), np.float32)
        col = carray(pointer(column_at), (segments, LANES), np.float32)
        first = carray(pointer(start_at), (segments, LANES), np.float32)  # column 0: D[i, 0] = i
        item = carray(pointer(padded_at), WIDTH + 2 * LANES, np.uint32)
        seg = (la + LANES - 1) // LANES  # query row i = k * seg + s (lane k, segment s)
        if not same_query(pa, id_bytes, carray(pointer(query_at), len(query), np.uint64)):
            for t in range(vocab):
                for s in range(seg):
                    for k in range(LANES):
                        i = k * seg + s
                        prof[t, s, k] = table[a[i], t] if i < la else np.float32(0.0)
            for s in range(seg):
                for k in range(LANES):
                    first[s, k] = k * seg + s + 1
        for x in range(lb):
            item[x + LANES] = b[x]
        for x in range(lb + LANES, lb + 2 * LANES):
            item[x] = vocab
        col[:seg] = first[:seg]
        last = load(col[seg - 1])  # row (k + 1) * seg of lane k, and row k * seg above it, before column 1
        top = (np.float32(0.0), last[0], last[1], last[2], last[3], last[4], last[5], last[6])
        for t in range(1, lb + (la - 1) // seg + 1):  # lane k at column t - k
            tokens = (item[t + 7], item[t + 6], item[t + 5], item[t + 4], item[t + 3], item[t + 2], item[t + 1],
                      item[t])
            above = (np.float32(t), last[0], last[1], last[2], last[3], last[4], last[5], last[6])
            diagonal, up = top, plus_one(above)
            top = above
            for s in range(seg):
                left = load(col[s])
                h = step(diagonal, costs_of(prof, tokens, s), left, up)
                store(col[s], h)
                up, diagonal = plus_one(h), left
            last = load(col[seg - 1])
        r = la - 1
        return col[r % seg, r // seg] / max(la, lb)

    return metric, buffers


def _vectorised(metric: Any) -> tuple[int, Any]:
    """``(address, engine)`` of a numba C callback recompiled with LLVM's SLP vectoriser, which turns the weighted
    metric's eight lanes into vector instructions (without it they run as scalar code, slower than the scalar DP:
    14.1 vs 6.9 ms per 1M-item walk, RESULTS 7h; numba runs it only where the environment sets
    ``NUMBA_SLP_VECTORIZE`` for every function of the process, which a library must not change). The engine holds
    the code and must be kept. Falls back to numba's own code (engine None), with a warning, where llvmlite cannot
    recompile it."""
    try:
        import llvmlite.binding as llvm

        module = llvm.parse_assembly(metric.inspect_llvm())
        machine = llvm.Target.from_default_triple().create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3, jit=True)
        options = llvm.create_pipeline_tuning_options(speed_level=3)
        options.slp_vectorization = True
        options.loop_vectorization = True
        builder = llvm.create_pass_builder(machine, options)
        builder.getModulePassManager().run(module, builder)
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        return engine.get_function_address(metric.native_name), engine
    except Exception as error:  # pragma: no cover - depends on the llvmlite build
        warnings.warn(f"graph search: the weighted metric runs without SIMD ({error!r})", RuntimeWarning,
                      stacklevel=3)
        return metric.address, None


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
        metric = self._walk_metric(costs)
        with self._search_lock, metric.lock:  # the walk's metric keeps the query in buffers: one walk at a time
            keys = self.layout().search(metric.address, packed, count, max(count, self.expansion_search),
                                        self._walk_state)
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
