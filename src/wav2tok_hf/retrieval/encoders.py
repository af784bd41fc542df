"""The systems a benchmark compares, behind one interface: [`Encoder`].

An [`Encoder`] turns waves into sequences (token ids, or frame embeddings for the DTW distances) and says how they
are compared. Adapters build one from a `Wav2TokModel` ([`model_encoder`], [`model_std_encoder`]) or from a
[`~wav2tok_hf.retrieval.RetrievalBaseline`] ([`baseline_encoder`], [`baseline_std_encoder`]); the retrieval protocol
(`retrieval.evaluation`) and spoken term detection (`retrieval.std`) only ever see [`Encoder`]s.

Example:
    >>> import numpy as np
    >>> length = Encoder("length", lambda waves, sr: [[len(w) % 7] for w in waves], "levenshtein", vocab_size=7)
    >>> [e.distance for e in with_ranking_variants([length])]
    ['levenshtein', 'normalized_levenshtein']
    >>> length.encode([np.zeros(10, np.float32)], 8000)
    [[3]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .index import FRAME_DISTANCES

if TYPE_CHECKING:
    from ..modeling_wav2tok import Wav2TokModel
    from .baselines import RetrievalBaseline

Waves = list[np.ndarray]
EncodeFn = Callable[[Waves, int], list]
"""``encode(waves, sampling_rate) -> [sequence per wave]``: token ids, or ``(frames, dim)`` arrays."""
EncodeWithDurationsFn = Callable[[Waves, int], tuple[list, list]]
"""``(sequences, per-token durations in seconds)``: what token spoken term detection needs to time a match."""


@dataclass
class Encoder:
    """A system under test: how it turns waves into sequences and how those sequences are compared.

    Args:
        name: row name in the result tables.
        encode: ``encode(waves, sampling_rate) -> [sequence per wave]``.
        distance: a token distance (``"levenshtein"``, ...), a frame distance (``"dtw"``) or, for spoken term
            detection, ``"subsequence_levenshtein"`` / ``"subsequence_dtw"``.
        vocab_size: number of token ids (token distances).
        metric: frame metric of the DTW distances.
        substitution_costs: ``(vocab_size, vocab_size)`` costs of the weighted edit distances, if the system has a
            codebook.
        query_pitch_shifts: key search: each query encoded at these shifts (semitones), best distance kept.
        encode_with_durations: ``(sequences, durations)`` for token spoken term detection.
        frame_dim: embedding size of frame sequences (frame spoken term detection).
        frame_rate: frames per second of frame sequences (to time a frame match).
    """

    name: str
    encode: EncodeFn
    distance: str = "levenshtein"
    vocab_size: int | None = None
    metric: str = "cosine"
    substitution_costs: np.ndarray | None = None
    query_pitch_shifts: tuple[float, ...] = ()
    encode_with_durations: EncodeWithDurationsFn | None = None
    frame_dim: int | None = None
    frame_rate: float | None = None


def _is_frames(distance: str) -> bool:
    return distance in FRAME_DISTANCES


def model_encoder(model: Wav2TokModel, name: str = "wav2tok", distance: str = "levenshtein",
                  key_search: bool = True) -> Encoder:
    """An [`Encoder`] for a `Wav2TokModel`: its token strings, or its frame embeddings for the DTW distances.

    Token queries are searched at the model's ``config.query_pitch_shifts`` (as `Wav2TokIndex.search_audio` does)
    unless ``key_search=False``; frame embeddings are searched as recorded.

    Example:
        >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
        >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8)).eval()
        >>> encoder = model_encoder(model)
        >>> encoder.vocab_size, encoder.substitution_costs.shape
        (8, (8, 8))
        >>> model_encoder(model, distance="dtw").vocab_size is None
        True
    """
    if _is_frames(distance):
        return Encoder(name, lambda w, sr: model.embed(w, sampling_rate=sr, batch_size=32), distance,
                       frame_dim=model.config.embedding_dim, frame_rate=float(model.config.frame_rate))
    shifts = tuple(model.config.query_pitch_shifts or ()) if key_search else ()
    return Encoder(name, lambda w, sr: model.encode(w, sampling_rate=sr, batch_size=32), distance,
                   model.config.codebook_size, substitution_costs=model.substitution_costs(), query_pitch_shifts=shifts,
                   encode_with_durations=lambda w, sr: model.encode(w, sampling_rate=sr, return_durations=True,
                                                                    batch_size=32))


def model_encoders(model: Wav2TokModel, name: str = "wav2tok", dtw: bool = False) -> list[Encoder]:
    """The benchmark rows of a `Wav2TokModel`: its tokens as it searches (named ``"<name> + key search (...)"`` when
    its config sets ``query_pitch_shifts``), then, in that case, its tokens with queries as recorded (``name``), and
    with ``dtw`` DTW over its frame embeddings.

    Example:
        >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
        >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8,
        ...                                    query_pitch_shifts=[-0.5, 0, 0.5])).eval()
        >>> [(e.name, e.distance) for e in model_encoders(model, "m", dtw=True)]
        [('m + key search (-0.5, +0, +0.5 st)', 'levenshtein'), ('m', 'levenshtein'), ('m', 'dtw')]
    """
    shifts = model.config.query_pitch_shifts
    encoders = [model_encoder(model, key_search_name(name, shifts) if shifts else name)]
    if shifts:
        encoders.append(model_encoder(model, name, key_search=False))
    return encoders + ([model_encoder(model, name, distance="dtw")] if dtw else [])


def key_search_name(name: str, semitones: Sequence[float]) -> str:
    """The row name of ``name`` searched at query pitch shifts ``semitones``.

    Example:
        >>> key_search_name("wav2tok", [-0.5, 0, 0.5])
        'wav2tok + key search (-0.5, +0, +0.5 st)'
    """
    return f"{name} + key search ({', '.join(f'{k:+g}' for k in semitones)} st)"


def baseline_encoder(baseline: RetrievalBaseline, name: str | None = None) -> Encoder:
    """An [`Encoder`] for a retrieval baseline (see `wav2tok_hf.retrieval.create_baseline`); a learned baseline must
    be fitted first.

    Example:
        >>> from wav2tok_hf.retrieval import create_baseline
        >>> encoder = baseline_encoder(create_baseline("logmel-dtw"))
        >>> encoder.name, encoder.distance, encoder.vocab_size, encoder.frame_dim
        ('LogMelDTWBaseline', 'dtw', None, 64)
    """
    frames = _is_frames(baseline.distance)
    return Encoder(name or type(baseline).__name__, lambda w, sr: baseline.encode(list(w), sampling_rate=sr),
                   baseline.distance, None if frames else baseline.vocabulary.size, baseline.metric or "cosine",
                   baseline.substitution_costs(),
                   encode_with_durations=None if frames else (
                       lambda w, sr: baseline.encode(list(w), sampling_rate=sr, return_durations=True)),
                   frame_dim=baseline.vocabulary.size if frames else None, frame_rate=baseline.frame_rate)


def model_std_encoder(model: Wav2TokModel, name: str = "wav2tok", distance: str = "subsequence_levenshtein") -> Encoder:
    """A `Wav2TokModel` for spoken term detection: semi-global edit distance over its tokens
    (``"subsequence_levenshtein"``), subsequence DTW over its frame embeddings (``"subsequence_dtw"``), or its
    codebook-weighted normalised edit distance to windows of each utterance tokenised on their own
    (``"windowed_levenshtein"``, see `wav2tok_hf.retrieval.std.std_detections`)."""
    encoder = model_encoder(model, name, "dtw" if distance == "subsequence_dtw" else "levenshtein", key_search=False)
    costs = encoder.substitution_costs if distance == "windowed_levenshtein" else None
    return dataclasses.replace(encoder, distance=distance, substitution_costs=costs)


def baseline_std_encoder(baseline: RetrievalBaseline, name: str | None = None) -> Encoder:
    """A retrieval baseline for spoken term detection: token baselines (with durations) by semi-global edit distance,
    frame baselines by subsequence DTW."""
    encoder = baseline_encoder(baseline, name or baseline.name)
    return dataclasses.replace(encoder, substitution_costs=None, distance="subsequence_dtw"
                               if _is_frames(baseline.distance) else "subsequence_levenshtein")


def with_key_search(encoders: list[Encoder], semitones: Sequence[float]) -> list[Encoder]:
    """Each encoder followed by its key-search twin: every query encoded at each of ``semitones`` and each database
    item scored by its best distance over those versions (``len(semitones)`` times the query cost)."""
    out = []
    for encoder in encoders:
        out += [encoder, dataclasses.replace(encoder, name=key_search_name(encoder.name, semitones),
                                             query_pitch_shifts=tuple(semitones))]
    return out


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
