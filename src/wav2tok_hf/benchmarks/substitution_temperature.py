"""Validation MRR of trained models under the codebook-weighted edit distance, for several substitution temperatures
(``scripts/tune_substitution_temperature.py``).

Each model is scored on its corpus's *validation* split (never test) with V / TS / PS queries, as the trainer
selects models: plain length-normalised ED first, then ``normalized_weighted_levenshtein`` at each temperature
(``Wav2TokConfig.substitution_temperature``). The queries and database are encoded once and ranked under every
distance.

Usage (``runs`` ``[(row name, Wav2TokModel, corpus folder, validation split)]``)::

    rows, markdown = substitution_temperatures(runs, temperatures=(0.4, 0.8), references_per_label=1)

Example:
    >>> print(substitution_markdown([{"model": "m", "distance": "normalized_levenshtein", "temperature": None,
    ...                               "V": 0.5, "TS": 0.25, "PS": 0.75, "mean": 0.5}]).splitlines()[-1])
    | m | normalized_levenshtein | — | 0.500 | 0.250 | 0.750 | 0.500 |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def substitution_markdown(rows: Sequence[dict]) -> str:
    """The markdown table of the rows: MRR per condition and their mean, by distance and temperature."""
    lines = ["**Validation split (never test): MRR by ranking distance and substitution temperature**", "",
             "| model | distance | temperature | MRR V | MRR TS | MRR PS | mean |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['distance']} | {r['temperature'] if r['temperature'] is not None else '—'} | "
                     f"{r['V']:.3f} | {r['TS']:.3f} | {r['PS']:.3f} | {r['mean']:.3f} |")
    return "\n".join(lines)


def substitution_temperatures(runs: Sequence[tuple[str, Any, str, Any]], *,
                              temperatures: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.8),
                              references_per_label: int | None = None, max_queries: int | None = None,
                              seed: int = 0) -> tuple[list[dict], str]:
    """Score each ``(name, model, corpus_dir, validation split)`` of ``runs`` under plain and weighted edit distance.

    Returns ``(rows, markdown)``: a row is ``{"model", "corpus_dir", "distance", "temperature", "V", "TS", "PS",
    "mean", **sizes}`` (``temperature`` ``None`` for the plain distance), and the table of :func:`substitution_markdown`.
    """
    from ..modeling_wav2tok import codebook_substitution_costs
    from ..retrieval import evaluate_retrieval
    from ..retrieval.evaluation import condition_sets, retrieval_set_from_split

    rows = []
    for name, model, corpus_dir, split in runs:
        sr = model.config.sampling_rate
        validation = retrieval_set_from_split(split, sr, max_queries=max_queries, seed=seed,
                                              max_references_per_label=references_per_label)
        sets = condition_sets(validation, seed=seed)
        # encoded once, ranked under every distance
        database = model.encode(validation.database, sampling_rate=sr, batch_size=32)
        queries = {c: model.encode(s.queries, sampling_rate=sr, batch_size=32) for c, s in sets.items()}
        variants = [("normalized_levenshtein", None)] + [
            ("normalized_weighted_levenshtein", t) for t in temperatures]
        for distance, temperature in variants:
            costs = (None if temperature is None else
                     codebook_substitution_costs(model.codebook.detach().cpu().numpy(), temperature))
            mrr = {c: evaluate_retrieval(queries[c], s.query_labels, database, validation.database_labels,
                                         distance=distance, vocab_size=model.config.codebook_size,
                                         substitution_costs=costs)["mrr"] for c, s in sets.items()}
            rows.append({"model": name, "corpus_dir": corpus_dir, "distance": distance, "temperature": temperature,
                         **mrr, "mean": float(np.mean(list(mrr.values()))), **validation.sizes()})
    return rows, substitution_markdown(rows)
