"""Wav2TokIndex: ranking, subsequence search, persistence, vocabulary safety and input errors."""

import json
import os

import numpy as np
import pytest

from wav2tok_hf.retrieval import SearchResult, Vocabulary, Wav2TokIndex
from wav2tok_hf.retrieval import index as index_module


@pytest.fixture
def token_index():
    rng = np.random.default_rng(0)
    index = Wav2TokIndex(vocab_size=8, vocab_name="test-tokens")
    seqs = [rng.integers(0, 8, rng.integers(3, 15)).tolist() for _ in range(60)]
    index.add(seqs, ids=[f"item{i}" for i in range(60)], labels=[f"class{i % 7}" for i in range(60)])
    return index, seqs


def frames_index(metric="cosine"):
    rng = np.random.default_rng(1)
    items = [rng.standard_normal((rng.integers(4, 20), 6)).astype(np.float32) for _ in range(15)]
    index = Wav2TokIndex(frame_dim=6, vocab_name="test-frames", metric=metric, frame_rate=50.0)
    index.add(items, labels=[f"c{i % 4}" for i in range(15)])
    return index, items


def test_ed_ranking_matches_brute_force(token_index, levenshtein_reference):
    index, seqs = token_index
    rng = np.random.default_rng(5)
    queries = [rng.integers(0, 8, rng.integers(2, 10)).tolist() for _ in range(5)]
    for query, result in zip(queries, index.search(queries)):
        want = np.array([levenshtein_reference(query, s) for s in seqs])
        order = np.argsort(want, kind="stable")  # ties keep insertion order
        assert result.indices.tolist() == order.tolist()
        assert result.scores.tolist() == want[order].tolist()
        assert result.ids == [f"item{i}" for i in order]


def test_single_query_and_top_k_and_normalized(token_index, levenshtein_reference):
    index, seqs = token_index
    full = index.search(seqs[3])
    assert isinstance(full, SearchResult) and len(full) == len(seqs)
    assert full.ids[0] == "item3" and full.scores[0] == 0
    top = index.search(np.array(seqs[3]), top_k=5)
    assert top.indices.tolist() == full.indices[:5].tolist()
    normalized = index.search(seqs[3], distance="normalized_levenshtein")
    raw = np.array([levenshtein_reference(seqs[3], s) for s in seqs])
    np.testing.assert_allclose(np.sort(normalized.scores),
                               np.sort(raw / np.maximum(len(seqs[3]), [len(s) for s in seqs])), rtol=1e-6)


def test_by_class_keeps_the_best_item_per_class(token_index):
    index, _ = token_index
    result = index.search([1, 2, 3, 4])
    classes = result.by_class()
    assert len(classes) == 7 and len(set(classes.labels)) == 7
    for label, score in zip(classes.labels, classes.scores):
        assert score == min(s for lab, s in zip(result.labels, result.scores) if lab == label)
    assert list(classes.scores) == sorted(classes.scores)
    assert result.rank_of(classes.labels[0]) == 1
    assert result.rank_of("no-such-class") is None


def test_subsequence_search_positions_and_times():
    index = Wav2TokIndex(vocab_size=10, vocab_name="std")
    index.add([[0, 0, 1, 2, 3, 0], [4, 5, 6], [1, 2, 9, 3]], ids=["u1", "u2", "u3"],
              durations=[[0.1] * 6, [0.5] * 3, [0.2, 0.2, 0.2, 0.2]])
    result = index.search([1, 2, 3], distance="subsequence_levenshtein")
    rows = result.to_list()
    assert [r["id"] for r in rows] == ["u1", "u3", "u2"]
    assert (rows[0]["score"], rows[0]["start"], rows[0]["end"]) == (0, 2, 5)
    assert rows[0]["start_s"] == pytest.approx(0.2) and rows[0]["end_s"] == pytest.approx(0.5)
    assert (rows[1]["score"], rows[1]["start"], rows[1]["end"]) == (1, 0, 2)  # [1, 2]: earliest end among ties
    normalized = index.search([1, 2, 3], distance="normalized_subsequence_levenshtein")
    assert normalized.scores.tolist() == pytest.approx([0.0, 1 / 3, 1.0])


def test_subsequence_times_are_none_without_durations():
    index = Wav2TokIndex(vocab_size=4)
    index.add([[0, 1, 2]])
    assert index.search([1], distance="subsequence_levenshtein").start_s is None


def test_frames_dtw_and_subsequence_dtw():
    index, items = frames_index()
    result = index.search(items[2])
    assert result.ids[0] == "2" and result.scores[0] == pytest.approx(0.0, abs=1e-6)
    query = items[5][2:4]
    sub = index.search([query], distance="subsequence_dtw")[0]
    assert sub.ids[0] == "5" and (sub.starts[0], sub.ends[0]) == (2, 4)
    assert sub.start_s[0] == pytest.approx(2 / 50) and sub.end_s[0] == pytest.approx(4 / 50)


def test_weighted_search_matches_reference(token_index, weighted_levenshtein_reference):
    _, seqs = token_index
    costs = np.random.default_rng(3).uniform(0.2, 2.0, (8, 8))
    np.fill_diagonal(costs, 0.0)
    index = Wav2TokIndex(vocab_size=8, vocab_name="test-tokens", substitution_costs=costs)
    index.add(seqs)
    f32 = costs.astype(np.float32)  # the index keeps float32 costs
    for query in seqs[:3]:
        want = np.array([weighted_levenshtein_reference(query, s, f32) for s in seqs])
        raw = index.search(query, distance="weighted_levenshtein")
        np.testing.assert_allclose(raw.scores, np.sort(want), rtol=1e-6)
        normalized = index.search(query, distance="normalized_weighted_levenshtein")
        lengths = np.maximum(len(query), [len(s) for s in seqs])
        assert normalized.indices[0] == raw.indices[0] == seqs.index(query)
        np.testing.assert_allclose(np.sort(normalized.scores), np.sort(want / lengths), rtol=1e-6)


def test_search_versions_scores_each_item_by_its_best_version(token_index):
    index, seqs = token_index
    versions = [seqs[5][:-1], seqs[9], [7, 7, 7]]
    combined = index.search_versions(versions, distance="normalized_levenshtein", top_k=10)
    separate = index.search(versions, distance="normalized_levenshtein")
    best = np.min([[dict(zip(r.indices.tolist(), r.scores.tolist()))[i] for i in range(len(index))]
                   for r in separate], axis=0)
    np.testing.assert_allclose(combined.scores, np.sort(best)[:10])
    assert combined.ids[0] == "item9" and combined.scores[0] == 0 and len(combined) == 10
    k = next(i for i, seq in enumerate(seqs) if len(seq) >= 10)
    segment = index.search_versions([[7, 7, 7, 7, 7, 7], seqs[k][2:8]], distance="subsequence_levenshtein")
    assert segment.ids[0] == f"item{k}" and segment.scores[0] == 0
    assert (segment.starts[0], segment.ends[0]) == (2, 8)  # the segment of the winning version
    with pytest.raises(ValueError, match="looks like one sequence"):
        index.search_versions([1, 2, 3])


@pytest.mark.parametrize("distance", ["levenshtein", "normalized_levenshtein", "subsequence_levenshtein",
                                      "normalized_subsequence_levenshtein"])
def test_search_versions_top_k_is_the_head_of_the_full_ranking(distance):
    rng = np.random.default_rng(3)
    index = Wav2TokIndex(vocab_size=5)  # a small alphabet: many tied scores, ties broken by item order
    index.add([rng.integers(0, 5, rng.integers(1, 12)).tolist() for _ in range(80)])
    for _ in range(10):
        versions = [rng.integers(0, 5, rng.integers(1, 8)).tolist() for _ in range(3)]
        full = index.search_versions(versions, distance=distance)
        for k in (1, 7, 80):
            top = index.search_versions(versions, distance=distance, top_k=k)
            assert top.indices.tolist() == full.indices[:k].tolist()
            np.testing.assert_array_equal(top.scores, full.scores[:k])
            if full.starts is not None:
                assert (top.starts.tolist(), top.ends.tolist()) == (full.starts[:k].tolist(), full.ends[:k].tolist())
        for cut in np.unique(full.scores)[:3]:  # a threshold (range) search: the full ranking cut at max_score
            within = index.search_versions(versions, distance=distance, max_score=float(cut))
            assert within.indices.tolist() == full.indices[full.scores <= cut].tolist()


def test_weighted_distance_needs_valid_substitution_costs(token_index):
    index, _ = token_index
    with pytest.raises(ValueError, match="needs the index's substitution_costs"):
        index.search([1, 2], distance="weighted_levenshtein")
    with pytest.raises(ValueError, match=r"\(8, 8\) matrix"):
        Wav2TokIndex(vocab_size=8, substitution_costs=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="zero on the diagonal"):
        Wav2TokIndex(vocab_size=2, substitution_costs=np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        Wav2TokIndex(vocab_size=2, substitution_costs=[[0, -1], [1, 0]])
    with pytest.raises(ValueError, match="tokens index"):
        Wav2TokIndex(frame_dim=2, substitution_costs=np.zeros((2, 2)))


@pytest.mark.parametrize("kind", ["tokens", "euclidean", "cosine"])
def test_save_load_round_trip_identical(tmp_path, kind, token_index):
    if kind == "tokens":
        plain, seqs = token_index
        costs = np.random.default_rng(4).uniform(0.1, 2.0, (8, 8)).astype(np.float32)
        np.fill_diagonal(costs, 0.0)
        index = Wav2TokIndex(plain.vocabulary, substitution_costs=costs)
        index.add(seqs, ids=plain.ids, labels=plain.labels)
        index.add([[1, 2]], ids=["timed"], labels=["t"], durations=[[0.25, 0.5]])
        queries, distances = seqs[:4], ["levenshtein", "normalized_levenshtein", "subsequence_levenshtein",
                                        "normalized_weighted_levenshtein"]
    else:
        index, items = frames_index(kind)
        queries, distances = [x[:3] for x in items[:4]], ["dtw", "subsequence_dtw"]
    index.save(tmp_path / "idx")
    loaded = Wav2TokIndex.load(tmp_path / "idx")
    assert loaded.vocabulary == index.vocabulary and loaded.ids == index.ids and loaded.labels == index.labels
    assert (loaded.metric, loaded.frame_rate) == (index.metric, index.frame_rate)
    if kind == "tokens":
        np.testing.assert_array_equal(loaded.substitution_costs, index.substitution_costs)
    for distance in distances:
        for a, b in zip(index.search(queries, distance=distance), loaded.search(queries, distance=distance)):
            assert a.to_list() == b.to_list()
    assert not [n for n in os.listdir(tmp_path / "idx") if n.startswith(".tmp")]
    assert not any(n.endswith((".pkl", ".pickle", ".pt", ".npz")) for n in os.listdir(tmp_path / "idx"))


def test_failed_save_leaves_previous_index_intact(tmp_path, monkeypatch):
    index, items = frames_index()
    index.save(tmp_path)
    before = {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
    index.add([items[0] * 2], ids=["new"])

    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("index.json"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(index_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "index.json").read_bytes() == before["index.json"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]
    assert len(Wav2TokIndex.load(tmp_path)) == 15  # the old index, still loadable
    index.save(tmp_path)  # a later successful save replaces it and drops the stale array files
    assert len(Wav2TokIndex.load(tmp_path)) == 16
    assert len([n for n in os.listdir(tmp_path) if n.startswith("data-")]) == 1


def test_corrupted_files_raise_clear_errors(tmp_path, token_index):
    index, _ = token_index
    with pytest.raises(FileNotFoundError, match="no index.json"):
        Wav2TokIndex.load(tmp_path / "missing")
    index.save(tmp_path / "a")
    path = tmp_path / "a" / "index.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not a valid wav2tok index.*JSON"):
        Wav2TokIndex.load(tmp_path / "a")
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="format marker"):
        Wav2TokIndex.load(tmp_path / "a")
    path.write_text(json.dumps({**json.loads(text), "format_version": 99}))
    with pytest.raises(ValueError, match="format_version 99.*upgrade"):
        Wav2TokIndex.load(tmp_path / "a")
    frames, _ = frames_index()
    frames.save(tmp_path / "b")
    (stored,) = [p for p in (tmp_path / "b").iterdir() if p.name.startswith("data-")]
    stored.write_bytes(stored.read_bytes()[:-8] + b"\0" * 8)  # same size, damaged content
    assert len(Wav2TokIndex.load(tmp_path / "b")) == 15  # only the checksum can tell
    with pytest.raises(ValueError, match="checksum"):
        Wav2TokIndex.load(tmp_path / "b", verify=True)
    stored.write_bytes(stored.read_bytes()[:100])  # truncated
    with pytest.raises(ValueError, match=f"{stored.name} is truncated"):
        Wav2TokIndex.load(tmp_path / "b")


def test_vocabulary_mismatch_is_refused(token_index):
    index, _ = token_index
    with pytest.raises(ValueError, match="vocabulary"):
        index.search([1, 2], vocabulary=Vocabulary("another-tokenizer", 8))
    with pytest.raises(ValueError, match="vocabulary"):
        index.add([[1, 2]], vocabulary=Vocabulary("test-tokens", 16))
    with pytest.raises(ValueError, match="token id 8, outside"):
        index.add([[1, 8]])
    with pytest.raises(ValueError, match="token id 9, outside"):
        index.search([9])
    with pytest.raises(ValueError, match="token id -1"):
        index.search([-1, 2])
    frames, _ = frames_index()
    with pytest.raises(ValueError, match="frame dimension 5"):
        frames.search(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="does not apply to a frames index"):
        frames.search(np.zeros((3, 6), np.float32), distance="levenshtein")
    with pytest.raises(ValueError, match="does not apply to a tokens index"):
        index.search([1], distance="dtw")
    assert len(index) == 60  # nothing was added by the refused calls


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda i: i.search([]), ValueError, "empty query"),
        (lambda i: i.search([[1, 2], []]), ValueError, "query 1 is empty"),
        (lambda i: i.search([1.5, 2.0]), ValueError, "integer token ids"),
        (lambda i: i.search([1, 2], top_k=0), ValueError, "top_k"),
        (lambda i: i.search([1, 2], distance="cosine"), ValueError, "accepted"),
        (lambda i: i.add([[1], [2]], ids=["item0", "x"]), ValueError, "duplicate ids"),
        (lambda i: i.add([[1], [2]], ids=["x", "x"]), ValueError, "duplicate ids"),
        (lambda i: i.add([[1], [2]], labels=["a"]), ValueError, "2 sequences but 1 labels"),
        (lambda i: i.add([[1, 2]], durations=[[0.1]]), ValueError, "durations"),
        (lambda i: i.add([1, 2, 3]), ValueError, "one sequence"),
        (lambda i: i.add([]), ValueError, "no sequences"),
        (lambda i: i.add([[]]), ValueError, "empty"),
    ],
)
def test_bad_inputs(token_index, call, error, message):
    index, _ = token_index
    with pytest.raises(error, match=message):
        call(index)
    assert len(index) == 60


def test_empty_index_and_bad_construction():
    with pytest.raises(ValueError, match="index is empty"):
        Wav2TokIndex(vocab_size=4).search([1])
    with pytest.raises(ValueError, match="exactly one of"):
        Wav2TokIndex()
    with pytest.raises(ValueError, match="exactly one of"):
        Wav2TokIndex(vocab_size=3, frame_dim=4)
    with pytest.raises(ValueError, match="metric"):
        Wav2TokIndex(frame_dim=3, metric="manhattan")
    with pytest.raises(ValueError, match="NaN"):
        Wav2TokIndex(frame_dim=2).add([np.array([[np.nan, 1.0]])])
