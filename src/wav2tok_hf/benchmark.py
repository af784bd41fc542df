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


# ---------------------------------------------------------------------- query conditions and result tables
def condition_sets(retrieval: RetrievalSet, seed: int = 0, conditions: tuple[str, ...] = ("V", "TS", "PS")) -> dict[str, RetrievalSet]:
    """The vanilla (V), time-stretched (TS) and pitch-shifted (PS) versions of a retrieval set.

    TS stretches each query by a rate drawn from ``TIME_STRETCH_RATES`` (0.8 or 1.25) and PS shifts it by a
    number of semitones drawn from ``PITCH_SHIFT_SEMITONES`` (±2..5), both seeded per query.
    """
    from .data.augment import pitch_shifted, time_stretched

    transforms = {
        "TS": lambda i: (lambda w, sr: time_stretched(w, sr, seed=seed * 100_003 + i)),
        "PS": lambda i: (lambda w, sr: pitch_shifted(w, sr, seed=seed * 100_003 + i)),
    }
    sets = {}
    for name in conditions:
        if name == "V":
            sets[name] = retrieval
            continue
        if name not in transforms:
            raise ValueError(f"condition {name!r}; accepted: V, TS, PS")
        queries = [transforms[name](i)(q, retrieval.sampling_rate) for i, q in enumerate(retrieval.queries)]
        sets[name] = RetrievalSet(queries, retrieval.query_labels, retrieval.database, retrieval.database_labels,
                                  retrieval.sampling_rate, retrieval.synthetic, f"{retrieval.name}/{name}")
    return sets


@dataclass
class Encoder:
    """Something that turns waves into sequences, with the distance its sequences are compared by."""

    name: str
    encode: Callable[[list[np.ndarray], int], list]
    distance: str = "levenshtein"
    vocab_size: int | None = None
    metric: str = "cosine"


def model_encoder(model: Any, name: str = "wav2tok", distance: str = "levenshtein") -> Encoder:
    """An [`Encoder`] for a [`Wav2TokModel`] (token strings, or frame embeddings for DTW distances)."""
    if distance in ("dtw", "subsequence_dtw"):
        return Encoder(name, lambda w, sr: model.embed(w, sampling_rate=sr, batch_size=32), distance)
    return Encoder(name, lambda w, sr: model.encode(w, sampling_rate=sr, batch_size=32), distance,
                   model.config.codebook_size)


def baseline_encoder(baseline: Any, name: str | None = None) -> Encoder:
    """An [`Encoder`] for a registered retrieval baseline (see `wav2tok_hf.retrieval.create_baseline`)."""
    vocab = getattr(baseline, "vocabulary", None)
    size = getattr(vocab, "size", None) if baseline.distance not in ("dtw", "subsequence_dtw") else None
    return Encoder(name or type(baseline).__name__, lambda w, sr: baseline.encode(list(w), sampling_rate=sr),
                   baseline.distance, size, getattr(baseline, "metric", "cosine"))


def run_benchmark(encoders: list[Encoder], sets: dict[str, RetrievalSet]) -> list[dict[str, Any]]:
    """MRR per condition, search and inference seconds per query, for every encoder: one row per encoder."""
    from .retrieval.metrics import evaluate_retrieval

    rows = []
    for encoder in encoders:
        row: dict[str, Any] = {"model": encoder.name, "distance": encoder.distance}
        db_seqs = encoder.encode(next(iter(sets.values())).database, next(iter(sets.values())).sampling_rate)
        for condition, retrieval in sets.items():
            start = time.perf_counter()
            query_seqs = encoder.encode(retrieval.queries, retrieval.sampling_rate)
            infer = (time.perf_counter() - start) / len(retrieval.queries)
            result = evaluate_retrieval(query_seqs, retrieval.query_labels, db_seqs, retrieval.database_labels,
                                        distance=encoder.distance, vocab_size=encoder.vocab_size, metric=encoder.metric)
            row[condition] = result["mrr"]
            row[f"{condition}_top1"] = result["top1"]
            if condition == "V":
                row["search_s"], row["infer_s"] = result["search_s_per_query"], infer
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]], conditions: tuple[str, ...] = ("V", "TS", "PS"), title: str = "") -> str:
    """A markdown table of :func:`run_benchmark` rows (MRR per condition, seconds per query)."""
    header = "| model | distance | " + " | ".join(f"MRR {c}" for c in conditions) + " | search s/query | infer s/query |"
    lines = ([f"**{title}**", ""] if title else []) + [header, "|" + "---|" * (len(conditions) + 4)]
    for row in rows:
        cells = [f"{row[c]:.3f}" if c in row else "—" for c in conditions]
        lines.append(f"| {row['model']} | {row['distance']} | " + " | ".join(cells)
                     + f" | {row.get('search_s', float('nan')):.4f} | {row.get('infer_s', float('nan')):.4f} |")
    return "\n".join(lines)
