"""Retrieval protocol shared by the trainer's validation and the benchmark scripts.

A [`RetrievalSet`] is a list of queries and a database of items, each with a class label; a query is answered when
its class is found. Corpora with ``kind`` "query"/"reference" use those roles (closed to the split's songs or
melodies); corpora of plain clips (speech) put half of the speakers in the database and query with the others, so a
speaker never matches their own recording.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .audio_utils import load_audio


@dataclass
class RetrievalSet:
    """Queries and database items (mono float32 waves at ``sampling_rate``) with class labels."""

    queries: list[np.ndarray]
    query_labels: list[str]
    database: list[np.ndarray]
    database_labels: list[str]
    sampling_rate: int
    synthetic: bool = False
    name: str = "retrieval"
    query_meta: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if not self.queries or not self.database:
            raise ValueError(f"retrieval set {self.name!r} needs at least one query and one database item")
        if len(self.queries) != len(self.query_labels) or len(self.database) != len(self.database_labels):
            raise ValueError("each query and database item needs exactly one label")

    def with_queries(self, transform: Callable[[np.ndarray, int], np.ndarray], name: str) -> RetrievalSet:
        """The same set with every query passed through ``transform(wave, sampling_rate)``."""
        return RetrievalSet([transform(q, self.sampling_rate) for q in self.queries], self.query_labels, self.database,
                            self.database_labels, self.sampling_rate, self.synthetic, f"{self.name}/{name}", self.query_meta)


def retrieval_set_from_split(
    split: Any,
    sampling_rate: int,
    max_queries: int | None = None,
    seed: int = 0,
    synthetic: bool = False,
    name: str = "retrieval",
) -> RetrievalSet:
    """Build a [`RetrievalSet`] from a corpus split (a `datasets.Dataset` with ``audio``, ``label``, ``kind``).

    ``max_queries`` keeps a seeded random subset of the queries (the database is kept whole).
    """
    missing = {"audio", "label", "kind"} - set(split.column_names)
    if missing:
        raise ValueError(f"split {name!r} lacks columns {sorted(missing)}; a retrieval split needs audio, label, kind")
    kinds = split["kind"]
    labels = [str(x) for x in split["label"]]
    if "query" in kinds and "reference" in kinds:
        query_rows = [i for i, k in enumerate(kinds) if k == "query"]
        db_rows = [i for i, k in enumerate(kinds) if k == "reference"]
    else:
        if "speaker" not in split.column_names:
            raise ValueError(f"split {name!r} has no query/reference kinds and no speaker column to split by")
        speakers = sorted(set(split["speaker"]))
        rng = np.random.default_rng(seed)
        db_speakers = set(rng.permutation(speakers)[: len(speakers) // 2].tolist())
        db_rows = [i for i, s in enumerate(split["speaker"]) if s in db_speakers]
        db_labels = {labels[i] for i in db_rows}
        query_rows = [i for i, s in enumerate(split["speaker"]) if s not in db_speakers and labels[i] in db_labels]
    if max_queries is not None and len(query_rows) > max_queries:
        query_rows = sorted(np.random.default_rng(seed).choice(query_rows, max_queries, replace=False).tolist())
    audio = split.select_columns(["audio"])

    def load(rows: list[int]) -> list[np.ndarray]:
        return [load_audio(audio[i]["audio"], target_sampling_rate=sampling_rate)[0] for i in rows]

    return RetrievalSet(load(query_rows), [labels[i] for i in query_rows], load(db_rows), [labels[i] for i in db_rows],
                        sampling_rate, synthetic, name)


def evaluate_encoder(
    encode: Callable[[list[np.ndarray], int], list],
    retrieval: RetrievalSet,
    distance: str = "levenshtein",
    vocab_size: int | None = None,
) -> dict[str, Any]:
    """Encode a retrieval set with ``encode(waves, sampling_rate)`` and score it.

    Returns MRR, top-k, search seconds per query and inference (encoding) seconds per query.
    """
    from .retrieval.metrics import evaluate_retrieval

    start = time.perf_counter()
    query_seqs = encode(retrieval.queries, retrieval.sampling_rate)
    infer_s = (time.perf_counter() - start) / len(retrieval.queries)
    db_seqs = encode(retrieval.database, retrieval.sampling_rate)
    query_seqs = [np.asarray(s) for s in query_seqs]
    db_seqs = [np.asarray(s) for s in db_seqs]
    result = evaluate_retrieval(query_seqs, retrieval.query_labels, db_seqs, retrieval.database_labels,
                                distance=distance, vocab_size=vocab_size)
    result["infer_s_per_query"] = infer_s
    result["mean_query_length"] = float(np.mean([len(s) for s in query_seqs]))
    return result
