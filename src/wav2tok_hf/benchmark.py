"""Retrieval protocol shared by the trainer's validation and the benchmark scripts.

A [`RetrievalSet`] is a list of queries and a database of items, each with a class label; a query is answered when
its class is found. Corpora with ``kind`` "query"/"reference" use those roles (closed to the split's songs or
melodies); corpora of plain clips (speech) put half of the speakers in the database and query with the others, so a
speaker never matches their own recording.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
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
    from .retrieval.metrics import evaluate_retrieval

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
        sets[name] = dataclasses.replace(retrieval, queries=queries, name=f"{retrieval.name}/{name}")
    return sets


@dataclass
class Encoder:
    """Something that turns waves into sequences, with the distance its sequences are compared by."""

    name: str
    encode: Callable[[list[np.ndarray], int], list]
    distance: str = "levenshtein"
    vocab_size: int | None = None
    metric: str = "cosine"
    substitution_costs: Any = None  # (vocab_size, vocab_size) costs of the weighted edit distances
    query_pitch_shifts: tuple[float, ...] = ()  # key search: each query at these shifts (semitones), best distance


def with_key_search(encoders: list[Encoder], semitones: tuple[float, ...]) -> list[Encoder]:
    """Each encoder followed by its key-search twin: every query encoded at each of ``semitones`` and each database
    item scored by its best distance over those versions (``len(semitones)`` times the query cost)."""
    out = []
    for encoder in encoders:
        shifts = ", ".join(f"{k:+g}" for k in semitones)
        out += [encoder, dataclasses.replace(encoder, name=f"{encoder.name} + key search ({shifts} st)",
                                             query_pitch_shifts=tuple(semitones))]
    return out


def model_encoder(model: Any, name: str = "wav2tok", distance: str = "levenshtein") -> Encoder:
    """An [`Encoder`] for a [`Wav2TokModel`] (token strings, or frame embeddings for DTW distances)."""
    if distance in ("dtw", "subsequence_dtw"):
        return Encoder(name, lambda w, sr: model.embed(w, sampling_rate=sr, batch_size=32), distance)
    return Encoder(name, lambda w, sr: model.encode(w, sampling_rate=sr, batch_size=32), distance,
                   model.config.codebook_size, substitution_costs=model.substitution_costs())


def with_ranking_variants(encoders: list[Encoder]) -> list[Encoder]:
    """Each plain-edit-distance encoder followed by its twins ranked by length-normalised edit distance and, for
    token models with a codebook (``substitution_costs``), by the normalised codebook-weighted edit distance, so
    token models and token baselines are compared under the same rankings."""
    out = []
    for encoder in encoders:
        out.append(encoder)
        if encoder.distance == "levenshtein":
            out.append(dataclasses.replace(encoder, distance="normalized_levenshtein"))
            if encoder.substitution_costs is not None:
                out.append(dataclasses.replace(encoder, distance="normalized_weighted_levenshtein"))
    return out


def baseline_encoder(baseline: Any, name: str | None = None) -> Encoder:
    """An [`Encoder`] for a registered retrieval baseline (see `wav2tok_hf.retrieval.create_baseline`), fitted if it
    learns."""
    vocab = getattr(baseline, "vocabulary", None)
    size = getattr(vocab, "size", None) if baseline.distance not in ("dtw", "subsequence_dtw") else None
    costs = baseline.substitution_costs() if hasattr(baseline, "substitution_costs") else None
    return Encoder(name or type(baseline).__name__, lambda w, sr: baseline.encode(list(w), sampling_rate=sr),
                   baseline.distance, size, getattr(baseline, "metric", "cosine"), costs)


def apply_threads(threads: int) -> None:
    """Set torch's CPU thread count (1 is fastest for these small models on a busy 2-core machine)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))


def pin_threads(encoders: list[Encoder], threads: int) -> list[Encoder]:
    """Re-apply the torch thread count before every ``encode``: numba's parallel DTW kernels reset the OpenMP thread
    count that torch shares, which made the LSTM several times slower on 2 shared cores."""
    for encoder in encoders:
        encode = encoder.encode

        def pinned(*args, _encode=encode, **kwargs):
            apply_threads(threads)
            return _encode(*args, **kwargs)

        encoder.encode = pinned
    return encoders


def run_benchmark(encoders: list[Encoder], sets: dict[str, RetrievalSet], details: bool = False,
                  progress: Callable[[str, str], None] | None = None) -> list[dict[str, Any]]:
    """MRR (and top-1) per condition, search and inference seconds per query: one row per encoder. With
    ``details``, rows also hold top-5 per condition and ``"ranks": {condition: [rank per query]}``.
    ``progress(encoder_name, condition)`` is called after each encoder's condition (e.g. to advance a bar)."""
    from .retrieval.metrics import evaluate_retrieval

    first = next(iter(sets.values()))
    rows = []
    for encoder in encoders:
        row: dict[str, Any] = {"model": encoder.name, "distance": encoder.distance}
        db_seqs = encoder.encode(first.database, first.sampling_rate)
        for condition, retrieval in sets.items():
            start = time.perf_counter()
            if encoder.query_pitch_shifts:
                from .data.augment import pitch_shift_versions

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


# ---------------------------------------------------------------------- helpers of the benchmark scripts
# (scripts/benchmark_qbsh.py, scripts/benchmark_speech.py, scripts/benchmark_std.py)
HUB_BASELINES = ("wav2vec2-o", "wav2vec2-multi", "hub-ctc")


def chance_mrr(query_labels: list[str], database_labels: list[str]) -> float:
    """Expected item-level MRR of a random ranking, averaged over the queries.

    With ``c`` items of the query's class among ``n``, the first relevant item is at rank ``r`` with probability
    ``C(n - r, c - 1) / C(n, c)``; one item per class gives the familiar ``H_n / n``.
    """
    from collections import Counter
    from math import comb

    counts, n = Counter(map(str, database_labels)), len(database_labels)
    cache: dict[int, float] = {}
    total = 0.0
    for label in query_labels:
        c = counts[str(label)]
        if c not in cache:
            cache[c] = sum(comb(n - r, c - 1) / r for r in range(1, n - c + 2)) / comb(n, c) if c else 0.0
        total += cache[c]
    return total / len(query_labels)


def hub_is_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub endpoint resolves and accepts a TCP connection (no request is sent)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    parsed = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def hub_baselines(names: list[str] | tuple[str, ...], model_ids: list[str] | tuple[str, ...] = (),
                  go_offline_if_unreachable: bool = True) -> tuple[list[tuple[str, Any]], list[dict[str, str]]]:
    """Load the Hub CTC baselines (``wav2vec2-o``, ``wav2vec2-multi``, and ``hub-ctc`` for each of ``model_ids``).

    Returns ``([(label, baseline)], skipped)`` where ``skipped`` lists ``{"model", "reason"}`` for every checkpoint
    that could not be loaded (:class:`~wav2tok_hf.retrieval.BaselineUnavailable`). Nothing is faked: a skipped
    baseline has no row. When the Hub cannot be reached, Hub offline mode is switched on first so that checkpoints
    already in the local cache still load and the others fail at once instead of after ~45 s of DNS retries.
    """
    from .retrieval import BaselineUnavailable, create_baseline

    wanted = [(name, {}) for name in names if name != "hub-ctc"]
    wanted += [(f"hub-ctc:{model_id}", {"model_id": model_id}) for model_id in model_ids]
    loaded: list[tuple[str, Any]] = []
    skipped: list[dict[str, str]] = []
    if not wanted:
        return loaded, skipped
    note = ""
    if go_offline_if_unreachable and not _hub_offline() and not hub_is_reachable():
        _set_hub_offline()
        note = " [Hub unreachable: offline mode, local cache only]"
    for label, kwargs in wanted:
        try:
            loaded.append((label, create_baseline("hub-ctc" if "model_id" in kwargs else label, **kwargs)))
        except BaselineUnavailable as error:
            skipped.append({"model": label, "reason": f"{error}{note}"})
    return loaded, skipped


def hub_baseline_encoders(names: list[str] | tuple[str, ...], model_ids: list[str] | tuple[str, ...] = (),
                          go_offline_if_unreachable: bool = True) -> tuple[list[Encoder], list[dict[str, str]]]:
    """:func:`hub_baselines` as [`Encoder`]s for :func:`run_benchmark`: ``(encoders, skipped)``."""
    loaded, skipped = hub_baselines(names, model_ids, go_offline_if_unreachable)
    return [baseline_encoder(baseline, label) for label, baseline in loaded], skipped


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _set_hub_offline() -> None:
    import os

    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub and transformers' loaders


def load_model_dir(path: str) -> Any:
    """Load a saved ``Wav2TokModel`` folder with a clear error for a missing folder or a folder without a model."""
    import os

    from .modeling_wav2tok import Wav2TokModel

    if not os.path.isdir(path):
        raise FileNotFoundError(f"model folder {path!r} does not exist; pass a folder written by "
                                "Wav2TokModel.save_pretrained / `wav2tok train`")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"{path!r} is not a saved wav2tok model (no config.json in it)")
    return Wav2TokModel.from_pretrained(path).eval()


def training_data_section(model_dir: str) -> dict[str, Any] | None:
    """The ``data`` section of the experiment a model folder was trained with (``training_config.json``), if any."""
    import json
    import os

    path = os.path.join(model_dir, "training_config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return (json.load(f).get("experiment") or {}).get("data")
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------- spoken term detection
@dataclass
class STDSet:
    """Utterances with word time stamps (the searched database) and keyword queries (mono waves)."""

    utterances: list[np.ndarray]
    utterance_ids: list[str]
    occurrences: dict[str, list[tuple[str, float, float]]]  # word -> (utterance_id, start_s, end_s)
    queries: list[np.ndarray]
    query_labels: list[str]
    query_ids: list[str]
    sampling_rate: int
    name: str = "std"


def std_set_from_splits(utterances: Any, queries: Any, sampling_rate: int, max_queries: int | None = None,
                        seed: int = 0, max_utterances: int | None = None, name: str = "std") -> STDSet:
    """An [`STDSet`] from a ``prepare_std`` utterance split and its ``*_queries`` split (seeded subsets)."""
    rng = np.random.default_rng(seed)
    utt_rows = list(range(len(utterances)))
    if max_utterances is not None and len(utt_rows) > max_utterances:
        utt_rows = sorted(rng.choice(utt_rows, max_utterances, replace=False).tolist())
    meta = utterances.select_columns(["source_id", "word_labels", "word_starts_s", "word_ends_s"])
    occurrences: dict[str, list[tuple[str, float, float]]] = {}
    utt_ids = []
    for i in utt_rows:
        row = meta[i]
        utt_ids.append(row["source_id"])
        for word, start, end in zip(row["word_labels"], row["word_starts_s"], row["word_ends_s"]):
            occurrences.setdefault(word, []).append((row["source_id"], float(start), float(end)))
    q_rows = [i for i, label in enumerate(queries["label"]) if label in occurrences]
    if max_queries is not None and len(q_rows) > max_queries:
        q_rows = sorted(np.random.default_rng(seed + 1).choice(q_rows, max_queries, replace=False).tolist())
    if not q_rows:
        raise ValueError(f"STD set {name!r}: no query word occurs in the selected utterances")
    u_audio, q_audio = utterances.select_columns(["audio"]), queries.select_columns(["audio"])
    q_meta = queries.select_columns(["label", "source_id"])
    load = (lambda a, i: load_audio(a[i]["audio"], target_sampling_rate=sampling_rate)[0])
    return STDSet([load(u_audio, i) for i in utt_rows], utt_ids, occurrences, [load(q_audio, i) for i in q_rows],
                  [q_meta[i]["label"] for i in q_rows], [q_meta[i]["source_id"] for i in q_rows], sampling_rate, name)


@dataclass
class STDEncoder:
    """How one system searches: ``encode(waves, sr) -> (sequences, durations or None)`` and a subsequence distance
    (``"subsequence_levenshtein"`` over tokens with per-token durations, or ``"subsequence_dtw"`` over frames with a
    ``frame_rate``)."""

    name: str
    distance: str
    encode: Callable[[list[np.ndarray], int], tuple[list, list | None]]
    vocab_size: int | None = None
    frame_dim: int | None = None
    frame_rate: float | None = None
    metric: str = "cosine"


def model_std_encoder(model: Any, name: str = "wav2tok", distance: str = "subsequence_levenshtein") -> STDEncoder:
    """A wav2tok model for STD: semi-global ED over its tokens, or subsequence DTW over its frame embeddings."""
    if distance == "subsequence_dtw":
        return STDEncoder(name, distance, lambda w, sr: (model.embed(w, sampling_rate=sr, batch_size=32), None),
                          frame_dim=model.config.embedding_dim, frame_rate=float(model.config.frame_rate))
    return STDEncoder(name, distance,
                      lambda w, sr: model.encode(w, sampling_rate=sr, return_durations=True, batch_size=32),
                      vocab_size=model.config.codebook_size)


def baseline_std_encoder(baseline: Any, name: str | None = None) -> STDEncoder:
    """A retrieval baseline for STD: token baselines (with durations) by semi-global ED, frame baselines by S-DTW."""
    name = name or baseline.name
    if baseline.distance in ("dtw", "subsequence_dtw"):
        return STDEncoder(name, "subsequence_dtw", lambda w, sr: (baseline.encode(list(w), sampling_rate=sr), None),
                          frame_dim=baseline.vocabulary.size, frame_rate=baseline.frame_rate,
                          metric=getattr(baseline, "metric", None) or "cosine")
    return STDEncoder(name, "subsequence_levenshtein",
                      lambda w, sr: baseline.encode(list(w), sampling_rate=sr, return_durations=True),
                      vocab_size=baseline.vocabulary.size)


def std_detections(encoder: STDEncoder, std: STDSet) -> dict[str, Any]:
    """Search every query in every utterance; one detection (best segment) per query and utterance.

    Detections are keyed by query id (each query is scored against the occurrences of its word) and scored by the
    normalised cost: semi-global ED / query tokens, or subsequence DTW cost / query frames (lower = better).
    """
    from .retrieval.index import Wav2TokIndex

    start = time.perf_counter()
    query_seqs, _ = encoder.encode(std.queries, std.sampling_rate)
    infer_s = (time.perf_counter() - start) / len(std.queries)
    utt_seqs, utt_durations = encoder.encode(std.utterances, std.sampling_rate)
    if encoder.distance == "subsequence_levenshtein":
        index = Wav2TokIndex(vocab_size=encoder.vocab_size, vocab_name=f"std-{encoder.name}")
        index.add([np.asarray(s, dtype=np.int64) for s in utt_seqs], ids=std.utterance_ids,
                  durations=[list(d) for d in utt_durations])
    elif encoder.distance == "subsequence_dtw":
        index = Wav2TokIndex(frame_dim=encoder.frame_dim, vocab_name=f"std-{encoder.name}", metric=encoder.metric,
                             frame_rate=encoder.frame_rate)
        index.add([np.asarray(s) for s in utt_seqs], ids=std.utterance_ids)
    else:
        raise ValueError(f"STD distance {encoder.distance!r}; accepted: subsequence_levenshtein, subsequence_dtw")
    detections: dict[str, list] = {}
    occurrences: dict[str, list] = {}
    elapsed, empty = 0.0, 0
    for qid, label, seq in zip(std.query_ids, std.query_labels, query_seqs):
        occurrences[qid] = std.occurrences[label]
        if len(seq) == 0:  # nothing to search with: no detections (counts as misses)
            empty += 1
            detections[qid] = []
            continue
        tic = time.perf_counter()
        result = index.search(np.asarray(seq), distance=encoder.distance)
        elapsed += time.perf_counter() - tic
        scores = result.scores / len(seq) if encoder.distance == "subsequence_levenshtein" else result.scores
        starts, ends = result.start_s, result.end_s
        detections[qid] = [(uid, float(s), float(max(s, e)), float(c))
                           for uid, s, e, c in zip(result.ids, starts, ends, scores)]
    return {"detections": detections, "occurrences": occurrences, "search_s_per_query": elapsed / len(std.queries),
            "infer_s_per_query": infer_s, "empty_queries": empty}


def evaluate_std(encoder: STDEncoder, validation: STDSet, test: STDSet, min_overlap: float = 0.0) -> dict[str, Any]:
    """Choose the detection threshold that maximises F1 on ``validation``; report ``test`` F1 at that threshold.

    Also returns the test F1 at its own best threshold (``test_oracle_f1``, optimistic), the test MAP of the ranked
    detections (``map``, with ``chance_map``; no threshold) and the validation sweep.
    """
    from .retrieval.metrics import std_mean_average_precision, std_scores, std_threshold_sweep

    val = std_detections(encoder, validation)
    sweep = std_threshold_sweep(val["detections"], val["occurrences"], min_overlap=min_overlap)
    tst = std_detections(encoder, test)
    at_threshold = std_scores(tst["detections"], tst["occurrences"], threshold=sweep["best_threshold"],
                              min_overlap=min_overlap)
    oracle = std_threshold_sweep(tst["detections"], tst["occurrences"], min_overlap=min_overlap)
    ranked = std_mean_average_precision(tst["detections"], tst["occurrences"], min_overlap=min_overlap)
    return {"map": ranked["map"], "chance_map": ranked["chance_map"], "model": encoder.name, "distance": encoder.distance, "threshold": sweep["best_threshold"],
            "validation_f1": sweep["best_f1"], "f1": at_threshold["f1"], "precision": at_threshold["precision"],
            "recall": at_threshold["recall"], "hits": at_threshold["hits"], "detections": at_threshold["detections"],
            "occurrences": at_threshold["occurrences"], "test_oracle_f1": oracle["best_f1"],
            "search_s": tst["search_s_per_query"], "infer_s": tst["infer_s_per_query"],
            "empty_queries": tst["empty_queries"],
            "validation_sweep": {k: sweep[k] for k in ("thresholds", "precision", "recall", "f1")}}
