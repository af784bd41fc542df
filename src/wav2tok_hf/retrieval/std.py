"""Spoken term detection (STD): find where a spoken keyword occurs in longer recordings, and score it.

An [`STDSet`] holds utterances with word time stamps and keyword queries; [`std_detections`] searches every query
in every utterance with an [`~wav2tok_hf.retrieval.encoders.Encoder`] (semi-global edit distance over tokens, or
subsequence DTW over frames) and [`evaluate_std`] scores the detections (F1 at a threshold chosen on validation,
MAP of the ranked detections).

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.retrieval.encoders import Encoder
    >>> tokens = {0: [1, 2, 3, 4], 1: [5, 6, 7], 2: [2, 3]}  # utterances 0 and 1; query 2 is "hello"
    >>> encoder = Encoder("ids", lambda ws, sr: [tokens[int(w[0])] for w in ws], "subsequence_levenshtein", 8,
    ...                   encode_with_durations=lambda ws, sr: ([tokens[int(w[0])] for w in ws],
    ...                                                         [[0.1] * len(tokens[int(w[0])]) for w in ws]))
    >>> std = STDSet([np.zeros(1, np.float32), np.ones(1, np.float32)], ["u0", "u1"], {"hello": [("u0", 0.1, 0.3)]},
    ...              [np.full(1, 2, np.float32)], ["hello"], ["q0"], sampling_rate=8000)
    >>> found = std_detections(encoder, std)["detections"]["q0"]
    >>> [(uid, round(start, 2), round(end, 2), cost) for uid, start, end, cost in found]
    [('u0', 0.1, 0.3, 0.0), ('u1', 0.0, 0.0, 1.0)]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio_utils import load_audio
from .encoders import Encoder
from .index import Wav2TokIndex
from .metrics import std_mean_average_precision, std_scores, std_threshold_sweep


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


def _encode(encoder: Encoder, waves: list[np.ndarray], sampling_rate: int) -> tuple[list, list | None]:
    """``(sequences, per-token durations)`` for token STD, ``(frames, None)`` for frame STD."""
    if encoder.distance == "subsequence_levenshtein":
        if encoder.encode_with_durations is None:
            raise ValueError(f"encoder {encoder.name!r} gives no token durations, which subsequence_levenshtein needs "
                             "to time a match; build it with model_std_encoder / baseline_std_encoder")
        return encoder.encode_with_durations(waves, sampling_rate)
    return encoder.encode(waves, sampling_rate), None


def std_detections(encoder: Encoder, std: STDSet) -> dict[str, Any]:
    """Search every query in every utterance; one detection (best segment) per query and utterance.

    Detections are keyed by query id (each query is scored against the occurrences of its word) and scored by the
    normalised cost: semi-global ED / query tokens, or subsequence DTW cost / query frames (lower = better).
    """
    if encoder.distance not in ("subsequence_levenshtein", "subsequence_dtw"):
        raise ValueError(f"STD distance {encoder.distance!r}; accepted: subsequence_levenshtein, subsequence_dtw")
    start = time.perf_counter()
    query_seqs, _ = _encode(encoder, std.queries, std.sampling_rate)
    infer_s = (time.perf_counter() - start) / len(std.queries)
    utt_seqs, utt_durations = _encode(encoder, std.utterances, std.sampling_rate)
    if encoder.distance == "subsequence_levenshtein":
        index = Wav2TokIndex(vocab_size=encoder.vocab_size, vocab_name=f"std-{encoder.name}")
        index.add([np.asarray(s, dtype=np.int64) for s in utt_seqs], ids=std.utterance_ids,
                  durations=[list(d) for d in utt_durations])
    else:
        index = Wav2TokIndex(frame_dim=encoder.frame_dim, vocab_name=f"std-{encoder.name}", metric=encoder.metric,
                             frame_rate=encoder.frame_rate)
        index.add([np.asarray(s) for s in utt_seqs], ids=std.utterance_ids)
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


def evaluate_std(encoder: Encoder, validation: STDSet, test: STDSet, min_overlap: float = 0.0) -> dict[str, Any]:
    """Choose the detection threshold that maximises F1 on ``validation``; report ``test`` F1 at that threshold.

    Also returns the test F1 at its own best threshold (``test_oracle_f1``, optimistic), the test MAP of the ranked
    detections (``map``, with ``chance_map``; no threshold) and the validation sweep.
    """
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
