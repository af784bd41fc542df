"""🤗 `evaluate` wrappers of the retrieval metrics in :mod:`wav2tok_hf.retrieval.metrics`.

They accumulate with ``add_batch`` like any `evaluate` metric and compute with the plain functions, so the numbers
are the same whichever API is used.

Example:
    >>> from wav2tok_hf.retrieval.evaluate_metrics import RetrievalMRR, TokenErrorRate
    >>> mrr = RetrievalMRR()
    >>> mrr.add_batch(ranks=[1, 2])
    >>> mrr.compute(ranks=[4], top_k=[1])
    {'mrr': 0.5833333333333334, 'top1': 0.3333333333333333}
    >>> TokenErrorRate().compute(references=[[1, 2, 3]], predictions=[[1, 2, 4]])
    {'token_error_rate': 0.3333333333333333}
"""

from __future__ import annotations

import datasets
import evaluate

from .metrics import mean_reciprocal_rank, token_error_rate, top_k_accuracy

_CITATION = """@inproceedings{banerjee2023wav2tok,
  title={wav2tok: Deep Sequence Tokenizer for Audio Retrieval},
  author={Banerjee, Adhiraj and Arora, Vipul},
  booktitle={ICLR},
  year={2023}
}"""


class RetrievalMRR(evaluate.Metric):
    """Mean reciprocal rank (and top-k accuracy) from the rank of each query's first relevant database item."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Mean reciprocal rank of the first database item of the query's class (1 = always first).",
            citation=_CITATION,
            inputs_description="ranks: 1-based rank (float, ties may be averaged) of each query's first relevant item.",
            features=datasets.Features({"ranks": datasets.Value("float64")}),
        )

    def _compute(self, ranks, top_k=(1, 5, 10)):
        out = {"mrr": mean_reciprocal_rank(ranks)}
        out.update({f"top{k}": top_k_accuracy(ranks, k) for k in top_k})
        return out


class TokenErrorRate(evaluate.Metric):
    """Token error rate (jiwer WER over ``t<id>`` strings) between token sequences of paired recordings."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Edit operations per reference token between the token strings of paired recordings.",
            citation=_CITATION,
            inputs_description="predictions, references: lists of token id sequences.",
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("int64")),
                                        "references": datasets.Sequence(datasets.Value("int64"))}),
        )

    def _compute(self, predictions, references):
        return {"token_error_rate": token_error_rate(references, predictions)}
