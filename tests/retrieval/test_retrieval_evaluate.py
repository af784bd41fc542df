"""The 🤗 evaluate wrappers give the plain functions' numbers, batch by batch."""

from wav2tok_hf.retrieval.evaluate_metrics import RetrievalMRR, TokenErrorRate
from wav2tok_hf.retrieval.metrics import mean_reciprocal_rank, token_error_rate, top_k_accuracy


def test_mrr_wrapper_accumulates_batches():
    ranks = [1.0, 3.0, 2.5, 10.0, 1.0]
    metric = RetrievalMRR()
    metric.add_batch(ranks=ranks[:2])
    metric.add_batch(ranks=ranks[2:])
    out = metric.compute(top_k=[1, 5])
    assert out == {"mrr": mean_reciprocal_rank(ranks), "top1": top_k_accuracy(ranks, 1), "top5": top_k_accuracy(ranks, 5)}


def test_token_error_rate_wrapper():
    refs, hyps = [[1, 2, 3, 4], [5, 6]], [[1, 2, 4], [5, 7]]
    assert TokenErrorRate().compute(references=refs, predictions=hyps) == {"token_error_rate": token_error_rate(refs, hyps)}
