"""The graph's search: usearch's saved HNSW graph read into flat arrays and walked by compiled code.

usearch builds, extends and saves the graph (:mod:`.graph`), but its own search, which calls our metric back for every
item it visits, spends ~0.85 µs per visited item outside the metric (visited set, queues, nodes scattered over a
210 MB graph at 1M items), twice the metric's own cost (RESULTS 7l / 7m). Here the saved graph is read once into CSR
arrays, renumbered in breadth-first order from its entry point so that a node's neighbours lie near it in memory, and
searched by HNSW's own algorithm — greedy descent through the upper levels, then a best-first search of width ``ef``
over level 0 — compiled by numba, calling the same metric by its address: the same recall, 1.8x faster by plain ED
and 1.4x by the weighted one (whose DP costs more per item) on 1M strings.

Hand-written because usearch exposes neither its graph's edges nor a search without the per-item callback (the two
heaps too: numba's ``heapq`` over lists of tuples made the walk 27 % slower). The reader checks usearch's format
(magic, major version 2, every size) and refuses anything else with a clear error.

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.retrieval.graph import TokenGraph
    >>> graph = TokenGraph.build(np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9]), np.arange(3), threads=1)
    >>> layout = Layout.read(graph.to_bytes())
    >>> len(layout.vectors), sorted(layout.keys.tolist())
    (3, [0, 1, 2])
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

FREE_KEY = np.iinfo(np.uint64).max
"""The key usearch gives a removed item's slot: still walked through, never returned."""

_METRIC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                           ctypes.c_void_p, ctypes.c_void_p)
BATCH = 64
"""Most neighbours a walk scores in one call of its metric (usearch's level 0 holds 2 x 16 per node by default)."""

FILL = 24
"""A walk expands nodes until it has collected this many unvisited neighbours (or runs out of nodes to expand), then
scores them in one call: the weighted metric's items-in-lanes kernel costs about as much for 1 item as for 32, and a
node alone brings 5.8 on average. On 1M strings and 114 real validation hums (width 2,048), weighted ED 1.5x faster
than one node per call (2.8 vs 4.3 ms) at the same recall; plain ED unchanged (RESULTS 7o)."""
_MAGIC = b"usearch"
_DENSE_HEAD = 64  # usearch's index_dense header, after the vectors
_GRAPH_HEAD = 40  # size, connectivity, base connectivity, top level, entry slot (five uint64)


class Layout(NamedTuple):
    """A graph as flat arrays, nodes numbered in walk order: ``vectors`` (one packed row per node), ``keys`` (uint64;
    :data:`FREE_KEY` for removed slots), level 0 as CSR (``indptr``, ``indices``), the upper levels as CSR rows of the
    nodes present there (``upper_nodes`` ascending within each level, the rows of level ``l`` at ``level_rows[l - 1]:
    level_rows[l]``), and ``entry``, the node the walk starts from (a one-element array, so that every field saves as
    an array)."""

    vectors: np.ndarray
    keys: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    upper_nodes: np.ndarray
    upper_indptr: np.ndarray
    upper_indices: np.ndarray
    level_rows: np.ndarray
    entry: np.ndarray

    @classmethod
    def read(cls, buffer: np.ndarray) -> Layout:
        """The layout of a graph saved by usearch (``Index.save()`` bytes as a uint8 array, possibly memory-mapped)."""
        buffer = np.asarray(buffer, np.uint8)
        if len(buffer) < 8:
            raise _format_error("shorter than its header")
        rows, cols = (int(v) for v in buffer[:8].view(np.uint32))
        head = 8 + rows * cols
        graph_at = head + _DENSE_HEAD
        if len(buffer) < graph_at + _GRAPH_HEAD or bytes(buffer[head:head + len(_MAGIC)]) != _MAGIC:
            raise _format_error("no usearch header after the vectors")
        major = int(buffer[head + 7:head + 9].view(np.uint16)[0])
        if major != 2:
            raise _format_error(f"format version {major}.x; this reader knows 2.x")
        size, connectivity, base, top, entry = (int(v) for v in buffer[graph_at:graph_at + _GRAPH_HEAD].view(np.uint64))
        levels_at = graph_at + _GRAPH_HEAD
        if size != rows or len(buffer) < levels_at + 2 * size:
            raise _format_error(f"{rows} vectors but {size} nodes")
        levels = buffer[levels_at:levels_at + 2 * size].view(np.int16).astype(np.int64)
        node_bytes = 10 + (4 + 4 * base) + (4 + 4 * connectivity) * levels  # key, level, then (count, slots) per level
        starts = levels_at + 2 * size + np.concatenate([[0], np.cumsum(node_bytes)])
        if size and (starts[-1] != len(buffer) or levels.min() < 0 or levels.max() > top or not 0 <= entry < size):
            raise _format_error("node records do not fill the buffer")
        order = _breadth_first(buffer, starts, base, entry) if size else np.zeros(0, np.int64)
        position = np.empty(size, np.int64)
        position[order] = np.arange(size)
        keys = _keys(buffer, starts[order])
        indptr, indices = _level(buffer, starts[order] + 10, base, position)
        tops, ups, up_indices, level_rows = [], [np.zeros(1, np.int64)], [], [0]
        for level in range(1, top + 1):
            nodes = np.flatnonzero(levels[order] >= level)  # new ids, ascending
            at = starts[order[nodes]] + 10 + (4 + 4 * base) + (4 + 4 * connectivity) * (level - 1)
            pointers, neighbours = _level(buffer, at, connectivity, position)
            tops.append(nodes)
            ups.append(pointers[1:] + ups[-1][-1])
            up_indices.append(neighbours)
            level_rows.append(level_rows[-1] + len(nodes))
        return cls(np.ascontiguousarray(buffer[8:head].reshape(rows, cols)[order]), keys, indptr, indices,
                   np.concatenate(tops or [np.zeros(0, np.int64)]), np.concatenate(ups),
                   np.concatenate(up_indices or [np.zeros(0, np.int32)]), np.asarray(level_rows, np.int64),
                   np.array([position[entry] if size else 0], np.int64))

    def check(self) -> Layout:
        """Refuse arrays that do not form a graph (a damaged or foreign save) before any walk reads them."""
        n = len(self.keys)
        consistent = (
            self.vectors.ndim == 2 and len(self.vectors) == n and len(self.indptr) == n + 1 and self.indptr[0] == 0
            and self.indptr[-1] == len(self.indices) and (np.diff(self.indptr) >= 0).all()
            and len(self.upper_indptr) == len(self.upper_nodes) + 1 and self.upper_indptr[-1] == len(self.upper_indices)
            and self.level_rows[0] == 0 and self.level_rows[-1] == len(self.upper_nodes) and len(self.entry) == 1
            and (n == 0 or 0 <= self.entry[0] < n) and all(
                len(a) == 0 or (a.min() >= 0 and a.max() < n) for a in (self.indices, self.upper_nodes,
                                                                        self.upper_indices)))
        if not consistent:
            raise ValueError("the graph's walk arrays are inconsistent (damaged or from another index): rebuild the "
                             "graph with build_graph()")
        return self

    def search(self, metric_address: int, metric_state: int, query: np.ndarray, count: int, ef: int,
               state: WalkState) -> np.ndarray:
        """Keys of the ``count`` nearest items found by a walk of width ``ef`` (>= ``count``), nearest first (ties by
        key), by the compiled metric at ``metric_address`` (``void(query, base, row, nodes, count, out,
        metric_state)``: the distances to ``count`` rows; see :mod:`.graph_metrics`) from the packed ``query`` (a row
        like ``vectors``')."""
        if len(self.keys) == 0:
            return np.zeros(0, np.uint64)
        vectors = np.ascontiguousarray(self.vectors)
        found = _walk(_METRIC(metric_address), metric_state, query.ctypes.data, vectors.ctypes.data, vectors.shape[1],
                      self.indptr, self.indices, self.upper_nodes, self.upper_indptr, self.upper_indices,
                      self.level_rows, int(self.entry[0]), ef, FILL, *state.buffers(len(self.keys), ef))
        keys = self.keys[state.result_nodes[:found]]
        keys = keys[np.lexsort((keys, state.result_distances[:found]))]
        return keys[keys != FREE_KEY][:count]


class WalkState:
    """The buffers of one walk at a time (visited marks by walk number, the two heaps), reused across walks."""

    def __init__(self):
        self.batch, self.batch_distances = np.zeros(BATCH, np.int32), np.zeros(BATCH, np.float32)
        self.visited = np.zeros(0, np.uint32)
        self.walk = 0
        self.queue_distances, self.queue_nodes = np.zeros(0, np.float32), np.zeros(0, np.int32)
        self.result_distances, self.result_nodes = np.zeros(0, np.float32), np.zeros(0, np.int32)

    def buffers(self, nodes: int, ef: int) -> tuple:
        if len(self.visited) != nodes or self.walk == np.iinfo(np.uint32).max:
            self.visited, self.walk = np.zeros(nodes, np.uint32), 0
            self.queue_distances, self.queue_nodes = np.zeros(nodes, np.float32), np.zeros(nodes, np.int32)
        if len(self.result_nodes) < ef:
            self.result_distances, self.result_nodes = np.zeros(ef, np.float32), np.zeros(ef, np.int32)
        self.walk += 1
        return (self.batch, self.batch_distances, self.visited, np.uint32(self.walk), self.queue_distances,
                self.queue_nodes, self.result_distances, self.result_nodes)


def _format_error(reason: str) -> ValueError:
    return ValueError(f"the graph is not in usearch's 2.x format ({reason}); install usearch 2.x (pip install "
                      "'usearch>=2.9,<3') or rebuild the graph with build_graph()")


@numba.njit(cache=True, nogil=True)
def _breadth_first(buffer, starts, base, entry):  # pragma: no cover - compiled
    """Nodes in breadth-first order of level 0 from ``entry`` (nodes it does not reach follow in slot order)."""
    n = len(starts) - 1
    seen = np.zeros(n, np.bool_)
    order = np.empty(n, np.int64)
    head = tail = 0
    for start in range(-1, n):
        node = entry if start < 0 else start
        if seen[node]:
            continue
        seen[node] = True
        order[tail] = node
        tail += 1
        while head < tail:
            at = starts[order[head]] + 10
            head += 1
            for k in range(_u32(buffer, at)):
                neighbour = _u32(buffer, at + 4 + 4 * k)
                if neighbour < n and not seen[neighbour]:
                    seen[neighbour] = True
                    order[tail] = neighbour
                    tail += 1
    return order


@numba.njit(cache=True, nogil=True)
def _keys(buffer, at):  # pragma: no cover - compiled
    """The uint64 key at each byte offset ``at``."""
    keys = np.empty(len(at), np.uint64)
    for i in range(len(at)):
        key = np.uint64(0)
        for b in range(8):
            key |= np.uint64(buffer[at[i] + b]) << np.uint64(8 * b)
        keys[i] = key
    return keys


@numba.njit(cache=True, nogil=True)
def _level(buffer, at, capacity, position):  # pragma: no cover - compiled
    """CSR neighbour lists, renumbered by ``position``, of the nodes whose (count, slots) records lie at ``at``."""
    indptr = np.zeros(len(at) + 1, np.int64)
    for r in range(len(at)):
        count = _u32(buffer, at[r])
        if count > capacity:
            raise ValueError("a node lists more neighbours than the graph's connectivity")
        indptr[r + 1] = indptr[r] + count
    indices = np.empty(indptr[-1], np.int32)
    for r in range(len(at)):
        for k in range(indptr[r + 1] - indptr[r]):
            slot = _u32(buffer, at[r] + 4 + 4 * k)
            if slot >= len(position):
                raise ValueError("a neighbour slot lies outside the graph")
            indices[indptr[r] + k] = position[slot]
    return indptr, indices


@numba.njit(cache=True, nogil=True)
def _walk(metric, metric_state, query, base, row, indptr, indices, upper_nodes, upper_indptr, upper_indices, level_rows,
          entry, ef, fill, batch, batch_distances, visited, walk, queue_distances, queue_nodes, result_distances,
          result_nodes):  # pragma: no cover - compiled
    """HNSW's search over the packed rows at address ``base`` (``row`` bytes each): from ``entry``, the nearest
    neighbour at each upper level in turn (greedy), then a best-first search of level 0 keeping the ``ef`` nearest
    nodes seen (a min-heap of nodes to expand, a max-heap of results). The metric scores a node's neighbours in one
    call; at level 0 the walk expands nodes (each while the stop rule allows it) until it has :data:`FILL` unvisited
    neighbours, scores them together, then takes them in order into both heaps. Returns how many results the result
    heap holds."""
    batch[0] = entry
    _score(metric, metric_state, query, base, row, batch, 1, batch_distances)
    node, distance = entry, batch_distances[0]
    for level in range(len(level_rows) - 1, 0, -1):
        lo, hi = level_rows[level - 1], level_rows[level]
        moved = True
        while moved:
            moved = False
            r = lo + np.searchsorted(upper_nodes[lo:hi], node)
            for start in range(upper_indptr[r], upper_indptr[r + 1], len(batch)):
                count = min(len(batch), upper_indptr[r + 1] - start)
                batch[:count] = upper_indices[start:start + count]
                _score(metric, metric_state, query, base, row, batch, count, batch_distances)
                for k in range(count):
                    if batch_distances[k] < distance:
                        node, distance, moved = batch[k], batch_distances[k], True
    visited[node] = walk
    queue_distances[0], queue_nodes[0], result_distances[0], result_nodes[0] = distance, node, distance, node
    queued = found = 1
    count = 0  # neighbours collected, not yet scored
    while True:
        if queued == 0 or (found >= ef and queue_distances[0] > result_distances[0]):
            if count == 0:
                break
            queued, found = _take(metric, metric_state, query, base, row, batch, count, batch_distances, ef, queued,
                                  found, queue_distances, queue_nodes, result_distances, result_nodes)
            count = 0
            continue
        node = queue_nodes[0]
        queued -= 1
        queue_distances[0], queue_nodes[0] = queue_distances[queued], queue_nodes[queued]
        _sift_down(queue_distances, queue_nodes, queued, 1.0)
        for k in range(indptr[node], indptr[node + 1]):
            if visited[indices[k]] != walk:
                visited[indices[k]] = walk
                batch[count] = indices[k]
                count += 1
                _prefetch(base + indices[k] * row)  # fetched together, before the metric reads them
                if count == len(batch):
                    queued, found = _take(metric, metric_state, query, base, row, batch, count, batch_distances, ef,
                                          queued, found, queue_distances, queue_nodes, result_distances, result_nodes)
                    count = 0
        if count >= fill:
            queued, found = _take(metric, metric_state, query, base, row, batch, count, batch_distances, ef, queued,
                                  found, queue_distances, queue_nodes, result_distances, result_nodes)
            count = 0
            if queued:  # and the neighbour list the walk most likely expands next (1.04x, RESULTS 7n)
                _prefetch(indices.ctypes.data + indptr[queue_nodes[0]] * indices.itemsize)
    return found


@numba.njit(inline="always")
def _take(metric, metric_state, query, base, row, batch, count, batch_distances, ef, queued, found, queue_distances,
          queue_nodes, result_distances, result_nodes):  # pragma: no cover - compiled
    """Score the ``count`` collected neighbours and take each in order into the queue and the results; returns the new
    sizes of both heaps."""
    _score(metric, metric_state, query, base, row, batch, count, batch_distances)
    for k in range(count):
        d, neighbour = batch_distances[k], batch[k]
        if found < ef or d < result_distances[0]:
            queue_distances[queued], queue_nodes[queued] = d, neighbour
            queued += 1
            _sift_up(queue_distances, queue_nodes, queued, 1.0)
            if found < ef:
                result_distances[found], result_nodes[found] = d, neighbour
                found += 1
                _sift_up(result_distances, result_nodes, found, -1.0)
            else:
                result_distances[0], result_nodes[0] = d, neighbour
                _sift_down(result_distances, result_nodes, found, -1.0)
    return queued, found


@numba.njit(inline="always")
def _score(metric, metric_state, query, base, row, batch, count, distances):  # pragma: no cover - compiled
    if count:
        metric(query, base, row, batch.ctypes.data, count, distances.ctypes.data, metric_state)


@intrinsic
def _prefetch(typingctx, address):  # pragma: no cover - compiled
    """A hint to load the cache line at the integer ``address`` (LLVM's prefetch: read, keep in every cache level).
    Rows of a 1M-item graph (64 MB) miss the cache; fetching a node's new neighbours together, before scoring them,
    made walks 1.18x faster by plain ED and 1.08x by the weighted one on 1M strings (RESULTS 7n)."""
    def codegen(context, builder, signature, args):
        int32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [cgutils.voidptr_t], ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t] + [int32] * 3))
        hints = [ir.Constant(int32, v) for v in (0, 3, 1)]  # read, highest locality, data cache
        builder.call(function, [builder.inttoptr(args[0], cgutils.voidptr_t), *hints])
        return context.get_dummy_value()

    return numba.types.none(address), codegen


@numba.njit(inline="always")
def _sift_up(distances, nodes, size, sign):  # pragma: no cover - compiled
    """Restore a heap (min-heap for ``sign`` 1, max-heap for -1) after its last element was placed."""
    i = size - 1
    while i > 0:
        parent = (i - 1) >> 1
        if sign * distances[i] >= sign * distances[parent]:
            break
        _swap(distances, nodes, i, parent)
        i = parent


@numba.njit(inline="always")
def _sift_down(distances, nodes, size, sign):  # pragma: no cover - compiled
    """Restore a heap after its first element was replaced."""
    i = 0
    while 2 * i + 1 < size:
        child = 2 * i + 1
        if child + 1 < size and sign * distances[child + 1] < sign * distances[child]:
            child += 1
        if sign * distances[child] >= sign * distances[i]:
            break
        _swap(distances, nodes, i, child)
        i = child


@numba.njit(inline="always")
def _swap(distances, nodes, i, j):  # pragma: no cover - compiled
    distances[i], distances[j] = distances[j], distances[i]
    nodes[i], nodes[j] = nodes[j], nodes[i]


@numba.njit(inline="always")
def _u32(buffer, at):  # pragma: no cover - compiled
    return (np.int64(buffer[at]) | (np.int64(buffer[at + 1]) << 8) | (np.int64(buffer[at + 2]) << 16)
            | (np.int64(buffer[at + 3]) << 24))
