"""A searchable index of token sequences or frame sequences, with ids, class labels and a recorded vocabulary."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import kernels

TOKEN_DISTANCES = ("levenshtein", "normalized_levenshtein", "subsequence_levenshtein",
                   "normalized_subsequence_levenshtein", "weighted_levenshtein", "normalized_weighted_levenshtein")
WEIGHTED_DISTANCES = ("weighted_levenshtein", "normalized_weighted_levenshtein")
FRAME_DISTANCES = ("dtw", "subsequence_dtw")
SUBSEQUENCE_DISTANCES = ("subsequence_levenshtein", "normalized_subsequence_levenshtein", "subsequence_dtw")
REPRESENTATIONS = ("tokens", "frames")

INDEX_FILE = "index.json"
FORMAT_NAME = "wav2tok-index"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Vocabulary:
    """What the sequences of an index are made of; queries and added items must share it.

    Args:
        name: identifies the tokenizer / feature front end (e.g. ``"wav2tok-3f2a..."``, ``"vq-logmel-ed-K64-..."``).
        size: number of token ids (``"tokens"``) or the frame dimension (``"frames"``).
        kind: ``"tokens"`` (integer ids in ``[0, size)``, compared by edit distance) or ``"frames"``
            (float vectors of dimension ``size``, compared by DTW).

    Example:
        >>> Vocabulary("my-tokenizer", 25) == Vocabulary("my-tokenizer", 25, "tokens")
        True
    """

    name: str
    size: int
    kind: str = "tokens"

    def __post_init__(self):
        if self.kind not in REPRESENTATIONS:
            raise ValueError(f"kind={self.kind!r}; accepted: {REPRESENTATIONS}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"vocabulary name={self.name!r}; expected a non-empty string")
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValueError(f"vocabulary size={self.size!r}; expected a positive integer")
        if self.kind == "tokens" and self.size > kernels.MAX_CODE_POINT:
            raise ValueError(f"vocabulary size={self.size} exceeds the supported {kernels.MAX_CODE_POINT} token ids")
        object.__setattr__(self, "size", int(self.size))


def vocabulary_of(encoder: Any, kind: str | None = None) -> Vocabulary:
    """The :class:`Vocabulary` of a baseline (its ``vocabulary`` attribute) or of a ``Wav2TokModel``.

    A model's vocabulary name is a fingerprint of its weights and codebook, so two differently trained models with
    the same ``codebook_size`` never share an index. ``kind`` selects the model's ``"tokens"`` (default) or
    ``"frames"`` (its unit-norm embeddings).
    """
    if hasattr(encoder, "vocabulary") and not hasattr(encoder, "config"):
        vocabulary = encoder.vocabulary
        if kind is not None and vocabulary.kind != kind:
            raise ValueError(f"{type(encoder).__name__} produces {vocabulary.kind}, not {kind}")
        return vocabulary
    config = getattr(encoder, "config", None)
    if config is None or not hasattr(config, "codebook_size") or not hasattr(encoder, "state_dict"):
        raise TypeError(
            f"{type(encoder).__name__} is neither a retrieval baseline (with a `vocabulary`) nor a Wav2TokModel"
        )
    digest = hashlib.sha1()
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    kind = kind or "tokens"
    if kind == "tokens":
        return Vocabulary(f"wav2tok-{digest.hexdigest()[:16]}", config.codebook_size, "tokens")
    return Vocabulary(f"wav2tok-{digest.hexdigest()[:16]}", config.embedding_dim, "frames")


def _encoder_frame_rate(encoder: Any) -> float | None:
    config = getattr(encoder, "config", None)
    if config is not None and hasattr(config, "frame_rate"):
        return float(config.frame_rate)
    return getattr(encoder, "frame_rate", None)


def _encode_with(encoder: Any, audio: list, sampling_rate: int | None, kind: str) -> tuple[list, list | None]:
    """Run an encoder on a list of audio; return ``(sequences, durations or None)``."""
    if kind == "frames":
        embed = encoder.embed if hasattr(encoder, "embed") else encoder.encode
        return list(embed(audio, sampling_rate=sampling_rate)), None
    sequences, durations = encoder.encode(audio, sampling_rate=sampling_rate, return_durations=True)
    return list(sequences), list(durations)


def _is_single_token_query(query: Any) -> bool:
    if isinstance(query, np.ndarray) or hasattr(query, "numpy"):
        return np.asarray(query).ndim == 1
    return isinstance(query, Sequence) and len(query) > 0 and all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in query
    )


def _is_single_frame_query(query: Any) -> bool:
    return (isinstance(query, np.ndarray) or hasattr(query, "numpy")) and np.asarray(query).ndim == 2


def _atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class SearchResult:
    """One query's ranking of the index, best (lowest score) first; ties keep insertion order.

    Attributes:
        distance: the distance that produced ``scores``.
        indices: positions of the ranked items in the index.
        scores: their distances (lower is better).
        starts / ends: for subsequence distances, the matched segment ``target[start:end]`` in tokens / frames.

    Properties ``ids``, ``labels``, ``start_s`` and ``end_s`` give the ranked ids, class labels and segment times
    (seconds; ``None`` where the index has no durations / frame rate).
    """

    distance: str
    indices: np.ndarray
    scores: np.ndarray
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    index: Wav2TokIndex | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.indices)

    def _subset(self, keep: np.ndarray) -> SearchResult:
        pick = (lambda a: None if a is None else a[keep])
        return SearchResult(self.distance, self.indices[keep], self.scores[keep], pick(self.starts), pick(self.ends),
                            self.index)

    @property
    def ids(self) -> list[str]:
        return self.index._ids[self.indices].tolist()

    @property
    def labels(self) -> list[str]:
        return self.index._class_names[self.index._codes[self.indices]].tolist()

    @property
    def start_s(self) -> np.ndarray | None:
        return None if self.starts is None else self.index._positions_to_seconds(self.indices, self.starts)

    @property
    def end_s(self) -> np.ndarray | None:
        return None if self.ends is None else self.index._positions_to_seconds(self.indices, self.ends)

    def by_class(self) -> SearchResult:
        """Keep only the best-ranked item of each class label, in rank order."""
        _, first = np.unique(self.index._codes[self.indices], return_index=True)
        return self._subset(np.sort(first))

    def rank_of(self, label: str) -> int | None:
        """1-based rank of the first item labelled ``label`` (``None`` if absent from this result)."""
        code = self.index._class_codes.get(label)
        hits = np.flatnonzero(self.index._codes[self.indices] == code) if code is not None else []
        return int(hits[0]) + 1 if len(hits) else None

    def to_list(self) -> list[dict]:
        """The ranking as a list of plain dicts (``id``, ``label``, ``score`` and, for subsequences, positions)."""
        rows = [{"id": i, "label": lab, "score": float(s)} for i, lab, s in zip(self.ids, self.labels, self.scores)]
        if self.starts is not None:
            start_s, end_s = self.start_s, self.end_s
            for k, row in enumerate(rows):
                row.update(start=int(self.starts[k]), end=int(self.ends[k]))
                if start_s is not None:
                    row.update(start_s=float(start_s[k]), end_s=float(end_s[k]))
        return rows


class Wav2TokIndex:
    """Rank a database of audio representations for query-by-example retrieval and spoken term detection.

    An index holds either **token** sequences (integer ids of one vocabulary, compared by edit distance) or
    **frame** sequences (float vectors, compared by DTW), each with a unique id and a class label (the label
    defines "the same song / word"; it defaults to the id). Distances:

    * tokens: ``"levenshtein"`` (ED), ``"normalized_levenshtein"`` (ED / max length),
      ``"subsequence_levenshtein"`` (semi-global ED: the query may start and end anywhere in the item; the
      result carries the matched segment), ``"normalized_subsequence_levenshtein"`` (the same / query length),
      ``"weighted_levenshtein"`` (ED whose substitution costs come from the index's ``substitution_costs``, e.g.
      the codeword distances of a wav2tok model: see ``Wav2TokModel.substitution_costs``) and
      ``"normalized_weighted_levenshtein"`` (the same / max length).
    * frames: ``"dtw"`` (cost / (query + item frames)) and ``"subsequence_dtw"`` (cost / query frames), with a
      ``"cosine"`` (frames stored unit-norm) or ``"euclidean"`` frame metric.

    The index records its :class:`Vocabulary` and refuses queries or items from another one.

    Args:
        vocabulary: a :class:`Vocabulary`, or build one from ``vocab_size`` / ``frame_dim`` and ``vocab_name``.
        metric: frame metric of a frames index.
        frame_rate: frames per second of a frames index (gives segment times of subsequence DTW).
        substitution_costs: ``(size, size)`` substitution costs of a tokens index for the weighted distances
            (non-negative, zero diagonal; :meth:`from_encoder` takes them from the encoder).

    Example:
        >>> index = Wav2TokIndex(vocab_size=10, vocab_name="demo")
        >>> index.add([[1, 2, 3, 4], [5, 6, 7], [1, 2, 4]], ids=["a", "b", "c"], labels=["x", "y", "x"])
        >>> result = index.search([1, 2, 3])
        >>> result.ids, result.scores.tolist()
        (['a', 'c', 'b'], [1, 1, 3])
        >>> index.search([2, 3], distance="subsequence_levenshtein").to_list()[0]
        {'id': 'a', 'label': 'x', 'score': 0.0, 'start': 1, 'end': 3}
        >>> costs = np.ones((10, 10)) - np.eye(10)
        >>> costs[3, 4] = costs[4, 3] = 0.25  # tokens 3 and 4 are near
        >>> weighted = Wav2TokIndex(vocab_size=10, vocab_name="demo", substitution_costs=costs)
        >>> weighted.add([[1, 2, 4], [1, 2, 5]], ids=["near", "far"])
        >>> weighted.search([1, 2, 3], distance="weighted_levenshtein").scores.tolist()
        [0.25, 1.0]
    """

    def __init__(
        self,
        vocabulary: Vocabulary | None = None,
        *,
        vocab_size: int | None = None,
        frame_dim: int | None = None,
        vocab_name: str = "tokens",
        metric: str = "cosine",
        frame_rate: float | None = None,
        substitution_costs: Any = None,
    ):
        if vocabulary is None:
            if (vocab_size is None) == (frame_dim is None):
                raise ValueError("pass a Vocabulary, or exactly one of vocab_size= (tokens) and frame_dim= (frames)")
            vocabulary = (Vocabulary(vocab_name, vocab_size, "tokens") if vocab_size is not None
                          else Vocabulary(vocab_name, frame_dim, "frames"))
        elif not isinstance(vocabulary, Vocabulary):
            raise TypeError(f"vocabulary must be a Vocabulary, got {type(vocabulary).__name__}")
        if metric not in kernels.FRAME_METRICS:
            raise ValueError(f"metric={metric!r}; accepted: {kernels.FRAME_METRICS}")
        if frame_rate is not None and not (isinstance(frame_rate, (int, float)) and frame_rate > 0):
            raise ValueError(f"frame_rate={frame_rate!r}; expected a positive number of frames per second")
        self.vocabulary = vocabulary
        self.metric = metric
        self.frame_rate = None if frame_rate is None else float(frame_rate)
        self.substitution_costs = None if substitution_costs is None else self._check_costs(substitution_costs)
        self._sequences: list[np.ndarray] = []
        self._bounds: list[np.ndarray | None] = []  # token boundary times (len + 1), from durations
        self._ids = np.empty(0, dtype=object)
        self._id_set: set[str] = set()
        self._codes = np.empty(0, dtype=np.int64)
        self._class_codes: dict[str, int] = {}
        self._class_names = np.empty(0, dtype=object)
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_encoder(cls, encoder: Any, kind: str | None = None, metric: str | None = None) -> Wav2TokIndex:
        """An empty index matching an encoder: a baseline (its vocabulary, metric and frame rate) or a
        ``Wav2TokModel`` (``kind="tokens"``, the default, or ``"frames"`` for DTW over its embeddings).

        Example:
            >>> from wav2tok_hf.retrieval import create_baseline
            >>> Wav2TokIndex.from_encoder(create_baseline("logmel-dtw")).vocabulary.kind
            'frames'
        """
        vocabulary = vocabulary_of(encoder, kind)
        metric = metric or getattr(encoder, "metric", None) or "cosine"
        costs = getattr(encoder, "substitution_costs", None)
        costs = costs() if callable(costs) and vocabulary.kind == "tokens" else None
        return cls(vocabulary, metric=metric, frame_rate=_encoder_frame_rate(encoder), substitution_costs=costs)

    @property
    def kind(self) -> str:
        """``"tokens"`` or ``"frames"``."""
        return self.vocabulary.kind

    @property
    def ids(self) -> list[str]:
        return self._ids.tolist()

    @property
    def labels(self) -> list[str]:
        return self._class_names[self._codes].tolist()

    def __len__(self) -> int:
        return len(self._sequences)

    def __repr__(self) -> str:
        v = self.vocabulary
        extra = f", metric={self.metric!r}" if v.kind == "frames" else ""
        return (f"Wav2TokIndex(items={len(self)}, classes={len(self._class_codes)}, kind={v.kind!r}, "
                f"vocabulary={v.name!r}, size={v.size}{extra})")

    def sequence(self, item: int | str) -> np.ndarray:
        """The stored sequence of an item, by position or id."""
        if isinstance(item, str):
            hits = np.flatnonzero(self._ids == item)
            if not len(hits):
                raise KeyError(f"no item with id {item!r}")
            item = int(hits[0])
        return self._sequences[item]

    def _check_costs(self, costs: Any) -> np.ndarray:
        size = self.vocabulary.size
        if self.kind != "tokens":
            raise ValueError("substitution_costs apply to a tokens index; a frames index compares frames by DTW")
        array = np.asarray(costs.detach().cpu() if hasattr(costs, "detach") else costs, dtype=np.float64)
        if array.shape != (size, size):
            raise ValueError(f"substitution_costs must be a ({size}, {size}) matrix over the vocabulary's token ids, "
                             f"got shape {array.shape}")
        if not np.isfinite(array).all() or (array < 0).any() or (np.diag(array) != 0).any():
            raise ValueError("substitution_costs must be finite, non-negative and zero on the diagonal "
                             "(a token substituted by itself costs nothing)")
        return array.astype(np.float32)

    def _check_vocabulary(self, vocabulary: Vocabulary | None, what: str) -> None:
        if vocabulary is not None and vocabulary != self.vocabulary:
            raise ValueError(
                f"{what} come from vocabulary {vocabulary} but this index holds {self.vocabulary}; "
                "tokens/frames of different tokenizers are not comparable. Build a separate index."
            )

    def _validate(self, sequence: Any, what: str) -> np.ndarray:
        """Check one sequence against the vocabulary; return it as int32 tokens or float32 frames."""
        array = np.asarray(sequence.detach().cpu() if hasattr(sequence, "detach") else sequence)
        v = self.vocabulary
        if array.size == 0:
            raise ValueError(f"{what} is empty; sequences need at least one token / frame")
        if v.kind == "tokens":
            if array.ndim != 1 or array.dtype.kind not in "iu":
                raise ValueError(f"{what} must be a 1-D sequence of integer token ids, got dtype {array.dtype} "
                                 f"and shape {array.shape}")
            low, high = int(array.min()), int(array.max())
            if low < 0 or high >= v.size:
                raise ValueError(f"{what} holds token id {high if high >= v.size else low}, outside the index "
                                 f"vocabulary {v.name!r} of size {v.size} (ids 0..{v.size - 1})")
            return array.astype(np.int32)
        if array.ndim != 2 or array.dtype.kind not in "fiu":
            raise ValueError(f"{what} must be a 2-D (frames, {v.size}) float array, got shape {array.shape}")
        if array.shape[1] != v.size:
            raise ValueError(f"{what} has frame dimension {array.shape[1]}, but the index vocabulary {v.name!r} "
                             f"has frame dimension {v.size}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ValueError(f"{what} contains NaN/inf values")
        if self.metric == "cosine":
            norms = np.linalg.norm(array, axis=1, keepdims=True)
            if (np.abs(norms - 1.0) > 1e-5).any():  # leave unit-norm input (e.g. a reloaded index) bit-identical
                array = array / np.maximum(norms, 1e-12)
        return np.ascontiguousarray(array)

    def add(
        self,
        sequences: Sequence,
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        durations: Sequence[Sequence[float]] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        """Add sequences (all validated before any is added).

        Args:
            sequences: token id sequences (tokens index) or ``(frames, dim)`` arrays (frames index).
            ids: unique string ids (default: running positions ``"0", "1", ...``).
            labels: class labels (default: the ids, i.e. every item its own class).
            durations: per-token durations in seconds (tokens index; ``None`` entries for items without), as
                returned by ``Wav2TokModel.encode(..., return_durations=True)``; they give subsequence matches
                times (token ``k`` spans ``[sum(d[:k]), sum(d[:k + 1])]``).
            vocabulary: where the sequences come from; refused if it is not the index vocabulary.
        """
        self._check_vocabulary(vocabulary, "the added sequences")
        if isinstance(sequences, np.ndarray) and sequences.dtype != object:
            sequences = list(sequences)
        if not isinstance(sequences, Sequence) or isinstance(sequences, (str, bytes)):
            raise TypeError(f"sequences must be a list of sequences, got {type(sequences).__name__}")
        single = _is_single_token_query(sequences) if self.kind == "tokens" else _is_single_frame_query(sequences)
        if single:
            raise ValueError("sequences looks like one sequence; pass a list of sequences (e.g. [tokens])")
        n = len(sequences)
        if n == 0:
            raise ValueError("no sequences to add")
        start = len(self)
        ids = [str(start + i) for i in range(n)] if ids is None else [str(i) for i in ids]
        labels = list(ids) if labels is None else [str(lab) for lab in labels]
        for name, values in (("ids", ids), ("labels", labels)) + ((("durations", durations),) if durations else ()):
            if len(values) != n:
                raise ValueError(f"got {n} sequences but {len(values)} {name}")
        seen: set[str] = set()
        duplicates = [i for i in ids if i in self._id_set or i in seen or seen.add(i)]
        if duplicates:
            raise ValueError(f"duplicate ids: {duplicates[:5]}; ids must be unique in the index")
        arrays = [self._validate(s, f"sequence {k} (id {ids[k]!r})") for k, s in enumerate(sequences)]
        bounds: list[np.ndarray | None] = [None] * n
        if durations is not None:
            if self.kind != "tokens":
                raise ValueError("durations apply to token indexes; a frames index uses frame_rate")
            for k, (array, d) in enumerate(zip(arrays, durations)):
                if d is None:
                    continue
                d = np.asarray(d, dtype=np.float64)
                if d.shape != array.shape or not np.isfinite(d).all() or (d < 0).any():
                    raise ValueError(f"durations of sequence {k} must be {len(array)} finite non-negative seconds, "
                                     f"got shape {d.shape}")
                bounds[k] = np.concatenate([[0.0], np.cumsum(d)])
        codes = []
        for label in labels:
            if label not in self._class_codes:
                self._class_codes[label] = len(self._class_codes)
            codes.append(self._class_codes[label])
        self._class_names = np.array(list(self._class_codes), dtype=object)
        self._sequences.extend(arrays)
        self._bounds.extend(bounds)
        self._ids = np.concatenate([self._ids, np.array(ids, dtype=object)])
        self._id_set.update(ids)
        self._codes = np.concatenate([self._codes, np.array(codes, dtype=np.int64)])
        self._cache.clear()

    def add_audio(
        self,
        encoder: Any,
        audio: list,
        sampling_rate: int | None = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Encode audio with ``encoder`` (a ``Wav2TokModel`` or a baseline of this index's vocabulary) and add it."""
        self._check_vocabulary(vocabulary_of(encoder, self.kind), "the encoder's sequences")
        sequences, durations = _encode_with(encoder, list(audio), sampling_rate, self.kind)
        self.add(sequences, ids=ids, labels=labels, durations=durations)

    # ------------------------------------------------------------------ search
    def _flat(self) -> tuple[np.ndarray, np.ndarray]:
        if "flat" not in self._cache:
            offsets = np.zeros(len(self) + 1, dtype=np.int64)
            np.cumsum([len(s) for s in self._sequences], out=offsets[1:])
            self._cache["flat"] = (np.concatenate(self._sequences), offsets)
        return self._cache["flat"]

    def _strings(self) -> list[str]:
        if "strings" not in self._cache:
            self._cache["strings"] = [kernels.tokens_to_str(s) for s in self._sequences]
        return self._cache["strings"]

    def _positions_to_seconds(self, indices: np.ndarray, positions: np.ndarray) -> np.ndarray | None:
        if self.kind == "frames":
            return None if self.frame_rate is None else positions / self.frame_rate
        bounds = [self._bounds[i] for i in indices]
        if any(b is None for b in bounds):
            return None
        return np.array([b[p] for b, p in zip(bounds, positions)], dtype=np.float64)

    def _ranked(self, distance: str, scores: np.ndarray, starts=None, ends=None, top_k=None) -> SearchResult:
        keys = scores.astype(np.uint16) if scores.dtype.kind == "i" and scores.max() < 65536 else scores
        order = np.argsort(keys, kind="stable")[:top_k]
        pick = (lambda a: None if a is None else a[order])
        return SearchResult(distance, order, scores[order], pick(starts), pick(ends), self)

    def search(
        self,
        queries: Any,
        distance: str | None = None,
        top_k: int | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> SearchResult | list[SearchResult]:
        """Rank the index for one query or a list of queries.

        Args:
            queries: one token sequence / ``(frames, dim)`` array, or a list of them.
            distance: one of the index kind's distances (default ``"levenshtein"`` / ``"dtw"``).
            top_k: keep the best ``top_k`` items (default: all).
            vocabulary: where the queries come from; refused if it is not the index vocabulary.

        Returns:
            A :class:`SearchResult` for one query, a list of them for a list of queries.
        """
        self._check_vocabulary(vocabulary, "the queries")
        if len(self) == 0:
            raise ValueError("the index is empty; add sequences before searching")
        accepted = TOKEN_DISTANCES if self.kind == "tokens" else FRAME_DISTANCES
        distance = distance or accepted[0]
        if distance not in accepted:
            raise ValueError(f"distance={distance!r} does not apply to a {self.kind} index; accepted: {accepted}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k={top_k!r}; expected a positive integer or None")
        single = _is_single_token_query(queries) if self.kind == "tokens" else _is_single_frame_query(queries)
        batch = [queries] if single else queries
        if not isinstance(batch, (Sequence, np.ndarray)) or isinstance(batch, (str, bytes)) or len(batch) == 0:
            raise ValueError("empty query: pass a non-empty sequence or a non-empty list of sequences")
        arrays = [self._validate(q, "query" if single else f"query {k}") for k, q in enumerate(batch)]
        if distance in ("levenshtein", "normalized_levenshtein"):
            matrix = kernels.levenshtein_cdist([kernels.tokens_to_str(q) for q in arrays], self._strings(),
                                               normalized=distance == "normalized_levenshtein")
            results = [self._ranked(distance, row, top_k=top_k) for row in matrix]
        elif distance in WEIGHTED_DISTANCES:
            if self.substitution_costs is None:
                raise ValueError(f"distance={distance!r} needs the index's substitution_costs; build the index with "
                                 "Wav2TokIndex.from_encoder(model) or pass substitution_costs=")
            flat, offsets = self._flat()
            results = []
            for q in arrays:
                scores = kernels.weighted_levenshtein(q, flat, offsets, self.substitution_costs)
                if distance.startswith("normalized"):
                    scores = scores / np.maximum(len(q), np.diff(offsets))
                results.append(self._ranked(distance, scores, top_k=top_k))
        elif self.kind == "tokens":
            flat, offsets = self._flat()
            results = []
            for q in arrays:
                costs, starts, ends = kernels.semiglobal_levenshtein(q, flat, offsets)
                scores = costs / np.float64(len(q)) if distance.startswith("normalized") else costs
                results.append(self._ranked(distance, scores, starts, ends, top_k))
        else:
            flat, offsets = self._flat()
            subsequence = distance in SUBSEQUENCE_DISTANCES
            results = []
            for q in arrays:
                costs, starts, ends = kernels.dtw_search(q, flat, offsets, self.metric, subsequence)
                results.append(self._ranked(distance, costs, *((starts, ends) if subsequence else (None, None)),
                                            top_k=top_k))
        return results[0] if single else results

    def search_versions(
        self,
        versions: Sequence,
        distance: str | None = None,
        top_k: int | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> SearchResult:
        """Rank the index for one query given as several versions (e.g. its tokens at several pitch shifts: a key
        search): each item scores its best (lowest) distance over the versions; subsequence segments come from the
        version that scored it.

        Example:
            >>> index = Wav2TokIndex(vocab_size=10, vocab_name="demo")
            >>> index.add([[1, 2, 3], [5, 6, 7]], ids=["a", "b"])
            >>> index.search_versions([[6, 7, 8], [5, 6, 7]]).to_list()[0]
            {'id': 'b', 'label': 'b', 'score': 0.0}
        """
        if self.kind == "tokens" and _is_single_token_query(versions):
            raise ValueError("versions looks like one sequence; pass a list of versions of the query (e.g. [tokens])")
        results = self.search(list(versions), distance=distance, vocabulary=vocabulary)
        scores = np.full((len(results), len(self)), np.inf)
        for row, result in zip(scores, results):
            row[result.indices] = result.scores
        best = scores.argmin(0)
        items = np.arange(len(self))

        def per_item(name):
            if getattr(results[0], name) is None:
                return None
            table = np.zeros((len(results), len(self)), dtype=np.int64)
            for row, result in zip(table, results):
                row[result.indices] = getattr(result, name)
            return table[best, items]

        return self._ranked(results[0].distance, scores[best, items], per_item("starts"), per_item("ends"), top_k)

    def search_audio(
        self,
        encoder: Any,
        audio: Any,
        sampling_rate: int | None = None,
        distance: str | None = None,
        top_k: int | None = None,
        pitch_shifts: Sequence[float] | None = None,
    ) -> SearchResult | list[SearchResult]:
        """Encode one clip or a list of clips with ``encoder`` and :meth:`search` with them.

        ``pitch_shifts`` (semitones, e.g. ``(-4, -2, 0, 2, 4)``) searches each clip at every one of these shifts
        and keeps each item's best distance (:meth:`search_versions`): a key search for queries sung or spoken
        higher or lower than the database, at ``len(pitch_shifts)`` times the encoding and search cost.
        """
        single = not isinstance(audio, list)
        clips = [audio] if single else audio
        vocabulary = vocabulary_of(encoder, self.kind)
        if pitch_shifts is None:
            sequences, _ = _encode_with(encoder, clips, sampling_rate, self.kind)
            results = self.search(sequences, distance=distance, top_k=top_k, vocabulary=vocabulary)
            return results[0] if single else results
        from ..data.augment import pitch_shift_versions

        results = []
        for clip in clips:
            versions, rate = pitch_shift_versions(clip, pitch_shifts, sampling_rate)
            sequences, _ = _encode_with(encoder, versions, rate, self.kind)
            results.append(self.search_versions(sequences, distance=distance, top_k=top_k, vocabulary=vocabulary))
        return results[0] if single else results

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike) -> None:
        """Save to ``directory``: ``index.json`` (vocabulary, substitution costs, ids, labels, tokens, durations)
        and, for a frames index, ``frames-<sha256>.safetensors``. Every file is written atomically; a failed save
        leaves a previously saved index in ``directory`` loadable and unchanged."""
        from safetensors.numpy import save as safetensors_bytes

        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        payload: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "vocabulary": asdict(self.vocabulary),
            "metric": self.metric,
            "frame_rate": self.frame_rate,
            "substitution_costs": None if self.substitution_costs is None else self.substitution_costs.tolist(),
            "ids": self.ids,
            "labels": self.labels,
        }
        frames_file = None
        if self.kind == "tokens":
            payload["tokens"] = [s.tolist() for s in self._sequences]
            payload["durations"] = [None if b is None else np.diff(b).tolist() for b in self._bounds]
        else:
            flat, offsets = self._flat()
            data = safetensors_bytes({"frames": flat, "offsets": offsets})
            sha = hashlib.sha256(data).hexdigest()
            frames_file = f"frames-{sha[:16]}.safetensors"
            payload["frames_file"], payload["frames_sha256"] = frames_file, sha
            _atomic_write(os.path.join(directory, frames_file), data)
        _atomic_write(os.path.join(directory, INDEX_FILE), json.dumps(payload).encode("utf-8"))
        for name in os.listdir(directory):  # frames files of earlier saves, no longer referenced
            if name.startswith("frames-") and name.endswith(".safetensors") and name != frames_file:
                os.unlink(os.path.join(directory, name))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Wav2TokIndex:
        """Load an index saved by :meth:`save`; a damaged or foreign file raises ``ValueError``."""
        from safetensors import SafetensorError
        from safetensors.numpy import load as safetensors_load

        directory = os.fspath(directory)
        path = os.path.join(directory, INDEX_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {INDEX_FILE} in {directory!r}; save an index there with Wav2TokIndex.save")

        def corrupted(reason: str) -> ValueError:
            return ValueError(f"{path} is not a valid wav2tok index ({reason}); re-create it with Wav2TokIndex.save")

        try:
            with open(path, encoding="utf-8") as f:
                payload = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise corrupted(f"unreadable JSON: {error}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
            raise corrupted("missing the wav2tok-index format marker")
        if payload.get("format_version") != FORMAT_VERSION:
            raise corrupted(f"format_version {payload.get('format_version')!r}, this library reads {FORMAT_VERSION}")
        try:
            index = cls(Vocabulary(**payload["vocabulary"]), metric=payload["metric"], frame_rate=payload["frame_rate"],
                        substitution_costs=payload.get("substitution_costs"))
            ids, labels = payload["ids"], payload["labels"]
            if index.kind == "tokens":
                sequences, durations = payload["tokens"], payload["durations"]
                if len(durations) != len(sequences):
                    raise ValueError(f"{len(sequences)} sequences but {len(durations)} durations")
            else:
                frames_path = os.path.join(directory, os.path.basename(payload["frames_file"]))
                with open(frames_path, "rb") as f:
                    data = f.read()
                if hashlib.sha256(data).hexdigest() != payload["frames_sha256"]:
                    raise ValueError(f"{frames_path} does not match the checksum recorded in {INDEX_FILE}")
                tensors = safetensors_load(data)
                flat, offsets = tensors["frames"], tensors["offsets"]
                if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(flat) or (np.diff(offsets) < 0).any():
                    raise ValueError("inconsistent frame offsets")
                sequences = [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
                durations = None
            if len(sequences):
                dtype = np.int64 if index.kind == "tokens" else np.float32
                has_durations = durations is not None and any(d is not None for d in durations)
                index.add([np.asarray(s, dtype=dtype) for s in sequences], ids=ids, labels=labels,
                          durations=durations if has_durations else None)
        except (KeyError, TypeError, ValueError, OSError, SafetensorError) as error:
            raise corrupted(f"{type(error).__name__}: {error}") from None
        return index

