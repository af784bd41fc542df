"""Search at scale: the fast top-k path, the re-rank stage, persistence (format 2), deletion, batch queries."""

import json
import os

import numpy as np
import pytest

from wav2tok_hf.retrieval import Vocabulary, Wav2TokIndex
from wav2tok_hf.retrieval.qgram import QGramIndex
from wav2tok_hf.retrieval.storage import IndexLockedError, folder_lock

K = 16


def corpus(n=600, seed=0, k=K):
    """Clusters of mutated strings (like real token strings: variants of a few hundred melodies)."""
    rng = np.random.default_rng(seed)
    seeds = [rng.integers(0, k, rng.integers(8, 30)) for _ in range(40)]
    items = []
    for i in range(n):
        s = list(seeds[i % len(seeds)])
        for _ in range(rng.integers(0, 8)):
            op, pos = rng.integers(3), rng.integers(len(s))
            if op == 0:
                s[pos] = rng.integers(k)
            elif op == 1 and len(s) > 2:
                del s[pos]
            else:
                s.insert(pos, rng.integers(k))
        items.append(np.array(s))
    return items, seeds


def costs_matrix(k=K, seed=1):
    rng = np.random.default_rng(seed)
    costs = rng.uniform(0.3, 1.5, (k, k))
    costs = (costs + costs.T) / 2
    np.fill_diagonal(costs, 0)
    return costs


@pytest.fixture(scope="module")
def big():
    items, seeds = corpus()
    index = Wav2TokIndex(vocab_size=K, vocab_name="scale", substitution_costs=costs_matrix())
    index.add(items, labels=[str(i % 40) for i in range(len(items))])
    index.fast_search_min_items = 1  # force the fast path on a small index
    return index, items, seeds


@pytest.mark.parametrize("distance", ["levenshtein", "normalized_levenshtein", "weighted_levenshtein",
                                      "normalized_weighted_levenshtein", "subsequence_levenshtein",
                                      "normalized_subsequence_levenshtein"])
def test_fast_top_k_equals_exhaustive(big, distance):
    index, items, seeds = big
    queries = [items[3][2:], seeds[5], np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] * 3), items[8][3:7]]
    stages = set()
    for budget in (4000, 5):  # a tiny budget sends far queries to the full-scan stage
        index.fast_search_candidates = budget
        for q in queries:
            fast = index.search(q, distance=distance, top_k=10)
            full = index.search(q, distance=distance, top_k=10, exhaustive=True)
            assert fast.indices.tolist() == full.indices.tolist()  # the same items, ties in insertion order
            assert fast.scores.dtype == full.scores.dtype
            np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-6)
            assert fast.to_list() == full.to_list()
            assert (full.path, full.verified) == ("scan", None)  # the result says what answered it
            assert (fast.verified is None) == (fast.path == "scan") and (fast.verified or 1) > 0
            stages.add(fast.path)
    index.fast_search_candidates = 4000
    # both stages were exercised (the weighted bound, scaled by the cheapest substitution, rarely prunes enough)
    filtered = "windows" if "subsequence" in distance else "bigram filter"
    assert stages == ({"scan"} | ({filtered} if "weighted" not in distance else stages))


def test_qgram_bound_is_a_lower_bound():
    items, _ = corpus(200, seed=3)
    flat = np.concatenate(items).astype(np.int32)
    offsets = np.r_[0, np.cumsum([len(s) for s in items])]
    grams = QGramIndex.build(flat, offsets, K)
    index = Wav2TokIndex(vocab_size=K, vocab_name="b")
    index.add(items)
    for q in (items[0], items[7][::-1], np.array([0, 0, 0, 1])):
        touched, bounds, rest = grams.bounds(np.asarray(q, np.int32), normalized=False)
        exact = index.search(q, exhaustive=True)
        by_item = dict(zip(exact.indices.tolist(), exact.scores.tolist()))
        assert all(by_item[i] >= b - 1e-9 for i, b in zip(touched.tolist(), bounds.tolist()))
        others = set(range(len(items))) - set(touched.tolist())
        assert all(by_item[i] >= rest - 1e-9 for i in others)


def test_query_longer_than_every_item(big):
    index, _, _ = big
    long_query = np.tile(np.arange(K), 10)
    fast = index.search(long_query, distance="normalized_levenshtein", top_k=5)
    full = index.search(long_query, distance="normalized_levenshtein", top_k=5, exhaustive=True)
    np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-6)
    assert len(index.search(long_query, distance="subsequence_levenshtein", top_k=3)) == 3


@pytest.fixture(scope="module")
def tiny_model():
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    sr = 8000

    def melody(notes, note_s=0.25):
        t = np.arange(int(note_s * sr)) / sr
        return np.concatenate([0.5 * np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * t) for n in notes]).astype(np.float32)

    torch.manual_seed(0)
    model = Wav2TokModel(Wav2TokConfig(codebook_size=8, sampling_rate=sr, hidden_size=32, embedding_dim=16)).eval()
    return model, [melody([60, 64, 67]), melody([70, 65, 62, 60]), melody([50, 55])], sr


def rerank_index():
    index = Wav2TokIndex(vocab_size=4, vocab_name="t")
    index.enable_rerank(vocabulary=Vocabulary("f", 2, "frames"), metric="euclidean")
    frames = [np.zeros((3, 2)), np.ones((4, 2)), np.full((2, 2), 2.0)]
    index.add([[0, 1, 2], [0, 1, 3], [3, 3]], ids=["a", "b", "c"], frames=frames)
    return index


def test_rerank_reorders_shortlist_by_dtw():
    index = rerank_index()
    result = index.search([0, 1, 2], top_k=3, rerank=2, query_frames=np.ones((2, 2)))
    assert result.ids == ["b", "a", "c"] and result.reranked == 2
    assert result.token_scores.tolist() == [1, 0, 3] and result.scores[0] == 0.0
    rows = result.to_list()
    assert rows[0]["reranked"] and not rows[2]["reranked"] and rows[2]["score"] == 3.0
    assert index.search([0, 1, 2], top_k=3).ids == ["a", "b", "c"]  # no rerank: tokens only
    with pytest.raises(ValueError, match="query_frames"):
        index.search([0, 1, 2], rerank=2)
    with pytest.raises(ValueError, match="frame"):
        index.search([0, 1, 2], rerank=2, query_frames=np.ones((2, 3)))
    with pytest.raises(ValueError, match="frames= with the sequences"):
        index.add([[1, 2]])
    plain = Wav2TokIndex(vocab_size=4, vocab_name="t")
    plain.add([[1, 2]])
    with pytest.raises(ValueError, match="no re-rank frames"):
        plain.search([0, 1], rerank=2, query_frames=np.ones((2, 2)))
    with pytest.raises(ValueError, match="cover every item"):
        plain.enable_rerank(vocabulary=Vocabulary("f", 2, "frames"))


def test_rerank_pool_averages_item_and_query_frames_and_survives_save(tmp_path):
    rng = np.random.default_rng(0)
    items, query = [rng.normal(size=(n, 3)) for n in (7, 8, 5)], rng.normal(size=(6, 3))

    def pooled(frames, p):  # every p frames averaged, the last block over what it has
        return np.stack([frames[i:i + p].mean(0) for i in range(0, len(frames), p)])

    def index_of(pool, frames):
        index = Wav2TokIndex(vocab_size=4, vocab_name="t")
        index.enable_rerank(vocabulary=Vocabulary("f", 3, "frames"), metric="cosine", pool=pool)
        index.add([[0, 1], [0, 2], [1, 3]], ids=["a", "b", "c"], frames=frames)
        return index

    by_store = index_of(3, items)
    by_hand = index_of(1, [pooled(f, 3) for f in items])
    a = by_store.search([0, 1], rerank=3, query_frames=query)
    b = by_hand.search([0, 1], rerank=3, query_frames=pooled(query, 3))
    assert a.ids == b.ids and np.allclose(a.scores, b.scores, atol=1e-3)
    assert a.scores.tolist() != index_of(1, items).search([0, 1], rerank=3, query_frames=query).scores.tolist()
    by_store.save(tmp_path / "pooled")
    loaded = Wav2TokIndex.load(tmp_path / "pooled")
    assert loaded.rerank.pool == 3
    assert loaded.search([0, 1], rerank=3, query_frames=query).to_list() == a.to_list()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="pool="):
            Wav2TokIndex(vocab_size=4, vocab_name="t").enable_rerank(vocabulary=Vocabulary("f", 3, "frames"),
                                                                     pool=bad)


def test_rerank_with_audio_and_batch_tuple(tiny_model):
    model, clips, sr = tiny_model
    index = Wav2TokIndex.from_encoder(model)
    index.add_audio(model, clips, sampling_rate=sr, ids=["a", "b", "c"], store_frames=True)
    result = index.search_audio(model, clips[1], sampling_rate=sr, rerank=3)
    assert result.ids[0] == "b" and result.reranked == 3 and result.scores[0] == pytest.approx(0.0, abs=1e-3)
    batch = index.search_audio(model, (clips[0], clips[2]), sampling_rate=sr)  # a tuple is a batch, like encode
    assert isinstance(batch, list) and [r.ids[0] for r in batch] == ["a", "c"]
    assert index.search_audio(model, [clips[2]], sampling_rate=sr)[0].ids[0] == "c"
    with pytest.raises(ValueError, match="store_frames=True"):
        index.add_audio(model, clips[:1], sampling_rate=sr, ids=["d"])


def test_save_open_mmap_add_delete(tmp_path, big):
    index, items, _ = big
    rerank = rerank_index()
    index.save(tmp_path / "big")
    rerank.save(tmp_path / "rr")
    files = os.listdir(tmp_path / "big")
    assert not any(n.endswith((".pkl", ".pickle", ".pt", ".npz")) for n in files)
    loaded = Wav2TokIndex.load(tmp_path / "big")
    assert isinstance(loaded._data, np.memmap) and "qgram" in loaded._cache  # mapped, bigram index not rebuilt
    loaded.fast_search_min_items = 1
    for distance in ("normalized_levenshtein", "normalized_weighted_levenshtein"):
        a = index.search(items[5], distance=distance, top_k=10)
        b = loaded.search(items[5], distance=distance, top_k=10)
        assert a.to_list() == b.to_list()
    loaded.delete(["5", "6"])
    loaded.add([items[5]], ids=["new"], labels=["5"])
    assert len(loaded) == len(index) - 1 and loaded.search(items[5], top_k=1).ids == ["new"]
    with pytest.raises(KeyError, match="nothing was deleted"):
        loaded.delete(["new", "missing"])
    loaded.save(tmp_path / "big")  # over the folder it was opened from
    again = Wav2TokIndex.load(tmp_path / "big", verify=True)
    assert again.ids == loaded.ids and again.labels == loaded.labels
    assert len([n for n in os.listdir(tmp_path / "big") if n.startswith("data-")]) == 1
    rr = Wav2TokIndex.load(tmp_path / "rr")
    assert rr.search([0, 1, 2], rerank=2, query_frames=np.ones((2, 2))).ids[:2] == ["b", "a"]


def test_bad_folders_give_clear_errors_and_lose_nothing(tmp_path):
    index = Wav2TokIndex(vocab_size=4, vocab_name="t")
    index.add([[0, 1], [2, 3]])
    index.save(tmp_path)
    with folder_lock(str(tmp_path), exclusive=True):  # another process saving right now
        with pytest.raises(IndexLockedError, match="being written"):
            Wav2TokIndex.load(tmp_path)
    with folder_lock(str(tmp_path), exclusive=False):  # another process opening right now
        with pytest.raises(IndexLockedError, match="read or written"):
            index.save(tmp_path)
    assert Wav2TokIndex.load(tmp_path).ids == ["0", "1"]  # the saved index is intact
    payload = json.loads((tmp_path / "index.json").read_text())
    (codes,) = [n for n in os.listdir(tmp_path) if n.startswith("data-")]
    data = np.load(tmp_path / codes)
    np.save(tmp_path / codes, np.where(data == 3, 9, data).astype(data.dtype))  # a token outside the vocabulary
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Wav2TokIndex.load(tmp_path)
    os.unlink(tmp_path / codes)
    with pytest.raises(ValueError, match="missing"):
        Wav2TokIndex.load(tmp_path)
    assert payload["format_version"] == 2
    empty = Wav2TokIndex(vocab_size=4, vocab_name="t")
    empty.save(tmp_path / "empty")
    reopened = Wav2TokIndex.load(tmp_path / "empty")
    assert len(reopened) == 0
    with pytest.raises(ValueError, match="empty"):
        reopened.search([0, 1])
    with pytest.raises(ValueError, match="vocabulary"):
        reopened.add([[0, 1]], vocabulary=Vocabulary("other", 4))


def test_format_version_1_folder_still_loads(tmp_path):
    payload = {"format": "wav2tok-index", "format_version": 1, "vocabulary": {"name": "t", "size": 4, "kind": "tokens"},
               "metric": "cosine", "frame_rate": None, "substitution_costs": None, "ids": ["a", "b"],
               "labels": ["x", "y"], "tokens": [[0, 1], [2, 3]], "durations": [None, [0.1, 0.2]]}
    (tmp_path / "index.json").write_text(json.dumps(payload))
    index = Wav2TokIndex.load(tmp_path)
    assert index.ids == ["a", "b"] and index.search([2, 3], distance="subsequence_levenshtein", top_k=1).end_s[0] == pytest.approx(0.3)


def test_subsequence_fast_path_in_long_recordings():
    rng = np.random.default_rng(7)
    recordings = [rng.integers(0, 40, rng.integers(60, 300)) for _ in range(80)]
    index = Wav2TokIndex(vocab_size=40, vocab_name="std")
    index.add(recordings)
    index.fast_search_min_items = 1
    for k in range(12):
        item = recordings[k * 5]
        start = int(rng.integers(0, len(item) - 10))
        query = item[start:start + int(rng.integers(5, 11))].copy()
        query[int(rng.integers(len(query)))] = int(rng.integers(40))  # one substitution
        for distance in ("subsequence_levenshtein", "normalized_subsequence_levenshtein"):
            fast = index.search(query, distance=distance, top_k=5)
            full = index.search(query, distance=distance, top_k=5, exhaustive=True)
            assert fast.to_list() == full.to_list()
    long_query = recordings[0][:40]  # longer than the windows allow: the full scan answers
    assert index.search(long_query, distance="subsequence_levenshtein", top_k=3).to_list() == \
        index.search(long_query, distance="subsequence_levenshtein", top_k=3, exhaustive=True).to_list()


def test_smallest_equals_stable_argsort():
    from wav2tok_hf.retrieval.kernels import smallest

    rng = np.random.default_rng(0)
    for scores in (rng.integers(0, 5, 300), rng.integers(0, 5, 300).astype(np.float32) / 4, rng.random(50)):
        for k in (1, 7, 49, 50, 1000, None):
            assert smallest(scores, k).tolist() == np.argsort(scores, kind="stable")[:k].tolist()


def test_fast_path_skips_the_bound_after_repeated_full_scans(big):
    from wav2tok_hf.retrieval.index import FAST_SEARCH_PATIENCE

    index, items, _ = big
    index.fast_search_candidates = 5  # every query below needs the full scan
    index._cache.pop("scans", None)
    grams, calls = index._qgrams(), []
    original = grams.top_k
    grams.top_k = lambda *a, **kw: calls.append(kw["scan"]) or original(*a, **kw)
    try:
        for q in items[:2 * FAST_SEARCH_PATIENCE + 1]:
            fast = index.search(q[::-1], distance="normalized_levenshtein", top_k=10)
            assert fast.to_list() == index.search(q[::-1], distance="normalized_levenshtein", top_k=10,
                                                  exhaustive=True).to_list()
    finally:
        del grams.top_k
        index.fast_search_candidates = 4000
    # the bound is tried on the first FAST_SEARCH_PATIENCE queries, then on every FAST_SEARCH_PATIENCE-th only
    assert calls == [False] * (FAST_SEARCH_PATIENCE + 1) + [True] * (FAST_SEARCH_PATIENCE - 1) + [False]
    assert index._cache["scans"]["normalized_levenshtein"] == 2 * FAST_SEARCH_PATIENCE + 1


def test_merged_versions_name_every_path_that_answered(big):
    index, items, _ = big
    near, far = items[3][2:], np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] * 3)
    index.fast_search_candidates = 5  # the far version's bound cannot prune: the scan answers it
    index._cache.pop("scans", None)  # earlier tests' run of full scans would make the fast path skip its bound
    try:
        alone = [index.search(v, distance="normalized_levenshtein", top_k=10) for v in (near, far)]
        merged = index.search_versions([near, far], distance="normalized_levenshtein", top_k=10)
    finally:
        index.fast_search_candidates = 4000
    assert [r.path for r in alone] == ["bigram filter", "scan"]
    assert (merged.path, merged.verified) == ("bigram filter+scan", None)


def test_approximate_candidates(big):
    index, items, _ = big
    for distance in ("levenshtein", "normalized_levenshtein", "normalized_weighted_levenshtein"):
        q = items[3][2:]
        full = index.search(q, distance=distance, top_k=10, exhaustive=True)
        every = index.search(q, distance=distance, top_k=10, candidates=len(items))  # all items: exact
        assert every.to_list() == full.to_list() and every.scores.dtype == full.scores.dtype
        few = index.search(q, distance=distance, top_k=10, candidates=20)
        assert few.indices[0] == full.indices[0] and len(few) == 10  # the near copy is found among 20
        assert np.all(np.diff(few.scores) >= 0) and np.all(few.scores >= full.scores - 1e-6)  # rank by rank
        assert (few.path, few.verified) == ("candidates", 20)
    for bad, kwargs in ((0, {}), (True, {}), (10, {"exhaustive": True}), (10, {"top_k": None}),
                        (10, {"distance": "subsequence_levenshtein"})):
        with pytest.raises(ValueError, match="candidates"):
            index.search(items[0], **{"top_k": 10, **kwargs, "candidates": bad})


def cut(ranking, max_score, top_k=None):
    """A ranking cut at ``max_score`` (then its best ``top_k``): the reference of a range search."""
    return ranking._subset(np.flatnonzero(ranking.scores <= max_score)[:top_k]).to_list()


@pytest.mark.parametrize("distance", ["levenshtein", "normalized_levenshtein", "weighted_levenshtein",
                                      "normalized_weighted_levenshtein", "subsequence_levenshtein",
                                      "normalized_subsequence_levenshtein"])
def test_range_search_equals_the_exhaustive_ranking_cut(big, distance):
    index, items, seeds = big
    normalized, stages = distance.startswith("normalized"), set()
    queries = [items[3][2:], seeds[5], items[8][3:7], np.tile(np.arange(K), 3)]  # the last: too long for windows
    for budget in (4000, 5):  # a tiny budget sends unprunable thresholds to the full scan (stage 2)
        index.fast_search_candidates = budget
        for q in queries:
            full = index.search(q, distance=distance, exhaustive=True)
            at_a_score = float(full.scores[5])  # a threshold equal to a score (float32 for normalized_levenshtein)
            for max_score in (0, 0.1 if normalized else 1, 0.3 if normalized else 3, at_a_score, 1e9):
                for top_k in (None, 3):
                    fast = index.search(q, distance=distance, top_k=top_k, max_score=max_score)
                    assert fast.to_list() == cut(full, max_score, top_k) and fast.scores.dtype == full.scores.dtype
                    generic = index.search(q, distance=distance, top_k=top_k, max_score=max_score, exhaustive=True)
                    assert generic.to_list() == fast.to_list()
                    stages.add(fast.path)
    index.fast_search_candidates = 4000
    assert stages == {"scan", "windows" if "subsequence" in distance else "bigram filter"}


def test_window_range_search_equals_the_scan_on_random_data():
    from wav2tok_hf.retrieval.kernels import semiglobal_levenshtein, smallest
    from wav2tok_hf.retrieval.qgram import WindowGramIndex

    stages, top_stages = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        vocab = int(rng.integers(3, 20))
        items = [rng.integers(0, vocab, rng.integers(1, 200)) for _ in range(60)]
        flat = np.concatenate(items).astype(np.int32)
        offsets = np.r_[0, np.cumsum([len(s) for s in items])]
        windows = WindowGramIndex.build(flat, offsets, vocab, width=int(rng.integers(24, 50)), stride=8)
        for _ in range(8):
            item = items[int(rng.integers(len(items)))]
            start = int(rng.integers(len(item)))
            short = item[start:start + int(rng.integers(2, 9))].astype(np.int32)
            short[int(rng.integers(len(short)))] = int(rng.integers(vocab))
            for query in (short, np.tile(short, 8)):  # the second, mostly too long for the windows: a full scan
                costs, starts, ends = semiglobal_levenshtein(query, flat, offsets)
                for normalized in (False, True):
                    scores = costs / len(query) if normalized else costs.astype(np.float64)
                    for max_score in (0, 1 / len(query), 0.25 if normalized else 2, 1e9):
                        hits = windows.within(query, flat, offsets, max_score, normalized)
                        expected = np.flatnonzero(scores <= max_score)
                        expected = expected[np.argsort(scores[expected], kind="stable")]
                        assert hits.indices.tolist() == expected.tolist()
                        assert hits.scores.tolist() == scores[expected].tolist()
                        assert hits.starts.tolist() == starts[expected].tolist()  # the scan's segments, ties too
                        assert hits.ends.tolist() == ends[expected].tolist()
                        edits = min(len(query), int(np.floor(max_score * len(query) if normalized else max_score)))
                        stages.append((len(query) + edits > windows.width - windows.stride + 1, hits.stage))
                    top = windows.top_k(query, flat, offsets, 5, normalized)
                    best = smallest(scores, 5)
                    assert (top.indices.tolist(), top.starts.tolist()) == (best.tolist(), starts[best].tolist())
                    assert top.ends.tolist() == ends[best].tolist()
                    top_stages.append(top.stage)
    assert {stage for long, stage in stages if long} == {2} and (False, 1) in stages
    assert set(top_stages) == {1, 2}  # top-k by rising thresholds through the windows, and the scan
    # a 13-token query's matches within 0.2 (2 edits) span at most 15 tokens, inside one of the 48-token windows
    # every 24 (25 tokens at most): the range search goes through the windows
    rng = np.random.default_rng(0)
    flat = rng.integers(0, 50, 5000).astype(np.int32)
    offsets = np.array([0, 2500, 5000])
    windows = WindowGramIndex.build(flat, offsets, 50)
    query = flat[3000:3013].copy()
    hits = windows.within(query, flat, offsets, 0.2, True)
    assert (hits.indices.tolist(), hits.starts.tolist(), hits.stage) == ([1], [500], 1)
    # segments [7, 11) and [8, 11) cost the same: the windows break the tie as the scan does (the first window)
    # (a tail of 3s, which match nothing, makes the scan dearer than the windows that pass)
    flat = np.array([0, 1, 3, 0, 1, 1, 3, 0, 2, 1, 0, 3, 0, 1, 1, 1, 0] + [3] * 200, np.int32)
    offsets = np.array([0, len(flat)])
    windows = WindowGramIndex.build(flat, offsets, 4, width=12, stride=4)
    query = np.array([1, 2, 1, 0], np.int32)
    hits = windows.within(query, flat, offsets, 1, False)
    assert (hits.starts.tolist(), hits.ends.tolist(), hits.stage) == ([7], [11], 1)
    top = windows.top_k(query, flat, offsets, 1, False)
    assert (top.starts.tolist(), top.ends.tolist(), top.stage) == ([7], [11], 1)
    short = np.array([0, 1, 3, 0, 1, 1, 3, 0, 2, 1, 0, 3, 0, 1, 1, 1, 0], np.int32)  # 17 tokens: cheaper to scan
    top = WindowGramIndex.build(short, np.array([0, 17]), 4, width=12, stride=4).top_k(query, short, [0, 17], 1, False)
    assert (top.starts.tolist(), top.ends.tolist(), top.stage) == ([7], [11], 2)


def test_range_search_generic_paths_and_bad_max_score(big):
    index, items, _ = big
    few = index.search(items[3], distance="levenshtein", top_k=10, candidates=20)  # approximate: cut as it is
    assert index.search(items[3], distance="levenshtein", top_k=10, candidates=20, max_score=3).to_list() == \
        cut(few, 3)
    rng = np.random.default_rng(0)
    frames = Wav2TokIndex(frame_dim=2, vocab_name="f", metric="euclidean")
    frames.add([rng.normal(size=(int(rng.integers(3, 9)), 2)) for _ in range(12)])
    query = rng.normal(size=(3, 2))
    for distance in ("dtw", "subsequence_dtw"):
        full = frames.search(query, distance=distance)
        for top_k in (None, 2):
            limit = float(full.scores[6])
            assert frames.search(query, distance=distance, top_k=top_k, max_score=limit).to_list() == \
                cut(full, limit, top_k)
    rerank = rerank_index()  # the threshold applies to the token distance, before the re-rank
    result = rerank.search([0, 1, 2], rerank=2, query_frames=np.ones((2, 2)), max_score=1)
    assert result.ids == ["b", "a"] and result.reranked == 2 and result.token_scores.tolist() == [1, 0]
    for bad in (-0.1, float("nan"), float("inf"), "0.3", True, [0.3]):
        with pytest.raises(ValueError, match=r"max_score=.*expected a finite number >= 0"):
            index.search([K + 5], max_score=bad)  # checked before the (out-of-vocabulary) query
