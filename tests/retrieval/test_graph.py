"""Graph search (``Wav2TokIndex.build_graph``, ``retrieval/graph.py``): candidates from an HNSW graph walked with the
normalised (weighted) edit distance, exact re-score, kept in step with add / delete / save / load; ids packed in
bytes or, for vocabularies over 255 tokens, 16-bit words."""

import json
import os

import numpy as np
import pytest

from wav2tok_hf.retrieval import Wav2TokIndex
from wav2tok_hf.retrieval.graph import WIDTH, TokenGraph, max_vocabulary, pack
from wav2tok_hf.retrieval.graph_metrics import COST_STEP

DISTANCES = ("levenshtein", "normalized_levenshtein", "weighted_levenshtein", "normalized_weighted_levenshtein")


def clustered(rng, n=600, vocab=30):
    """Strings in clusters (mutated copies of 30 seeds), some longer than the graph's 64 packed tokens."""
    seeds = [rng.integers(0, vocab, rng.integers(5, 90)) for _ in range(30)]
    items = []
    for _ in range(n):
        seed = seeds[int(rng.integers(len(seeds)))].copy()
        flips = rng.random(len(seed)) < 0.2
        seed[flips] = rng.integers(0, vocab, int(flips.sum()))
        items.append(seed[: max(1, len(seed) - int(rng.integers(0, 4)))])
    return items


@pytest.fixture()
def costs():
    rng = np.random.default_rng(1)
    c = rng.uniform(0.2, 2.0, (30, 30))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 0.0)
    return c


@pytest.mark.parametrize(("id_bytes", "dtype"), [(1, np.uint8), (2, np.uint16)])
def test_pack_cuts_at_64_tokens_and_pads(id_bytes, dtype):
    flat = np.arange(70) % 50
    packed = pack(flat, np.array([0, 2, 70]), id_bytes)
    pad = max_vocabulary(id_bytes)
    assert packed.shape == (2, WIDTH) and packed.dtype == dtype
    assert packed[0, :3].tolist() == [0, 1, pad] and (packed[0, 2:] == pad).all()
    assert packed[1].tolist() == (flat[2:66]).tolist()


@pytest.mark.parametrize("distance", DISTANCES)
def test_graph_with_every_item_as_candidate_equals_the_exhaustive_scan(distance, costs):
    rng = np.random.default_rng(0)
    items = clustered(rng)
    index = Wav2TokIndex(vocab_size=30, substitution_costs=costs)
    index.add(items)
    index.build_graph(threads=1)
    assert max(len(i) for i in items) > WIDTH  # the long strings are re-scored on their full length
    for query in (items[3], items[10][:20], rng.integers(0, 30, 70)):
        exact = index.search(query, distance=distance, top_k=10, exhaustive=True)
        graph = index.search(query, distance=distance, top_k=10, candidates=len(items))
        assert graph.ids == exact.ids
        np.testing.assert_allclose(graph.scores, exact.scores)
        assert graph.scores.dtype == exact.scores.dtype


def call_metric(metric, id_bytes, packed):
    """A compiled metric called on the first two packed rows as usearch (two strings) or a walk (two strings and the
    metric's state) calls it."""
    import ctypes

    if metric.lock is None:  # a build's
        pointer = ctypes.POINTER(ctypes.c_uint8 if id_bytes == 1 else ctypes.c_uint16)
        rows = [row.ctypes.data_as(pointer) for row in packed[:2]]
        return ctypes.CFUNCTYPE(ctypes.c_float, pointer, pointer)(metric.address)(*rows)
    return walk_metric(metric, packed)[0]


def walk_metric(metric, packed, nodes=(1,)):
    """A walk's metric called as a walk calls it: the distances from the packed row 0 to the rows ``nodes``."""
    from wav2tok_hf.retrieval.graph_walk import _METRIC

    nodes = np.asarray(nodes, np.int32)
    out = np.zeros(len(nodes), np.float32)
    packed = np.ascontiguousarray(packed)
    _METRIC(metric.address)(packed.ctypes.data, packed.ctypes.data, packed.strides[0], nodes.ctypes.data, len(nodes),
                            out.ctypes.data, metric.state)
    return out


@pytest.mark.parametrize("id_bytes", [1, 2])
@pytest.mark.parametrize("distance, walk", [("normalized_weighted_levenshtein", True),
                                            ("normalized_levenshtein", True), ("normalized_levenshtein", False)])
def test_the_compiled_metrics_equal_the_normalised_distances(id_bytes, distance, walk, costs):
    """The compiled metrics usearch and the walks call (the weighted walk's eight lanes of query rows in a wavefront,
    compiled with the SLP vectoriser; Myers' plain ED of a walk, the query's masks kept, and of a build, without state)
    against the index's exact scan, for every length of either string from 1 to 64, the query changing at every call
    (its profile / masks rebuilt) or staying (reused)."""
    from wav2tok_hf.retrieval.graph import _compiled_metric

    rng = np.random.default_rng(2)
    weighted = distance == "normalized_weighted_levenshtein"
    metric = _compiled_metric(id_bytes, costs.astype(np.float32) if weighted else None, walk)
    rounded = np.rint(costs / COST_STEP) * COST_STEP  # the walk's weighted metric scores with costs in these steps
    # plain ED of 16-bit ids: ids above a byte that all hash to one slot of the masks' table (probing at every id)
    spread = 1 if id_bytes == 1 or weighted else 128
    for la in range(1, WIDTH + 1):
        a, b, c = (rng.integers(0, 30, n) for n in (la, *rng.integers(1, WIDTH + 1, 2)))
        for x, y in ((a, b), (b, a), (b, c), (b, a)):
            packed = pack(np.concatenate([x, y]) * spread + (spread > 1) * 5,
                          np.array([0, len(x), len(x) + len(y)]), id_bytes)
            got = call_metric(metric, id_bytes, packed)
            index = Wav2TokIndex(vocab_size=30, substitution_costs=rounded if weighted else costs)
            index.add([y])
            exact = index.search(x, distance=distance, exhaustive=True).scores[0]
            assert got == pytest.approx(exact, rel=1e-5, abs=1e-6), (len(x), len(y))
            if weighted:  # against the true costs: under half a cost step per substitution, normalised
                index = Wav2TokIndex(vocab_size=30, substitution_costs=costs)
                index.add([y])
                true = index.search(x, distance=distance, exhaustive=True).scores[0]
                assert abs(got - true) <= COST_STEP / 2 + 1e-6


@pytest.mark.parametrize("vocab", [30, 64, 65])
def test_the_weighted_walk_metric_scores_a_batch_as_one_by_one(vocab):
    """A walk scores a node's neighbours in one call: where the CPU has AVX-512BW and the vocabulary at most 64 tokens,
    three or more items go through the items-in-lanes kernel (32 lanes, then the rest), fewer through the query's
    wavefront DP; both give the same bits, for batches of every size from 1 to 70, items of every length 0-64, ids up to
    the vocabulary's last, costs beyond 2 (saturating) and a query of 64 tokens."""
    from wav2tok_hf.retrieval.graph import _compiled_metric
    from wav2tok_hf.retrieval.graph_metrics import vector_lookup

    rng = np.random.default_rng(4)
    costs = rng.uniform(0.0, 3.0, (vocab, vocab))
    np.fill_diagonal(costs, 0.0)
    costs[0, 1] = 300.0  # far above the DP's values: the sum saturates instead of wrapping around
    metric = _compiled_metric(1, costs.astype(np.float32), walk=True)
    assert metric.keep[2][-1] == (vector_lookup() if vocab <= 64 else 0)  # the items-in-lanes kernel's kind
    for la in (64, 1, 17, 40):
        strings = [rng.integers(0, vocab, la)] + [rng.integers(0, vocab, n) for n in rng.integers(1, WIDTH + 1, 70)]
        strings[1] = np.zeros(0, np.int64)
        packed = pack(np.concatenate(strings), np.concatenate([[0], np.cumsum([len(t) for t in strings])]), 1)
        one_by_one = np.array([walk_metric(metric, packed, [k])[0] for k in range(1, 71)])
        for count in (1, 2, 3, 7, 32, 33, 35, 70):
            nodes = rng.permutation(np.arange(1, 71))[:count]
            np.testing.assert_array_equal(walk_metric(metric, packed, nodes), one_by_one[nodes - 1])
        index = Wav2TokIndex(vocab_size=vocab, substitution_costs=np.rint(costs * 256) / 256)
        index.add(strings[2:])  # an index holds no empty string (the metric scores it 1)
        exact = index.search(strings[0], distance="normalized_weighted_levenshtein", exhaustive=True)
        assert one_by_one[0] == 1.0
        np.testing.assert_allclose(one_by_one[1 + np.array(exact.ids, int)], exact.scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("id_bytes", "extremes"), [(1, [0, 1, 127, 128, 253, 254]),
                                                    (2, [0, 255, 256, 32767, 32768, 65533, 65534])])
def test_the_walk_metric_reads_lengths_and_the_query_by_words(id_bytes, extremes):
    """The metrics find a string's length and whether the query changed from 64-bit words of the packed row: ids next
    to the padding value or crossing a byte's / word's top bit, every length 1-64, and a first query of 64 zeros
    (the buffer that keeps the query starts with a row no packing produces, so the first call prepares its masks)."""
    from wav2tok_hf.retrieval.graph import _compiled_metric

    metric = _compiled_metric(id_bytes, None, walk=True)
    rng = np.random.default_rng(3)
    vocab = max_vocabulary(id_bytes)
    queries = [np.zeros(WIDTH, np.int64)] + [rng.choice(extremes, n) for n in range(1, WIDTH + 1)]
    for x in queries:
        y = rng.choice(extremes, rng.integers(1, WIDTH + 1))
        packed = pack(np.concatenate([x, y]), np.array([0, len(x), len(x) + len(y)]), id_bytes)
        got = call_metric(metric, id_bytes, packed)
        index = Wav2TokIndex(vocab_size=vocab)
        index.add([y])
        exact = index.search(x, distance="normalized_levenshtein", exhaustive=True).scores[0]
        assert got == pytest.approx(exact, rel=1e-5, abs=1e-6), (len(x), len(y))


def test_a_vocabulary_over_255_tokens_packs_16_bit_ids_and_ranks_as_the_scan():
    """800 tokens (the speech release's codebook): ids above 255 are kept apart (not folded into bytes)."""
    rng = np.random.default_rng(5)
    items = [seed + 255 * (seed % 3) for seed in clustered(rng, n=400)]  # ids up to 30 + 510: many collide mod 256
    costs = rng.uniform(0.2, 2.0, (800, 800))
    costs = (costs + costs.T) / 2
    np.fill_diagonal(costs, 0.0)
    index = Wav2TokIndex(vocab_size=800, substitution_costs=costs)
    index.add(items)
    index.build_graph(threads=1)
    assert index._graph.id_bytes == 2
    for query in (items[7], items[30][:15]):
        for distance in DISTANCES:
            exact = index.search(query, distance=distance, top_k=10, exhaustive=True)
            graph = index.search(query, distance=distance, top_k=10, candidates=len(items))
            assert graph.ids == exact.ids
    assert index.search(items[7], top_k=1).scores[0] == 0.0  # the default graph search finds an item itself


def test_a_weighted_search_walks_the_graph_with_the_weighted_distance():
    """The graph's own best candidate is the weighted nearest, not the plain nearest."""
    rng = np.random.default_rng(6)
    near = np.full((30, 30), 1.0)
    np.fill_diagonal(near, 0.0)
    near[np.arange(10), np.arange(10) + 10] = near[np.arange(10) + 10, np.arange(10)] = 0.05  # t ~ t + 10
    target = rng.integers(0, 10, 12)
    synonyms = target.copy()
    synonyms[:6] += 10  # half the tokens swapped for near codewords: plain 0.5, weighted 0.025
    other = target.copy()
    other[:3] = rng.integers(20, 30, 3)  # a quarter swapped for unrelated tokens: plain and weighted 0.25
    items = [rng.integers(0, 30, 12) for _ in range(500)] + [synonyms, other]
    index = Wav2TokIndex(vocab_size=30, substitution_costs=near)
    index.add(items)
    index.build_graph(threads=1, expansion_search=64)
    assert index.search(target, top_k=1, candidates=1, distance="normalized_weighted_levenshtein").ids == ["500"]
    assert index.search(target, top_k=1, candidates=1, distance="normalized_levenshtein").ids == ["501"]


def test_default_graph_search_finds_the_exhaustive_top_10(costs):
    rng = np.random.default_rng(2)
    items = clustered(rng, n=2000)
    index = Wav2TokIndex(vocab_size=30, substitution_costs=costs)
    index.add(items)
    index.build_graph(threads=1)
    recalls = []
    for k in range(0, 2000, 100):
        query = items[k][1:]
        for distance in ("normalized_levenshtein", "normalized_weighted_levenshtein"):
            exact = index.search(query, distance=distance, top_k=10, exhaustive=True)
            fast = index.search(query, distance=distance, top_k=10)  # the graph answers on its own
            if len(query) > WIDTH:  # longer than the graph's strings: answered exactly, not by the graph
                assert fast.path != "graph" and fast.ids == exact.ids and np.allclose(fast.scores, exact.scores)
                continue
            assert fast.path == "graph" and 10 <= fast.verified <= len(items)
            recalls.append(np.mean(fast.scores <= exact.scores[-1] + 1e-9))
    assert len(recalls) >= 20 and np.mean(recalls) >= 0.95
    long_query = next(q[1:] for q in items if len(q) > WIDTH + 1)
    assert index.search(long_query, top_k=3, candidates=50).path == "graph"  # an explicit approximate search walks


def test_items_added_and_deleted_after_building_join_and_leave_the_graph():
    rng = np.random.default_rng(3)
    index = Wav2TokIndex(vocab_size=30)
    index.add(clustered(rng, n=200))
    index.build_graph(threads=1, expansion_search=400)
    index.add([[1, 2, 3, 4, 5]], ids=["new"])
    assert index.search([1, 2, 3, 4, 5], top_k=1).ids == ["new"]
    index.delete(["new", "7"])
    for query in ([1, 2, 3, 4, 5], index.sequence("8")):
        result = index.search(query, top_k=5)
        assert "new" not in result.ids and "7" not in result.ids
        assert result.ids == index.search(query, top_k=5, exhaustive=True).ids
    assert len(index._graph) == len(index) == 199


def test_graph_is_saved_and_opened_with_the_index(tmp_path):
    rng = np.random.default_rng(4)
    index = Wav2TokIndex(vocab_size=30)
    index.add(clustered(rng, n=300))
    index.build_graph(threads=1, expansion_search=32)
    index.delete(["0"])
    index.save(tmp_path)
    opened = Wav2TokIndex.load(tmp_path)
    assert opened._graph is not None and opened._graph.expansion_search == 32
    assert opened._graph.viewed  # memory-mapped with the other arrays; copied on the first edit
    assert not Wav2TokIndex.load(tmp_path, mmap=False)._graph.viewed
    # the arrays the searches walk are saved too, and walked in place: nothing is read again on the first search
    assert isinstance(opened._graph._layout.indices, np.memmap)
    for query in (index.sequence("5"), index.sequence("77")[:9]):
        assert opened.search(query, top_k=10).ids == index.search(query, top_k=10).ids
    opened.add([[9, 9, 8]], ids=["later"])  # keys continue after the saved ones
    assert opened.search([9, 9, 8], top_k=1).ids == ["later"]
    assert not opened._graph.viewed
    opened.delete(["later"])
    assert opened.search(index.sequence("5"), top_k=10).ids == index.search(index.sequence("5"), top_k=10).ids

    payload = json.loads((tmp_path / "index.json").read_text())
    assert payload["graph"]["id_bytes"] == 1
    del payload["graph"]["id_bytes"]  # a file written before 16-bit ids opens as bytes
    for name in [name for name in payload["arrays"] if name.startswith("graph_walk_")]:
        del payload["arrays"][name]  # nor the walk's arrays: the first search reads them from usearch's bytes
    (tmp_path / "index.json").write_text(json.dumps(payload))
    assert Wav2TokIndex.load(tmp_path).search(index.sequence("5"), top_k=10).ids == index.search(
        index.sequence("5"), top_k=10).ids
    keys_file = tmp_path / payload["arrays"]["graph_keys"]["file"]
    keys = np.load(keys_file)
    os.chmod(keys_file, 0o644)
    np.save(keys_file, keys[::-1].copy())  # same shape and dtype, no longer ascending
    with pytest.raises(ValueError, match="graph keys"):
        Wav2TokIndex.load(tmp_path)


def test_an_index_made_for_a_model_builds_its_graph_at_the_model_s_width(tmp_path):
    from wav2tok_hf import Wav2TokModel
    from wav2tok_hf.retrieval.graph import EXPANSION_SEARCH
    from wav2tok_test_utils import tiny_config

    index = Wav2TokIndex.from_encoder(Wav2TokModel(tiny_config(codebook_size=30, graph_candidates=300)))
    assert index.graph_candidates == 300
    index.add(clustered(np.random.default_rng(5), n=50))
    index.save(tmp_path)
    opened = Wav2TokIndex.load(tmp_path)  # kept with the index until a graph is built
    assert opened.graph_candidates == 300
    opened.build_graph(threads=1)
    assert opened._graph.expansion_search == 300
    opened.build_graph(threads=1, expansion_search=64)  # an explicit width wins
    assert opened._graph.expansion_search == 64
    payload = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**payload, "graph_candidates": 0}))
    with pytest.raises(ValueError, match="graph_candidates=0 in index.json"):
        Wav2TokIndex.load(tmp_path)
    plain = Wav2TokIndex.from_encoder(Wav2TokModel(tiny_config(codebook_size=30)))
    plain.add(clustered(np.random.default_rng(5), n=50))
    plain.build_graph(threads=1)
    assert plain.graph_candidates is None and plain._graph.expansion_search == EXPANSION_SEARCH


def test_build_graph_refuses_what_it_cannot_serve():
    frames = Wav2TokIndex(frame_dim=4)
    with pytest.raises(ValueError, match="tokens index"):
        frames.build_graph()
    big = Wav2TokIndex(vocab_size=70000)
    big.add([[69999, 1]])
    with pytest.raises(ValueError, match="at most 65535 tokens; got 70000"):
        big.build_graph()
    small = Wav2TokIndex(vocab_size=10)
    small.add([[1, 2]])
    for bad in ({"connectivity": 0}, {"expansion_search": True}, {"threads": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            small.build_graph(**bad)
    assert small._graph is None


def test_token_graph_round_trips_through_bytes():
    flat, offsets = np.array([1, 2, 3, 1, 2, 4, 7, 8, 9]), np.array([0, 3, 6, 9])
    graph = TokenGraph.build(flat, offsets, np.array([10, 20, 30]), threads=1)
    again = TokenGraph.from_bytes(graph.to_bytes())
    assert len(again) == 3
    assert again.candidates(np.array([7, 8, 9]), 3).tolist() == [30, 10, 20]  # ties by key
    wide = TokenGraph.build(flat * 100, offsets, np.array([10, 20, 30]), threads=1, id_bytes=2)
    again = TokenGraph.from_bytes(wide.to_bytes(), id_bytes=2, view=True)
    assert again.candidates(np.array([700, 800, 900]), 3).tolist() == [30, 10, 20]
    with pytest.raises(ValueError, match="ids must be below 255; got id 300"):
        TokenGraph.build(np.array([300]), np.array([0, 1]), np.array([1]))


def test_plain_and_weighted_searches_from_several_threads_match_sequential_ones(costs):
    """A weighted search swaps the graph's metric for its walk, and the weighted metric keeps its query's cost profile
    in buffers shared by every graph with the same cost matrix: concurrent searches of two such indexes must not walk
    with another's metric or profile."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    jobs = []
    for _ in range(2):
        items = clustered(rng, n=1500)
        index = Wav2TokIndex(vocab_size=30, substitution_costs=costs)
        index.add(items)
        index.build_graph(threads=1, expansion_search=24)
        jobs += [(index, items[k][2:], d) for k in range(0, 1500, 50)
                 for d in ("normalized_levenshtein", "normalized_weighted_levenshtein")]
    order = rng.permutation(len(jobs))
    jobs = [jobs[k] for k in order]  # the two indexes' searches interleaved

    def run(job):
        return job[0].search(job[1], distance=job[2], top_k=5).ids

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(run, jobs)) == sequential
