"""A searchable index of token sequences or frame sequences, with ids, class labels and a recorded vocabulary."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import check_positive_int
from . import kernels
from .graph import EXPANSION_SEARCH as GRAPH_EXPANSION_SEARCH
from .graph import WIDTH as GRAPH_WIDTH
from .graph import TokenGraph, id_bytes_for
from .qgram import QGramIndex, WindowGramIndex
from .rerank import RerankStore, check_frames
from .storage import load_index, save_index

TOKEN_DISTANCES = ("levenshtein", "normalized_levenshtein", "subsequence_levenshtein",
                   "normalized_subsequence_levenshtein", "weighted_levenshtein", "normalized_weighted_levenshtein")
WEIGHTED_DISTANCES = ("weighted_levenshtein", "normalized_weighted_levenshtein")
FAST_DISTANCES = ("levenshtein", "normalized_levenshtein", "subsequence_levenshtein",
                  "normalized_subsequence_levenshtein") + WEIGHTED_DISTANCES
"""Token distances with a fast top-k path (:mod:`.qgram`)."""
FAST_SEARCH_MIN_ITEMS = 20_000
"""A ``top_k`` search of a tokens index with at least this many items uses the fast path (see ``search``)."""
FAST_SEARCH_CANDIDATES = 4000
"""When more items than this have a bigram bound below the current k-th best distance, the fast path switches from
verifying bigram candidates to a plain-ED scan of every item (see :mod:`.qgram`)."""
FAST_SEARCH_PATIENCE = 8
"""After this many consecutive fast-path queries of one distance answered by the full scan (the bigram bound cannot
prune this index's queries, e.g. hums far from every item), the next ones skip the bigram stage and scan at once,
retrying the bigram stage every ``FAST_SEARCH_PATIENCE``-th query; results are the same exact top-k either way."""
FRAME_DISTANCES = ("dtw", "subsequence_dtw")
GRAPH_DISTANCES = ("levenshtein", "normalized_levenshtein", *WEIGHTED_DISTANCES)
"""Distances a graph (:meth:`Wav2TokIndex.build_graph`) answers: candidates by the graph, exact re-score."""
GRAPH_RESCORED = (5, 50)
"""A normalised graph search re-scores only the best ``max(5 * top_k, 50)`` of the items the graph returns, plus those
longer than the graph's 64 packed tokens: the walk already ranked the others by that very distance. Re-scoring all
1,024 returned items instead gave the same recall@10 at 1M items, 2 ms slower (docs/RESULTS.md 7c)."""
SUBSEQUENCE_DISTANCES = ("subsequence_levenshtein", "normalized_subsequence_levenshtein", "subsequence_dtw")
REPRESENTATIONS = ("tokens", "frames")



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


def _typed_scores(distance: str, scores: np.ndarray) -> np.ndarray:
    """Candidate paths compute float64 scores; give them the exhaustive scan's dtype for the distance."""
    if distance in ("levenshtein", "subsequence_levenshtein"):
        return scores.astype(np.int32)
    return scores.astype(np.float32) if distance == "normalized_levenshtein" else scores


def _check_max_score(max_score: Any) -> float | None:
    if max_score is None:
        return None
    if (isinstance(max_score, (bool, np.bool_)) or not isinstance(max_score, (int, float, np.integer, np.floating))
            or not np.isfinite(max_score) or max_score < 0):
        raise ValueError(f"max_score={max_score!r}; expected a finite number >= 0 (the largest score to return) "
                         "or None")
    return float(max_score)  # a Python float compares with float32 scores at float32, as the ranking's dtype


def _answered(found: Any, distance: str) -> dict[str, Any]:
    """``path`` and ``verified`` of a result from an exact fast path's answer (``stage`` 2: it scanned every item)."""
    if found.stage == 2:
        return {"path": "scan", "verified": None}
    return {"path": "windows" if distance in SUBSEQUENCE_DISTANCES else "bigram filter", "verified": found.verified}


def _each(search: Callable[[np.ndarray], SearchResult]) -> Callable[[list[np.ndarray]], list[SearchResult]]:
    """A search path over a list of queries, one ``search`` call per query."""
    return lambda arrays: [search(q) for q in arrays]


def _at_most(result: SearchResult, max_score: float | None) -> SearchResult:
    """``result`` without the items scored above ``max_score`` (by their token distance when re-ranked)."""
    if max_score is None:
        return result
    scores = result.scores if result.token_scores is None else result.token_scores
    return result._subset(np.flatnonzero(scores <= max_score))


def _is_single_token_query(query: Any) -> bool:
    if isinstance(query, np.ndarray) or hasattr(query, "numpy"):
        return np.asarray(query).ndim == 1
    return isinstance(query, Sequence) and len(query) > 0 and all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in query
    )


def _is_single_frame_query(query: Any) -> bool:
    return (isinstance(query, np.ndarray) or hasattr(query, "numpy")) and np.asarray(query).ndim == 2


def _clips(audio: Any) -> tuple[list, bool]:
    """``(clips, single)``: a list or tuple of clips is a batch of queries (as in ``Wav2TokModel.encode``); one
    array, path or 🤗 audio dict is one clip; a list of numbers is one clip given as samples."""
    if isinstance(audio, (list, tuple)):
        if len(audio) == 0:
            raise ValueError("no audio: pass one clip or a non-empty list of clips")
        if not isinstance(audio[0], (int, float, np.number)):
            return list(audio), False
    return [audio], True


@dataclass
class SearchResult:
    """One query's ranking of the index, best (lowest score) first; ties keep insertion order.

    Attributes:
        distance: the distance that produced ``scores``.
        indices: positions of the ranked items in the index.
        scores: their distances (lower is better).
        starts / ends: for subsequence distances, the matched segment ``target[start:end]`` in tokens / frames.
        reranked: the first ``reranked`` items were re-scored by DTW over stored frames: their ``scores`` are DTW
            distances (the rest keep token distances); ``token_scores`` then holds every item's token distance.
        path: what answered the search: ``"scan"`` (every item compared), ``"bigram filter"`` / ``"windows"``
            (the exact fast paths of a large tokens index: a q-gram filter, then the exact distance on the items, or
            for subsequence distances the recordings' windows, that pass it), ``"graph"`` (the graph's candidates) or
            ``"candidates"`` (``search(..., candidates=N)`` without a graph); several joined by ``+`` for a merged
            ranking (:meth:`Wav2TokIndex.search_versions`).
        verified: how many items (windows, for ``"windows"``) got their exact distance on that path; ``None`` after
            a scan.

    Properties ``ids``, ``labels``, ``start_s`` and ``end_s`` give the ranked ids, class labels and segment times
    (seconds; ``None`` where the index has no durations / frame rate).
    """

    distance: str
    indices: np.ndarray
    scores: np.ndarray
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    index: Wav2TokIndex | None = field(default=None, repr=False)
    reranked: int = 0
    token_scores: np.ndarray | None = None
    path: str = "scan"
    verified: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def _subset(self, keep: np.ndarray) -> SearchResult:
        pick = (lambda a: None if a is None else a[keep])
        return SearchResult(self.distance, self.indices[keep], self.scores[keep], pick(self.starts), pick(self.ends),
                            self.index, int((np.asarray(keep) < self.reranked).sum()) if self.reranked
                            else 0, pick(self.token_scores), self.path, self.verified)

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
        if self.reranked:
            for k, row in enumerate(rows):
                row.update(reranked=k < self.reranked, token_score=float(self.token_scores[k]))
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
        >>> index.search([2, 3], distance="subsequence_levenshtein", max_score=1).ids  # a threshold (range) search
        ['a', 'c']
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
        self.fast_search_min_items = FAST_SEARCH_MIN_ITEMS
        self.fast_search_candidates = FAST_SEARCH_CANDIDATES
        # the width build_graph() gives its searches when not told: the model's config.graph_candidates (from_encoder)
        self.graph_candidates: int | None = None
        # items live "flat": one concatenated array + offsets (item i = flat[offsets[i]:offsets[i + 1]]); new items
        # wait in _pending until the next search consolidates them
        dtype = np.int32 if vocabulary.kind == "tokens" else np.float32
        self._data = np.empty((0,) if vocabulary.kind == "tokens" else (0, vocabulary.size), dtype)
        self._offsets = np.zeros(1, np.int64)
        self._durations: np.ndarray | None = None  # per-token seconds (NaN: item without); None: no item has any
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.rerank: RerankStore | None = None
        self._ids = np.empty(0, dtype=object)
        self._id_set_cache: set[str] | None = set()  # built on demand (a memory-mapped index opens without it)
        self._codes = np.empty(0, dtype=np.int64)
        self._class_codes_cache: dict[str, int] | None = {}
        self._class_names = np.empty(0, dtype=object)
        self._cache: dict[str, Any] = {}
        self._graph: TokenGraph | None = None
        self._graph_keys = np.empty(0, np.int64)  # the graph key of each item (ascending; deleted keys are gone)
        self._graph_next_key = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_encoder(cls, encoder: Any, kind: str | None = None, metric: str | None = None) -> Wav2TokIndex:
        """An empty index matching an encoder: a baseline (its vocabulary, metric and frame rate) or a
        ``Wav2TokModel`` (``kind="tokens"``, the default, or ``"frames"`` for DTW over its embeddings; with its
        substitution costs, and its ``config.graph_candidates`` as :attr:`graph_candidates`).

        Example:
            >>> from wav2tok_hf.retrieval import create_baseline
            >>> Wav2TokIndex.from_encoder(create_baseline("logmel-dtw")).vocabulary.kind
            'frames'
        """
        vocabulary = vocabulary_of(encoder, kind)
        metric = metric or getattr(encoder, "metric", None) or "cosine"
        costs = getattr(encoder, "substitution_costs", None)
        costs = costs() if callable(costs) and vocabulary.kind == "tokens" else None
        index = cls(vocabulary, metric=metric, frame_rate=_encoder_frame_rate(encoder), substitution_costs=costs)
        index.graph_candidates = getattr(getattr(encoder, "config", None), "graph_candidates", None)
        return index

    @property
    def _id_set(self) -> set[str]:
        if self._id_set_cache is None:
            self._id_set_cache = set(self._ids.tolist())
        return self._id_set_cache

    @property
    def _class_codes(self) -> dict[str, int]:
        if self._class_codes_cache is None:
            self._class_codes_cache = {name: k for k, name in enumerate(self._class_names.tolist())}
        return self._class_codes_cache

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
        return len(self._offsets) - 1 + len(self._pending)

    def __repr__(self) -> str:
        v = self.vocabulary
        extra = f", metric={self.metric!r}" if v.kind == "frames" else ""
        return (f"Wav2TokIndex(items={len(self)}, classes={len(self._class_names)}, kind={v.kind!r}, "
                f"vocabulary={v.name!r}, size={v.size}{extra})")

    def sequence(self, item: int | str) -> np.ndarray:
        """The stored sequence of an item, by position or id."""
        if isinstance(item, str):
            hits = np.flatnonzero(self._ids == item)
            if not len(hits):
                raise KeyError(f"no item with id {item!r}")
            item = int(hits[0])
        flat, offsets = self._flat()
        return flat[offsets[item]:offsets[item + 1]]

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
        array = check_frames(array, v, what)
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
        frames: Sequence | None = None,
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
            frames: ``(frames, dim)`` arrays of the same items for the re-rank stage (required once the index has
                a re-rank store, see :meth:`enable_rerank`; refused otherwise).
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
        frames = self._check_rerank_frames(frames, n)
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
                bounds[k] = d
        codes = []
        for label in labels:
            if label not in self._class_codes:
                self._class_codes[label] = len(self._class_codes)
            codes.append(self._class_codes[label])
        self._class_names = np.array(list(self._class_codes), dtype=object)
        if frames is not None:
            self.rerank.extend(frames)
        self._pending.extend(zip(arrays, bounds))
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
        store_frames: bool = False,
        frame_encoder: Any = None,
    ) -> None:
        """Encode audio with ``encoder`` (a ``Wav2TokModel`` or a baseline of this index's vocabulary) and add it.

        ``store_frames=True`` also stores each item's frames for the re-rank stage (``search_audio(..., rerank=N)``):
        the frame embeddings of ``frame_encoder`` (default ``encoder``, a ``Wav2TokModel``: its ``embed``; or a
        frames baseline such as ``create_baseline("pitch-contour-dtw")``). The first ``store_frames`` call must come
        before any item is added (every item of a re-rank index has frames); later ``add_audio`` calls must store
        frames too.
        """
        self._check_vocabulary(vocabulary_of(encoder, self.kind), "the encoder's sequences")
        clips = _clips(audio)[0]
        if not store_frames and self.rerank is not None:
            raise ValueError("this index stores re-rank frames for every item; call add_audio(..., store_frames=True)")
        frames = None
        if store_frames:
            frame_encoder = encoder if frame_encoder is None else frame_encoder
            if self.rerank is None:
                self.enable_rerank(frame_encoder)
            self._check_rerank_encoder(frame_encoder)
            frames, _ = _encode_with(frame_encoder, clips, sampling_rate, "frames")
        sequences, durations = _encode_with(encoder, clips, sampling_rate, self.kind)
        self.add(sequences, ids=ids, labels=labels, durations=durations, frames=frames)

    def enable_rerank(self, frame_encoder: Any = None, vocabulary: Vocabulary | None = None,
                      metric: str | None = None, pool: int = 1) -> None:
        """Give this (empty) index a re-rank store: every item added from now on carries frames (``add(...,
        frames=)`` / ``add_audio(..., store_frames=True)``) that ``search(..., rerank=N)`` compares by DTW.

        Pass the frame encoder (a ``Wav2TokModel``: its unit-norm embeddings, cosine; or a frames baseline: its
        vocabulary and metric) or a frames ``vocabulary`` and ``metric``. ``pool`` averages every ``pool`` frames
        into one before storing (queries alike): the re-rank DTW costs ``pool**2`` times less.

        Example:
            >>> index = Wav2TokIndex(vocab_size=4, vocab_name="demo")
            >>> index.enable_rerank(vocabulary=Vocabulary("demo-frames", 2, "frames"), metric="euclidean")
            >>> index.add([[0, 1], [0, 2]], ids=["a", "b"], frames=[np.zeros((3, 2)), np.ones((3, 2))])
            >>> result = index.search([0, 1], rerank=2, query_frames=np.ones((2, 2)))
            >>> result.ids, result.reranked, result.token_scores.tolist()
            (['b', 'a'], 2, [1, 0])
        """
        if self.rerank is not None:
            raise ValueError(f"this index already stores re-rank frames of {self.rerank.vocabulary}")
        if len(self):
            raise ValueError(f"re-rank frames must cover every item, but this index already holds {len(self)} items "
                             "without frames; enable re-ranking on an empty index and add the items again")
        if frame_encoder is not None:
            vocabulary = vocabulary_of(frame_encoder, "frames")
            metric = metric or getattr(frame_encoder, "metric", None) or "cosine"
        if vocabulary is None:
            raise ValueError("pass the frame encoder, or a frames vocabulary (and metric)")
        self.rerank = RerankStore(vocabulary, metric or "cosine", pool=pool)

    def _check_rerank_encoder(self, frame_encoder: Any) -> None:
        if self.rerank is None:
            raise ValueError("this index stores no re-rank frames; build it with add_audio(..., store_frames=True)")
        vocabulary = vocabulary_of(frame_encoder, "frames")
        if vocabulary != self.rerank.vocabulary:
            raise ValueError(f"the frame encoder produces {vocabulary} but the index's re-rank frames are "
                             f"{self.rerank.vocabulary}; use the encoder the index was built with")

    def _check_rerank_frames(self, frames: Sequence | None, n: int) -> list[np.ndarray] | None:
        if frames is None:
            if self.rerank is not None:
                raise ValueError("this index stores re-rank frames for every item; pass frames= with the sequences")
            return None
        if self.rerank is None:
            raise ValueError("frames= given but this index has no re-rank store; call enable_rerank() first")
        if len(frames) != n:
            raise ValueError(f"got {n} sequences but {len(frames)} frame arrays")
        return [self.rerank.validate(f, f"frames of sequence {k}") for k, f in enumerate(frames)]

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the items with these ids (all must exist; nothing is removed otherwise).

        Example:
            >>> index = Wav2TokIndex(vocab_size=10, vocab_name="demo")
            >>> index.add([[1, 2], [3, 4], [5, 6]], ids=["a", "b", "c"])
            >>> index.delete(["b"])
            >>> index.ids, index.sequence("c").tolist()
            (['a', 'c'], [5, 6])
        """
        ids = [ids] if isinstance(ids, str) else [str(i) for i in ids]
        missing = [i for i in ids if i not in self._id_set]
        if missing:
            raise KeyError(f"no items with ids {missing[:5]}; nothing was deleted")
        flat, offsets = self._flat()
        keep = ~np.isin(self._ids, np.array(ids, dtype=object))
        if self._graph is not None:
            self._sync_graph()
            self._graph.remove(self._graph_keys[~keep])
            self._graph_keys = self._graph_keys[keep]
        rows = np.repeat(keep, np.diff(offsets))
        self._data = flat[rows]
        if self._durations is not None:
            self._durations = self._durations[rows]
        self._offsets = np.concatenate([[0], np.cumsum(np.diff(offsets)[keep])]).astype(np.int64)
        if self.rerank is not None:
            self.rerank.keep(keep)
        self._ids, self._codes = self._ids[keep], self._codes[keep]
        self._id_set.difference_update(ids)
        self._cache.clear()

    # ------------------------------------------------------------------ search
    def _flat(self) -> tuple[np.ndarray, np.ndarray]:
        """``(flat, offsets)`` of every item, after moving pending items into the flat arrays."""
        if self._pending:
            lengths = np.array([len(a) for a, _ in self._pending], np.int64)
            if self._durations is not None or any(d is not None for _, d in self._pending):
                known = np.full(len(self._data), np.nan) if self._durations is None else self._durations
                self._durations = np.concatenate(
                    [known, *(np.full(len(a), np.nan) if d is None else d for a, d in self._pending)])
            self._data = np.concatenate([self._data, *(a for a, _ in self._pending)])
            self._offsets = np.concatenate([self._offsets, self._offsets[-1] + np.cumsum(lengths)])
            self._pending = []
        return self._data, self._offsets

    def _strings(self) -> list[str]:
        if "strings" not in self._cache:
            flat, offsets = self._flat()
            text = kernels.tokens_to_str(flat)
            self._cache["strings"] = [text[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        return self._cache["strings"]

    def build_graph(self, connectivity: int = 16, expansion_add: int = 128,
                    expansion_search: int | None = None, threads: int = 0) -> None:
        """APPROXIMATE fast top-k for a large tokens index: an HNSW graph (usearch) over the items, built with the
        normalised edit distance (:mod:`.graph`; vocabularies of up to 65,535 tokens). Afterwards ``search(...,
        top_k=k)`` by plain or weighted ED walks the graph with that distance (normalised) for ``max(k,
        expansion_search)`` candidates and ranks them by the exact distance (``candidates=N`` takes ``N``;
        the first weighted search of a process compiles its metric for the index's costs, ~0.3 s);
        ``exhaustive=True`` still scans every item. Items added or deleted later join or leave the graph;
        :meth:`save` stores it. Recall against the exhaustive scan is measured in ``scripts/bench_scale.py``
        (``--graph``): it is not guaranteed.

        Args:
            connectivity: graph edges per node (more: higher recall, more memory and build time).
            expansion_add: candidates explored while inserting an item (build quality).
            expansion_search: candidates taken from the graph per query by default; ``None``: the index's
                :attr:`graph_candidates` (the model's choice, set by :meth:`from_encoder`), else
                :data:`.graph.EXPANSION_SEARCH` (2,048: recall@10 0.99 by both distances for real hums against 1M
                items, RESULTS 7m; spoken words lie nearer their neighbours and keep it with fewer: RESULTS 7k-7m).
            threads: build threads (0: all cores).

        Example:
            >>> index = Wav2TokIndex(vocab_size=10)
            >>> index.add([[1, 2, 3], [1, 2, 4], [7, 8, 9]], ids=["a", "b", "c"])
            >>> index.build_graph()
            >>> index.search([1, 2, 3], top_k=2).ids
            ['a', 'b']
        """
        if self.kind != "tokens":
            raise ValueError("build_graph() needs a tokens index (a frames index is searched by DTW)")
        id_bytes = id_bytes_for(self.vocabulary.size)
        if expansion_search is None:
            expansion_search = self.graph_candidates or GRAPH_EXPANSION_SEARCH
        for name, value in (("connectivity", connectivity), ("expansion_add", expansion_add),
                            ("expansion_search", expansion_search)):
            check_positive_int(name, value)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads={threads!r}; expected an integer >= 0 (0: all cores)")
        self._graph = TokenGraph(connectivity=connectivity, expansion_add=expansion_add,
                                 expansion_search=expansion_search, id_bytes=id_bytes)
        self._graph_keys, self._graph_next_key = np.empty(0, np.int64), 0
        self._sync_graph(threads)

    def _sync_graph(self, threads: int = 0) -> None:
        """Add the items the graph does not hold yet (added since it was built or last searched)."""
        flat, offsets = self._flat()
        start = len(self._graph_keys)
        if start < len(self):
            keys = np.arange(self._graph_next_key, self._graph_next_key + len(self) - start, dtype=np.int64)
            tail = offsets[start:]
            self._graph.add(flat[tail[0]:], tail - tail[0], keys, threads)
            self._graph_keys = np.concatenate([self._graph_keys, keys])
            self._graph_next_key += len(keys)

    def _graph_top_k(self, query: np.ndarray, distance: str, top_k: int, candidates: int) -> SearchResult:
        """The exact top-k of the ``candidates`` items the graph finds (exploring at least its ``expansion_search``)
        by the normalised form of ``distance``. A normalised distance re-scores only the walk's best
        ``GRAPH_RESCORED`` and every longer string the graph cut, which gives the same top-k; a raw one, or a query
        the graph cut (only with ``candidates=``: a default search answers it exactly), re-scores them all (the walk's
        order is then not the distance's)."""
        self._sync_graph()
        flat, offsets = self._flat()
        costs = self.substitution_costs if distance in WEIGHTED_DISTANCES else None
        items = np.searchsorted(self._graph_keys, self._graph.candidates(query, candidates, costs))
        if distance.startswith("normalized") and len(query) <= GRAPH_WIDTH:  # the walk's own order, bar cut strings
            head = max(GRAPH_RESCORED[0] * top_k, GRAPH_RESCORED[1])
            tail = items[head:]
            items = np.concatenate([items[:head], tail[offsets[tail + 1] - offsets[tail] > GRAPH_WIDTH]])
        best, scores = kernels.rank_subset(query, flat, offsets, items, top_k, distance.startswith("normalized"), costs)
        return SearchResult(distance, best, _typed_scores(distance, scores), index=self, path="graph",
                            verified=len(items))

    def _qgrams(self) -> QGramIndex:
        if "qgram" not in self._cache:
            flat, offsets = self._flat()
            self._cache["qgram"] = QGramIndex.build(flat, offsets, self.vocabulary.size)
        return self._cache["qgram"]

    def _positions_to_seconds(self, indices: np.ndarray, positions: np.ndarray) -> np.ndarray | None:
        if self.kind == "frames":
            return None if self.frame_rate is None else positions / self.frame_rate
        _, offsets = self._flat()
        if self._durations is None:
            return None
        seconds = []
        for i, p in zip(np.asarray(indices).tolist(), np.asarray(positions).tolist()):
            d = self._durations[offsets[i]:offsets[i + 1]]
            if np.isnan(d[0]):
                return None
            seconds.append(np.concatenate([[0.0], np.cumsum(d)])[p])
        return np.array(seconds, dtype=np.float64)

    def _ranked(self, distance: str, scores: np.ndarray, starts=None, ends=None, top_k=None,
                max_score=None) -> SearchResult:
        keys = scores.astype(np.uint16) if scores.dtype.kind == "i" and scores.max() < 65536 else scores
        if max_score is None:
            order = kernels.smallest(keys, top_k)
        else:
            below = np.flatnonzero(scores <= max_score)
            order = below[kernels.smallest(keys[below], top_k)]
        pick = (lambda a: None if a is None else a[order])
        return SearchResult(distance, order, scores[order], pick(starts), pick(ends), self)

    def search(
        self,
        queries: Any,
        distance: str | None = None,
        top_k: int | None = None,
        vocabulary: Vocabulary | None = None,
        exhaustive: bool = False,
        rerank: int | None = None,
        query_frames: Any = None,
        candidates: int | None = None,
        max_score: float | None = None,
    ) -> SearchResult | list[SearchResult]:
        """Rank the index for one query or a list of queries.

        Args:
            queries: one token sequence / ``(frames, dim)`` array, or a list of them.
            distance: one of the index kind's distances (default ``"levenshtein"`` / ``"dtw"``).
            top_k: keep the best ``top_k`` items (default: all).
            vocabulary: where the queries come from; refused if it is not the index vocabulary.
            exhaustive: always compare the query with every item. Otherwise a tokens index of at least
                ``index.fast_search_min_items`` items (default :data:`FAST_SEARCH_MIN_ITEMS`) answers a ``top_k``
                search by ED / weighted ED with the bigram filter and bound-checked refine of :mod:`.qgram`: the
                same top-k as the exhaustive scan (ties in insertion order), in the same format, faster the nearer
                the query's neighbours are; after :data:`FAST_SEARCH_PATIENCE` consecutive queries the bound could
                not prune, it scans at once (retrying the bound every ``FAST_SEARCH_PATIENCE``-th query).
            rerank: re-score the best ``rerank`` items of each ranking by DTW between ``query_frames`` and the
                frames stored per item (see :meth:`enable_rerank`); they come first, ordered by DTW, and
                ``result.reranked`` says how many leading scores are DTW distances (``result.token_scores`` keeps
                the token distances).
            query_frames: the queries' ``(frames, dim)`` arrays in the re-rank vocabulary (one per query).
            candidates: APPROXIMATE search (opt-in, tokens index, ``top_k``, plain or weighted ED): the exact
                distance on only ``candidates`` items: the nearest in the graph (:meth:`build_graph`) if the index
                has one, else those sharing the most bigrams with the query (lowest bigram bound); may miss true
                neighbours (recall vs ``exhaustive=True`` in ``scripts/bench_scale.py``). An index with a graph
                answers every ``top_k`` search by plain or weighted ED this way (see :meth:`build_graph`).
            max_score: a range search (spoken term detection at a threshold): only the items scored at most
                ``max_score`` (a finite number >= 0), ranked as usual (with ``top_k``: the best ``top_k`` of them),
                i.e. the exhaustive ranking cut at ``max_score``, for every distance. On a tokens index of at least
                ``index.fast_search_min_items`` items a token distance uses the bigram bound as a filter (an item, or
                for the subsequence distances a window, bounded above ``max_score`` cannot qualify) and computes the
                exact distance on the rest only. It applies to the token distance before any re-rank; an approximate
                search (``candidates``, a graph) keeps the items of its approximate ranking within ``max_score``.

        Returns:
            A :class:`SearchResult` for one query, a list of them for a list of queries.
        """
        distance = self._check_search(distance, top_k, vocabulary, candidates, exhaustive)
        max_score = _check_max_score(max_score)
        single = _is_single_token_query(queries) if self.kind == "tokens" else _is_single_frame_query(queries)
        batch = [queries] if single else queries
        if not isinstance(batch, (Sequence, np.ndarray)) or isinstance(batch, (str, bytes)) or len(batch) == 0:
            raise ValueError("empty query: pass a non-empty sequence or a non-empty list of sequences")
        arrays = [self._validate(q, "query" if single else f"query {k}") for k, q in enumerate(batch)]
        frames = self._rerank_queries(rerank, query_frames, single, len(arrays))
        results = self._search_path(distance, top_k, exhaustive, candidates, max_score)(arrays)
        if frames is not None:
            results = [self._reranked(result, f, rerank) for result, f in zip(results, frames)]
        return results[0] if single else results

    def _check_search(self, distance: str | None, top_k: Any, vocabulary: Vocabulary | None, candidates: Any,
                      exhaustive: bool) -> str:
        """Refuse a search the index cannot answer, before any work; returns the distance (default filled in)."""
        self._check_vocabulary(vocabulary, "the queries")
        if len(self) == 0:
            raise ValueError("the index is empty; add sequences before searching")
        accepted = TOKEN_DISTANCES if self.kind == "tokens" else FRAME_DISTANCES
        distance = distance or accepted[0]
        if distance not in accepted:
            raise ValueError(f"distance={distance!r} does not apply to a {self.kind} index; accepted: {accepted}")
        if top_k is not None:
            check_positive_int("top_k", top_k, "a positive integer or None")
        if distance in WEIGHTED_DISTANCES and self.substitution_costs is None:
            raise ValueError(f"distance={distance!r} needs the index's substitution_costs; build the index with "
                             "Wav2TokIndex.from_encoder(model) or pass substitution_costs=")
        if candidates is not None:
            approximate = ("levenshtein", "normalized_levenshtein") + WEIGHTED_DISTANCES
            check_positive_int("candidates", candidates, "a positive number of items to verify")
            if exhaustive or top_k is None or self.kind != "tokens" or distance not in approximate:
                raise ValueError(f"candidates=N (approximate search) needs a tokens index, top_k, exhaustive=False "
                                 f"and a distance in {approximate}; got distance={distance!r}, top_k={top_k!r}, "
                                 f"exhaustive={exhaustive!r}")
        return distance

    def _search_path(self, distance: str, top_k: int | None, exhaustive: bool, candidates: int | None,
                     max_score: float | None) -> Callable[[list[np.ndarray]], list[SearchResult]]:
        """What answers a checked search: the approximate candidates (``candidates``, the graph; a query longer than
        the graph's strings goes to :meth:`_exact_path`), or :meth:`_exact_path`."""
        if candidates is not None:
            approximate = self._graph_top_k if self._graph is not None else self._approximate_top_k
            return _each(lambda q: _at_most(approximate(q, distance, top_k, max(candidates, top_k)), max_score))
        exact = self._exact_path(distance, top_k, exhaustive, max_score)
        if not exhaustive and top_k is not None and self._graph is not None and distance in GRAPH_DISTANCES:
            count = max(top_k, self._graph.expansion_search)
            # the graph holds each string's first GRAPH_WIDTH tokens, so a longer query walks it blind to its tail
            # (recall@10 0.0-0.3 for the two 76-token real hums of 104 at 1M, RESULTS 7k): answered exactly instead
            return _each(lambda q: _at_most(self._graph_top_k(q, distance, top_k, count), max_score)
                        if len(q) <= GRAPH_WIDTH else exact([q])[0])
        return exact

    def _exact_path(self, distance: str, top_k: int | None, exhaustive: bool,
                    max_score: float | None) -> Callable[[list[np.ndarray]], list[SearchResult]]:
        """The exact answer to a checked search: a fast path of a large tokens index (range or top-k, exact by
        bounds), or the scan of every item."""
        fast = (not exhaustive and self.kind == "tokens" and distance in FAST_DISTANCES
                and len(self) >= self.fast_search_min_items)
        if fast and max_score is not None:
            return _each(lambda q: self._fast_within(q, distance, max_score, top_k))
        if fast and top_k is not None:
            return _each(lambda q: self._fast_top_k(q, distance, top_k))
        if distance in ("levenshtein", "normalized_levenshtein"):  # one batched (multi-threaded) call for all queries
            return lambda arrays: [self._ranked(distance, row, top_k=top_k, max_score=max_score) for row in
                                   kernels.levenshtein_cdist([kernels.tokens_to_str(q) for q in arrays],
                                                             self._strings(), normalized=distance != "levenshtein")]
        return _each(lambda q: self._ranked(distance, *self._scan(q, distance), top_k=top_k, max_score=max_score))

    def _scan(self, query: np.ndarray, distance: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Every item's score (and matched segment, for subsequence distances) by ``distance``, other than plain ED."""
        flat, offsets = self._flat()
        normalized = distance.startswith("normalized")
        if distance in WEIGHTED_DISTANCES:
            scores = kernels.weighted_levenshtein(query, flat, offsets, self.substitution_costs)
            return (scores / np.maximum(len(query), np.diff(offsets)) if normalized else scores), None, None
        if self.kind == "tokens":
            costs, starts, ends = kernels.semiglobal_levenshtein(query, flat, offsets)
            return (costs / np.float64(len(query)) if normalized else costs), starts, ends
        costs, starts, ends = kernels.dtw_search(query, flat, offsets, self.metric, distance in SUBSEQUENCE_DISTANCES)
        return (costs, starts, ends) if distance in SUBSEQUENCE_DISTANCES else (costs, None, None)

    def _fast_top_k(self, query: np.ndarray, distance: str, top_k: int) -> SearchResult:
        flat, offsets = self._flat()
        weighted = distance in WEIGHTED_DISTANCES
        budget = max(self.fast_search_candidates, 4 * top_k)
        scans = self._cache.setdefault("scans", {})  # distance -> consecutive answers by the full scan (reset on edit)
        skip = scans.get(distance, 0) >= FAST_SEARCH_PATIENCE and scans[distance] % FAST_SEARCH_PATIENCE != 0
        if distance in SUBSEQUENCE_DISTANCES:
            top = self._windows().top_k(query, flat, offsets, top_k, distance.startswith("normalized"), scan=skip)
        else:
            top = self._qgrams().top_k(query, flat, offsets, top_k, normalized=distance.startswith("normalized"),
                                       strings=self._strings, costs=self.substitution_costs if weighted else None,
                                       max_candidates=budget, scan=skip)
        scans[distance] = scans.get(distance, 0) + 1 if top.stage == 2 else 0
        return SearchResult(distance, top.indices, _typed_scores(distance, top.scores), top.starts, top.ends,
                            index=self, **_answered(top, distance))

    def _fast_within(self, query: np.ndarray, distance: str, max_score: float, top_k: int | None) -> SearchResult:
        flat, offsets = self._flat()
        normalized = distance.startswith("normalized")
        if distance in SUBSEQUENCE_DISTANCES:
            found = self._windows().within(query, flat, offsets, max_score, normalized)
        else:
            # float32 scores (normalized_levenshtein) qualify when they round to <= max_score: search up to the next
            # float32, which admits every such score, and cut the typed scores below
            limit = (float(np.nextafter(np.float32(max_score), np.float32(np.inf)))
                     if distance == "normalized_levenshtein" else max_score)
            found = self._qgrams().within(query, flat, offsets, limit, normalized, self._strings,
                                          self.substitution_costs if distance in WEIGHTED_DISTANCES else None,
                                          self.fast_search_candidates)
        scores = _typed_scores(distance, found.scores)
        result = SearchResult(distance, found.indices, scores, found.starts, found.ends, index=self,
                              **_answered(found, distance))
        return result._subset(np.flatnonzero(scores <= max_score)[:top_k])

    def _windows(self) -> WindowGramIndex:
        """The window bigram index of the subsequence distances (a long recording's bigrams would not bound a short
        query)."""
        if "windows" not in self._cache:
            flat, offsets = self._flat()
            self._cache["windows"] = WindowGramIndex.build(flat, offsets, self.vocabulary.size)
        return self._cache["windows"]

    def _approximate_top_k(self, query: np.ndarray, distance: str, top_k: int, candidates: int) -> SearchResult:
        flat, offsets = self._flat()
        costs = self.substitution_costs if distance in WEIGHTED_DISTANCES else None
        top = self._qgrams().approximate_top_k(query, flat, offsets, top_k, distance.startswith("normalized"),
                                               candidates, costs)
        return SearchResult(distance, top.indices, _typed_scores(distance, top.scores), index=self, path="candidates",
                            verified=top.verified)

    def _rerank_queries(self, rerank: int | None, query_frames: Any, single: bool, n: int) -> list | None:
        if rerank is None:
            if query_frames is not None:
                raise ValueError("query_frames are only used with rerank=N")
            return None
        check_positive_int("rerank", rerank, "a positive number of items to re-score by DTW")
        if self.rerank is None:
            raise ValueError("this index stores no re-rank frames; build it with add_audio(..., store_frames=True) "
                             "or enable_rerank() before adding items")
        if query_frames is None:
            raise ValueError("rerank=N needs query_frames (the queries' frames in the re-rank vocabulary), or use "
                             "search_audio(..., rerank=N)")
        batch = [query_frames] if single else list(query_frames)
        if len(batch) != n:
            raise ValueError(f"got {n} queries but {len(batch)} query_frames")
        return [self.rerank.validate(f, "query frames" if single else f"query frames {k}").astype(np.float32)
                for k, f in enumerate(batch)]

    def _reranked(self, result: SearchResult, query_frames: np.ndarray | list, n: int) -> SearchResult:
        head = result.indices[:n]
        versions = query_frames if isinstance(query_frames, list) else [query_frames]
        subsequence = result.distance in SUBSEQUENCE_DISTANCES
        dtw = np.min([self.rerank.scores(f, head, subsequence) for f in versions], axis=0)
        order = np.concatenate([np.argsort(dtw, kind="stable"), np.arange(len(head), len(result))])
        out = result._subset(order)
        out.token_scores = out.scores
        out.scores = np.concatenate([dtw[order[:len(head)]], result.scores[len(head):].astype(np.float64)])
        out.reranked = len(head)
        return out

    def search_versions(
        self,
        versions: Sequence,
        distance: str | None = None,
        top_k: int | None = None,
        vocabulary: Vocabulary | None = None,
        max_score: float | None = None,
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
        results = self.search(list(versions), distance=distance, top_k=top_k, vocabulary=vocabulary,
                              max_score=max_score)
        # an item of the best top_k (or within max_score) by its best version is so in that version's ranking
        return self._merged(results, top_k)

    def _merged(self, results: list[SearchResult], top_k: int | None) -> SearchResult:
        """The best ``top_k`` (all: ``None``) items by their lowest score over several rankings (ties: item order,
        then ranking), with float64 scores and int64 segments whatever the distance."""
        items = np.concatenate([r.indices for r in results])
        scores = np.concatenate([r.scores for r in results]).astype(np.float64)
        ranking = np.repeat(np.arange(len(results)), [len(r.indices) for r in results])
        order = np.lexsort((ranking, items, scores))
        _, first = np.unique(items[order], return_index=True)  # each item's best (score, ranking)
        keep = order[np.sort(first)[:top_k]]

        def pick(name):
            parts = [getattr(r, name) for r in results]
            return None if parts[0] is None else np.concatenate(parts).astype(np.int64)[keep]

        verified = [r.verified for r in results]
        return SearchResult(results[0].distance, items[keep], scores[keep], pick("starts"), pick("ends"), self,
                            path="+".join(dict.fromkeys(r.path for r in results)),
                            verified=None if None in verified else sum(verified))

    def search_audio(
        self,
        encoder: Any,
        audio: Any,
        sampling_rate: int | None = None,
        distance: str | None = None,
        top_k: int | None = None,
        pitch_shifts: Sequence[float] | None = None,
        rerank: int | None = None,
        frame_encoder: Any = None,
        exhaustive: bool = False,
        max_score: float | None = None,
    ) -> SearchResult | list[SearchResult]:
        """Encode one clip or a list (or tuple) of clips, a batch of queries, with ``encoder`` and :meth:`search`.

        ``rerank=N`` re-scores each ranking's best ``N`` items by DTW between the query's frames (from
        ``frame_encoder``, default ``encoder``) and the frames the index stored for them (``add_audio(...,
        store_frames=True)``); see :meth:`search`. ``exhaustive`` forces the full scan; ``max_score`` keeps the items
        scored at most that (a detection threshold, see :meth:`search`).

        ``pitch_shifts`` (semitones, e.g. ``(-4, -2, 0, 2, 4)``) searches each clip at every one of these shifts
        and keeps each item's best distance (:meth:`search_versions`): a key search for queries sung or spoken
        higher or lower than the database, at ``len(pitch_shifts)`` times the encoding and search cost. By default
        (``None``) a tokens index applies a model's ``config.query_pitch_shifts``; ``()`` searches the clips as recorded.
        """
        if pitch_shifts is None and self.kind == "tokens":
            pitch_shifts = getattr(getattr(encoder, "config", None), "query_pitch_shifts", None)
        clips, single = _clips(audio)
        vocabulary = vocabulary_of(encoder, self.kind)
        if rerank is not None:
            frame_encoder = encoder if frame_encoder is None else frame_encoder
            self._check_rerank_encoder(frame_encoder)
        if not pitch_shifts:
            sequences, _ = _encode_with(encoder, clips, sampling_rate, self.kind)
            frames = None if rerank is None else _encode_with(frame_encoder, clips, sampling_rate, "frames")[0]
            results = self.search(sequences, distance=distance, top_k=top_k, vocabulary=vocabulary,
                                  exhaustive=exhaustive, rerank=rerank, query_frames=frames, max_score=max_score)
            return results[0] if single else results
        from ..data.augment import pitch_shift_versions

        results = []
        for clip in clips:
            versions, rate = pitch_shift_versions(clip, pitch_shifts, sampling_rate)
            sequences, _ = _encode_with(encoder, versions, rate, self.kind)
            result = self.search_versions(sequences, distance=distance, top_k=top_k, vocabulary=vocabulary,
                                          max_score=max_score)
            if rerank is not None:  # each re-scored item keeps its best DTW over the versions, like the tokens
                frames = _encode_with(frame_encoder, versions, rate, "frames")[0]
                checked = [self.rerank.validate(f, "query frames").astype(np.float32) for f in frames]
                result = self._reranked(result, checked, rerank)
            results.append(result)
        return results[0] if single else results

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike) -> None:
        """Save to ``directory`` (format version 2, see :mod:`.storage`): ``index.json`` plus one ``.npy`` per array
        (tokens / frames, offsets, ids, labels, durations, re-rank frames, the fast search's bigram index). Files are
        written under a new generation name and ``index.json`` is replaced atomically: a failed save leaves the
        previously saved index loadable and unchanged; a save refuses to run while another process opens the folder.
        """
        save_index(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike, mmap: bool = True, verify: bool = False) -> Wav2TokIndex:
        """Open an index saved by :meth:`save`, its arrays memory-mapped (``mmap=False`` reads them into memory);
        ``verify=True`` also checks every file's SHA-256. A damaged, truncated or foreign folder raises
        ``ValueError``; a folder being saved by another process raises :class:`~.storage.IndexLockedError`.
        Folders of format version 1 (tokens inside ``index.json``) still load."""
        return load_index(cls, Vocabulary, directory, mmap=mmap, verify=verify)
