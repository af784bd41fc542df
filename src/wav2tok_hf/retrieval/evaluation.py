"""The retrieval protocol shared by the trainer's validation, the demo and the benchmark scripts.

A [`RetrievalSet`] is a list of queries and a database of items, each with a class label; a query is answered when
its class is found. Corpora with ``kind`` "query"/"reference" use those roles (closed to the split's songs or
melodies); corpora of plain clips (speech) put half of the speakers in the database and query with the others, so a
speaker never matches their own recording. [`run_benchmark`] scores [`~wav2tok_hf.retrieval.encoders.Encoder`]s on
a retrieval set and its query conditions ([`condition_sets`]: vanilla, time-stretched, pitch-shifted).

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.retrieval.encoders import Encoder
    >>> waves = [np.full(n, 0.1, np.float32) for n in (800, 1600, 2400)]
    >>> retrieval = RetrievalSet(waves, ["a", "b", "c"], waves, ["a", "b", "c"], sampling_rate=8000, name="toy")
    >>> length = Encoder("length", lambda ws, sr: [[len(w) // 800] for w in ws], "levenshtein", vocab_size=4)
    >>> rows = run_benchmark([length], {"V": retrieval})
    >>> rows[0]["model"], rows[0]["V"]
    ('length', 1.0)
    >>> print(format_table(rows, conditions=("V",)).splitlines()[0])
    | model | distance | MRR V | search s/query | infer s/query |
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from ..audio_utils import load_audio
from .encoders import Encoder
from .metrics import evaluate_retrieval


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

    def __post_init__(self):
        if not self.queries or not self.database:
            raise ValueError(f"retrieval set {self.name!r} needs at least one query and one database item")
        if len(self.queries) != len(self.query_labels) or len(self.database) != len(self.database_labels):
            raise ValueError("each query and database item needs exactly one label")

    def sizes(self) -> dict[str, Any]:
        """``num_queries``, ``num_database``, ``num_classes`` (database labels) and ``chance_mrr``, as the benchmark
        reports record them."""
        return {"num_queries": len(self.queries), "num_database": len(self.database),
                "num_classes": len(set(self.database_labels)),
                "chance_mrr": chance_mrr(self.query_labels, self.database_labels)}


PROTOCOL_SPLITS = {"unseen": "test", "closed-set": "train"}
"""The corpus split each QbSH protocol searches: unseen songs (never trained on), or the training songs (the paper's
closed-set protocol)."""


def retrieval_set_from_split(
    split: Any,
    sampling_rate: int,
    max_queries: int | None = None,
    seed: int = 0,
    synthetic: bool = False,
    name: str = "retrieval",
    max_references_per_label: int | None = None,
    max_labels: int | None = None,
) -> RetrievalSet:
    """Build a [`RetrievalSet`] from a corpus split (a `datasets.Dataset` with ``audio``, ``label``, ``kind``).

    ``max_labels`` keeps a seeded random subset of the database's labels (songs, words) and only their queries, e.g.
    to compare protocols at the same database size. ``max_queries`` keeps a seeded random subset of the queries.
    ``max_references_per_label`` keeps the first N database items of each label (e.g. one piano reference per
    melody, as in a QbSH song database); by default the database is kept whole.
    """
    if max_labels is not None and (not isinstance(max_labels, int) or max_labels < 2):
        raise ValueError(f"max_labels={max_labels!r}; expected an integer >= 2 (or None for every label)")
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
    if max_labels is not None:
        db_label_set = sorted({labels[i] for i in db_rows})
        if len(db_label_set) > max_labels:
            chosen = set(np.random.default_rng(seed).choice(db_label_set, max_labels, replace=False).tolist())
            db_rows = [i for i in db_rows if labels[i] in chosen]
            query_rows = [i for i in query_rows if labels[i] in chosen]
    if max_references_per_label is not None:
        kept: Counter[str] = Counter()
        selected = []
        for i in db_rows:
            if kept[labels[i]] < max_references_per_label:
                kept[labels[i]] += 1
                selected.append(i)
        db_rows = selected
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
    substitution_costs: Any = None,
) -> dict[str, Any]:
    """Encode a retrieval set with ``encode(waves, sampling_rate)`` and score it (the weighted edit distances need
    ``substitution_costs``).

    Returns MRR, top-k, search seconds per query and inference (encoding) seconds per query.
    """
    start = time.perf_counter()
    query_seqs = encode(retrieval.queries, retrieval.sampling_rate)
    infer_s = (time.perf_counter() - start) / len(retrieval.queries)
    db_seqs = encode(retrieval.database, retrieval.sampling_rate)
    query_seqs = [np.asarray(s) for s in query_seqs]
    db_seqs = [np.asarray(s) for s in db_seqs]
    result = evaluate_retrieval(query_seqs, retrieval.query_labels, db_seqs, retrieval.database_labels,
                                distance=distance, vocab_size=vocab_size, substitution_costs=substitution_costs)
    result["infer_s_per_query"] = infer_s
    result["mean_query_length"] = float(np.mean([len(s) for s in query_seqs]))
    return result


# ---------------------------------------------------------------------- query conditions and result tables
def condition_sets(retrieval: RetrievalSet, seed: int = 0, conditions: tuple[str, ...] = ("V", "TS", "PS")) -> dict[str, RetrievalSet]:
    """The vanilla (V), time-stretched (TS) and pitch-shifted (PS) versions of a retrieval set.

    TS stretches each query by a rate drawn from ``TIME_STRETCH_RATES`` (0.8 or 1.25) and PS shifts it by a
    number of semitones drawn from ``PITCH_SHIFT_SEMITONES`` (±2..5), both seeded per query.
    """
    from ..data.augment import pitch_shifted, time_stretched

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
        sets[name] = dataclasses.replace(retrieval, queries=queries, name=f"{retrieval.name}/{name}")
    return sets


def run_benchmark(encoders: list[Encoder], sets: dict[str, RetrievalSet], details: bool = False,
                  progress: Callable[[str, str], None] | None = None) -> list[dict[str, Any]]:
    """MRR (and top-1) per condition, search and inference seconds per query: one row per encoder. With
    ``details``, rows also hold top-5 per condition and ``"ranks": {condition: [rank per query]}``.
    ``progress(encoder_name, condition)`` is called after each encoder's condition (e.g. to advance a bar)."""
    first = next(iter(sets.values()))
    rows = []
    for encoder in encoders:
        row: dict[str, Any] = {"model": encoder.name, "distance": encoder.distance}
        db_seqs = encoder.encode(first.database, first.sampling_rate)
        for condition, retrieval in sets.items():
            start = time.perf_counter()
            if encoder.query_pitch_shifts:
                from ..data.augment import pitch_shift_versions

                versions = [pitch_shift_versions(q, encoder.query_pitch_shifts, retrieval.sampling_rate)[0]
                            for q in retrieval.queries]
                flat = encoder.encode([v for vs in versions for v in vs], retrieval.sampling_rate)
                n = len(encoder.query_pitch_shifts)
                query_seqs = [flat[k * n:(k + 1) * n] for k in range(len(versions))]
            else:
                query_seqs = encoder.encode(retrieval.queries, retrieval.sampling_rate)
            infer = (time.perf_counter() - start) / len(retrieval.queries)
            result = evaluate_retrieval(query_seqs, retrieval.query_labels, db_seqs, retrieval.database_labels,
                                        distance=encoder.distance, vocab_size=encoder.vocab_size, metric=encoder.metric,
                                        substitution_costs=encoder.substitution_costs,
                                        query_versions=bool(encoder.query_pitch_shifts))
            row[condition] = result["mrr"]
            row[f"{condition}_top1"] = result["top1"]
            if details:
                row[f"{condition}_top5"] = result["top5"]
                row.setdefault("ranks", {})[condition] = [float(r) for r in result["ranks"]]
            if condition == "V":
                row["search_s"], row["infer_s"] = result["search_s_per_query"], infer
            if progress is not None:
                progress(encoder.name, condition)
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


def chance_mrr(query_labels: list[str], database_labels: list[str]) -> float:
    """Expected item-level MRR of a random ranking, averaged over the queries.

    With ``c`` items of the query's class among ``n``, the first relevant item is at rank ``r`` with probability
    ``C(n - r, c - 1) / C(n, c)``; one item per class gives the familiar ``H_n / n``.
    """
    counts, n = Counter(map(str, database_labels)), len(database_labels)
    cache: dict[int, float] = {}
    total = 0.0
    for label in query_labels:
        c = counts[str(label)]
        if c not in cache:
            cache[c] = sum(comb(n - r, c - 1) / r for r in range(1, n - c + 2)) / comb(n, c) if c else 0.0
        total += cache[c]
    return total / len(query_labels)
