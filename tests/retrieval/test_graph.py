"""Graph search (``Wav2TokIndex.build_graph``, ``retrieval/graph.py``): candidates from an HNSW graph walked with the
normalised edit distance, exact re-score, kept in step with add / delete / save / load."""

import json
import os

import numpy as np
import pytest

from wav2tok_hf.retrieval import Wav2TokIndex
from wav2tok_hf.retrieval.graph import PAD, WIDTH, TokenGraph, pack

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


def test_pack_cuts_at_64_tokens_and_pads():
    flat = np.arange(70) % 50
    packed = pack(flat, np.array([0, 2, 70]))
    assert packed.shape == (2, WIDTH) and packed.dtype == np.uint8
    assert packed[0, :3].tolist() == [0, 1, PAD] and (packed[0, 2:] == PAD).all()
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
            recalls.append(np.mean(fast.scores <= exact.scores[-1] + 1e-9))
    assert np.mean(recalls) >= 0.95


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
    for query in (index.sequence("5"), index.sequence("77")[:9]):
        assert opened.search(query, top_k=10).ids == index.search(query, top_k=10).ids
    opened.add([[9, 9, 8]], ids=["later"])  # keys continue after the saved ones
    assert opened.search([9, 9, 8], top_k=1).ids == ["later"]
    assert not opened._graph.viewed
    opened.delete(["later"])
    assert opened.search(index.sequence("5"), top_k=10).ids == index.search(index.sequence("5"), top_k=10).ids

    payload = json.loads((tmp_path / "index.json").read_text())
    keys_file = tmp_path / payload["arrays"]["graph_keys"]["file"]
    keys = np.load(keys_file)
    os.chmod(keys_file, 0o644)
    np.save(keys_file, keys[::-1].copy())  # same shape and dtype, no longer ascending
    with pytest.raises(ValueError, match="graph keys"):
        Wav2TokIndex.load(tmp_path)


def test_build_graph_refuses_what_it_cannot_serve():
    frames = Wav2TokIndex(frame_dim=4)
    with pytest.raises(ValueError, match="tokens index"):
        frames.build_graph()
    big = Wav2TokIndex(vocab_size=300)
    big.add([[299, 1]])
    with pytest.raises(ValueError, match="at most 255 tokens; this index has 300"):
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
    assert again.candidates(np.array([7, 8, 9]), 3).tolist() == [30, 20, 10]
