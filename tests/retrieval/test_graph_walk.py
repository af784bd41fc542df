"""The graph's compiled walk (``retrieval/graph_walk.py``): usearch's saved graph read into flat arrays in walk order,
searched by HNSW's algorithm with the graph's metrics; refusals of foreign or damaged graphs."""

import numpy as np
import pytest

from wav2tok_hf.retrieval import kernels
from wav2tok_hf.retrieval.graph import TokenGraph, _compiled_metric, pack
from wav2tok_hf.retrieval.graph_walk import BATCH, FREE_KEY, Layout, WalkState


def strings(n=1500, vocab=20, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 40, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return rng.integers(0, vocab, offsets[-1]), offsets


def normalised(query, flat, offsets, costs=None):
    items = np.arange(len(offsets) - 1)
    return kernels.subset_distances(query, flat, offsets, items, costs) / np.maximum(len(query), np.diff(offsets))


def test_the_layout_holds_every_item_under_its_key_in_walk_order():
    flat, offsets = strings()
    keys = np.arange(len(offsets) - 1) * 3 + 5
    graph = TokenGraph.build(flat, offsets, keys, threads=1, connectivity=4)
    layout = Layout.read(graph.to_bytes()).check()
    assert sorted(layout.keys.tolist()) == keys.tolist()
    assert len(layout.level_rows) > 2  # connectivity 4 gives upper levels
    assert layout.entry.tolist() == [0]  # breadth-first from the entry point
    items = (layout.keys.astype(np.int64) - 5) // 3
    np.testing.assert_array_equal(layout.vectors, pack(flat, offsets)[items].view(np.uint8))
    first_hop = layout.indices[layout.indptr[0]:layout.indptr[1]]
    assert sorted(first_hop.tolist()) == list(range(1, len(first_hop) + 1))  # the entry's neighbours come next


@pytest.mark.parametrize("connectivity", [16, 40])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_walk_as_wide_as_the_graph_ranks_as_the_exhaustive_scan(weighted, connectivity):
    """Also with 80 neighbours per node at level 0, more than a metric call takes (``BATCH``): scored in turns."""
    flat, offsets = strings(n=400)
    costs = None
    if weighted:
        rng = np.random.default_rng(1)
        costs = rng.uniform(0.3, 2.0, (20, 20)).astype(np.float32)
        costs = (costs + costs.T) / 2
        np.fill_diagonal(costs, 0.0)
    graph = TokenGraph.build(flat, offsets, np.arange(400), threads=1, connectivity=connectivity)
    layout, metric = graph.layout(), _compiled_metric(1, costs, walk=True)
    assert np.diff(layout.indptr).max() > BATCH or connectivity == 16
    for query in (flat[offsets[7]:offsets[8]], np.array([1, 2, 3, 4, 5, 6, 7])):
        exact = normalised(query, flat, offsets, costs)
        packed = pack(query, np.array([0, len(query)]))[0]
        with metric.lock:
            found = layout.search(metric.address, metric.state, packed, 10, 400, WalkState()).astype(np.int64)
        np.testing.assert_allclose(exact[found], np.sort(exact)[:10], rtol=1e-6)


def test_removed_items_are_walked_through_but_never_returned():
    flat, offsets = strings(n=300)
    graph = TokenGraph.build(flat, offsets, np.arange(300), threads=1)
    query = flat[offsets[10]:offsets[11]]
    assert graph.candidates(query, 1).tolist() == [10]
    graph.remove(np.arange(0, 300, 2))  # every even key, the query's own among them
    assert FREE_KEY in graph.layout().keys  # read again after the change
    found = graph.candidates(query, 300)
    assert len(found) and (found % 2 == 1).all()


def test_foreign_or_damaged_graphs_are_refused_before_any_walk():
    flat, offsets = strings(n=50)
    graph = TokenGraph.build(flat, offsets, np.arange(50), threads=1)
    saved = graph.to_bytes()
    head = 8 + 50 * 64
    wrong_magic, wrong_version = saved.copy(), saved.copy()
    wrong_magic[head:head + 7] = np.frombuffer(b"usearcX", np.uint8)
    wrong_version[head + 7] = 3
    for buffer, reason in ((wrong_magic, "no usearch header"), (wrong_version, "format version 3"),
                           (saved[:-4], "node records do not fill"), (saved[:5], "shorter than its header")):
        with pytest.raises(ValueError, match=f"usearch's 2.x format \\({reason}"):
            Layout.read(buffer)
    layout = Layout.read(saved)
    damaged = layout._replace(indices=layout.indices + 50)
    with pytest.raises(ValueError, match="walk arrays are inconsistent"):
        damaged.check()
    other = Layout.read(TokenGraph.build(flat, offsets[:11], np.arange(10), threads=1).to_bytes())
    with pytest.raises(ValueError, match="walk arrays hold 10 items, the graph 50"):
        TokenGraph.from_bytes(saved, layout=other)
