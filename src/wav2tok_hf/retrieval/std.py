"""Spoken term detection (STD): find where a spoken keyword occurs in longer recordings, and score it.

An [`STDSet`] holds utterances with word time stamps and keyword queries; [`std_detections`] searches every query
in every utterance with an [`~wav2tok_hf.retrieval.encoders.Encoder`] (semi-global edit distance over tokens,
subsequence DTW over frames, or clip retrieval over short windows of each utterance, each tokenised on its own)
and [`evaluate_std`] scores the detections (F1 at a threshold chosen on validation, MAP of the ranked detections).

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio_utils import load_audio
from .encoders import Encoder
from .index import Wav2TokIndex
from .metrics import std_mean_average_precision, std_scores, std_threshold_sweep

STD_DISTANCES = ("subsequence_levenshtein", "subsequence_dtw", "windowed_levenshtein")
WINDOW_LENGTHS_S = (0.5, 0.75, 1.0)
"""Window lengths of ``"windowed_levenshtein"``: about the span of a spoken keyword (chosen on speechocean762
validation speakers, docs/RESULTS.md section 8a')."""
WINDOW_HOP_S = 0.05
SWEEP_POINTS = 200  # thresholds of a validation sweep kept in a report (thinned_sweep)


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


def window_spans(duration_s: float, lengths_s: tuple[float, ...] = WINDOW_LENGTHS_S,
                 hop_s: float = WINDOW_HOP_S) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the windows ``"windowed_levenshtein"`` cuts from a recording of ``duration_s``: for
    each length, windows every ``hop_s`` seconds, the last one ending at the recording's end; a recording not longer
    than a length is one window for it (the whole recording, listed once). Times are rounded to milliseconds.

    Example:
        >>> window_spans(1.0, (0.5, 2.0), 0.2)
        [(0.0, 0.5), (0.2, 0.7), (0.4, 0.9), (0.5, 1.0), (0.0, 1.0)]
    """
    if duration_s <= 0 or hop_s <= 0 or not lengths_s or min(lengths_s) <= 0:
        raise ValueError(f"window_spans(duration_s={duration_s}, lengths_s={lengths_s}, hop_s={hop_s}): expected a "
                         "positive duration, positive window lengths and a positive hop")
    spans: list[tuple[float, float]] = []
    for length in lengths_s:
        if length >= duration_s:
            spans.append((0.0, duration_s))
            continue
        starts = np.arange(0.0, duration_s - length + 1e-9, hop_s)
        spans += [(float(s), float(s) + length) for s in starts] + [(duration_s - length, duration_s)]
    spans = [(round(s, 3), round(e, 3)) for s, e in spans]  # millisecond times: the tail window may repeat one
    return list(dict.fromkeys(spans))


def window_id(recording_id: str, start_s: float, end_s: float) -> str:
    """The index id of a recording's window (:func:`window_of` reads it back).

    Example:
        >>> window_id("talk.wav", 1.15, 1.65), window_of("a@b.wav@1.150-1.650")
        ('talk.wav@1.150-1.650', ('a@b.wav', 1.15, 1.65))
    """
    return f"{recording_id}@{start_s:.3f}-{end_s:.3f}"


def window_of(item_id: str) -> tuple[str, float, float]:
    """``(recording id, start_s, end_s)`` of a :func:`window_id`."""
    recording, _, span = item_id.rpartition("@")
    start, _, end = span.partition("-")
    return recording, float(start), float(end)


def window_layout(lengths_s: tuple[float, ...] = WINDOW_LENGTHS_S, hop_s: float = WINDOW_HOP_S) -> dict[str, Any]:
    """How recordings were cut into windows, as an index build or an app catalog records it.

    Example:
        >>> window_layout()
        {'lengths_s': [0.5, 0.75, 1.0], 'hop_s': 0.05}
    """
    return {"lengths_s": list(lengths_s), "hop_s": hop_s}


def cut_windows(wave: np.ndarray, sampling_rate: int, lengths_s: tuple[float, ...] = WINDOW_LENGTHS_S,
                hop_s: float = WINDOW_HOP_S) -> tuple[list[tuple[float, float]], list[np.ndarray]]:
    """One recording's windows: their :func:`window_spans` and their samples (none for an empty recording).

    Example:
        >>> spans, clips = cut_windows(np.arange(10, dtype=np.float32), 10, (0.5,), 0.2)
        >>> spans, [c.tolist() for c in clips][1]
        ([(0.0, 0.5), (0.2, 0.7), (0.4, 0.9), (0.5, 1.0)], [2.0, 3.0, 4.0, 5.0, 6.0])
    """
    if not len(wave):
        return [], []
    spans = window_spans(len(wave) / sampling_rate, lengths_s, hop_s)
    return spans, [wave[round(s * sampling_rate):round(e * sampling_rate)] for s, e in spans]


def recording_windows(ids: Sequence[str], waves: Sequence[np.ndarray], sampling_rate: int,
                      lengths_s: tuple[float, ...] = WINDOW_LENGTHS_S, hop_s: float = WINDOW_HOP_S
                      ) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Every recording's windows as index items: their samples, their :func:`window_id` and their labels (the
    recording's id), in recording order."""
    clips, window_ids, labels = [], [], []
    for recording, wave in zip(ids, waves):
        spans, cut = cut_windows(wave, sampling_rate, lengths_s, hop_s)
        clips += cut
        window_ids += [window_id(recording, s, e) for s, e in spans]
        labels += [recording] * len(spans)
    return clips, window_ids, labels


def best_windows(result: Any) -> list[dict[str, Any]]:
    """Each recording once, by its best window, from a search over windows (labels: recording ids), best first:
    ``{"id": recording, "start_s", "end_s", "score", "window": its window id}``."""
    rows = []
    for row in result.by_class().to_list():
        recording, start_s, end_s = window_of(row["id"])
        rows.append({"id": recording, "start_s": start_s, "end_s": end_s, "score": row["score"], "window": row["id"]})
    return rows


def _windowed_index(encoder: Encoder, std: STDSet, lengths_s: tuple[float, ...], hop_s: float) -> Wav2TokIndex:
    """Every utterance's windows, each tokenised on its own as a query is, in one index (labels: utterance ids)."""
    clips, window_ids, labels = recording_windows(std.utterance_ids, std.utterances, std.sampling_rate, lengths_s,
                                                  hop_s)
    index = Wav2TokIndex(vocab_size=encoder.vocab_size, vocab_name=f"std-{encoder.name}",
                         substitution_costs=encoder.substitution_costs)
    index.add([np.asarray(s, dtype=np.int64) for s in encoder.encode(clips, std.sampling_rate)], ids=window_ids,
              labels=labels)
    return index


def _encode(encoder: Encoder, waves: list[np.ndarray], sampling_rate: int) -> tuple[list, list | None]:
    """``(sequences, per-token durations)`` for token STD, ``(frames, None)`` for frame STD."""
    if encoder.distance == "subsequence_levenshtein":
        if encoder.encode_with_durations is None:
            raise ValueError(f"encoder {encoder.name!r} gives no token durations, which subsequence_levenshtein needs "
                             "to time a match; build it with model_std_encoder / baseline_std_encoder")
        return encoder.encode_with_durations(waves, sampling_rate)
    return encoder.encode(waves, sampling_rate), None


def std_detections(encoder: Encoder, std: STDSet, window_lengths_s: tuple[float, ...] = WINDOW_LENGTHS_S,
                   window_hop_s: float = WINDOW_HOP_S) -> dict[str, Any]:
    """Search every query in every utterance; one detection (best segment) per query and utterance.

    Detections are keyed by query id (each query is scored against the occurrences of its word) and scored by the
    normalised cost: semi-global ED / query tokens, subsequence DTW cost / query frames, or for
    ``"windowed_levenshtein"`` the best window's normalised (weighted, when the encoder has substitution costs) ED
    (lower = better). ``"windowed_levenshtein"`` cuts each utterance into windows (:func:`window_spans` of
    ``window_lengths_s`` every ``window_hop_s``) and tokenises each on its own, so a keyword is tokenised as its
    query is: a model whose tokens depend on the context around a word (a BiLSTM over whole clips) finds it there.
    """
    if encoder.distance not in STD_DISTANCES:
        raise ValueError(f"STD distance {encoder.distance!r}; accepted: {', '.join(STD_DISTANCES)}")
    windowed = encoder.distance == "windowed_levenshtein"
    if windowed and encoder.vocab_size is None:
        raise ValueError(f"encoder {encoder.name!r} has no token vocabulary, which windowed_levenshtein needs")
    start = time.perf_counter()
    query_seqs, _ = _encode(encoder, std.queries, std.sampling_rate)
    infer_s = (time.perf_counter() - start) / len(std.queries)
    if windowed:
        index = _windowed_index(encoder, std, tuple(window_lengths_s), window_hop_s)
        window_distance = ("normalized_weighted_levenshtein" if encoder.substitution_costs is not None
                           else "normalized_levenshtein")
    elif encoder.distance == "subsequence_levenshtein":
        utt_seqs, utt_durations = _encode(encoder, std.utterances, std.sampling_rate)
        index = Wav2TokIndex(vocab_size=encoder.vocab_size, vocab_name=f"std-{encoder.name}")
        index.add([np.asarray(s, dtype=np.int64) for s in utt_seqs], ids=std.utterance_ids,
                  durations=[list(d) for d in utt_durations])
    else:
        utt_seqs, _ = _encode(encoder, std.utterances, std.sampling_rate)
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
        if windowed:
            found = best_windows(index.search(np.asarray(seq), distance=window_distance))
            elapsed += time.perf_counter() - tic
            detections[qid] = [(r["id"], r["start_s"], r["end_s"], float(r["score"])) for r in found]
            continue
        result = index.search(np.asarray(seq), distance=encoder.distance)
        elapsed += time.perf_counter() - tic
        scores = result.scores / len(seq) if encoder.distance == "subsequence_levenshtein" else result.scores
        starts, ends = result.start_s, result.end_s
        detections[qid] = [(uid, float(s), float(max(s, e)), float(c))
                           for uid, s, e, c in zip(result.ids, starts, ends, scores)]
    return {"detections": detections, "occurrences": occurrences, "search_s_per_query": elapsed / len(std.queries),
            "infer_s_per_query": infer_s, "empty_queries": empty}


def evaluate_std(encoder: Encoder, validation: STDSet, test: STDSet, min_overlap: float = 0.0,
                 **window: Any) -> dict[str, Any]:
    """Choose the detection threshold that maximises F1 on ``validation``; report ``test`` F1 at that threshold.

    Also returns the test F1 at its own best threshold (``test_oracle_f1``, optimistic), the test MAP of the ranked
    detections (``map``; no threshold; chance: :func:`random_detector_map`), the validation MAP (``validation_map``: what to choose a
    search method by) and the validation sweep. ``window``: ``window_lengths_s`` / ``window_hop_s`` of
    :func:`std_detections`.
    """
    val = std_detections(encoder, validation, **window)
    sweep = std_threshold_sweep(val["detections"], val["occurrences"], min_overlap=min_overlap)
    tst = std_detections(encoder, test, **window)
    at_threshold = std_scores(tst["detections"], tst["occurrences"], threshold=sweep["best_threshold"],
                              min_overlap=min_overlap)
    oracle = std_threshold_sweep(tst["detections"], tst["occurrences"], min_overlap=min_overlap)
    ranked = std_mean_average_precision(tst["detections"], tst["occurrences"], min_overlap=min_overlap)
    val_ranked = std_mean_average_precision(val["detections"], val["occurrences"], min_overlap=min_overlap)
    return {"map": ranked["map"], "model": encoder.name,
            "distance": encoder.distance, "threshold": sweep["best_threshold"], "validation_f1": sweep["best_f1"],
            "validation_map": val_ranked["map"], "f1": at_threshold["f1"], "precision": at_threshold["precision"],
            "recall": at_threshold["recall"], "hits": at_threshold["hits"], "detections": at_threshold["detections"],
            "occurrences": at_threshold["occurrences"], "test_oracle_f1": oracle["best_f1"],
            "search_s": tst["search_s_per_query"], "infer_s": tst["infer_s_per_query"],
            "empty_queries": tst["empty_queries"],
            "validation_sweep": thinned_sweep(sweep)}


def thinned_sweep(sweep: dict[str, Any], points: int = SWEEP_POINTS) -> dict[str, list]:
    """The ``thresholds`` / ``precision`` / ``recall`` / ``f1`` lists of a threshold sweep at no more than ``points``
    evenly spaced thresholds, always keeping the best-F1 one (what a report stores and plots: a sweep over every
    distinct score of 30,000 detections is megabytes of JSON).

    Example:
        >>> sweep = {"thresholds": [0.1 * k for k in range(10)], "precision": [0.0] * 10, "recall": [0.0] * 10,
        ...          "f1": [0, 0, 0, 0.9, 0, 0, 0, 0, 0, 0]}
        >>> [round(t, 1) for t in thinned_sweep(sweep, points=3)["thresholds"]]
        [0.0, 0.3, 0.4, 0.9]
    """
    keys = ("thresholds", "precision", "recall", "f1")
    n = len(sweep["thresholds"])
    keep = np.unique(np.r_[np.linspace(0, n - 1, min(points, n)).round().astype(int), int(np.argmax(sweep["f1"]))])
    return {k: [sweep[k][i] for i in keep] for k in keys}


def random_detector_map(std: STDSet, draws: int = 20, seed: int = 0, min_overlap: float = 0.0) -> float:
    """The chance level of the STD MAP: a detector that knows nothing puts, in every utterance, a segment as long as
    the query at a uniformly random place and ranks the utterances at random (mean MAP over ``draws`` seeded draws).

    Example:
        >>> std = STDSet([np.zeros(100, np.float32), np.zeros(100, np.float32)], ["u0", "u1"],
        ...              {"w": [("u0", 0.0, 1.0)]}, [np.zeros(50, np.float32)], ["w"], ["q"], sampling_rate=100)
        >>> round(random_detector_map(std, draws=2000), 2)  # the word fills u0: AP 1 or 1/2 (u0 first or not)
        0.74
    """
    rng = np.random.default_rng(seed)
    durations = np.array([len(u) / std.sampling_rate for u in std.utterances])
    occurrences = {qid: std.occurrences[label] for qid, label in zip(std.query_ids, std.query_labels)}
    maps = []
    for _ in range(draws):
        detections = {}
        for qid, query in zip(std.query_ids, std.queries):
            length = len(query) / std.sampling_rate
            starts = rng.uniform(0, np.maximum(durations - length, 0))
            order = rng.permutation(len(durations))
            detections[qid] = [(uid, float(start), float(min(start + length, duration)), float(rank))
                               for uid, start, duration, rank in zip(std.utterance_ids, starts, durations, order)]
        maps.append(std_mean_average_precision(detections, occurrences, min_overlap=min_overlap)["map"])
    return float(np.mean(maps))
