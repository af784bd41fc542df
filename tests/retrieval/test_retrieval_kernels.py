"""Distance kernels against brute-force Python / librosa references."""

import itertools

import librosa
import numpy as np
import pytest

from wav2tok_hf.modeling_wav2tok import codebook_substitution_costs
from wav2tok_hf.retrieval import kernels


def flat(seqs):
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    return np.concatenate(seqs).astype(np.int32), offsets


def test_levenshtein_cdist_matches_reference(levenshtein_reference):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 5, rng.integers(1, 12)).tolist() for _ in range(40)]
    strings = [kernels.tokens_to_str(s) for s in seqs]
    got = kernels.levenshtein_cdist(strings[:5], strings)
    want = [[levenshtein_reference(a, b) for b in seqs] for a in seqs[:5]]
    np.testing.assert_array_equal(got, want)
    normalized = kernels.levenshtein_cdist(strings[:5], strings, normalized=True)
    lengths = np.maximum.outer([len(s) for s in seqs[:5]], [len(s) for s in seqs])
    np.testing.assert_allclose(normalized, np.asarray(want) / lengths, rtol=1e-6)


def test_tokens_beyond_latin1_and_zero_are_distinct_characters():
    assert kernels.levenshtein_cdist([kernels.tokens_to_str([0, 300, 70000])],
                                     [kernels.tokens_to_str([0, 301, 70000])]).tolist() == [[1]]


def test_weighted_levenshtein_matches_reference_and_unit_costs_give_plain_ed(weighted_levenshtein_reference,
                                                                             levenshtein_reference):
    rng = np.random.default_rng(2)
    targets = [rng.integers(0, 6, rng.integers(1, 12)) for _ in range(30)]
    data, offsets = flat(targets)
    costs = codebook_substitution_costs(rng.standard_normal((6, 3)), temperature=0.5)
    for _ in range(5):
        query = rng.integers(0, 6, rng.integers(1, 9)).astype(np.int32)
        got = kernels.weighted_levenshtein(query, data, offsets, costs)
        want = [weighted_levenshtein_reference(query.tolist(), t.tolist(), costs) for t in targets]
        np.testing.assert_allclose(got, want, rtol=1e-6)
        unit = kernels.weighted_levenshtein(query, data, offsets, np.ones((6, 6), np.float32) - np.eye(6))
        assert unit.tolist() == [levenshtein_reference(query.tolist(), t.tolist()) for t in targets]
        cheaper = kernels.weighted_levenshtein(query, data, offsets, np.minimum(costs, 1.0))
        assert (cheaper <= unit).all() and (cheaper < unit).any()  # cheaper substitutions lower some distances


@pytest.mark.parametrize(
    "query, target, expected",
    [
        ([1, 2, 3], [9, 9, 1, 2, 3, 9], (0, 2, 5)),  # exact match in the middle
        ([1, 2, 3], [1, 2, 3], (0, 0, 3)),  # whole target
        ([1, 2, 3, 4], [9, 1, 2, 8, 4, 9], (1, 1, 5)),  # one substitution
        ([1, 2, 3], [9, 1, 3, 9], (1, 1, 3)),  # query token 2 missing from the target
        ([1, 2, 3, 4, 5], [9, 1, 2, 7, 3, 4, 5, 9], (1, 1, 7)),  # one extra target token inside the segment
        ([1, 2, 3], [9, 1, 2, 4, 9], (1, 1, 3)),  # ties: the earliest end wins ([1, 2] before [1, 2, 4])
        ([5, 6], [1, 2, 3], (2, 0, 0)),  # nothing matches: cost = query length
    ],
)
def test_semiglobal_hand_made(query, target, expected):
    data, offsets = flat([np.array(target)])
    costs, starts, ends = kernels.semiglobal_levenshtein(np.array(query, np.int32), data, offsets)
    assert (int(costs[0]), int(starts[0]), int(ends[0])) == expected


def test_semiglobal_cost_matches_brute_force_and_segment_achieves_it(levenshtein_reference):
    rng = np.random.default_rng(1)
    targets = [rng.integers(0, 4, rng.integers(1, 10)) for _ in range(30)]
    data, offsets = flat(targets)
    for _ in range(10):
        query = rng.integers(0, 4, rng.integers(1, 5)).astype(np.int32)
        costs, starts, ends = kernels.semiglobal_levenshtein(query, data, offsets)
        for t, c, s, e in zip(targets, costs, starts, ends):
            want = min(levenshtein_reference(query.tolist(), t[a:b].tolist())
                       for a, b in itertools.combinations_with_replacement(range(len(t) + 1), 2))
            assert c == want
            assert levenshtein_reference(query.tolist(), t[s:e].tolist()) == c  # the reported segment is optimal


def test_bit_parallel_semiglobal_equals_the_dp():
    rng = np.random.default_rng(2)
    for _ in range(60):
        vocab = int(rng.integers(2, 30))
        targets = [rng.integers(0, vocab, rng.integers(0, 120)) for _ in range(10)]  # empty spans too
        data, offsets = flat(targets)
        query = rng.integers(0, vocab + 3, rng.integers(1, kernels.MYERS_MAX_QUERY + 1)).astype(np.int32)
        costs, _, ends = kernels.semiglobal_levenshtein(query, data, offsets)
        assert [x.tolist() for x in kernels.semiglobal_ends(query, data, offsets[:-1], offsets[1:])] == \
            [costs.tolist(), ends.tolist()]  # the same costs and earliest ends
    with pytest.raises(ValueError, match="1 to 64"):
        kernels.semiglobal_ends(np.zeros(65, np.int32), data, offsets[:-1], offsets[1:])


@pytest.mark.parametrize("subsequence", [False, True])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_dtw_matches_librosa(subsequence, metric):
    rng = np.random.default_rng(2)
    items = [rng.standard_normal((rng.integers(1, 15), 3)).astype(np.float32) for _ in range(12)]
    if metric == "cosine":
        items = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in items]
    frames, offsets = np.concatenate(items), np.concatenate([[0], np.cumsum([len(x) for x in items])])
    query = items[3][: max(1, len(items[3]) // 2)]
    costs, starts, ends = kernels.dtw_search(query, frames, offsets, metric, subsequence)
    for item, cost, start, end in zip(items, costs, starts, ends):
        matrix = kernels.frame_costs(query, item, metric).astype(np.float64)
        acc = librosa.sequence.dtw(C=matrix, subseq=subsequence, backtrack=False)
        if subsequence:
            assert cost * len(query) == pytest.approx(acc[-1].min(), rel=1e-5, abs=1e-6)
            assert end - 1 == int(np.argmin(acc[-1]))
            # the reported segment alone reproduces the optimal cost
            alone = librosa.sequence.dtw(C=matrix[:, start:end], backtrack=False)[-1, -1]
            assert alone == pytest.approx(acc[-1].min(), rel=1e-5, abs=1e-6)
        else:
            assert cost * (len(query) + len(item)) == pytest.approx(acc[-1, -1], rel=1e-5, abs=1e-6)
            assert (start, end) == (0, len(item))


def test_dtw_search_chunks_give_the_same_costs(monkeypatch):
    rng = np.random.default_rng(3)
    items = [rng.standard_normal((rng.integers(5, 30), 4)).astype(np.float32) for _ in range(20)]
    frames, offsets = np.concatenate(items), np.concatenate([[0], np.cumsum([len(x) for x in items])])
    whole = kernels.dtw_search(items[0], frames, offsets, "euclidean", True)
    monkeypatch.setattr(kernels, "_CHUNK_CELLS", 50)  # forces one item per chunk
    chunked = kernels.dtw_search(items[0], frames, offsets, "euclidean", True)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b)
