"""The graph's compiled metrics: C functions over packed token strings, cached on disk by numba.

usearch (building a graph) calls ``float(a, b)``; a walk (:mod:`.graph_walk`) calls ``void(query, base, row, nodes,
count, out, state)``: the distances from the query to the ``count`` packed rows ``base + nodes[k] * row`` bytes, into
``out`` (a walk scores a node's new neighbours together). ``state`` points at the addresses of the buffers the metric
keeps between calls (the query's match masks or cost profile, rebuilt only when the query changes, i.e. once per
search). Nothing is baked into the code (no buffer address, no cost matrix), so numba caches each compiled function on
disk: a process's first graph search loads it instead of compiling it (4-8 s per metric on this machine; RESULTS 7n).
Hand-written because usearch has no string metric and no library computes a weighted edit distance behind a C pointer.

Strings are packed into :data:`WIDTH` ids (bytes, or 16-bit words for vocabularies over 255 tokens), padded with
the id type's largest value.

Example:
    >>> import ctypes
    >>> import numpy as np
    >>> a, b = np.full(WIDTH, 255, np.uint8), np.full(WIDTH, 255, np.uint8)
    >>> a[:3], b[:2] = [1, 2, 3], [1, 3]
    >>> plain = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p)(compiled("build", 1).address)
    >>> round(plain(a.ctypes.data, b.ctypes.data), 4)  # one deletion over max(3, 2)
    0.3333
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numba
import numpy as np
from llvmlite import binding, ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.core.compiler_lock import global_compiler_lock
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from .kernels import myers_column

WIDTH = 64
"""Tokens per packed string: one 64-bit word of Myers' algorithm."""

LANES = 8
"""Query rows the weighted metric computes side by side: eight float32 lanes, one AVX2 register."""

SEGMENTS = WIDTH // LANES

PLAIN_STATE = ("symbols", "masks", "query")
"""The buffers of a walk's plain metric, in the order of its state's addresses: the query's table of symbols (16-bit
ids), its match masks, and its packed row."""

WEIGHTED_STATE = ("profile", "column", "start", "padded", "query", "costs", "lookup", "rows", "tokens", "dp",
                  "lengths")
"""The buffers of a walk's weighted metric, in the order of its state's addresses (then the vocabulary size and
which items-in-lanes kernel runs, :func:`vector_lookup`, 0 for none): the query's cost profile, the DP's column, its
first column, the item's ids padded for the lanes, the query's packed row, the substitution costs (rounded to
:data:`COST_STEP`); for the items-in-lanes kernel each token's costs laid out for its lookup, the query's rows of
them, the items' ids in lanes, the DP's row and the items' lengths."""

COST_STEP = 1 / 256
"""A walk's weighted metric scores with the substitution costs rounded to multiples of this, so that both of its
kernels add exact numbers (float32 sums of 1/256 steps below 2 * WIDTH, uint16 counts of them) and agree to the bit.
A distance moves by at most half a step per substitution, under 1/512 once normalised; the walk's candidates are
re-scored with the exact costs (:mod:`.graph`)."""

ITEM_LANES = 32
"""Items the weighted metric scores side by side: 32 uint16 lanes, one AVX-512 register (two AVX2 ones)."""

MIN_LANES = (0, 3, 8)
"""Fewest items worth the items-in-lanes kernel, by :func:`vector_lookup`'s kind: a call costs about as much for 1
item as for 32 (with AVX-512BW ~1.6 us on 48-token strings, ~0.65 us per item for the query-in-lanes DP; with AVX2's
longer lookup even 8 items only break even; RESULTS 7o)."""

_LANES_VOCABULARY = 64  # the items-in-lanes kernel looks a token's cost up among 64 held in registers
_ROW = 128  # uint16 words per token's lookup layout: 64 costs (AVX-512BW), or 8 x 32 bytes of pshufb tables (AVX2)
AVX512, AVX2 = 1, 2  # the items-in-lanes kernel's kinds (vector_lookup)


@intrinsic
def address(typingctx, value):  # pragma: no cover - compiled
    """An integer address or a typed pointer as a void pointer for ``carray`` (numba has no public cast)."""
    def codegen(context, builder, signature, args):
        if isinstance(value, types.CPointer):
            return builder.bitcast(args[0], cgutils.voidptr_t)
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(value), codegen


@intrinsic
def _at(typingctx, pointer, offset):  # pragma: no cover - compiled
    """The typed ``pointer`` moved by ``offset`` bytes."""
    def codegen(context, builder, signature, args):
        moved = builder.gep(builder.bitcast(args[0], cgutils.voidptr_t), [args[1]])
        return builder.bitcast(moved, context.get_value_type(pointer))

    return pointer(pointer, offset), codegen


def vector_lookup() -> int:
    """How the items-in-lanes kernel looks its costs up on the CPU numba compiles for (numba's ``NUMBA_CPU_FEATURES``
    when set, else the host's): :data:`AVX512` (AVX-512BW's two-table word permute, ``vpermi2w``), :data:`AVX2`
    (byte shuffles, ``pshufb``, of 16-entry tables), or 0 (neither: an x86 CPU before AVX2, or another architecture;
    the weighted walk then keeps to the query-in-lanes DP)."""
    features = (numba.config.CPU_FEATURES or binding.get_host_cpu_features().flatten()).split(",")
    return AVX512 if "+avx512bw" in features else AVX2 if "+avx2" in features else 0


def _lookup_rows(steps: np.ndarray, kind: int) -> np.ndarray:
    """Each token's costs (uint16 steps, ``(K, K)``, K <= 64) laid out as the kernel of ``kind`` reads a query row's:
    64 words (AVX-512BW), or the low then the high bytes of the 64 costs as four 16-byte tables each, every table
    twice (one per 128-bit half of an AVX2 register)."""
    rows = np.zeros((len(steps), _ROW), np.uint16)
    if kind == AVX512:
        rows[:, :len(steps)] = steps
    else:
        costs = np.zeros((len(steps), _LANES_VOCABULARY), np.uint16)
        costs[:, :len(steps)] = steps
        tables = np.stack([costs & 0xFF, costs >> 8], 1).astype(np.uint8).reshape(len(steps), 2, 4, 1, 16)
        rows.view(np.uint8)[:] = np.broadcast_to(tables, (len(steps), 2, 4, 2, 16)).reshape(len(steps), -1)
    return rows


@njit(inline="always")
def length(pa, id_bytes):  # pragma: no cover - compiled
    """The ids before the padding of the packed string at ``pa``, read as 64-bit words (a walk calls this for every
    item: a loop over ids cost ~0.14 µs per call more on 40-token strings): the first all-ones id is the first zero
    lane of the word's complement (SWAR, lanes of 8 or 16 bits)."""
    ones = np.uint64(0x0101010101010101) if id_bytes == 1 else np.uint64(0x0001000100010001)
    high = np.uint64(0x8080808080808080) if id_bytes == 1 else np.uint64(0x8000800080008000)
    a = carray(address(pa), WIDTH * id_bytes // 8, np.uint64)
    for w in range(WIDTH * id_bytes // 8):
        x = ~a[w]
        found = (x - ones) & ~x & high
        if found:
            return (w * 64 + trailing_zeros(found)) // (8 * id_bytes)
    return WIDTH


@njit(inline="always")
def same_query(pa, id_bytes, kept):  # pragma: no cover - compiled
    """Whether the ``kept`` words hold the packed string at ``pa`` already, storing it there when not."""
    a = carray(address(pa), WIDTH * id_bytes // 8, np.uint64)
    same = True
    for w in range(WIDTH * id_bytes // 8):
        same &= a[w] == kept[w]
    if not same:
        kept[:] = a
    return same


def _no_query(id_bytes: int) -> np.ndarray:
    """The buffer in which a walk's metric keeps the packed query it prepared for, holding a row no packing produces
    (an id after the padding), so that the first call prepares."""
    kept = np.zeros(WIDTH * id_bytes // 8, np.uint64)
    kept[0] = 0xFFFF
    return kept


def new_state(kind: str, id_bytes: int, costs: np.ndarray | None = None) -> tuple[tuple, np.ndarray]:
    """``(buffers, state)`` of a walk's metric of ``kind`` ("plain", or "weighted" with ``costs``): the buffers it
    keeps between calls (:data:`PLAIN_STATE` / :data:`WEIGHTED_STATE`, which must outlive it) and the int64 array of
    their addresses (then the vocabulary size) whose address the walk passes as the metric's third argument."""
    if kind == "plain":
        slots = 256 if id_bytes == 1 else 2 * WIDTH  # as _slot: bytes index directly, 16-bit ids hash
        buffers = (np.full(slots, -1, np.int32), np.zeros(slots, np.uint64), _no_query(id_bytes))
        return buffers, np.array([b.ctypes.data for b in buffers], np.int64)
    steps = np.minimum(np.rint(np.asarray(costs, np.float64) / COST_STEP), np.iinfo(np.uint16).max)
    table = np.ascontiguousarray(steps * COST_STEP, np.float32)
    lanes = vector_lookup() if id_bytes == 1 and len(table) <= _LANES_VOCABULARY else 0
    lookup = _lookup_rows(steps.astype(np.uint16), lanes) if lanes else np.zeros((1, _ROW), np.uint16)
    shape = (SEGMENTS, LANES)
    buffers = (np.zeros((len(table) + 1, *shape), np.float32), np.zeros(shape, np.float32), np.zeros(shape, np.float32),
               np.zeros(WIDTH + 2 * LANES, np.uint32), _no_query(id_bytes), table, lookup,
               np.zeros((WIDTH, _ROW), np.uint16), np.zeros((WIDTH, ITEM_LANES), np.uint16),
               np.zeros((WIDTH, ITEM_LANES), np.uint16), np.zeros(ITEM_LANES, np.int64))
    return buffers, np.array([b.ctypes.data for b in buffers] + [len(table), lanes], np.int64)


@njit(inline="always")
def _slot(symbols, token, direct):  # pragma: no cover - compiled
    """The masks' slot of ``token``: the byte itself, or for 16-bit ids its place in an open-addressing table of
    ``2 * WIDTH`` slots (at most 64 symbols; a direct 65,536-entry table would cost more than the distance)."""
    if direct:
        return np.int32(token)
    h = np.int32(token) & (2 * WIDTH - 1)
    while symbols[h] != -1 and symbols[h] != token:
        h = (h + 1) & (2 * WIDTH - 1)
    return h


@njit(inline="always")
def _fill(a, la, symbols, peq, direct):  # pragma: no cover - compiled
    one = np.uint64(1)
    for i in range(la):
        h = _slot(symbols, a[i], direct)
        if not direct:
            symbols[h] = a[i]
        peq[h] |= one << np.uint64(i)


@njit(inline="always")
def _myers(b, la, lb, symbols, peq, direct):  # pragma: no cover - compiled
    """Myers' bit-parallel normalised ED of the masked query (``la`` ids) and ``b``."""
    one = np.uint64(1)
    vp = np.uint64(0xFFFFFFFFFFFFFFFF) if la == WIDTH else (one << np.uint64(la)) - one
    vn = np.uint64(0)
    last = one << np.uint64(la - 1)
    score = la
    for j in range(lb):
        vp, vn, delta = myers_column(peq[_slot(symbols, b[j], direct)], vp, vn, last, one)  # global: D[0, j] = j
        score += delta
    return np.float32(score / max(la, lb))


@njit(inline="always")
def _build(pa, pb, id_bytes):  # pragma: no cover - compiled
    """Plain normalised ED without state (a build calls it from several threads): the masks built at every call."""
    la, lb = length(pa, id_bytes), length(pb, id_bytes)
    if la == 0 or lb == 0:
        return np.float32(1.0 if la + lb else 0.0)
    direct = id_bytes == 1
    symbols = np.full(1 if direct else 2 * WIDTH, -1, np.int32)
    peq = np.zeros(256 if direct else 2 * WIDTH, np.uint64)
    _fill(carray(pa, WIDTH), la, symbols, peq, direct)
    return _myers(carray(pb, WIDTH), la, lb, symbols, peq, direct)


@njit(inline="always")
def _walk_plain(pa, base, row, nodes, count, out, state, id_bytes):  # pragma: no cover - compiled
    """A walk's plain normalised ED, keeping the query's masks in the state's buffers (:data:`PLAIN_STATE`) between
    calls (checked once per call, not once per item): 20 % less per call, walks 10-15 % faster on 1M melody strings
    (RESULTS 7l)."""
    la = length(pa, id_bytes)
    direct = id_bytes == 1
    slots = 256 if direct else 2 * WIDTH
    buffers = carray(address(state), len(PLAIN_STATE), np.int64)
    symbols = carray(address(buffers[0]), slots, np.int32)
    peq = carray(address(buffers[1]), slots, np.uint64)
    if la and not same_query(pa, id_bytes, carray(address(buffers[2]), WIDTH * id_bytes // 8, np.uint64)):
        symbols[:] = -1
        peq[:] = 0
        _fill(carray(pa, WIDTH), la, symbols, peq, direct)
    for k in range(count):
        pb = _at(base, nodes[k] * row)
        lb = length(pb, id_bytes)
        if la == 0 or lb == 0:
            out[k] = np.float32(1.0 if la + lb else 0.0)
        else:
            out[k] = _myers(carray(pb, WIDTH), la, lb, symbols, peq, direct)


@njit(inline="always")
def _load(row):  # pragma: no cover - compiled
    return (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


@njit(inline="always")
def _store(row, x):  # pragma: no cover - compiled
    row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = x


@njit(inline="always")
def _step(d, c, u, f):  # pragma: no cover - compiled
    """One cell per lane: min(min(diagonal + cost, left + 1), up + 1)."""
    one = np.float32(1.0)
    return (min(min(d[0] + c[0], u[0] + one), f[0]), min(min(d[1] + c[1], u[1] + one), f[1]),
            min(min(d[2] + c[2], u[2] + one), f[2]), min(min(d[3] + c[3], u[3] + one), f[3]),
            min(min(d[4] + c[4], u[4] + one), f[4]), min(min(d[5] + c[5], u[5] + one), f[5]),
            min(min(d[6] + c[6], u[6] + one), f[6]), min(min(d[7] + c[7], u[7] + one), f[7]))


@njit(inline="always")
def _plus_one(x):  # pragma: no cover - compiled
    one = np.float32(1.0)
    return (x[0] + one, x[1] + one, x[2] + one, x[3] + one, x[4] + one, x[5] + one, x[6] + one, x[7] + one)


@njit(inline="always")
def _costs_of(prof, tokens, s):  # pragma: no cover - compiled
    """Each lane's cost at segment ``s`` against its own column's token."""
    return (prof[tokens[0], s, 0], prof[tokens[1], s, 1], prof[tokens[2], s, 2], prof[tokens[3], s, 3],
            prof[tokens[4], s, 4], prof[tokens[5], s, 5], prof[tokens[6], s, 6], prof[tokens[7], s, 7])


@njit(inline="always")
def _prepare(a, la, buffers, vocab, lanes):  # pragma: no cover - compiled
    """Build the query's cost profiles for both kernels (a new query: once per search)."""
    prof = carray(address(buffers[0]), (vocab + 1, SEGMENTS, LANES), np.float32)
    first = carray(address(buffers[2]), (SEGMENTS, LANES), np.float32)
    item = carray(address(buffers[3]), WIDTH + 2 * LANES, np.uint32)
    table = carray(address(buffers[5]), (vocab, vocab), np.float32)
    seg = (la + LANES - 1) // LANES
    for t in range(vocab):
        for s in range(seg):
            for k in range(LANES):
                i = k * seg + s
                prof[t, s, k] = table[a[i], t] if i < la else np.float32(0.0)
    prof[vocab] = np.float32(4 * WIDTH)  # above every DP value (at most 2 * WIDTH)
    item[:LANES] = vocab
    for s in range(seg):
        for k in range(LANES):
            first[s, k] = k * seg + s + 1
    if lanes:
        lookup = carray(address(buffers[6]), (vocab, _ROW), np.uint16)
        rows = carray(address(buffers[7]), (WIDTH, _ROW), np.uint16)
        for i in range(la):
            rows[i] = lookup[a[i]]


@njit(inline="always")
def _weighted_pair(a, la, pb, buffers, vocab, id_bytes):  # pragma: no cover - compiled
    """The normalised weighted ED (unit insert / delete, substitution ``costs[a, b]``) of the prepared query and the
    packed string at ``pb``, its dynamic programme vectorised over the query's rows.

    The query's rows are cut into ``LANES`` blocks, one per lane, and lane ``k`` runs one column behind lane
    ``k - 1`` (a wavefront), so a lane's vertical carry is the row its neighbour finished one step before: exact, no
    correction pass, and every cell is ``min(min(diagonal + cost, left + 1), up + 1)`` of the same float32 operands
    as a scalar DP (the tests check it against the exhaustive scan). 1.25-1.6x faster than the four-rows-per-pass
    scalar DP it replaced inside a 1M-item walk (RESULTS 7h). A lane past either end of the item reads token
    ``vocab``, whose profile row is a cost no path takes, so it keeps its column as it was."""
    lb = length(pb, id_bytes)
    if la == 0 or lb == 0:
        return np.float32(1.0 if la + lb else 0.0)
    b = carray(pb, WIDTH)
    prof = carray(address(buffers[0]), (vocab + 1, SEGMENTS, LANES), np.float32)
    col = carray(address(buffers[1]), (SEGMENTS, LANES), np.float32)
    first = carray(address(buffers[2]), (SEGMENTS, LANES), np.float32)  # column 0: D[i, 0] = i
    item = carray(address(buffers[3]), WIDTH + 2 * LANES, np.uint32)  # unsigned: no negative-index fix-ups
    seg = (la + LANES - 1) // LANES  # query row i = k * seg + s (lane k, segment s)
    for x in range(lb):
        item[x + LANES] = b[x]
    for x in range(lb + LANES, lb + 2 * LANES):
        item[x] = vocab
    col[:seg] = first[:seg]
    last = _load(col[seg - 1])  # row (k + 1) * seg of lane k, and row k * seg above it, before column 1
    top = (np.float32(0.0), last[0], last[1], last[2], last[3], last[4], last[5], last[6])
    for t in range(1, lb + (la - 1) // seg + 1):  # lane k at column t - k
        tokens = (item[t + 7], item[t + 6], item[t + 5], item[t + 4], item[t + 3], item[t + 2], item[t + 1], item[t])
        above = (np.float32(t), last[0], last[1], last[2], last[3], last[4], last[5], last[6])
        diagonal, up = top, _plus_one(above)
        top = above
        for s in range(seg):
            left = _load(col[s])
            h = _step(diagonal, _costs_of(prof, tokens, s), left, up)
            _store(col[s], h)
            up, diagonal = _plus_one(h), left
        last = _load(col[seg - 1])
    r = la - 1
    return np.float32(col[r % seg, r // seg] / max(la, lb))


@intrinsic
def _lanes_dp(typingctx, rows, tokens, dp, la, columns):  # pragma: no cover - compiled
    """The weighted ED's DP for :data:`ITEM_LANES` items at once, one per uint16 lane, in costs of
    :data:`COST_STEP`: for each query row ``i < la`` (its 64 costs, ``rows[i]``, in registers) and each item
    column ``j < columns``, a lane's cost is looked up by its item's token (``tokens[j]``): with AVX-512BW one
    two-table word permute (``vpermi2w``), with AVX2 four byte shuffles (``pshufb``) of 16-entry tables and three
    blends by the token's bits 4 and 5, for the low and the high byte (:func:`vector_lookup`; a walk comes here only
    where the CPU has one of them), then ``dp[j] = min(diagonal + cost, up + step, left + step)`` (the diagonal added
    with saturation: costs up to 65,535 steps). ``dp`` ends as the query's last row: lane ``l``'s distance is
    ``dp[length_l - 1, l]``. Items in lanes need no scan along a column (the latency of that log-step scan bounds a
    query-in-lanes DP of one item: RESULTS 7o) and no gather (the costs stay in registers): with AVX-512BW 4-7x faster
    per item than :func:`_weighted_pair` with 16-32 items."""
    def codegen(context, builder, signature, args):
        rows_at, tokens_at, dp_at, la_, columns_ = args
        i16, i64 = ir.IntType(16), ir.IntType(64)
        vector = ir.VectorType(i16, ITEM_LANES)
        module, pair = builder.module, ir.FunctionType(vector, [vector] * 2)
        add_saturated = cgutils.get_or_insert_function(module, pair, f"llvm.uadd.sat.v{ITEM_LANES}i16")
        kind, width = vector_lookup(), ir.Constant(i64, ITEM_LANES)
        if kind == AVX512:
            permute = cgutils.get_or_insert_function(module, ir.FunctionType(vector, [vector] * 3),
                                                     "llvm.x86.avx512.vpermi2var.hi.512")

            def registers(i):  # the row's 64 costs
                return [builder.load(at(rows_at, builder.add(builder.mul(i, ir.Constant(i64, _ROW)), ir.Constant(
                    i64, half * ITEM_LANES))), typ=vector, align=2) for half in range(2)]

            def lookup(tables, j):
                token = builder.load(at(tokens_at, j), typ=vector, align=2)
                return builder.call(permute, [tables[0], token, tables[1]])
        elif kind == AVX2:
            octets = ir.VectorType(ir.IntType(8), ITEM_LANES)
            shuffle = cgutils.get_or_insert_function(module, ir.FunctionType(octets, [octets] * 2),
                                                     "llvm.x86.avx2.pshuf.b")

            def registers(i):  # low-byte tables 0-3, then high-byte tables 0-3
                return [builder.load(builder.bitcast(at(rows_at, builder.add(builder.mul(i, ir.Constant(i64, _ROW)),
                                                                             ir.Constant(i64, 16 * k))),
                                                     octets.as_pointer()), typ=octets, align=1) for k in range(8)]

            def lookup(tables, j):
                token = builder.load(builder.bitcast(at(tokens_at, j), octets.as_pointer()), typ=octets, align=1)
                bit4, bit5 = (builder.icmp_unsigned("!=", builder.and_(token, ir.Constant(octets, [b] * ITEM_LANES)),
                                                    ir.Constant(octets, [0] * ITEM_LANES)) for b in (16, 32))
                parts = []
                for byte in range(2):
                    found = [builder.call(shuffle, [tables[4 * byte + k], token]) for k in range(4)]
                    part = builder.select(bit5, builder.select(bit4, found[3], found[2]),
                                          builder.select(bit4, found[1], found[0]))
                    parts.append(builder.zext(part, vector))
                return builder.or_(parts[0], builder.shl(parts[1], ir.Constant(vector, [8] * ITEM_LANES)))
        else:  # never called (new_state leads no walk here without one of them): valid IR all the same

            def registers(i):
                return []

            def lookup(tables, j):
                return ir.Constant(vector, [0] * ITEM_LANES)

        step = ir.Constant(vector, [round(1 / COST_STEP)] * ITEM_LANES)

        def at(base, index):
            pointer = builder.gep(builder.inttoptr(base, ir.PointerType(i16)), [index], source_etype=i16)
            return builder.bitcast(pointer, vector.as_pointer())

        def smaller(x, y):
            return builder.select(builder.icmp_unsigned("<", x, y), x, y)

        def steps(count):
            value = builder.trunc(builder.mul(count, ir.Constant(i64, round(1 / COST_STEP))), i16)
            one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined),
                                          ir.Constant(ir.VectorType(ir.IntType(32), ITEM_LANES), [0] * ITEM_LANES))

        diagonal, left = cgutils.alloca_once(builder, vector), cgutils.alloca_once(builder, vector)
        with cgutils.for_range(builder, columns_) as loop:  # above the query: D[-1, j] = j + 1
            above = steps(builder.add(loop.index, ir.Constant(i64, 1)))
            builder.store(above, at(dp_at, builder.mul(loop.index, width)), align=2)
        with cgutils.for_range(builder, la_) as row:
            i = row.index
            tables = registers(i)
            builder.store(steps(i), diagonal)  # D[i - 1, -1]
            builder.store(steps(builder.add(i, ir.Constant(i64, 1))), left)  # D[i, -1]
            with cgutils.for_range(builder, columns_) as column:
                j = builder.mul(column.index, width)
                cost = lookup(tables, j)
                up = builder.load(at(dp_at, j), typ=vector, align=2)
                through = builder.call(add_saturated, [builder.load(diagonal, typ=vector), cost])
                cell = smaller(smaller(through, builder.add(up, step)),
                               builder.add(builder.load(left, typ=vector), step))
                builder.store(cell, at(dp_at, j), align=2)
                builder.store(up, diagonal)
                builder.store(cell, left)
        return context.get_dummy_value()

    return types.none(types.int64, types.int64, types.int64, types.int64, types.int64), codegen


@njit(inline="always")
def _lanes(la, base, row, nodes, out, buffers, id_bytes, kind):  # pragma: no cover - compiled
    """Up to :data:`ITEM_LANES` items (``len(nodes)``) scored by :func:`_lanes_dp` (the query prepared); each column
    of ids is a row of ``tokens``, as 16-bit words (AVX-512BW) or in its first 32 bytes (AVX2)."""
    tokens = carray(address(buffers[8]), (WIDTH, ITEM_LANES), np.uint16)
    octets = carray(address(buffers[8]), (WIDTH, 2 * ITEM_LANES), np.uint8)
    dp = carray(address(buffers[9]), (WIDTH, ITEM_LANES), np.uint16)
    lengths = carray(address(buffers[10]), ITEM_LANES, np.int64)
    columns = 0
    for lane in range(len(nodes)):
        pb = _at(base, nodes[lane] * row)
        ids = carray(pb, WIDTH)
        lengths[lane] = length(pb, id_bytes)
        columns = max(columns, lengths[lane])
        if kind == AVX512:
            for j in range(lengths[lane]):
                tokens[j, lane] = ids[j]
        else:
            for j in range(lengths[lane]):
                octets[j, lane] = ids[j]
    _lanes_dp(buffers[7], buffers[8], buffers[9], la, columns)
    for lane in range(len(nodes)):
        lb = lengths[lane]
        out[lane] = np.float32(1.0) if lb == 0 else np.float32(dp[lb - 1, lane] * COST_STEP / max(la, lb))


@njit(inline="always")
def _walk_weighted(pa, base, row, nodes, count, out, state, id_bytes):  # pragma: no cover - compiled
    """A walk's weighted metric (:data:`WEIGHTED_STATE`): items in lanes, :data:`ITEM_LANES` at a time, where the CPU
    and the vocabulary allow and at least :data:`MIN_LANES` are left; the rest one by one (:func:`_weighted_pair`).
    Both score with the costs of :data:`COST_STEP` and give the same bits."""
    buffers = carray(address(state), len(WEIGHTED_STATE) + 2, np.int64)
    vocab, lanes = buffers[len(WEIGHTED_STATE)], buffers[len(WEIGHTED_STATE) + 1]
    la = length(pa, id_bytes)
    a = carray(pa, WIDTH)
    if la and not same_query(pa, id_bytes, carray(address(buffers[4]), WIDTH * id_bytes // 8, np.uint64)):
        _prepare(a, la, buffers, vocab, lanes)
    done = 0
    if lanes and la:
        while count - done >= MIN_LANES[lanes]:
            take = min(ITEM_LANES, count - done)
            _lanes(la, base, row, nodes[done:done + take], out[done:done + take], buffers, id_bytes, lanes)
            done += take
    for k in range(done, count):
        out[k] = _weighted_pair(a, la, _at(base, nodes[k] * row), buffers, vocab, id_bytes)


# The C entry points, one per kind and id width (numba's cfunc takes one signature); compiled by compiled().
def build_u8(pa, pb):  # pragma: no cover - compiled
    return _build(pa, pb, 1)


def build_u16(pa, pb):  # pragma: no cover - compiled
    return _build(pa, pb, 2)


def plain_u8(pa, base, row, nodes, count, out, state):  # pragma: no cover - compiled
    _walk_plain(pa, base, row, carray(nodes, count), count, carray(out, count), state, 1)


def plain_u16(pa, base, row, nodes, count, out, state):  # pragma: no cover - compiled
    _walk_plain(pa, base, row, carray(nodes, count), count, carray(out, count), state, 2)


def weighted_u8(pa, base, row, nodes, count, out, state):  # pragma: no cover - compiled
    _walk_weighted(pa, base, row, carray(nodes, count), count, carray(out, count), state, 1)


def weighted_u16(pa, base, row, nodes, count, out, state):  # pragma: no cover - compiled
    _walk_weighted(pa, base, row, carray(nodes, count), count, carray(out, count), state, 2)


_ENTRY_POINTS = {("build", 1): build_u8, ("build", 2): build_u16, ("plain", 1): plain_u8, ("plain", 2): plain_u16,
                 ("weighted", 1): weighted_u8, ("weighted", 2): weighted_u16}


@functools.cache
def compiled(kind: str, id_bytes: int) -> Any:
    """The numba C function of ``kind`` ("build", "plain" or "weighted") over ids of ``id_bytes`` bytes, compiled on
    first use in a process, from numba's disk cache when it holds it.

    Compiled with LLVM's SLP vectoriser, which turns the weighted metric's eight lanes into vector instructions
    (without it they run as scalar code, slower than a scalar DP: 14.1 vs 6.9 ms per 1M-item walk, RESULTS 7h).
    numba reads that switch (``NUMBA_SLP_VECTORIZE``) whenever it optimises a function, so it is set only while
    these compile, holding numba's compiler lock, so that no other function of the process is compiled with it."""
    pointer = types.CPointer(types.uint8 if id_bytes == 1 else types.uint16)
    if kind == "build":
        signature = types.float32(pointer, pointer)
    else:  # query, base, row bytes, nodes, count, distances out, state
        signature = types.void(pointer, pointer, types.int64, types.CPointer(types.int32), types.int64,
                               types.CPointer(types.float32), types.voidptr)
    with global_compiler_lock:
        saved = numba.config.SLP_VECTORIZE
        numba.config.SLP_VECTORIZE = 1
        try:
            try:
                return numba.cfunc(signature, cache=True)(_ENTRY_POINTS[kind, id_bytes])
            except RuntimeError as error:  # no writable cache folder (read-only install and home)
                if "no locator available" not in str(error):
                    raise
                warnings.warn(f"graph search: numba cannot cache the compiled metrics ({error}); they are compiled "
                              "in every process (set NUMBA_CACHE_DIR to a writable folder)", RuntimeWarning,
                              stacklevel=3)
                return numba.cfunc(signature)(_ENTRY_POINTS[kind, id_bytes])
        finally:
            numba.config.SLP_VECTORIZE = saved
