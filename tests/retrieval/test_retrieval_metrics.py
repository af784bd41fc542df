"""Retrieval, spoken term detection and token consistency metrics on hand-made cases."""

import numpy as np
import pytest

from wav2tok_hf.retrieval import (
    Wav2TokIndex,
    evaluate_index,
    evaluate_retrieval,
    mean_reciprocal_rank,
    rank_of_first_relevant,
    std_scores,
    std_threshold_sweep,
    token_error_rate,
    top_k_accuracy,
)


def test_mrr_and_top_k_on_hand_made_ranks():
    ranks = [1, 3, 2, 10]
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 1 / 2 + 1 / 10) / 4)
    assert top_k_accuracy(ranks, 1) == 0.25
    assert top_k_accuracy(ranks, 3) == 0.75
    assert top_k_accuracy(ranks, 10) == 1.0
    with pytest.raises(ValueError, match="1-based"):
        mean_reciprocal_rank([0, 1])
    with pytest.raises(ValueError, match="k="):
        top_k_accuracy(ranks, 0)


def test_rank_of_first_relevant_ties():
    scores = [0.1, 0.5, 0.5, 0.5, 0.9]
    relevant = [False, False, True, False, True]
    # 1 better item, then 1 relevant + 2 irrelevant tied: expected position of the relevant one is (3 + 1) / 2
    assert rank_of_first_relevant(scores, relevant) == 1 + 4 / 2
    assert rank_of_first_relevant(scores, relevant, ties="optimistic") == 2
    assert rank_of_first_relevant(scores, relevant, ties="pessimistic") == 4
    assert rank_of_first_relevant([3, 1, 2], [False, True, False]) == 1
    with pytest.raises(ValueError, match="no relevant"):
        rank_of_first_relevant([1, 2], [False, False])


def test_evaluate_retrieval_item_and_class_level():
    db, labels = [[1, 2, 3], [1, 2, 4], [1, 2, 4, 4], [5, 6, 7]], ["a", "b", "b", "c"]
    queries, query_labels = [[1, 2, 4], [5, 6, 7]], ["a", "c"]
    # query 0: b (0), then a (1) tied with the second b (1) -> item rank 1 + (1 + 1 + 1) / 2; class rank 2
    out = evaluate_retrieval(queries, query_labels, db, labels)
    assert out["ranks"] == [2.5, 1.0]
    assert out["mrr"] == pytest.approx((1 / 2.5 + 1) / 2)
    assert out["top1"] == 0.5 and out["top5"] == 1.0
    assert out["num_queries"] == 2 and out["num_items"] == 4 and out["search_s_per_query"] > 0
    assert evaluate_retrieval(queries, query_labels, db, labels, ties="pessimistic")["ranks"] == [3.0, 1.0]
    assert evaluate_retrieval(queries, query_labels, db, labels, level="class")["ranks"] == [2.0, 1.0]


def test_evaluate_retrieval_dtw_and_errors():
    rng = np.random.default_rng(0)
    db = [rng.standard_normal((10, 4)).astype(np.float32) for _ in range(6)]
    out = evaluate_retrieval([db[2][1:8], db[4]], ["s2", "s4"], db, [f"s{i}" for i in range(6)], distance="dtw")
    assert out["mrr"] == 1.0
    with pytest.raises(ValueError, match="no item in the index"):
        evaluate_retrieval([[1]], ["zzz"], [[1]], ["a"])
    with pytest.raises(ValueError, match="distance="):
        evaluate_retrieval([[1]], ["a"], [[1]], ["a"], distance="hamming")


def test_evaluate_index_checks_vocabulary():
    index = Wav2TokIndex(vocab_size=5, vocab_name="x")
    index.add([[1, 2]], labels=["a"])
    with pytest.raises(ValueError, match="token id 7"):
        evaluate_index(index, [[7]], ["a"])


def test_std_f1_hand_made():
    occurrences = {"yes": [("u1", 1.0, 1.5), ("u2", 0.0, 0.5)], "no": [("u3", 2.0, 2.4)]}
    detections = {
        "yes": [("u1", 1.2, 1.6, 0.1),  # hit
                ("u1", 1.1, 1.3, 0.2),  # second detection of the same occurrence: false alarm
                ("u2", 0.6, 0.9, 0.3),  # no overlap: false alarm
                ("u2", 0.4, 0.7, 0.8)],  # hit, but with a poor score
        "no": [("u3", 2.3, 2.8, 0.4), ("u1", 1.0, 1.5, 0.5)],  # hit; the other keyword's place: false alarm
    }
    out = std_scores(detections, occurrences)
    assert (out["hits"], out["detections"], out["occurrences"]) == (3, 6, 3)
    assert out["precision"] == 0.5 and out["recall"] == 1.0 and out["f1"] == pytest.approx(2 / 3)
    at = std_scores(detections, occurrences, threshold=0.4)
    assert (at["hits"], at["detections"]) == (2, 4)
    assert at["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    strict = std_scores(detections, occurrences, min_overlap=0.5)  # only u1 overlaps >= half of the occurrence
    assert strict["hits"] == 1
    sweep = std_threshold_sweep(detections, occurrences)
    assert sweep["thresholds"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.8]
    assert sweep["recall"] == pytest.approx([1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1.0])
    assert sweep["best_f1"] == pytest.approx(max(sweep["f1"])) and sweep["best_threshold"] == 0.8
    fixed = std_threshold_sweep(detections, occurrences, thresholds=[0.0, 0.4])
    assert fixed["f1"][0] == 0.0 and fixed["f1"][1] == pytest.approx(at["f1"])


def test_std_bad_inputs():
    with pytest.raises(ValueError, match="no entry in occurrences"):
        std_scores({"a": [("u", 0, 1, 0.1)]}, {"b": []})
    with pytest.raises(ValueError, match="expected \\(utterance_id, start_s, end_s, finite score\\)"):
        std_scores([("u", 0, 1)], [("u", 0, 1)])
    with pytest.raises(ValueError, match="no detections"):
        std_threshold_sweep([], [("u", 0, 1)])


def test_token_error_rate():
    assert token_error_rate([[1, 2, 3]], [[1, 2, 3]]) == 0.0
    assert token_error_rate([[1, 2, 3, 4]], [[1, 5, 3]]) == pytest.approx(0.5)  # 1 substitution + 1 deletion
    assert token_error_rate([[1, 2]], [[]]) == 1.0
    with pytest.raises(ValueError, match="empty"):
        token_error_rate([[]], [[1]])
    with pytest.raises(ValueError, match="equally many"):
        token_error_rate([[1]], [])


def test_weighted_evaluation_takes_the_vocabulary_from_the_costs_when_the_top_ids_are_unused():
    costs = np.ones((5, 5)) - np.eye(5)  # a 5-token codebook whose tokens 3 and 4 never occur below
    out = evaluate_retrieval([[0, 1], [2, 2]], ["a", "b"], [[0, 1, 1], [2]], ["a", "b"],
                             distance="normalized_weighted_levenshtein", substitution_costs=costs)
    assert out["mrr"] == 1.0
